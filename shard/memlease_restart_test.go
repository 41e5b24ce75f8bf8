package shard_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

// A Worker restarted under the name of one that held leases (a StatefulSet
// pod, say) holds the same shards at its first Leases call, without
// waiting for them to lapse, and the old Worker is fenced: its Save fails,
// its Release gives nothing away, and its later rounds fail.
func TestLeaseTableRestartedWorkerReclaimsItsLeases(t *testing.T) {
	ctx := t.Context()
	table := shard.NewLeaseTable() // leases last 10s
	shards := []shard.Info{{ID: "s0"}, {ID: "s1"}, {ID: "s2"}, {ID: "s3"}}
	const mapping = "m"
	old := table.Worker("pod-0")
	other := table.Worker("pod-1")
	round := func(w shard.LeaseStore) []string {
		t.Helper()
		held, err := w.Leases(ctx, mapping, shards)
		require.NoError(t, err)
		return held
	}
	// pod-0 takes every shard; pod-1 joins and is handed two of them.
	require.Len(t, round(old), 4)
	round(other)
	for _, id := range round(old) {
		require.NoError(t, old.Save(ctx, mapping, id, shard.Checkpoint{SequenceNumber: "1"}))
	}
	for _, id := range []string{"s0", "s1", "s2", "s3"} {
		if table.Owners(mapping)[id] == "pod-0" && !slices.Contains(round(old), id) {
			require.NoError(t, old.Release(ctx, mapping, id)) // asked for by pod-1
		}
	}
	round(other)
	mine := round(old)
	require.Len(t, mine, 2)
	require.Len(t, round(other), 2)

	// pod-0 dies (it just stops calling) and comes back under its name.
	restarted := table.Worker("pod-0")
	start := time.Now()
	require.Equal(t, mine, round(restarted), "the same shards, at the first round")
	require.Less(t, time.Since(start), time.Second, "well before the 10s lease duration")
	for _, id := range mine {
		require.ErrorIs(t, old.Save(ctx, mapping, id, shard.Checkpoint{SequenceNumber: "2"}), shard.ErrLeaseLost)
		require.ErrorIs(t, old.Save(ctx, mapping, id, shard.Checkpoint{Start: start}), shard.ErrLeaseLost)
		require.NoError(t, restarted.Save(ctx, mapping, id, shard.Checkpoint{SequenceNumber: "3"}))
	}
	_, err := old.Leases(ctx, mapping, shards)
	require.ErrorIs(t, err, shard.ErrLeaseLost, "the old Worker's rounds fail from now on")
	require.NoError(t, old.Release(ctx, mapping, mine[0]))
	require.NoError(t, old.Retire(ctx, mapping))
	require.Equal(t, mine, round(restarted), "the old Worker's Release and Retire changed nothing")
	require.Len(t, round(other), 2, "pod-1 keeps its share")
	for _, id := range mine {
		cp, ok, err := restarted.Load(ctx, mapping, id)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "3", cp.SequenceNumber)
		require.NoError(t, restarted.Save(ctx, mapping, id, shard.Checkpoint{SequenceNumber: "4"}))
	}
}
