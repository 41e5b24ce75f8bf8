package queueengine_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/stretchr/testify/require"
)

// A FIFO receive whose messages exceed the payload cap is split by
// worker.take into several batches, the rest staying in the worker. When a
// group fails in the first batch, the group's later messages the worker holds
// must not be invoked before the failed ones come back, or the group is
// handled out of order. (Found in review: they used to be.)
func TestReviewFIFOPayloadOverflowBreaksGroupOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "big.fifo", map[string]string{"VisibilityTimeout": "30"})
		pad := strings.Repeat("x", 10_000)
		for i := range 6 {
			q.SendFIFO(t, url, "A", "A"+strconv.Itoa(i)+pad)
		}
		var mu sync.Mutex
		var order []string // first successful handling of each message
		seen := map[string]bool{}
		h := &handler{fn: func(_ context.Context, b []events.SQSMessage) queueengine.Result {
			for _, m := range b {
				if m.Body[:2] == "A1" && m.Attributes["ApproximateReceiveCount"] == "1" {
					return queueengine.Result{Err: errBoom}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range b {
				if !seen[m.Body[:2]] {
					seen[m.Body[:2]] = true
					order = append(order, m.Body[:2])
				}
			}
			return queueengine.Result{}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, MaxPayload: 25_000, Scaling: queueengine.Scaling{Initial: 1, Min: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 5*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "every message handled")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Equal(t, []string{"A0", "A1", "A2", "A3", "A4", "A5"}, order, "group A handled out of order")
	})
}

// Messages held past the payload cap (found in review): they used to wait
// for the next batching window with no visibility extension, lapse, be
// received again by the same worker and be handed over twice.
func TestHeldMessageIsNotHandedTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "q", map[string]string{"VisibilityTimeout": "30"})
		pad := strings.Repeat("x", 3000)
		q.Send(t, url, "A"+pad)
		q.Send(t, url, "B"+pad)
		var mu sync.Mutex
		seen := map[string]int{} // body prefix -> times handed to the handler
		var batchesWithB [][]string
		h := &handler{fn: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
			mu.Lock()
			var ids []string
			for _, m := range b {
				seen[m.Body[:1]]++
				if m.Body[:1] == "B" {
					ids = append(ids, m.MessageId)
				}
			}
			if ids != nil {
				batchesWithB = append(batchesWithB, ids)
			}
			mu.Unlock()
			if b[0].Body[:1] == "A" {
				time.Sleep(100 * time.Second) // well within FunctionTimeout; heartbeat on
			}
			return queueengine.Result{}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, BatchSize: 100, BatchingWindow: 60 * time.Second,
			FunctionTimeout: 5 * time.Minute, VisibilityHeartbeat: true, MaxPayload: 5000,
			Scaling: queueengine.Scaling{Initial: 1, Min: 1, Max: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 10*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "queue drained")
		shutErr, runErr := r.stop(t)
		require.NoError(t, runErr)
		mu.Lock()
		defer mu.Unlock()
		t.Logf("times handed: %v; batches holding B: %v; Shutdown: %v", seen, batchesWithB, shutErr)
		require.Equal(t, 1, seen["B"], "B was handled successfully once but handed over again")
	})
}

// The same lapse used to put both copies of B in one batch; when the
// handler reported B as failed (ReportBatchItemFailures), the copy with the
// live receipt handle was deleted: a failed message was lost.
func TestHeldMessageThatFailsStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "q", map[string]string{"VisibilityTimeout": "30"})
		q.Send(t, url, "A"+strings.Repeat("x", 4600))
		q.Send(t, url, "B")
		var mu sync.Mutex
		var bBatches [][]string
		h := &handler{fn: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
			if b[0].Body[:1] == "A" {
				time.Sleep(100 * time.Second)
				return queueengine.Result{}
			}
			var ids []string
			for _, m := range b {
				ids = append(ids, m.MessageId)
			}
			mu.Lock()
			bBatches = append(bBatches, ids)
			mu.Unlock()
			return queueengine.Result{ItemFailures: []string{b[0].MessageId}} // B always fails
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, BatchSize: 100, BatchingWindow: 60 * time.Second,
			FunctionTimeout: 5 * time.Minute, VisibilityHeartbeat: true, MaxPayload: 5000, ReportBatchItemFailures: true,
			Scaling: queueengine.Scaling{Initial: 1, Min: 1, Max: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 3*time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(bBatches) > 0 }, "B handled")
		time.Sleep(5 * time.Second)
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		mu.Lock()
		defer mu.Unlock()
		t.Logf("batches holding B: %v; queue now: %v", bBatches, q.Bodies(url))
		require.Equal(t, []string{"B"}, q.Bodies(url), "B failed every time but is gone from the queue")
	})
}

// FIFO, VisibilityTimeout == FunctionTimeout (Lambda accepts it), no
// heartbeat: messages held past the payload cap age through the previous
// batch; they used to lapse during their own invocation, so that another
// worker received the group and two invocations of one group ran at once.
func TestHeldFIFOMessagesNeverOverlapTheirGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "g.fifo", map[string]string{"VisibilityTimeout": "30"})
		pad := strings.Repeat("x", 3000)
		for _, b := range []string{"G0", "G1", "G2"} {
			q.SendFIFO(t, url, "G", b+pad)
		}
		var mu sync.Mutex
		inFlight, maxInFlight := 0, 0
		var log []string
		h := &handler{fn: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
			mu.Lock()
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			log = append(log, time.Now().Format("04:05")+" start "+b[0].Body[:2])
			mu.Unlock()
			time.Sleep(20 * time.Second) // within FunctionTimeout 30s
			mu.Lock()
			inFlight--
			mu.Unlock()
			return queueengine.Result{}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: 30 * time.Second, MaxPayload: 5000,
			Scaling: queueengine.Scaling{Initial: 2, Min: 2, Max: 2}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 5*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "queue drained")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		mu.Lock()
		defer mu.Unlock()
		t.Logf("invocations: %v", log)
		require.Equal(t, 1, maxInFlight, "two invocations of FIFO group G ran at once")
	})
}

// Run's context ending while a handled batch's DeleteMessageBatch is in
// flight does not cancel the delete: the handled message is not delivered
// again. (Found in review: only a context already ended was detached.)
func TestHardStopLetsAnInFlightDeleteFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "q", map[string]string{"VisibilityTimeout": "30"})
		q.Send(t, url, "m")
		q.Faults.Delay("DeleteMessageBatch", 200*time.Millisecond) // one network round trip
		handled := make(chan struct{})
		eng, err := queueengine.New(q, queueengine.Settings{QueueARN: arn}, queueengine.Callbacks{
			Invoke: func(context.Context, []events.SQSMessage) queueengine.Result {
				close(handled)
				return queueengine.Result{}
			}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- eng.Run(ctx) }()
		<-handled
		time.Sleep(100 * time.Millisecond) // the delete is in flight
		cancel()
		require.NoError(t, <-done)
		t.Logf("Shutdown: %v", eng.Shutdown(context.Background()))
		require.Empty(t, q.Bodies(url), "handled message left undeleted")
	})
}
