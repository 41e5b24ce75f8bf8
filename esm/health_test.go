package esm_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Health says whether a mapping runs and reads, for a readiness probe, and
// names a failing source.
func TestHealth(t *testing.T) {
	t.Run("sqs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := esmtest.NewSQS()
			_, arn := q.MustCreateQueue(t, "orders", nil)
			m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn}, q,
				esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }), esm.WithLongPoll(time.Second))
			require.NoError(t, err)
			require.False(t, m.Health().Healthy(), "not running yet")
			stop := start(t, m)
			time.Sleep(3 * time.Second)
			require.True(t, m.Health().Healthy())
			q.Faults.FailAlways("ReceiveMessage", esmtest.ServerError(500))
			time.Sleep(3 * time.Second)
			require.Error(t, m.Health().LastError, "a failing receive is reported")
			q.Faults.Clear("ReceiveMessage")
			stop()
			require.False(t, m.Health().Running)
		})
	})
	t.Run("kinesis", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := esmtest.NewKinesis()
			arn := k.MustCreateStream(t, "orders", 1)
			m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.Latest}, k,
				esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil }), esm.WithStore(shard.NewMemoryStore()))
			require.NoError(t, err)
			stop := start(t, m)
			time.Sleep(3 * time.Second)
			h := m.Health()
			require.True(t, h.Healthy(), "%+v", h)
			stop()
			require.False(t, m.Health().Running)
		})
	})
}
