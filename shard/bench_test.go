package shard

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
		Policy: retry.Policy{MaximumRetryAttempts: -1},
	}
	eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/bench", set, Callbacks[events.KinesisEventRecord]{
		Invoke: func(_ context.Context, batch []events.KinesisEventRecord) retry.Outcome {
			if handled.Add(int64(len(batch))) == int64(n) {
				close(done)
			}
			return retry.Success
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
