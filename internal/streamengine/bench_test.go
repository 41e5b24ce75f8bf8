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

// BenchmarkThousandShards runs a mapping over 1,000 open shards at steady
// state (every record handled, readers polling idle shards) and reports the
// goroutines and heap bytes each shard costs.
func BenchmarkThousandShards(b *testing.B) {
	const shards, perShard = 1000, 20
	for b.Loop() {
		src := newMemSource(shards, perShard, 10)
		for i := range src.list {
			src.list[i].open = true
		}
		var handled atomic.Int64
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		set := Settings{
			Mapping: "bench", BatchSize: 100, ParallelizationFactor: 1, StartingPosition: "TRIM_HORIZON",
			PollInterval: time.Second, FunctionTimeout: time.Minute, Policy: &retry.Policy{MaximumRetryAttempts: -1},
		}
		eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/bench", set, Callbacks[events.KinesisEventRecord]{
			Invoke: func(_ context.Context, batch []events.KinesisEventRecord) Result {
				handled.Add(int64(len(batch)))
				return Result{}
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		go eng.Run(context.Background())
		for handled.Load() < shards*perShard {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // settle: every reader idle
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		g1 := runtime.NumGoroutine()
		if err := eng.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(g1-g0)/shards, "goroutines/shard")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/shards, "heap-bytes/shard")
	}
}
