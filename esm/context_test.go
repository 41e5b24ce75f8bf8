package esm_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// A handler finds in its context what Lambda puts there: a request ID per
// invocation and the function's ARN (lambdacontext), and a deadline at
// FunctionTimeout.
func TestHandlerContextIsLambdas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 1)
		var mu sync.Mutex
		var got []*lambdacontext.LambdaContext
		var left []time.Duration
		h := esm.HandleKinesis(func(ctx context.Context, _ events.KinesisEvent) error {
			lc, ok := lambdacontext.FromContext(ctx)
			require.True(t, ok)
			dl, ok := ctx.Deadline()
			require.True(t, ok)
			mu.Lock()
			got, left = append(got, lc), append(left, time.Until(dl))
			mu.Unlock()
			return nil
		})
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 1, FunctionName: "orders-handler", FunctionTimeout: 7 * time.Second}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		stop := start(t, m)
		k.Put(t, arn, "a", []byte("1"))
		k.Put(t, arn, "b", []byte("2"))
		time.Sleep(5 * time.Second)
		stop()
		require.Len(t, got, 2)
		require.NotEqual(t, got[0].AwsRequestID, got[1].AwsRequestID, "a request ID per invocation")
		require.Len(t, got[0].AwsRequestID, 36)
		require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:orders-handler", got[0].InvokedFunctionArn)
		require.Equal(t, 7*time.Second, left[0], "the deadline is FunctionTimeout")
	})
}
