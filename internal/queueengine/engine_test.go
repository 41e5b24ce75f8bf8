package queueengine_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/lambdaesm/lambdaesm/queue"
	"github.com/lambdaesm/lambdaesm/retry"
)

// redrive is a redrive policy that keeps the start-up warnings quiet.
func redrive(t *testing.T, q *esmtest.SQS, name string) map[string]string {
	t.Helper()
	_, dlq := q.MustCreateQueue(t, name, nil)
	return map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlq + `","maxReceiveCount":5}`}
}

func TestStandardQueueBatchesAreHandledAndDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		attrs := redrive(t, q.SQS, "dlq")
		attrs["VisibilityTimeout"] = "30"
		url, arn := q.MustCreateQueue(t, "orders", attrs)
		for i := range 25 {
			q.Send(t, url, fmt.Sprintf("m%02d", i))
		}
		h := &handler{}
		hk := &hooks{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Hooks: []lambdaesm.Hook{hk}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "the queue to empty")
		shErr, runErr := r.stop(t)
		require.NoError(t, shErr)
		require.NoError(t, runErr)

		require.ElementsMatch(t, q.Bodies(url), []string{})
		require.Len(t, h.bodies(), 25)
		for _, b := range h.calls() {
			require.LessOrEqual(t, len(b), 10)
			m := b[0]
			require.Equal(t, "aws:sqs", m.EventSource)
			require.Equal(t, arn, m.EventSourceARN)
			require.Equal(t, "us-east-1", m.AWSRegion)
			require.Equal(t, "1", m.Attributes["ApproximateReceiveCount"])
		}
		invs, deleted, _, _ := hk.snapshot()
		require.Equal(t, 25, deleted)
		require.Len(t, invs, len(h.calls()))

		// Every receive long-polls for all attributes, at most 10 messages.
		for _, in := range q.receiveInputs() {
			require.Equal(t, int32(20), in.WaitTimeSeconds)
			require.Equal(t, int32(10), in.MaxNumberOfMessages)
			require.Equal(t, []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}, in.MessageSystemAttributeNames)
			require.Equal(t, []string{"All"}, in.MessageAttributeNames)
			require.Equal(t, int32(0), in.VisibilityTimeout)
			require.Nil(t, in.ReceiveRequestAttemptId)
			require.Equal(t, url, *in.QueueUrl, "the URL comes from GetQueueUrl")
		}
		require.Equal(t, 1, q.Faults.Calls("GetQueueUrl"))
	})
}

func TestQueueNamedByURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "by-url", nil)
		q.Send(t, url, "hello")
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueURL: url}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(h.calls()) == 1 }, "one invocation")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Equal(t, 0, q.Faults.Calls("GetQueueUrl"))
		require.Equal(t, arn, h.calls()[0][0].EventSourceARN, "the ARN comes from the QueueArn attribute")
	})
}

func TestBatchingWindowGathersReceivesIntoOneBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "window", map[string]string{"VisibilityTimeout": "120"})
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, BatchSize: 25, BatchingWindow: 5 * time.Second, Scaling: queueengine.Scaling{Initial: 1, Min: 1, Max: 1}},
			queueengine.Callbacks{Invoke: h.invoke})
		// 12 messages trickle in over 3 seconds, then 20 more at once.
		for i := range 12 {
			q.Send(t, url, "a"+strconv.Itoa(i))
			time.Sleep(250 * time.Millisecond)
		}
		synctest.Wait()
		require.Empty(t, h.calls(), "the window is not over and the batch is not full")
		for i := range 20 {
			q.Send(t, url, "b"+strconv.Itoa(i))
		}
		waitFor(t, time.Minute, func() bool { return len(h.bodies()) == 32 }, "every message")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		calls := h.calls()
		require.Len(t, calls[0], 25, "the first batch fills up to BatchSize")
		require.Len(t, calls[1], 7)
		// MaxNumberOfMessages is what the batch still needs, at most 10;
		// receives holding messages wait no longer than the window.
		for _, in := range q.receiveInputs() {
			require.LessOrEqual(t, in.MaxNumberOfMessages, int32(10))
			require.LessOrEqual(t, in.WaitTimeSeconds, int32(20))
		}
		smallest := int32(10)
		for _, in := range q.receiveInputs() {
			smallest = min(smallest, in.MaxNumberOfMessages)
		}
		require.Less(t, smallest, int32(10), "a batch close to BatchSize asks only for what it lacks")
	})
}

func TestPayloadCapSplitsBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "payload", map[string]string{"VisibilityTimeout": "120"})
		body := strings.Repeat("x", 1000)
		for range 10 {
			q.Send(t, url, body)
		}
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, BatchSize: 100, BatchingWindow: time.Second, MaxPayload: 4000, Scaling: queueengine.Scaling{Initial: 1, Min: 1}},
			queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(h.bodies()) == 10 }, "every message")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		for _, b := range h.calls() {
			require.LessOrEqual(t, len(b), 3, "three messages of about 1.4 KB fit in 4000 bytes")
		}
	})
}

func TestFunctionErrorDeletesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context, batch []events.SQSMessage) queueengine.Result
		want string
	}{
		{"error", func(context.Context, []events.SQSMessage) queueengine.Result { return queueengine.Result{Err: errBoom} }, "boom"},
		{"timeout", func(ctx context.Context, _ []events.SQSMessage) queueengine.Result {
			<-ctx.Done()
			return queueengine.Result{}
		}, "Task timed out after 3.00 seconds"},
		{"empty itemIdentifier", func(context.Context, []events.SQSMessage) queueengine.Result {
			return queueengine.Result{ItemFailures: []string{""}}
		}, "itemIdentifier is empty"},
		{"unknown itemIdentifier", func(context.Context, []events.SQSMessage) queueengine.Result {
			return queueengine.Result{ItemFailures: []string{"not-a-message"}}
		}, `itemIdentifier "not-a-message" is not in the batch`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, url, arn := newQueue(t, "fails", map[string]string{"VisibilityTimeout": "30"}, 3)
				var calls atomic.Int32
				hk := &hooks{}
				r := start(t, q, queueengine.Settings{QueueARN: arn, Hooks: []lambdaesm.Hook{hk}, ReportBatchItemFailures: true}, queueengine.Callbacks{Invoke: func(ctx context.Context, b []events.SQSMessage) queueengine.Result {
					calls.Add(1)
					return tc.fn(ctx, b)
				}})
				// The messages come back after the visibility timeout, with
				// a higher receive count.
				waitFor(t, 2*time.Minute, func() bool { return calls.Load() >= 2 }, "a second delivery")
				_, runErr := r.stop(t)
				require.NoError(t, runErr)
				require.Len(t, q.Messages(url), 3, "nothing was deleted")
				require.Empty(t, q.deletedIDs())
				invs, _, _, _ := hk.snapshot()
				require.ErrorContains(t, invs[0].Err, tc.want)
				require.Equal(t, 3, invs[0].Failed)
				require.Equal(t, 1, invs[0].Attempt)
				require.Equal(t, 2, invs[1].Attempt)
			})
		})
	}
}

func TestPartialBatchResponseDeletesAllButTheListed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "partial", nil)
		ids := make([]string, 6)
		for i := range ids {
			ids[i] = q.Send(t, url, strconv.Itoa(i))
		}
		h := &handler{fn: func(_ context.Context, b []events.SQSMessage) queueengine.Result {
			if b[0].Attributes["ApproximateReceiveCount"] != "1" {
				return queueengine.Result{}
			}
			return queueengine.Result{ItemFailures: []string{ids[1], ids[4]}}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, ReportBatchItemFailures: true, Scaling: queueengine.Scaling{Initial: 1, Min: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(q.deletedIDs()) == 4 }, "four deletions")
		synctest.Wait()
		require.Equal(t, []string{"1", "4"}, q.Bodies(url), "the listed messages stay")
		waitFor(t, time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "the retried messages to be deleted")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
	})
}

func TestFIFOGroupsFanOutAndAFailureKeepsTheRestOfItsGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "orders.fifo", map[string]string{"VisibilityTimeout": "30"})
		ids := map[string]string{}
		for i := range 4 {
			for _, g := range []string{"A", "B", "C"} {
				body := g + strconv.Itoa(i)
				ids[body] = q.SendFIFO(t, url, g, body)
			}
		}
		// All three groups are in the handler at the same time.
		var inFlight, most atomic.Int32
		h := &handler{fn: func(_ context.Context, b []events.SQSMessage) queueengine.Result {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Second)
			for _, m := range b {
				if m.Body == "A1" && m.Attributes["ApproximateReceiveCount"] == "1" {
					// Only A1 is reported; A2 and A3 must stay too.
					return queueengine.Result{ItemFailures: []string{ids["A1"]}}
				}
			}
			return queueengine.Result{}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, ReportBatchItemFailures: true, Scaling: queueengine.Scaling{Initial: 1, Min: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(q.deletedIDs()) == 9 }, "all but group A's last three to be deleted")
		synctest.Wait()
		require.Equal(t, []string{"A1", "A2", "A3"}, q.Bodies(url), "A1 failed: it and the rest of group A stay, in order")
		first := h.calls()[:3]
		groups := map[string][]string{}
		for _, b := range first {
			var bodies []string
			for _, m := range b {
				bodies = append(bodies, m.Body)
			}
			groups[b[0].Attributes["MessageGroupId"]] = bodies
		}
		require.Equal(t, map[string][]string{
			"A": {"A0", "A1", "A2", "A3"}, "B": {"B0", "B1", "B2", "B3"}, "C": {"C0", "C1"},
		}, groups, "one invocation per group, in order (the fake returns 10 messages)")
		require.Equal(t, int32(3), most.Load(), "the groups run concurrently")

		waitFor(t, 2*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "group A to be retried after the visibility timeout")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		var order []string
		for _, id := range q.deletedIDs() {
			for body, mid := range ids {
				if mid == id && body[0] == 'A' {
					order = append(order, body)
				}
			}
		}
		require.Equal(t, []string{"A0", "A1", "A2", "A3"}, order)
	})
}

