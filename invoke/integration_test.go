package invoke_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/rietest"
	"github.com/lambdaesm/lambdaesm/invoke"
)

// The integration tests use fauxqs and the Runtime Interface Emulator; they
// skip unless the emulators run (make test).

// TestIntegrationDurableOnFauxqs keeps events in a real (emulated) SQS
// queue across a restart of the invoker, with a retry between.
func TestIntegrationDurableOnFauxqs(t *testing.T) {
	c := awstest.SQS(t)
	url, _ := awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "30"})
	durable := &invoke.Durable{Client: c, QueueURL: url, Options: []esm.SQSOption{esm.WithLongPoll(time.Second)}}

	first, err := invoke.New(&recorder{}, invoke.Config{}, invoke.WithDurable(*durable))
	require.NoError(t, err)
	id := send(t, first, "o-1")
	require.NoError(t, first.Shutdown(t.Context()))

	h := &recorder{errs: []error{errors.New("flaky")}}
	done := make(chan lambdaesm.AsyncResult, 1)
	second, err := invoke.New(h, invoke.Config{}, invoke.WithDurable(*durable), invoke.WithRetryDelays(time.Second), invoke.WithHooks(onResult(func(r lambdaesm.AsyncResult) { done <- r })))
	require.NoError(t, err)
	stop := run(t, second)
	defer stop()
	select {
	case res := <-done:
		require.Equal(t, id, res.RequestID)
		require.Equal(t, 2, res.Attempts, "failed once, then succeeded")
		require.NoError(t, res.Err)
	case <-time.After(30 * time.Second):
		t.Fatal("the event queued before the restart was not handled")
	}
	calls := h.Calls()
	require.Equal(t, []int{1, 2}, []int{calls[0].attempt, calls[1].attempt})
	require.GreaterOrEqual(t, calls[1].at.Sub(calls[0].at), time.Second)
}

// TestIntegrationSQSMappingDrivesAFunctionUnderRIE runs Lambda's SQS poller
// on fauxqs against a real function binary under the Runtime Interface
// Emulator: its partial batch response is honoured.
func TestIntegrationSQSMappingDrivesAFunctionUnderRIE(t *testing.T) {
	c := awstest.SQS(t)
	fn := rietest.Start(t)
	url, arn := awstest.NewQueue(t, c, map[string]string{"VisibilityTimeout": "5"})
	for _, body := range []string{"ok-1", "fail", "ok-2"} {
		_, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body)})
		require.NoError(t, err)
	}

	var mu sync.Mutex
	var handled []string
	var failed []events.SQSBatchItemFailure
	function := invoke.Function[events.SQSEvent, events.SQSEventResponse](fn.Client, rietest.FunctionName)
	h := esm.HandlerFunc[events.SQSEvent, events.SQSEventResponse](func(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
		resp, err := function.Handle(ctx, e)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range e.Records {
			handled = append(handled, r.Body)
		}
		failed = append(failed, resp.BatchItemFailures...)
		return resp, err
	})
	m, err := esm.NewSQSMapping(esm.Config{
		EventSourceArn:        arn,
		MaximumBatchingWindow: time.Second, // one batch, so the single-threaded emulator is never called twice at once
		FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
	}, c, h, esm.WithLongPoll(time.Second), esm.WithScaling(esm.Scaling{Initial: 1, Min: 1}))
	require.NoError(t, err)
	stop := esmtest.Start(t, m)
	esmtest.WaitUntil(t, 30*time.Second, "three messages handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(handled) >= 3 })
	stop()

	mu.Lock()
	defer mu.Unlock()
	require.ElementsMatch(t, []string{"ok-1", "fail", "ok-2"}, handled[:3])
	require.Len(t, failed, 1)

	// Only the reported message is left, and it comes back after its
	// visibility timeout.
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 10})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	require.Equal(t, "fail", aws.ToString(out.Messages[0].Body))
	require.Equal(t, failed[0].ItemIdentifier, aws.ToString(out.Messages[0].MessageId))
}

// TestIntegrationDeadLetterOnFauxqs sends a discarded event to a real
// (emulated) SQS dead-letter queue: the event is the body, and Lambda's
// attributes arrive with it.
func TestIntegrationDeadLetterOnFauxqs(t *testing.T) {
	c := awstest.SQS(t)
	url, arn := awstest.NewQueue(t, c, nil)
	dlq, err := destination.NewSQS(c, arn)
	require.NoError(t, err)
	h := &recorder{errs: []error{errors.New("card declined")}}
	done := make(chan lambdaesm.AsyncResult, 1)
	inv, err := invoke.New(h, invoke.Config{MaximumRetryAttempts: new(0), DeadLetter: dlq}, invoke.WithHooks(onResult(func(r lambdaesm.AsyncResult) { done <- r })))
	require.NoError(t, err)
	stop := run(t, inv)
	defer stop()
	id := send(t, inv, "o-1")
	select {
	case res := <-done:
		require.NoError(t, res.DeliveryErr)
	case <-time.After(30 * time.Second):
		t.Fatal("the event was not discarded")
	}

	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
	})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	require.JSONEq(t, `{"id":"o-1"}`, aws.ToString(out.Messages[0].Body))
	require.Equal(t, map[string]sqstypes.MessageAttributeValue{
		"RequestID":    {DataType: aws.String("String"), StringValue: aws.String(id)},
		"ErrorCode":    {DataType: aws.String("Number"), StringValue: aws.String("200")},
		"ErrorMessage": {DataType: aws.String("String"), StringValue: aws.String("card declined")},
	}, out.Messages[0].MessageAttributes)
}
