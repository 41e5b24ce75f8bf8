package queueengine_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/lambdaesm/lambdaesm/queue"
)

func TestStartupChecksOnTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		_, arn := q.MustCreateQueue(t, "short", map[string]string{"VisibilityTimeout": "60"})
		eng, err := queueengine.New(q, queueengine.Settings{QueueARN: arn, FunctionTimeout: 180 * time.Second}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
		require.NoError(t, err)
		err = eng.Run(context.Background())
		require.ErrorContains(t, err, "Queue visibility timeout: 60 seconds is less than Function timeout: 180 seconds")
		require.ErrorContains(t, err, arn)
		require.ErrorIs(t, eng.Run(context.Background()), lambdaesm.ErrClosed)

		// Warnings, and a longer visibility timeout for receives.
		_, arn = q.MustCreateQueue(t, "warn", map[string]string{"VisibilityTimeout": "30"})
		lg, logs := newLogger()
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: 20 * time.Second, BatchSize: 50, BatchingWindow: 15 * time.Second, Logger: lg},
			queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(q.receiveInputs()) > 0 }, "a receive")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Contains(t, logs.String(), "less than AWS's recommendation of 6 × function timeout + batching window (135 seconds)")
		require.Contains(t, logs.String(), "the queue has no redrive policy")
		require.Equal(t, int32(15+20+30), q.receiveInputs()[0].VisibilityTimeout, "window + timeout + 30s, as Lambda")

		// A missing queue and a FIFO queue Lambda would refuse.
		eng, err = queueengine.New(q, queueengine.Settings{QueueARN: "arn:aws:sqs:us-east-1:000000000000:missing"}, queueengine.Callbacks{Invoke: h.invoke})
		require.NoError(t, err)
		require.ErrorContains(t, eng.Run(context.Background()), "sqs:GetQueueUrl: queue arn:aws:sqs:us-east-1:000000000000:missing not found")
		fifoURL, _ := q.MustCreateQueue(t, "f.fifo", nil)
		eng, err = queueengine.New(q, queueengine.Settings{QueueURL: fifoURL, BatchSize: 20}, queueengine.Callbacks{Invoke: h.invoke})
		require.NoError(t, err)
		require.ErrorContains(t, eng.Run(context.Background()), "BatchSize 20 is above 10, the most for a FIFO queue")
	})
}

func TestNewRejectsBadSettings(t *testing.T) {
	_, err := queueengine.New(nil, queueengine.Settings{BatchSize: 20000, Scaling: queueengine.Scaling{Min: 5, Max: 3}}, queueengine.Callbacks{})
	require.ErrorContains(t, err, "the SQS client is nil")
	require.ErrorContains(t, err, "Callbacks.Invoke is required")
	require.ErrorContains(t, err, "QueueARN or QueueURL is required")
	require.ErrorContains(t, err, "BatchSize 20000 is outside 1-10000")
	require.ErrorContains(t, err, "Scaling.Min 5 is above Scaling.Max 3")
	_, err = queueengine.New(esmtest.NewSQS(), queueengine.Settings{QueueARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s"}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
	require.ErrorContains(t, err, "is not an SQS queue ARN")
}

func TestShutdownReturnsUnhandledMessagesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, arn := newQueue(t, "held", map[string]string{"VisibilityTimeout": "600"}, 5)
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, BatchSize: 100, BatchingWindow: 60 * time.Second}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return notVisible(t, q.SQS, url) == 5 }, "the messages to be received")
		time.Sleep(10 * time.Second) // inside the window
		t0 := time.Now()
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			shErr, runErr := r.stop(t)
			require.NoError(t, shErr)
			require.NoError(t, runErr)
		}()
		// A message sent while the receive in flight finishes is released
		// too, instead of staying invisible in an abandoned receive.
		time.Sleep(time.Second)
		q.Send(t, url, "late")
		<-stopped
		require.LessOrEqual(t, time.Since(t0), 20*time.Second, "at most the rest of the long poll")
		require.Empty(t, h.calls(), "nothing was handed to the handler")
		require.Equal(t, 0, notVisible(t, q.SQS, url), "visible again at once")
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
		require.NoError(t, err)
		require.Len(t, out.Messages, 6)
	})
}

func TestLongPollBoundsTheShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _, arn := newQueue(t, "poll", nil, 0)
		r := start(t, q, queueengine.Settings{QueueARN: arn, LongPoll: 2 * time.Second}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
		time.Sleep(time.Minute)
		t0 := time.Now()
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.LessOrEqual(t, time.Since(t0), 2*time.Second)
		for _, in := range q.receiveInputs() {
			require.Equal(t, int32(2), in.WaitTimeSeconds)
		}
		_, err := queueengine.New(q, queueengine.Settings{QueueARN: arn, LongPoll: 1500 * time.Millisecond}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
		require.ErrorContains(t, err, "LongPoll 1.5s is not a whole number of seconds from 1 to 20")
	})
}

func TestShutdownLetsInFlightBatchesFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, arn := newQueue(t, "inflight", map[string]string{"VisibilityTimeout": "600"}, 3)
		entered := make(chan struct{})
		var once sync.Once
		h := &handler{fn: func(ctx context.Context, _ []events.SQSMessage) queueengine.Result {
			once.Do(func() { close(entered) })
			time.Sleep(30 * time.Second)
			return queueengine.Result{Err: ctx.Err()}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: time.Minute}, queueengine.Callbacks{Invoke: h.invoke})
		<-entered
		t0 := time.Now()
		shErr, runErr := r.stop(t)
		require.NoError(t, shErr)
		require.NoError(t, runErr)
		require.Equal(t, 30*time.Second, time.Since(t0).Round(time.Second))
		require.Empty(t, q.Messages(url), "the finished batch was deleted")

		// When Shutdown's context ends first, the handler's context is
		// cancelled and Shutdown reports it.
		url, arn = q.MustCreateQueue(t, "hard", map[string]string{"VisibilityTimeout": "600"})
		q.Send(t, url, "x")
		var cancelled atomic.Bool
		h2 := &handler{fn: func(ctx context.Context, _ []events.SQSMessage) queueengine.Result {
			<-ctx.Done()
			cancelled.Store(true)
			return queueengine.Result{Err: ctx.Err()}
		}}
		r = start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: time.Minute}, queueengine.Callbacks{Invoke: h2.invoke})
		waitFor(t, time.Minute, func() bool { return len(h2.calls()) == 1 }, "the invocation")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.ErrorIs(t, r.eng.Shutdown(ctx), context.DeadlineExceeded)
		require.NoError(t, <-r.errc)
		require.True(t, cancelled.Load())
		require.Len(t, q.Messages(url), 1, "a failed batch is not deleted")
		require.NoError(t, r.eng.Shutdown(context.Background()), "Shutdown is idempotent")
	})
}

func TestRunEndsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		_, arn := q.MustCreateQueue(t, "ctx", nil)
		eng, err := queueengine.New(q, queueengine.Settings{QueueARN: arn}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		require.NoError(t, eng.Run(ctx))
		require.NoError(t, eng.Shutdown(context.Background()))
		// Shutdown before Run makes Run refuse.
		eng, err = queueengine.New(q, queueengine.Settings{QueueARN: arn}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
		require.NoError(t, err)
		require.NoError(t, eng.Shutdown(context.Background()))
		require.ErrorIs(t, eng.Run(context.Background()), lambdaesm.ErrClosed)
	})
}

func TestDisabledMappingReceivesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "off", nil)
		q.Send(t, url, "x")
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Disabled: true}, queueengine.Callbacks{Invoke: h.invoke})
		time.Sleep(time.Minute)
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Empty(t, q.receiveInputs())
		require.Empty(t, h.calls())
	})
}

