package esmtest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

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
		progress.WaitFinished(t, 4)
		stop()

		handled, dropped, _, _, _ := progress.Counts()
		if handled != 3 || dropped != 1 || len(failures.Messages()) != 1 {
			t.Fatalf("handled %d, dropped %d, failure records %d", handled, dropped, len(failures.Messages()))
		}
	})
}
