package esmtest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// How a user tests a Kinesis Lambda handler with Lambda's real retry and
// bisect behaviour: a fake stream, the handler under a mapping, and
// assertions on what reached the failure destination. Under synctest the
// retries' backoff takes no real time.
func TestKinesisHandlerWithTheKit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 1)
		for _, order := range []string{"ok-1", "bad", "ok-2", "ok-3"} {
			k.Put(t, arn, "customer", []byte(order))
		}
		handler := func(ctx context.Context, ev events.KinesisEvent) error {
			for _, r := range ev.Records {
				if string(r.Kinesis.Data) == "bad" {
					return errors.New("cannot parse order")
				}
			}
			return nil
		}
		failures := &destination.Memory{}
		progress := &esmtest.Progress{}
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon,
			BisectBatchOnFunctionError: true, MaximumRetryAttempts: new(1)}
		m, err := esm.NewKinesisMapping(cfg, k, esm.HandleKinesis(handler),
			esm.WithStore(shard.NewMemoryStore()), esm.WithOnFailure(failures), esm.WithHooks(progress))
		if err != nil {
			t.Fatal(err)
		}
		stop := esmtest.Start(t, m)
		progress.WaitFinished(t, 4, time.Minute)
		stop()

		handled, dropped, _, _, _ := progress.Counts()
		if handled != 3 || dropped != 1 || len(failures.Messages()) != 1 {
			t.Fatalf("handled %d, dropped %d, failure records %d", handled, dropped, len(failures.Messages()))
		}
	})
}

// How a user tests an SQS handler whose poison messages end in the queue's
// dead-letter queue: SQS moves them after maxReceiveCount receives, and the
// Progress counts them as finished once told which queue to watch.
func TestSQSHandlerWithDeadLetterQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		_, dlqARN := q.MustCreateQueue(t, "orders-dlq", nil)
		q.MustCreateQueue(t, "orders", map[string]string{
			"VisibilityTimeout": "30",
			"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":2}`,
		})
		for _, body := range []string{"ok-1", "poison", "ok-2"} {
			q.Send(t, "orders", body)
		}
		handler := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var resp events.SQSEventResponse
			for _, m := range ev.Records {
				if m.Body == "poison" {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				}
			}
			return resp, nil
		}
		progress := &esmtest.Progress{}
		progress.CountDeadLetters(q, "orders")
		m, err := esm.NewSQSMapping(esm.Config{
			EventSourceArn:        q.QueueARN("orders"),
			FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
		}, q, esm.HandleSQS(handler), esm.WithHooks(progress))
		if err != nil {
			t.Fatal(err)
		}
		stop := esmtest.Start(t, m)
		progress.WaitFinished(t, 3, 5*time.Minute)
		stop()

		if got := progress.DeadLettered(); got != 1 {
			t.Fatalf("dead-lettered %d, want 1", got)
		}
		if got := q.Bodies("orders-dlq"); len(got) != 1 || got[0] != "poison" {
			t.Fatalf("dead-letter queue holds %q", got)
		}
		if left := q.Bodies("orders"); len(left) != 0 {
			t.Fatalf("left in the queue: %q", left)
		}
	})
}
