package queueengine_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
)

// BenchmarkSQSDispatch measures the engine between the queue and the
// handler, on the in-memory fake: receives, event conversion, batching,
// invocation and DeleteMessageBatch, with a no-op handler and the default
// scaling. Messages are sent before the timer starts. Run with -cpu 1 for the
// GOMAXPROCS=1 figure. The fake's own cost is included (see
// esmtest's BenchmarkSQSReceive10 for it alone).
func BenchmarkSQSDispatch(b *testing.B) {
	for _, tc := range []struct {
		batch  int
		window time.Duration
	}{{10, 0}, {1000, time.Second}} {
		b.Run(fmt.Sprintf("BatchSize=%d", tc.batch), func(b *testing.B) {
			benchDispatch(b, tc.batch, tc.window)
		})
	}
}

func benchDispatch(b *testing.B, batchSize int, window time.Duration) {
	n := max(b.N, 1)
	q := esmtest.NewSQS()
	url, arn := q.MustCreateQueue(b, "bench", map[string]string{"VisibilityTimeout": "300"})
	// Extra messages keep the last batches full, so that no batch waits for
	// its window at the end; they are not counted.
	const maxWorkers = 5
	body := `{"order":12345,"item":"something of a realistic size"}`
	for range n + maxWorkers*batchSize {
		q.Send(b, url, body)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	eng, err := queueengine.New(q, queueengine.Settings{
		QueueARN: arn, BatchSize: batchSize, BatchingWindow: window, FunctionTimeout: time.Minute,
		Scaling: queueengine.Scaling{Max: maxWorkers},
	}, queueengine.Callbacks{Invoke: func(_ context.Context, batch []events.SQSMessage) queueengine.Result {
		if h := handled.Add(int64(len(batch))); h >= int64(n) && h-int64(len(batch)) < int64(n) {
			close(done)
		}
		return queueengine.Result{}
	}})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() { errc <- eng.Run(context.Background()) }()
	<-done
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	if err := eng.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "messages/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/message")
}

// BenchmarkSQSFauxqs compares, against the fauxqs emulator and in one run,
// the mapping with a fixed concurrency of 5 and a minimal hand-written loop
// (5 goroutines: ReceiveMessage of 10 with all attributes → no-op handler →
// DeleteMessageBatch). Each side drains 2000 × b.N messages sent beforehand;
// it reports both rates and mapping/loop. Integration: it skips unless the
// emulators run.
func BenchmarkSQSFauxqs(b *testing.B) {
	awstest.Integration(b)
	c := awstest.SQS(b)
	const workers = 5
	n := 2000 * b.N
	fill := func(url string) {
		bodies := make([]string, n)
		for i := range bodies {
			bodies[i] = `{"order":` + strconv.Itoa(i) + `,"item":"something of a realistic size"}`
		}
		sendBodies(b, c, url, "", bodies...)
	}

	// The mapping.
	url, arn := awstest.NewQueue(b, c, map[string]string{"VisibilityTimeout": "60"})
	fill(url)
	var deleted atomic.Int64
	done := make(chan struct{})
	hooks := &deleteCounter{n: int64(n), count: &deleted, done: done}
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn, ScalingConfig: &esm.ScalingConfig{MaximumConcurrency: workers}}, c,
		esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }),
		esm.WithScaling(esm.Scaling{Initial: workers, Min: workers}), esm.WithHooks(hooks))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	stop := esmtest.Start(b, m)
	<-done
	mapping := float64(n) / time.Since(t0).Seconds()
	b.StopTimer()
	stop()

	// The hand-written loop.
	url, _ = awstest.NewQueue(b, c, map[string]string{"VisibilityTimeout": "60"})
	fill(url)
	b.StartTimer()
	t0 = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			in := &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 20,
				MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
				MessageAttributeNames:       []string{"All"}}
			for ctx.Err() == nil {
				out, err := c.ReceiveMessage(ctx, in)
				if err != nil || len(out.Messages) == 0 {
					continue
				}
				_ = events.SQSEvent{} // the no-op handler
				entries := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
				for i, msg := range out.Messages {
					entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle}
				}
				if _, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries}); err != nil {
					continue
				}
				if left.Add(-int64(len(entries))) <= 0 {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	loop := float64(n) / time.Since(t0).Seconds()
	cancel()
	b.StopTimer()
	b.ReportMetric(mapping, "mapping-messages/s")
	b.ReportMetric(loop, "loop-messages/s")
	b.ReportMetric(mapping/loop, "mapping/loop")
}

// deleteCounter closes done once n messages were deleted.
type deleteCounter struct {
	n     int64
	count *atomic.Int64
	done  chan struct{}
}

func (d *deleteCounter) OnRecordsDeleted(_ lambdaesm.Source, k int) {
	if c := d.count.Add(int64(k)); c >= d.n && c-int64(k) < d.n {
		close(d.done)
	}
}
