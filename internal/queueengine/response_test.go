package queueengine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
)

// undecodable is what invoke.Function returns for a response that is not a
// partial batch response ({"batchItemFailures":[{"itemIdentifier":123}]}).
type undecodable struct{}

func (undecodable) Error() string                     { return "response does not decode" }
func (undecodable) InvalidPartialBatchResponse() bool { return true }

// A response that does not decode fails the whole batch under
// ReportBatchItemFailures, and is not read (the batch is deleted) without
// it, as in Lambda.
func TestUndecodableResponse(t *testing.T) {
	for _, rbif := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			q, url, arn := newQueue(t, "undecodable", map[string]string{"VisibilityTimeout": "30"}, 3)
			var calls atomic.Int32
			hk := &hooks{}
			r := start(t, q, queueengine.Settings{QueueARN: arn, Hooks: []lambdaesm.Hook{hk}, ReportBatchItemFailures: rbif}, queueengine.Callbacks{Invoke: func(context.Context, []events.SQSMessage) queueengine.Result {
				calls.Add(1)
				return queueengine.Result{Err: undecodable{}}
			}})
			if rbif {
				waitFor(t, 2*time.Minute, func() bool { return calls.Load() >= 2 }, "a second delivery")
				_, runErr := r.stop(t)
				require.NoError(t, runErr)
				require.Len(t, q.Messages(url), 3, "nothing was deleted")
				invs, _, _, _ := hk.snapshot()
				require.ErrorIs(t, invs[0].Err, lambdaesm.ErrInvalidResponse)
				return
			}
			waitFor(t, time.Minute, func() bool { return len(q.deletedIDs()) == 3 }, "the batch to be deleted")
			_, runErr := r.stop(t)
			require.NoError(t, runErr)
			require.EqualValues(t, 1, calls.Load())
		})
	}
}
