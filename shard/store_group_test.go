package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// heldWrites replaces a FileStore's file writes with ones the test lets
// through one at a time: each write reports its number on started and
// waits for what to return on release (nil writes the file).
type heldWrites struct {
	n       atomic.Int64
	started chan int64
	release chan error
}

func holdWrites(s *FileStore) *heldWrites {
	w := &heldWrites{started: make(chan int64, 100), release: make(chan error)}
	s.write = func(path string, b []byte) error {
		w.started <- w.n.Add(1)
		if err := <-w.release; err != nil {
			return err
		}
		return writeFileAtomic(path, b)
	}
	return w
}

// next waits for the next write to begin and returns its number.
func (w *heldWrites) next(t *testing.T) int64 {
	t.Helper()
	select {
	case n := <-w.started:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no write began")
		return 0
	}
}

// pending is the number of checkpoints of mapping waiting for the next
// write.
func pending(s *FileStore, mapping string) int {
	f := s.file(mapping)
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// saveAsync saves in a goroutine; the error arrives on the returned channel.
func saveAsync(s *FileStore, ctx context.Context, mapping, shardID string, cp Checkpoint) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Save(ctx, mapping, shardID, cp) }()
	return done
}

func requireWaiting(t *testing.T, saves ...<-chan error) {
	t.Helper()
	for i, c := range saves {
		select {
		case err := <-c:
			t.Fatalf("save %d returned (%v) before a write holding it was durable", i, err)
		default:
		}
	}
}

func requireSaved(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("save did not return")
		return nil
	}
}

func seq(n int) Checkpoint { return Checkpoint{SequenceNumber: strconv.Itoa(n)} }

func shardName(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// Saves that arrive while a write is under way are written together by the
// next write, and none returns before that write is durable.
func TestFileStoreGroupCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := NewFileStore(dir)
		w := holdWrites(s)
		ctx := context.Background()

		first := saveAsync(s, ctx, "m", shardName(0), seq(1))
		require.EqualValues(t, 1, w.next(t))
		var rest []<-chan error
		for i := 1; i < 64; i++ {
			rest = append(rest, saveAsync(s, ctx, "m", shardName(i), seq(i+1)))
		}
		synctest.Wait()
		require.Equal(t, 63, pending(s, "m"))
		requireWaiting(t, first)
		requireWaiting(t, rest...)

		w.release <- nil
		require.NoError(t, requireSaved(t, first))
		require.EqualValues(t, 2, w.next(t), "the 63 saves wait for one more write")
		synctest.Wait()
		requireWaiting(t, rest...)
		w.release <- nil
		for _, c := range rest {
			require.NoError(t, requireSaved(t, c))
		}
		synctest.Wait()
		require.EqualValues(t, 2, w.n.Load())

		fresh := NewFileStore(dir)
		for i := range 64 {
			cp, ok, err := fresh.Load(ctx, "m", shardName(i))
			require.NoError(t, err)
			require.True(t, ok, i)
			require.Equal(t, strconv.Itoa(i+1), cp.SequenceNumber)
		}
	})
}

