package queueengine_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/retry"
)

// The integration tests run the mapping against fauxqs (see
// internal/awstest); they skip unless the emulators run.

// sendBodies sends bodies to the queue at url, ten at a time (FIFO: all in
// group, in order).
func sendBodies(t testing.TB, c *sqs.Client, url, group string, bodies ...string) {
	t.Helper()
	for lo := 0; lo < len(bodies); lo += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range bodies[lo:min(lo+10, len(bodies))] {
			e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)}
			if group != "" {
				e.MessageGroupId = aws.String(group)
				e.MessageDeduplicationId = aws.String(b)
			}
			entries = append(entries, e)
		}
		out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
		require.NoError(t, err)
		require.Empty(t, out.Failed)
	}
}

// counts returns the queue's visible and in-flight message counts.
func counts(t testing.TB, c *sqs.Client, url string) (visible, inflight int) {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	require.NoError(t, err)
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inflight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inflight
}

func TestIntegrationStandardQueue(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	c := awstest.SQS(t)
	_, dlq := awstest.NewQueue(t, c, nil)
	redrive := `{"deadLetterTargetArn":"` + dlq + `","maxReceiveCount":5}`

	url, arn := awstest.NewQueue(t, c, map[string]string{"RedrivePolicy": redrive})
	var bodies []string
	for i := range 45 {
		bodies = append(bodies, "m"+strconv.Itoa(i))
	}
	sendBodies(t, c, url, "", bodies...)
	var mu sync.Mutex
	var seen []string
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn}, c, esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			seen = append(seen, r.Body)
			require.Equal(t, arn, r.EventSourceARN)
			require.Equal(t, "aws:sqs", r.EventSource)
		}
		return nil
	}), quickStop)
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	waitFor(t, 30*time.Second, func() bool { v, f := counts(t, c, url); return v == 0 && f == 0 }, "the standard queue to empty")
	stop()
	mu.Lock()
	defer mu.Unlock()
	require.ElementsMatch(t, bodies, seen)
}

func TestIntegrationFIFOQueue(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	c := awstest.SQS(t)
	var mu sync.Mutex
	_, fdlq := awstest.NewQueue(t, c, map[string]string{"FifoQueue": "true"})
	furl, farn := awstest.NewQueue(t, c, map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + fdlq + `","maxReceiveCount":5}`})
	groups := map[string][]string{}
	for _, g := range []string{"A", "B", "C"} {
		for i := range 6 {
			groups[g] = append(groups[g], g+strconv.Itoa(i))
		}
		sendBodies(t, c, furl, g, groups[g]...)
	}
	got := map[string][]string{}
	var failedOnce atomic.Bool
	fm, err := esm.NewSQSMapping(esm.Config{EventSourceArn: farn, FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures}}, c,
		esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			var resp events.SQSEventResponse
			for i, r := range ev.Records {
				if r.Body == "B2" && failedOnce.CompareAndSwap(false, true) {
					for _, rest := range ev.Records[i:] {
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
					}
					return resp, nil
				}
				g := r.Attributes["MessageGroupId"]
				got[g] = append(got[g], r.Body)
			}
			return resp, nil
		}), esm.WithFailureBackoff(retryNow), quickStop)
	require.NoError(t, err)
	fstop := esmtest.Start(t, fm)
	waitFor(t, 60*time.Second, func() bool { v, f := counts(t, c, furl); return v == 0 && f == 0 }, "the FIFO queue to empty")
	fstop()
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, groups, got, "each group handled in order, B2 retried in place")
	require.True(t, failedOnce.Load())
}

