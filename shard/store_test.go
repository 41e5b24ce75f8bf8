package shard_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

func TestCompareSequence(t *testing.T) {
	require.Equal(t, -1, shard.CompareSequence("9", "10"))
	require.Equal(t, 0, shard.CompareSequence("000123", "123"))
	require.Equal(t, 1, shard.CompareSequence("49590338271490256608559692538361571095921575989136588899", "49590338271490256608559692538361571095921575989136588898"))
}

func testStore(t *testing.T, s shard.Store) {
	ctx := context.Background()
	_, ok, err := s.Load(ctx, "m", "shardId-0")
	require.NoError(t, err)
	require.False(t, ok)

	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "100"}))
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "99"}), "an older checkpoint is ignored, not an error")
	cp, ok, err := s.Load(ctx, "m", "shardId-0")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "100", cp.SequenceNumber, "checkpoints never go backwards")

	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{ShardEnd: true}))
	require.NoError(t, s.Save(ctx, "m", "shardId-0", shard.Checkpoint{SequenceNumber: "200"}))
	cp, _, _ = s.Load(ctx, "m", "shardId-0")
	require.True(t, cp.ShardEnd, "nothing moves a shard back from its end")

	_, ok, _ = s.Load(ctx, "other", "shardId-0")
	require.False(t, ok, "mappings do not share checkpoints")
}

func TestMemoryStore(t *testing.T) { testStore(t, shard.NewMemoryStore()) }

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	testStore(t, shard.NewFileStore(dir))

	// A new store on the same directory (a restarted process) resumes.
	s2 := shard.NewFileStore(dir)
	cp, ok, err := s2.Load(context.Background(), "m", "shardId-0")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, cp.ShardEnd)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".checkpoint-", "no temporary file is left behind")
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m.checkpoints.json"), []byte("{not json"), 0o644))
	_, _, err := shard.NewFileStore(dir).Load(context.Background(), "m", "s")
	require.ErrorContains(t, err, "corrupt")
}
