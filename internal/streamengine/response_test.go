package streamengine_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// undecodable is what invoke.Function returns for a response that is not a
// partial batch response ({"batchItemFailures":[{"itemIdentifier":123}]}).
type undecodable struct{}

func (undecodable) Error() string                     { return "invalid partial batch response" }
func (undecodable) InvalidPartialBatchResponse() bool { return true }

// A response that does not decode fails the whole batch without a function
// error under ReportBatchItemFailures (functionError null in the failure
// record), and is not read without it, as AWS recorded.
func TestUndecodableResponse(t *testing.T) {
	for _, rbif := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			k := esmtest.NewKinesis()
			arn := k.MustCreateStream(t, "orders", 1)
			k.Put(t, "orders", "a", []byte("1"))
			var mu sync.Mutex
			var calls int
			var discarded []streamengine.Discarded[events.KinesisEventRecord]
			set := streamengine.Settings{Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: shard.NewMemoryStore(),
				Policy: &retry.Policy{MaximumRetryAttempts: 1, ReportBatchItemFailures: rbif}}
			eng, err := streamengine.NewKinesis(k, arn, "", set, streamengine.Callbacks[events.KinesisEventRecord]{
				Invoke: func(context.Context, []events.KinesisEventRecord) streamengine.Result {
					mu.Lock()
					calls++
					mu.Unlock()
					return streamengine.Result{Err: undecodable{}}
				},
				OnDiscard: func(_ context.Context, d streamengine.Discarded[events.KinesisEventRecord]) error {
					mu.Lock()
					discarded = append(discarded, d)
					mu.Unlock()
					return nil
				},
			})
			require.NoError(t, err)
			require.NoError(t, runFor(t, eng.Run, eng.Shutdown, time.Minute, nil))
			if !rbif {
				require.Equal(t, 1, calls, "without ReportBatchItemFailures the response is not read: success")
				require.Empty(t, discarded)
				return
			}
			require.Equal(t, 2, calls, "the whole batch is retried")
			require.Len(t, discarded, 1)
			require.Equal(t, lambdaesm.RetryAttemptsExhausted, discarded[0].Condition)
			require.Equal(t, 2, discarded[0].InvokeCount)
			require.False(t, discarded[0].FunctionError, "functionError null: not a function error")
		})
	}
}
