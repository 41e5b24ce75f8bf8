package shard

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkFileStoreSave64 saves the checkpoints of 64 shards of one
// mapping from 64 goroutines, as the engine's 64 checkpoint writers do, into
// a FileStore on b.TempDir(): writes/save is how many file writes (each
// write, fsync, rename, fsync of the directory) a save costs, ns/save the
// wall time per save.
func BenchmarkFileStoreSave64(b *testing.B) {
	const shards = 64
	s := NewFileStore(b.TempDir())
	var writes atomic.Int64
	s.write = func(path string, data []byte) error {
		writes.Add(1)
		return writeFileAtomic(path, data)
	}
	ctx := context.Background()
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range shards {
		id := fmt.Sprintf("shardId-%012d", i)
		wg.Go(func() {
			for seq := 1; left.Add(-1) >= 0; seq++ {
				if err := s.Save(ctx, "m", id, Checkpoint{SequenceNumber: strconv.Itoa(seq)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/save")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/save")
}
