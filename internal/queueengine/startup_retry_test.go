package queueengine_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
)

// A typed-nil client passed New's nil check and panicked in Run.
func TestNewRefusesATypedNilClient(t *testing.T) {
	var c *sqs.Client
	require.NotPanics(t, func() {
		_, err := queueengine.New(c, queueengine.Settings{QueueURL: "http://localhost/000000000000/q"}, queueengine.Callbacks{Invoke: (&handler{}).invoke})
		require.ErrorContains(t, err, "queue: the SQS client is nil")
	})
}

// A server error at start-up that outlasts the SDK's retries used to end Run
// for good: the start-up check retries it, as receiving does.
func TestStartupRetriesTransientErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, arn := newQueue(t, "flaky", nil, 3)
		q.Faults.FailNext("GetQueueUrl", 2, esmtest.ServerError(503))
		q.Faults.FailNext("GetQueueAttributes", 1, esmtest.ServerError(500))
		q.Faults.FailNext("GetQueueAttributes", 1, esmtest.APIError("RequestThrottled", "Rate exceeded"))
		lg, logs := newLogger()
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn, Logger: lg}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, time.Minute, func() bool { return len(h.bodies()) == 3 }, "every message, after the start-up errors")
		shErr, runErr := r.stop(t)
		require.NoError(t, shErr)
		require.NoError(t, runErr)
		require.Equal(t, 3, q.Faults.Calls("GetQueueUrl"))
		require.Equal(t, 3, q.Faults.Calls("GetQueueAttributes"), "the URL is not asked again once known")
		require.Empty(t, q.Messages(url))
		require.Contains(t, logs.String(), "checking the queue failed; retrying")
	})
}

// Only errors no retry heals end Run: the queue is missing, access is
// denied, or the request or the queue's attributes are invalid.
func TestStartupGivesUpOnPermanentErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		_, arn := q.MustCreateQueue(t, "perm", nil)
		h := &handler{}
		run := func(set queueengine.Settings) error {
			t.Helper()
			eng, err := queueengine.New(q, set, queueengine.Callbacks{Invoke: h.invoke})
			require.NoError(t, err)
			return eng.Run(context.Background())
		}
		const notFound = "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."

		err := run(queueengine.Settings{QueueARN: "arn:aws:sqs:us-east-1:000000000000:missing"})
		require.ErrorContains(t, err, notFound)
		require.ErrorContains(t, err, "sqs:GetQueueUrl: queue arn:aws:sqs:us-east-1:000000000000:missing not found")
		var missing *types.QueueDoesNotExist
		require.ErrorAs(t, err, &missing, "the SDK's error stays in the chain")

		err = run(queueengine.Settings{QueueURL: "http://sqs.us-east-1.localhost/000000000000/gone"})
		require.ErrorContains(t, err, notFound)
		require.ErrorContains(t, err, "sqs:GetQueueAttributes")

		// Without the query-compatible code, as some emulators answer.
		q.Faults.FailNext("GetQueueAttributes", 1, &types.QueueDoesNotExist{Message: new("no such queue")})
		require.ErrorContains(t, run(queueengine.Settings{QueueARN: arn}), notFound)

		q.Faults.FailNext("GetQueueAttributes", 1, esmtest.APIError("AccessDenied", "not authorized"))
		err = run(queueengine.Settings{QueueARN: arn})
		require.ErrorContains(t, err, "access denied: sqs:GetQueueAttributes on queue "+arn+" was refused")

		q.Faults.FailNext("GetQueueUrl", 1, esmtest.APIError("InvalidParameterValue", "Value for parameter QueueName is invalid."))
		require.ErrorContains(t, run(queueengine.Settings{QueueARN: arn}), "Value for parameter QueueName is invalid.")

		_, short := q.MustCreateQueue(t, "short", map[string]string{"VisibilityTimeout": "1"})
		require.ErrorContains(t, run(queueengine.Settings{QueueARN: short, FunctionTimeout: 5 * time.Second}),
			"Queue visibility timeout: 1 seconds is less than Function timeout: 5 seconds")
		require.Empty(t, h.calls())
	})
}

