package streamengine

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm/retry"
)

// BenchmarkKinesisDispatch measures the engine between the source and the
// handler: lanes, batching, the checkpoint tracker and event building, with
// an in-memory source and a no-op handler. Run with -cpu 1 for the
// GOMAXPROCS=1 figure.
func BenchmarkKinesisDispatch(b *testing.B) {
	for _, pf := range []int{1, 10} {
		for _, bs := range []int{100, 10000} {
			b.Run(fmt.Sprintf("PF=%d/BatchSize=%d", pf, bs), func(b *testing.B) {
				benchDispatch(b, pf, bs)
			})
		}
	}
}

func benchDispatch(b *testing.B, pf, bs int) {
	n := max(b.N, 1)
	src := newMemSource(1, n, 1000)
	var handled atomic.Int64
	done := make(chan struct{})
	set := Settings{
		Mapping: "bench", BatchSize: bs, ParallelizationFactor: pf, StartingPosition: "TRIM_HORIZON",
		MinPollInterval: -1, PollInterval: time.Millisecond, FunctionTimeout: time.Minute,
		Policy: &retry.Policy{MaximumRetryAttempts: -1},
	}
	eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/bench", set, Callbacks[events.KinesisEventRecord]{
		Invoke: func(_ context.Context, batch []events.KinesisEventRecord) Result {
			if handled.Add(int64(len(batch))) == int64(n) {
				close(done)
			}
			return Result{}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	go eng.Run(context.Background())
	<-done
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	if err := eng.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/record")
}

// BenchmarkThousandShards runs a mapping over 1,000 open shards, 10 of them
// busy (every read of one brings a full page of new 1 KB records) and 990
// idle once their first 20 records are handled, at ParallelizationFactor 1
// and 10, and reports what the mapping keeps alive while it runs so:
// heap-bytes/shard (live heap after runtime.GC, the least of three
// readings, over 1,000; the source's own records excluded) and
// goroutines/shard. The stated bound (issue 15): at most 16 KB of live heap
// per shard at PF 1 and 80 KB at PF 10 (measured: 11-13 KB and 56-61 KB),
// most of it the busy shards' records in flight (a read of BatchSize×PF
// records, up to three reads per shard, here of 1 KB each: some 4 MB per
// busy shard at PF 10); an idle shard keeps about 5 KB at PF 1 and 15 KB
// at PF 10. Goroutines: a reader and a checkpointer per shard and one per
// lane (3 at PF 1, 12 at PF 10).
// The readings are taken once the busy shards have handled 20,000 records
// since the idle ones finished: no wall-clock sleep decides when.
func BenchmarkThousandShards(b *testing.B) {
	for _, pf := range []int{1, 10} {
		b.Run(fmt.Sprintf("PF=%d", pf), func(b *testing.B) { benchThousandShards(b, pf) })
	}
}

func benchThousandShards(b *testing.B, pf int) {
	const shards, perShard, busy = 1000, 20, 10
	for b.Loop() {
		src := newMemSource(shards, perShard, 10)
		for i := range src.list {
			src.list[i].open = true
			src.list[i].busy = i < busy
		}
		var idle, busyHandled atomic.Int64
		idleDone := make(chan struct{})
		measure := make(chan struct{})
		var busyAtIdle atomic.Int64
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		set := Settings{
			Mapping: "bench", BatchSize: 100, ParallelizationFactor: pf, StartingPosition: "TRIM_HORIZON",
			PollInterval: time.Second, FunctionTimeout: time.Minute, Policy: &retry.Policy{MaximumRetryAttempts: -1},
		}
		eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/bench", set, Callbacks[events.KinesisEventRecord]{
			Invoke: func(_ context.Context, batch []events.KinesisEventRecord) Result {
				n := int64(len(batch))
				if len(batch[0].Kinesis.Data) == len(busyData) {
					if now := busyHandled.Add(n); busyAtIdle.Load() > 0 && now-busyAtIdle.Load() >= 20000 && now-n-busyAtIdle.Load() < 20000 {
						close(measure)
					}
					return Result{}
				}
				if now := idle.Add(n); now == shards*perShard {
					busyAtIdle.Store(max(busyHandled.Load(), 1))
					close(idleDone)
				}
				return Result{}
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- eng.Run(context.Background()) }()
		<-idleDone
		<-measure
		var after runtime.MemStats
		for i := range 3 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if i == 0 || ms.HeapAlloc < after.HeapAlloc {
				after = ms
			}
		}
		g1 := runtime.NumGoroutine()
		if err := eng.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(g1-g0)/shards, "goroutines/shard")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/shards, "heap-bytes/shard")
	}
}
