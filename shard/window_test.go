package shard_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

// testWindowStore checks that s keeps a checkpoint's tumbling window (start
// and state) with its sequence number, replaces it at the same sequence
// number (a later invocation of the window, or its final one, which drops
// it), and never lets an older checkpoint replace it.
func testWindowStore(t *testing.T, s shard.Store, reopen func() shard.Store) {
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	load := func(s shard.Store) shard.Checkpoint {
		t.Helper()
		cp, ok, err := s.Load(ctx, "m", "shardId-0")
		require.NoError(t, err)
		require.True(t, ok)
		return cp
	}
	w1 := &shard.Window{Start: start, State: map[string]string{"count": "3", "key \"quoted\"\n": "ü"}}
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "100", Window: w1}))
	require.Equal(t, shard.Checkpoint{SequenceNumber: "100", Window: w1}, load(s))

	// The next invocation of the window, then an older checkpoint.
	w2 := &shard.Window{Start: start, State: map[string]string{"count": "5"}}
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "120", Window: w2}))
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "110", Window: w1}))
	require.Equal(t, shard.Checkpoint{SequenceNumber: "120", Window: w2}, load(s), "an older checkpoint moves neither the position nor the state")

	// An empty state is a state (a window's first one): kept as such.
	w3 := &shard.Window{Start: start, State: map[string]string{}}
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "120", Window: w3}))
	require.Equal(t, shard.Checkpoint{SequenceNumber: "120", Window: w3}, load(s), "the state changes at the same sequence number")

	if reopen != nil {
		require.Equal(t, shard.Checkpoint{SequenceNumber: "120", Window: w3}, load(reopen()), "the window survives a restart")
	}

	// The window's final invocation succeeded: the state is dropped.
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "120"}))
	require.Equal(t, shard.Checkpoint{SequenceNumber: "120"}, load(s))
	if reopen != nil {
		require.Equal(t, shard.Checkpoint{SequenceNumber: "120"}, load(reopen()))
	}
}

func TestMemoryStoreWindow(t *testing.T) { testWindowStore(t, shard.NewMemoryStore(), nil) }

func TestFileStoreWindow(t *testing.T) {
	dir := t.TempDir()
	testWindowStore(t, shard.NewFileStore(dir), func() shard.Store { return shard.NewFileStore(dir) })
}

func TestLeaseTableWindow(t *testing.T) {
	table := shard.NewLeaseTable()
	a := table.Worker("a")
	held, err := a.Leases(t.Context(), "m", []shard.Info{{ID: "shardId-0"}})
	require.NoError(t, err)
	require.Equal(t, []string{"shardId-0"}, held)
	// Another process of the table reads what a wrote.
	testWindowStore(t, a, func() shard.Store { return table.Worker("b") })
}