// Many goroutines saving the shards of one mapping: far fewer writes than
// saves, checkpoints never go backwards, and every shard's latest
// checkpoint is in the file.
func TestFileStoreManySavers(t *testing.T) {
	defer goleak.VerifyNone(t)
	const shards, perShard, last = 64, 4, 100
	dir := t.TempDir()
	s := NewFileStore(dir)
	var writes atomic.Int64
	s.write = func(path string, b []byte) error {
		writes.Add(1)
		time.Sleep(200 * time.Microsecond) // a slow disk, whatever this one is
		return writeFileAtomic(path, b)
	}
	ctx := context.Background()
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var saves atomic.Int64
	var wg sync.WaitGroup
	for i := range shards {
		for g := range perShard {
			wg.Go(func() {
				if g == 0 {
					// A start marker racing the sequence numbers never
					// replaces one.
					require.NoError(t, s.Save(ctx, "m", shardName(i), Checkpoint{Start: start}))
					saves.Add(1)
				}
				for n := g + 1; n <= last; n += perShard {
					require.NoError(t, s.Save(ctx, "m", shardName(i), seq(n)))
					saves.Add(1)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d writes for %d saves", writes.Load(), saves.Load())
	require.Less(t, writes.Load(), saves.Load()/8, "saves are written together")

	for _, st := range []*FileStore{s, NewFileStore(dir)} {
		for i := range shards {
			cp, ok, err := st.Load(ctx, "m", shardName(i))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, strconv.Itoa(last), cp.SequenceNumber, shardName(i))
		}
	}
}

// A failed write fails every save it carried, including a save that an
// earlier one of the same write made a no-op; none of them is kept as if
// written, and the next write tries again.
func TestFileStoreFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := NewFileStore(dir)
		w := holdWrites(s)
		ctx := context.Background()

		first := saveAsync(s, ctx, "m", shardName(0), seq(1))
		w.next(t)
		again := saveAsync(s, ctx, "m", shardName(0), seq(1)) // waits for the write under way
		var carried []<-chan error
		for i := 1; i <= 10; i++ {
			carried = append(carried, saveAsync(s, ctx, "m", shardName(i), seq(5)))
		}
		synctest.Wait()
		require.Equal(t, 10, pending(s, "m"))
		carried = append(carried, saveAsync(s, ctx, "m", shardName(1), seq(4))) // covered by the pending 5
		synctest.Wait()
		require.Equal(t, 10, pending(s, "m"))
		requireWaiting(t, again)
		requireWaiting(t, carried...)

		w.release <- nil
		require.NoError(t, requireSaved(t, first))
		require.NoError(t, requireSaved(t, again))
		w.next(t)
		disk := errors.New("disk full")
		w.release <- disk
		for _, c := range carried {
			err := requireSaved(t, c)
			require.ErrorIs(t, err, disk)
			require.NotErrorIs(t, err, ErrStoreUnusable, "a full disk may heal")
		}
		for i := 1; i <= 10; i++ {
			_, ok, err := s.Load(ctx, "m", shardName(i))
			require.NoError(t, err)
			require.False(t, ok, "a failed save is not kept as if written")
		}

		// The engine retries; an unusable directory is classified as before.
		retry := saveAsync(s, ctx, "m", shardName(1), seq(5))
		w.next(t)
		w.release <- &os.PathError{Op: "open", Path: dir, Err: syscall.EROFS}
		require.ErrorIs(t, requireSaved(t, retry), ErrStoreUnusable)
		retry = saveAsync(s, ctx, "m", shardName(1), seq(5))
		w.next(t)
		w.release <- nil
		require.NoError(t, requireSaved(t, retry))
		synctest.Wait()
		require.EqualValues(t, 4, w.n.Load())

		fresh := NewFileStore(dir)
		cp, ok, err := fresh.Load(ctx, "m", shardName(0))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "1", cp.SequenceNumber)
		cp, ok, _ = fresh.Load(ctx, "m", shardName(1))
		require.True(t, ok)
		require.Equal(t, "5", cp.SequenceNumber)
		_, ok, _ = fresh.Load(ctx, "m", shardName(2))
		require.False(t, ok)
	})
}

// A save whose context ends while it waits returns at once; its checkpoint
// is still written by the next write.
func TestFileStoreSaveContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := NewFileStore(dir)
		w := holdWrites(s)
		bg := context.Background()

		first := saveAsync(s, bg, "m", shardName(0), seq(1))
		w.next(t)
		ctx, cancel := context.WithCancel(bg)
		waiting := saveAsync(s, ctx, "m", shardName(1), seq(1))
		synctest.Wait()
		require.Equal(t, 1, pending(s, "m"))
		cancel()
		require.ErrorIs(t, requireSaved(t, waiting), context.Canceled)

		w.release <- nil
		require.NoError(t, requireSaved(t, first))
		w.next(t)
		w.release <- nil
		synctest.Wait()
		_, ok, err := NewFileStore(dir).Load(bg, "m", shardName(1))
		require.NoError(t, err)
		require.True(t, ok, "written by the next write all the same")
	})
}

