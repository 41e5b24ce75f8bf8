package shard_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/seqnum"
	"github.com/lambdaesm/lambdaesm/shard"
)

func TestCompareSequence(t *testing.T) {
	require.Equal(t, -1, seqnum.Compare("9", "10"))
	require.Equal(t, 0, seqnum.Compare("000123", "123"))
	require.Equal(t, 1, seqnum.Compare("49590338271490256608559692538361571095921575989136588899", "49590338271490256608559692538361571095921575989136588898"))
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

	// A start marker is kept until a sequence number replaces it; a second
	// marker never replaces the first (the position is the mapping's).
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.Save(ctx, "m", "shardId-1", shard.Checkpoint{Start: t0}))
	require.NoError(t, s.Save(ctx, "m", "shardId-1", shard.Checkpoint{Start: t0.Add(time.Hour)}))
	cp, ok, err = s.Load(ctx, "m", "shardId-1")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, cp.Start.Equal(t0), "the first start marker is kept: %v", cp.Start)
	require.Empty(t, cp.SequenceNumber)
	require.NoError(t, s.Save(ctx, "m", "shardId-1", shard.Checkpoint{SequenceNumber: "5"}))
	require.NoError(t, s.Save(ctx, "m", "shardId-1", shard.Checkpoint{Start: t0}))
	cp, _, _ = s.Load(ctx, "m", "shardId-1")
	require.Equal(t, "5", cp.SequenceNumber, "a start marker never replaces a sequence number")
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
		require.NotContains(t, e.Name(), ".tmp-", "no temporary file is left behind")
	}
}

// onlyFile returns the one checkpoint file in dir.
func onlyFile(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.checkpoints.json"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	return files[0]
}

func TestFileStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	require.NoError(t, shard.NewFileStore(dir).Save(ctx, "m", "s", shard.Checkpoint{SequenceNumber: "1"}))
	require.NoError(t, os.WriteFile(onlyFile(t, dir), []byte("{not json"), 0o644))
	_, _, err := shard.NewFileStore(dir).Load(ctx, "m", "s")
	require.ErrorContains(t, err, "corrupt")
	require.ErrorIs(t, err, shard.ErrStoreUnusable)
}

// Mapping names that a character-replacing scheme would fold into one file
// name get files of their own.
func TestFileStoreNamesDoNotCollide(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const arn = "|arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	names := []string{"billing/v1", "billing:v1", "billing v1", "billing_v1", "Billing_v1", "../billing_v1", ".billing_v1"}
	for i, n := range names {
		require.NoError(t, shard.NewFileStore(dir).Save(ctx, n+arn, "shardId-0", shard.Checkpoint{SequenceNumber: strconv.Itoa(i + 1)}))
	}
	s := shard.NewFileStore(dir)
	for i, n := range names {
		cp, ok, err := s.Load(ctx, n+arn, "shardId-0")
		require.NoError(t, err)
		require.True(t, ok, n)
		require.Equal(t, strconv.Itoa(i+1), cp.SequenceNumber, "%q reads its own checkpoint", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Len(t, files, len(names), "every file stays inside the directory")
}

// Any legal name works: a 128-character stream name with an 80-character
// mapping name once made a file name over 255 bytes.
func TestFileStoreLongNames(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	mapping := strings.Repeat("m", 80) + "|arn:aws:kinesis:us-east-1:123456789012:stream/" + strings.Repeat("s", 128)
	require.NoError(t, shard.NewFileStore(dir).Save(ctx, mapping, "shardId-000000000000", shard.Checkpoint{SequenceNumber: "7"}))
	cp, ok, err := shard.NewFileStore(dir).Load(ctx, mapping, "shardId-000000000000")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "7", cp.SequenceNumber)
	require.LessOrEqual(t, len(filepath.Base(onlyFile(t, dir))), 255)
}

// A file that names another mapping is refused, never silently used.
func TestFileStoreForeignFile(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ctx := context.Background()
	require.NoError(t, shard.NewFileStore(a).Save(ctx, "first", "s", shard.Checkpoint{SequenceNumber: "1"}))
	require.NoError(t, shard.NewFileStore(b).Save(ctx, "second", "s", shard.Checkpoint{SequenceNumber: "2"}))
	content, err := os.ReadFile(onlyFile(t, a))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(onlyFile(t, b), content, 0o644))
	_, _, err = shard.NewFileStore(b).Load(ctx, "second", "s")
	require.ErrorIs(t, err, shard.ErrStoreUnusable)
	require.ErrorContains(t, err, `belongs to mapping "first"`)
}

// A kill during a write leaves a temporary file beside an intact store; the
// next start loads the store and removes the leftover.
func TestFileStoreKilledWrite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	require.NoError(t, shard.NewFileStore(dir).Save(ctx, "m", "s", shard.Checkpoint{SequenceNumber: "1"}))
	leftover := onlyFile(t, dir) + ".tmp-12345"
	require.NoError(t, os.WriteFile(leftover, []byte(`{"mapping":"m","sha`), 0o644))
	cp, ok, err := shard.NewFileStore(dir).Load(ctx, "m", "s")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "1", cp.SequenceNumber)
	require.NoFileExists(t, leftover)
}

// A directory that cannot be written (here a path through a regular file,
// which fails for root as well) is an error no retry heals.
func TestFileStoreUnwritable(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "checkpoints")
	s := shard.NewFileStore(dir)
	_, ok, err := s.Load(ctx, "m", "s") // no directory yet: no checkpoint
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	err = s.Save(ctx, "m", "s", shard.Checkpoint{SequenceNumber: "1"})
	require.ErrorIs(t, err, shard.ErrStoreUnusable)
	_, ok, err = s.Load(ctx, "m", "s")
	require.NoError(t, err)
	require.False(t, ok, "a failed save is not kept as if written")
	_, _, err = shard.NewFileStore(dir).Load(ctx, "m", "s")
	require.ErrorIs(t, err, shard.ErrStoreUnusable, "a fresh start fails at once")
}

// Files written before names were hashed are still read, when they name the
// same mapping.
func TestFileStoreLegacyName(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "billing_v1.checkpoints.json"),
		[]byte(`{"mapping":"billing/v1","shards":{"s":{"sequenceNumber":"9"}}}`), 0o644))
	cp, ok, err := shard.NewFileStore(dir).Load(ctx, "billing/v1", "s")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "9", cp.SequenceNumber)
	_, ok, err = shard.NewFileStore(dir).Load(ctx, "billing:v1", "s")
	require.NoError(t, err)
	require.False(t, ok, "a legacy file of another mapping is not used")
}

// FuzzFileStoreNames: two distinct names never share a file, and any name
// can be saved and loaded.
func FuzzFileStoreNames(f *testing.F) {
	f.Add("billing/v1", "billing:v1")
	f.Add("a", "A")
	f.Add(strings.Repeat("x", 300), strings.Repeat("x", 299)+"y")
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == b {
			return
		}
		dir := t.TempDir()
		ctx := context.Background()
		require.NoError(t, shard.NewFileStore(dir).Save(ctx, a, "s", shard.Checkpoint{SequenceNumber: "1"}))
		require.NoError(t, shard.NewFileStore(dir).Save(ctx, b, "s", shard.Checkpoint{SequenceNumber: "2"}))
		s := shard.NewFileStore(dir)
		ca, _, err := s.Load(ctx, a, "s")
		require.NoError(t, err)
		cb, _, err := s.Load(ctx, b, "s")
		require.NoError(t, err)
		require.Equal(t, "1", ca.SequenceNumber)
		require.Equal(t, "2", cb.SequenceNumber)
	})
}