func TestFIFOReceiveAttemptIDIsReusedAfterAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "attempt.fifo", nil)
		q.Faults.FailNext("ReceiveMessage", 1, esmtest.ServerError(500))
		q.SendFIFO(t, url, "g", "one")
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Scaling: queueengine.Scaling{Initial: 1, Min: 1}, ServiceBackoff: retry.Backoff{Initial: time.Millisecond}},
			queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(h.calls()) == 1 }, "the message")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		ins := q.receiveInputs()
		require.GreaterOrEqual(t, len(ins), 3)
		require.NotNil(t, ins[0].ReceiveRequestAttemptId)
		require.Equal(t, *ins[0].ReceiveRequestAttemptId, *ins[1].ReceiveRequestAttemptId, "the retry reuses the attempt ID")
		require.NotEqual(t, *ins[1].ReceiveRequestAttemptId, *ins[2].ReceiveRequestAttemptId, "a new receive gets a new one")
	})
}

func TestFailedDeleteEntriesAreRetriedThenReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, arn := newQueue(t, "deletes", nil, 5)
		// Entry "1" of every DeleteMessageBatch fails; the first call of all
		// fails as a whole.
		q.Faults.FailNext("DeleteMessageBatch", 1, esmtest.ServerError(500))
		q.Faults.FailEntries("DeleteMessageBatch", esmtest.APIError("InternalError", "try again"), "1")
		hk := &hooks{}
		lg, logs := newLogger()
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Hooks: []lambdaesm.Hook{hk}, Logger: lg, Scaling: queueengine.Scaling{Initial: 1, Min: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { _, _, _, n := hk.snapshot(); return n > 0 }, "a report")
		shErr, runErr := r.stop(t)
		require.NoError(t, runErr)
		var de *queue.DeleteError
		require.ErrorAs(t, shErr, &de, "Shutdown surfaces the undeleted message")
		require.Equal(t, 1, de.Messages)
		require.ErrorContains(t, de, "InternalError")
		require.Equal(t, []string{"1"}, q.Bodies(url))
		_, deleted, _, notDeleted := hk.snapshot()
		require.Equal(t, 4, deleted)
		require.Equal(t, 1, notDeleted)
		require.Equal(t, 3, q.Faults.Calls("DeleteMessageBatch"), "three attempts: the failed call and two retries")
		require.Contains(t, logs.String(), "messages could not be deleted")
	})
}

func TestFilteredOutMessagesAreDeletedUnhandled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, arn := newQueue(t, "filter", nil, 6)
		h := &handler{}
		hk := &hooks{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Hooks: []lambdaesm.Hook{hk}}, queueengine.Callbacks{
			Invoke: h.invoke,
			Filter: func(m *events.SQSMessage) bool { n, _ := strconv.Atoi(m.Body); return n%2 == 0 },
		})
		waitFor(t, time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "the queue to empty")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.ElementsMatch(t, []string{"0", "2", "4"}, h.bodies())
		_, deleted, filtered, _ := hk.snapshot()
		require.Equal(t, 3, filtered)
		require.Equal(t, 6, deleted)
	})
}

func TestFailureBackoffBringsFailedMessagesBackSooner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "backoff", map[string]string{"VisibilityTimeout": "300"})
		q.Send(t, url, "x")
		var at []time.Time
		h := &handler{fn: func(context.Context, []events.SQSMessage) queueengine.Result {
			at = append(at, time.Now())
			if len(at) < 3 {
				return queueengine.Result{Err: errBoom}
			}
			return queueengine.Result{}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Scaling: queueengine.Scaling{Initial: 1, Min: 1},
			FailureBackoff: &retry.Backoff{Initial: 2 * time.Second, Max: time.Minute, Multiplier: 3}},
			queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "success")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Len(t, at, 3)
		require.Equal(t, 2*time.Second, at[1].Sub(at[0]).Round(time.Second), "receive count 1: 2s")
		require.Equal(t, 6*time.Second, at[2].Sub(at[1]).Round(time.Second), "receive count 2: 6s")
	})
}
