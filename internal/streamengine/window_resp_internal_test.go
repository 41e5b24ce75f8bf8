package streamengine

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

// invalidResp is what invoke.Function returns for a response that does not
// decode (invoke.ResponseError).
type invalidResp struct{}

func (invalidResp) Error() string                     { return "invalid partial batch response" }
func (invalidResp) InvalidPartialBatchResponse() bool { return true }

// A window response that does not decode has no state: Lambda "considers
// this a failed invocation", with or without ReportBatchItemFailures. The
// batch is tried again with the window's state as it was, never finished
// with the state reset.
func TestUndecodableWindowResponseFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 3, 1)
		store := shard.NewMemoryStore()
		var mu sync.Mutex
		var seen []map[string]string
		calls := 0
		set := Settings{Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: store, CheckpointInterval: -1, BatchSize: 1, TumblingWindow: 900 * time.Second}
		eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/mem", set, Callbacks[events.KinesisEventRecord]{
			InvokeWindow: func(_ context.Context, w WindowCall, batch []events.KinesisEventRecord) WindowResult {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, maps.Clone(w.State))
				if w.Final {
					return WindowResult{State: map[string]string{}}
				}
				calls++
				if calls == 2 {
					return WindowResult{Result: Result{Err: invalidResp{}}} // e.g. the function returned "oops"
				}
				n, _ := strconv.Atoi(w.State["n"])
				return WindowResult{State: map[string]string{"n": strconv.Itoa(n + len(batch))}}
			},
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- eng.Run(t.Context()) }()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		require.NoError(t, eng.Shutdown(t.Context()))
		require.NoError(t, <-done)
		mu.Lock()
		defer mu.Unlock()
		t.Logf("states seen by each invocation: %v", seen)
		require.Equal(t, map[string]string{"n": "1"}, seen[2], "the third invocation must see the state of the first (the second failed)")
	})
}
