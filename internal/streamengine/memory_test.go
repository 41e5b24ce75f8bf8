package streamengine

import (
	"context"
	"hash/fnv"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/lambdaesm/lambdaesm/shard"
	"github.com/stretchr/testify/require"
)

// freshSource gives every record read a payload of its own, whose
// collection it counts, so a test can tell what the engine keeps alive.
type freshSource struct {
	*memSource
	payload   int
	allocated atomic.Int32
	collected atomic.Int32
}

func (s *freshSource) read(ctx context.Context, shardID, iterator string, limit int, into []events.KinesisEventRecord) ([]events.KinesisEventRecord, string, bool, error) {
	recs, next, ended, err := s.memSource.read(ctx, shardID, iterator, limit, into)
	for i := range recs {
		data := make([]byte, s.payload)
		s.allocated.Add(1)
		runtime.AddCleanup(&data[0], func(c *atomic.Int32) { c.Add(1) }, &s.collected)
		recs[i].Kinesis.Data = data
	}
	return recs, next, ended, err
}

// An idle shard keeps nothing of the records it finished: the lanes' queues
// and the reader's scratch are cleared, so the last page read is collectable
// once checkpointed.
func TestIdleShardReleasesRecords(t *testing.T) {
	for _, pf := range []int{1, 4} {
		mem := newMemSource(1, 40, 8)
		mem.list[0].open = true
		src := &freshSource{memSource: mem, payload: 256 << 10}
		store := shard.NewMemoryStore()
		eng, err := newEngine[events.KinesisEventRecord](src, reviewARN, Settings{
			Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: store, ParallelizationFactor: pf, BatchSize: 7,
			PollInterval: 20 * time.Millisecond, MinPollInterval: time.Millisecond, CheckpointInterval: time.Millisecond,
		}, Callbacks[events.KinesisEventRecord]{Invoke: func(context.Context, []events.KinesisEventRecord) Result { return Result{} }})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- eng.Run(t.Context()) }()
		last := *mem.list[0].recs[39].SequenceNumber
		require.Eventually(t, func() bool {
			cp, _, _ := store.Load(t.Context(), "m", "shardId-0")
			return cp.SequenceNumber == last
		}, 10*time.Second, 5*time.Millisecond, "all records checkpointed")
		require.Eventually(t, func() bool {
			runtime.GC()
			return src.collected.Load() == src.allocated.Load()
		}, 5*time.Second, 20*time.Millisecond, "PF %d: %d of %d payloads collected while the shard is idle", pf, src.collected.Load(), src.allocated.Load())
		require.NoError(t, eng.Shutdown(t.Context()))
		require.NoError(t, <-done)
	}
}

// fnv32 is FNV-1a, as hash/fnv computes it: lanes keep their keys.
func TestFNV32(t *testing.T) {
	for _, s := range []string{"", "k", "customer-1023", "ünïcödé", strings.Repeat("x", 256)} {
		h := fnv.New32a()
		h.Write([]byte(s))
		require.Equal(t, h.Sum32(), fnv32(s), s)
	}
}