func TestIntegrationFailingMessagesMoveToTheDLQ(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	c := awstest.SQS(t)
	dlqURL, dlq := awstest.NewQueue(t, c, nil)
	url, arn := awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlq + `","maxReceiveCount":2}`})
	sendBodies(t, c, url, "", "poison")
	var receives []string
	var mu sync.Mutex
	lg, logs := newLogger()
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn, FunctionTimeout: time.Second}, c,
		esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) error {
			mu.Lock()
			defer mu.Unlock()
			receives = append(receives, ev.Records[0].Attributes["ApproximateReceiveCount"])
			return errBoom
		}), esm.WithLogger(lg), quickStop)
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	waitFor(t, 30*time.Second, func() bool { v, _ := counts(t, c, dlqURL); return v == 1 }, "the message in the DLQ")
	stop()
	mu.Lock()
	require.Equal(t, []string{"1", "2"}, receives, "received maxReceiveCount times, then moved by SQS")
	mu.Unlock()
	require.Contains(t, logs.String(), "maxReceiveCount 2, below the 5 AWS recommends")
	v, f := counts(t, c, url)
	require.Zero(t, v+f)
}

func TestIntegrationVisibilityChecks(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	c := awstest.SQS(t)
	h := esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })

	_, arn := awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "60"})
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn, FunctionTimeout: 180 * time.Second}, c, h)
	require.NoError(t, err)
	require.ErrorContains(t, m.Run(context.Background()), "Queue visibility timeout: 60 seconds is less than Function timeout: 180 seconds")

	_, arn = awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "60"})
	lg, logs := newLogger()
	m, err = esm.NewSQSMapping(esm.Config{EventSourceArn: arn, FunctionTimeout: 30 * time.Second}, c, h, esm.WithLogger(lg), quickStop)
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	waitFor(t, 10*time.Second, func() bool { return len(logs.String()) > 0 }, "the warnings")
	stop()
	require.Contains(t, logs.String(), "queue visibility timeout of 60 seconds is less than AWS's recommendation of 6 × function timeout + batching window (180 seconds)")
	require.Contains(t, logs.String(), "the queue has no redrive policy")
}

func TestIntegrationHeartbeatKeepsALongHandlerFromRedelivery(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	c := awstest.SQS(t)
	url, arn := awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "2"})
	sendBodies(t, c, url, "", "long")
	var calls atomic.Int32
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn, FunctionTimeout: 20 * time.Second}, c,
		esm.HandleSQS(func(ctx context.Context, ev events.SQSEvent) error {
			calls.Add(1)
			select {
			case <-time.After(6 * time.Second): // three visibility timeouts
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}), esm.WithVisibilityHeartbeat(time.Second), quickStop)
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	waitFor(t, 30*time.Second, func() bool { v, f := counts(t, c, url); return calls.Load() > 0 && v == 0 && f == 0 }, "the message deleted")
	stop()
	require.Equal(t, int32(1), calls.Load(), "not delivered again while handled")
}

func TestIntegrationShutdownReturnsUnhandledMessagesAtOnce(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	c := awstest.SQS(t)
	url, arn := awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "300"})
	sendBodies(t, c, url, "", "a", "b", "c")
	var calls atomic.Int32
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn, BatchSize: 50, MaximumBatchingWindow: 60 * time.Second}, c,
		esm.HandleSQS(func(context.Context, events.SQSEvent) error { calls.Add(1); return nil }),
		esm.WithLogger(slog.New(slog.DiscardHandler)), esm.WithLongPoll(5*time.Second))
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	waitFor(t, 10*time.Second, func() bool { _, f := counts(t, c, url); return f == 3 }, "the messages received")
	t0 := time.Now()
	stop()
	require.Less(t, time.Since(t0), 6*time.Second, "at most the rest of the long poll")
	require.Zero(t, calls.Load(), "still inside the batching window")
	v, f := counts(t, c, url)
	require.Equal(t, 3, v, "visible again at once")
	require.Zero(t, f)
}

// quickStop shortens the long polls so that stopping, which lets them
// finish, takes at most 2 seconds.
var quickStop = esm.WithLongPoll(2 * time.Second)

// retryNow is a failure backoff of one second (the least SQS allows).
var retryNow = retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