// Mappings have files of their own and write them in parallel: a slow
// write of one does not hold the saves of another.
func TestFileStoreMappingsWriteInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewFileStore(t.TempDir())
		ctx := context.Background()
		w := holdWrites(s)
		s.file("slow")            // this mapping's writes are held,
		s.write = writeFileAtomic // the others' are not

		held := saveAsync(s, ctx, "slow", "s", seq(1))
		w.next(t)
		require.NoError(t, s.Save(ctx, "fast", "s", seq(1)))
		requireWaiting(t, held)
		w.release <- nil
		require.NoError(t, requireSaved(t, held))
	})
}

// An upgrade loses no checkpoint: the file of the previous version (one
// file per mapping, the same format) is read, shards it holds stay in it
// when others are saved, and a legacy-named file is carried over to the
// hashed name by the first write.
func TestFileStoreUpgrade(t *testing.T) {
	ctx := context.Background()
	t.Run("previous version", func(t *testing.T) {
		dir := t.TempDir()
		const mapping = "orders|arn:aws:kinesis:us-east-1:123456789012:stream/orders"
		// Written by the FileStore before group commits.
		old := `{
  "mapping": "orders|arn:aws:kinesis:us-east-1:123456789012:stream/orders",
  "key": "` + mappingKey(mapping) + `",
  "shards": {
    "shardId-000000000000": {
      "sequenceNumber": "49590338271490256608559692538361571095921575989136588898"
    },
    "shardId-000000000001": {
      "shardEnd": true
    },
    "shardId-000000000002": {
      "start": "2026-12-07T10:00:00Z"
    }
  }
}`
		s := NewFileStore(dir)
		require.NoError(t, os.WriteFile(s.path(mapping), []byte(old), 0o644))
		require.NoError(t, s.Save(ctx, mapping, shardName(3), seq(7)))
		require.NoError(t, s.Save(ctx, mapping, shardName(0), seq(1)), "older: a no-op")
		for _, st := range []*FileStore{s, NewFileStore(dir)} {
			cp, ok, err := st.Load(ctx, mapping, shardName(0))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "49590338271490256608559692538361571095921575989136588898", cp.SequenceNumber)
			cp, _, _ = st.Load(ctx, mapping, shardName(1))
			require.True(t, cp.ShardEnd)
			cp, _, _ = st.Load(ctx, mapping, shardName(2))
			require.True(t, cp.Start.Equal(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)))
			cp, _, _ = st.Load(ctx, mapping, shardName(3))
			require.Equal(t, "7", cp.SequenceNumber)
		}
	})
	t.Run("legacy name", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "billing_v1.checkpoints.json"),
			[]byte(`{"mapping":"billing/v1","shards":{"s":{"sequenceNumber":"9"}}}`), 0o644))
		require.NoError(t, NewFileStore(dir).Save(ctx, "billing/v1", "t", seq(3)))
		require.FileExists(t, NewFileStore(dir).path("billing/v1"))
		s := NewFileStore(dir)
		cp, ok, err := s.Load(ctx, "billing/v1", "s")
		require.NoError(t, err)
		require.True(t, ok, "the legacy file's shards are in the new file")
		require.Equal(t, "9", cp.SequenceNumber)
		cp, _, _ = s.Load(ctx, "billing/v1", "t")
		require.Equal(t, "3", cp.SequenceNumber)
	})
}

// A temporary file left by a kill is removed at the first load, and saves
// of many shards at once leave none behind.
func TestFileStoreKilledWriteGroup(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := NewFileStore(dir)
	require.NoError(t, s.Save(ctx, "m", shardName(0), seq(1)))
	leftover := s.path("m") + ".tmp-12345"
	require.NoError(t, os.WriteFile(leftover, []byte(`{"mapping":"m","sha`), 0o644))

	s = NewFileStore(dir)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { require.NoError(t, s.Save(ctx, "m", shardName(i), seq(2))) })
	}
	wg.Wait()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the checkpoint file: %v", entries)
	for i := range 64 {
		cp, ok, err := NewFileStore(dir).Load(ctx, "m", shardName(i))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "2", cp.SequenceNumber)
	}
}
