package shard_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

// The in-memory lease table keeps start markers as the DynamoDB one does:
// the first is kept, a sequence number replaces it, it replaces nothing, and
// only the lease holder may write one.
func TestLeaseTableStartMarkers(t *testing.T) {
	ctx := t.Context()
	table := shard.NewLeaseTable()
	a, b := table.Worker("a"), table.Worker("b")
	shards := []shard.Info{{ID: "s0"}}
	held, err := a.Leases(ctx, "m", shards)
	require.NoError(t, err)
	require.Equal(t, []string{"s0"}, held)
	_, err = b.Leases(ctx, "m", shards)
	require.NoError(t, err)
	t1 := time.Date(2026, 3, 1, 12, 0, 0, 1, time.UTC)
	load := func() shard.Checkpoint {
		cp, ok, err := b.Load(ctx, "m", "s0")
		require.NoError(t, err)
		require.True(t, ok)
		return cp
	}

	require.ErrorIs(t, b.Save(ctx, "m", "s0", shard.Checkpoint{Start: t1}), shard.ErrLeaseLost)
	_, ok, _ := a.Load(ctx, "m", "s0")
	require.False(t, ok, "the non-owner's marker did not land")
	require.NoError(t, a.Save(ctx, "m", "s0", shard.Checkpoint{Start: t1}))
	require.NoError(t, a.Save(ctx, "m", "s0", shard.Checkpoint{Start: t1.Add(time.Hour)}))
	require.Equal(t, shard.Checkpoint{Start: t1}, load(), "the first marker is kept")
	require.NoError(t, a.Save(ctx, "m", "s0", shard.Checkpoint{SequenceNumber: "7"}))
	require.NoError(t, a.Save(ctx, "m", "s0", shard.Checkpoint{Start: t1}))
	require.Equal(t, shard.Checkpoint{SequenceNumber: "7"}, load(), "a marker never replaces a sequence number")
	require.ErrorIs(t, b.Save(ctx, "m", "s0", shard.Checkpoint{Start: t1}), shard.ErrLeaseLost)
}