// Shutdown, or the end of Run's context, during the start-up retries makes
// Run return nil at once, even while a start-up call hangs.
func TestStopDuringStartupRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		_, arn := q.MustCreateQueue(t, "down", nil)
		q.Faults.FailAlways("GetQueueAttributes", esmtest.ServerError(500))
		h := &handler{}
		r := start(t, q, queueengine.Settings{QueueARN: arn}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 5*time.Minute, func() bool { return q.Faults.Calls("GetQueueAttributes") >= 5 }, "five tries")
		t0 := time.Now()
		shErr, runErr := r.stop(t)
		require.NoError(t, shErr)
		require.NoError(t, runErr)
		require.Less(t, time.Since(t0), time.Second, "no backoff waited out")

		// A start-up call that hangs is abandoned on Shutdown.
		q.Faults.Clear("")
		q.Faults.Delay("GetQueueAttributes", time.Hour)
		r = start(t, q, queueengine.Settings{QueueARN: arn}, queueengine.Callbacks{Invoke: h.invoke})
		time.Sleep(time.Minute)
		t0 = time.Now()
		shErr, runErr = r.stop(t)
		require.NoError(t, shErr)
		require.NoError(t, runErr)
		require.Less(t, time.Since(t0), time.Second, "the hanging call is not waited for")

		// Run's context ending stops the retries too.
		q.Faults.Clear("")
		q.Faults.FailAlways("GetQueueUrl", esmtest.ServerError(503))
		eng, err := queueengine.New(q, queueengine.Settings{QueueARN: arn}, queueengine.Callbacks{Invoke: h.invoke})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		require.NoError(t, eng.Run(ctx))
		require.Empty(t, h.calls())
	})
}

// Through esm: a mapping whose first GetQueueAttributes fails with a 500
// still handles its messages.
func TestSQSMappingSurvivesAStartupServerError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, arn := q.MustCreateQueue(t, "orders", nil)
		q.Send(t, url, "a")
		q.Send(t, url, "b")
		q.Faults.FailNext("GetQueueAttributes", 1, esmtest.ServerError(500))
		progress := &esmtest.Progress{}
		m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn}, q,
			esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }), esm.WithHooks(progress))
		require.NoError(t, err)
		stop := esmtest.Start(t, m)
		progress.WaitFinished(t, 2, time.Minute)
		stop()
		require.Empty(t, q.Messages(url))
	})
}

// Against fauxqs: an HTTP 500 on GetQueueAttributes that reaches the engine
// (the SDK's retries off) does not end the mapping.
func TestIntegrationStartupSurvivesAServerError(t *testing.T) {
	awstest.Integration(t)
	t.Parallel()
	setup := awstest.SQS(t)
	url, arn := awstest.NewQueue(t, setup, nil)
	sendBodies(t, setup, url, "", "x", "y")
	faults := awstest.NewFaults()
	faults.FailNext("GetQueueAttributes", 1, awstest.InternalError)
	faults.FailNext("GetQueueUrl", 1, awstest.HTTPStatus(503))
	c := awstest.SQS(t, awstest.WithFaults(faults), awstest.WithMaxAttempts(1))
	progress := &esmtest.Progress{}
	m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn}, c,
		esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }), esm.WithHooks(progress), quickStop)
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	esmtest.WaitUntil(t, 30*time.Second, "both messages", func() bool { return progress.Finished() == 2 })
	stop()
	require.Equal(t, 1, faults.Injected("GetQueueAttributes"))
	require.Equal(t, 1, faults.Injected("GetQueueUrl"))

	// A missing queue ends Run, in Lambda's words.
	faults.Clear()
	missing := arn + "-missing"
	m, err = esm.NewSQSMapping(esm.Config{EventSourceArn: missing}, c, esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }))
	require.NoError(t, err)
	err = m.Run(context.Background())
	require.ErrorContains(t, err, "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.")
	require.False(t, errors.Is(err, context.Canceled))
}