func TestHeartbeatKeepsALongHandlerFromRedelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, arn := newQueue(t, "long", map[string]string{"VisibilityTimeout": "10"}, 12)
		var calls atomic.Int32
		h := &handler{fn: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
			calls.Add(1)
			select {
			case <-time.After(30 * time.Second): // three visibility timeouts
				return queueengine.Result{}
			case <-ctx.Done():
				return queueengine.Result{Err: context.Cause(ctx)}
			}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: time.Minute, VisibilityHeartbeat: true, Scaling: queueengine.Scaling{Initial: 2, Min: 2}},
			queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 2*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "every message deleted")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Equal(t, int32(2), calls.Load(), "each batch handled once: no redelivery")
		changes := q.visibilityChanges()
		require.NotEmpty(t, changes)
		for _, c := range changes {
			for _, e := range c.Entries {
				require.Equal(t, int32(10), e.VisibilityTimeout, "each extension sets the queue's visibility timeout")
			}
		}
		// Every 5s (half the timeout) for 30s, per batch: 5 extensions each.
		require.Len(t, changes, 2*5+2, "two batches of 10 and 2 messages, one call per 10 entries")
	})
}

func TestHeartbeatFailureCancelsTheHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "hbfail", map[string]string{"VisibilityTimeout": "10"})
		q.Send(t, url, "x")
		q.Faults.FailAlways("ChangeMessageVisibilityBatch", esmtest.APIError("AccessDenied", "no"))
		causes := make(chan error, 1)
		h := &handler{fn: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return queueengine.Result{Err: ctx.Err()}
		}}
		start0 := time.Now()
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: time.Minute, VisibilityHeartbeat: true, Scaling: queueengine.Scaling{Initial: 1, Min: 1, Max: 1}},
			queueengine.Callbacks{Invoke: h.invoke})
		cause := <-causes
		require.Equal(t, 5*time.Second, time.Since(start0).Round(time.Second), "at the first heartbeat, half the visibility timeout")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		var hb *queue.HeartbeatError
		require.ErrorAs(t, cause, &hb)
		require.ErrorContains(t, hb, "AccessDenied")
		var ve *queue.VisibilityError
		require.ErrorAs(t, hb, &ve)
		require.Len(t, ve.MessageIDs, 1)
	})
}

// notVisible reports the queue's ApproximateNumberOfMessagesNotVisible.
func notVisible(t *testing.T, q *esmtest.SQS, url string) int {
	out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	require.NoError(t, err)
	n, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return n
}

// Messages held for the next batch (the payload cap cut the receive) are
// extended by the heartbeat too, so a long first batch does not let them be
// delivered again while the worker holds them.
func TestHeartbeatExtendsHeldOverMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "held", map[string]string{"VisibilityTimeout": "10"})
		pad := strings.Repeat("x", 3000)
		for i := range 4 {
			q.Send(t, url, strconv.Itoa(i)+pad)
		}
		var mu sync.Mutex
		receives := map[string]string{}
		h := &handler{fn: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
			mu.Lock()
			for _, m := range b {
				receives[m.Body[:1]] = m.Attributes["ApproximateReceiveCount"]
			}
			mu.Unlock()
			select {
			case <-time.After(30 * time.Second): // three visibility timeouts
				return queueengine.Result{}
			case <-ctx.Done():
				return queueengine.Result{Err: context.Cause(ctx)}
			}
		}}
		// A payload cap of about two messages: each receive of four is cut
		// in two batches, the second held while the first runs.
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: time.Minute, VisibilityHeartbeat: true,
			MaxPayload: 8000, Scaling: queueengine.Scaling{Initial: 1, Min: 1, Max: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 3*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "every message deleted")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Equal(t, map[string]string{"0": "1", "1": "1", "2": "1", "3": "1"}, receives, "no message was delivered twice")
	})
}
