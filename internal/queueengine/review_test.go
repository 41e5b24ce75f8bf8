package queueengine_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/stretchr/testify/require"
)

// A FIFO receive whose messages exceed the payload cap is split by
// worker.take into several batches, the rest staying in the worker. When a
// group fails in the first batch, the group's later messages the worker holds
// must not be invoked before the failed ones come back, or the group is
// handled out of order. (Found in review: they used to be.)
func TestReviewFIFOPayloadOverflowBreaksGroupOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newRecorder()
		url, arn := q.MustCreateQueue(t, "big.fifo", map[string]string{"VisibilityTimeout": "30"})
		pad := strings.Repeat("x", 10_000)
		for i := range 6 {
			q.SendFIFO(t, url, "A", "A"+strconv.Itoa(i)+pad)
		}
		var mu sync.Mutex
		var order []string // first successful handling of each message
		seen := map[string]bool{}
		h := &handler{fn: func(_ context.Context, b []events.SQSMessage) queueengine.Result {
			for _, m := range b {
				if m.Body[:2] == "A1" && m.Attributes["ApproximateReceiveCount"] == "1" {
					return queueengine.Result{Err: errBoom}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range b {
				if !seen[m.Body[:2]] {
					seen[m.Body[:2]] = true
					order = append(order, m.Body[:2])
				}
			}
			return queueengine.Result{}
		}}
		r := start(t, q, queueengine.Settings{QueueARN: arn, MaxPayload: 25_000, Scaling: queueengine.Scaling{Initial: 1, Min: 1}}, queueengine.Callbacks{Invoke: h.invoke})
		waitFor(t, 5*time.Minute, func() bool { return len(q.Messages(url)) == 0 }, "every message handled")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
		require.Equal(t, []string{"A0", "A1", "A2", "A3", "A4", "A5"}, order, "group A handled out of order")
	})
}
