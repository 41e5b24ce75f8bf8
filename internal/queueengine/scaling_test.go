package queueengine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/lambdaesm/lambdaesm/retry"
)

func TestEngineScalesFromFiveUpToTheCapAndBackDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, arn := q.MustCreateQueue(t, "scale", map[string]string{"VisibilityTimeout": "60"})
		const total = 6000
		for range total {
			q.Send(t, url, "m")
		}
		const capped = 40
		var inFlight, most, handled atomic.Int32
		h := func(_ context.Context, b []events.SQSMessage) queueengine.Result {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Second)
			inFlight.Add(-1)
			handled.Add(int32(len(b)))
			return queueengine.Result{}
		}
		t0 := time.Now()
		r := start(t, q, queueengine.Settings{QueueARN: arn, FunctionTimeout: 10 * time.Second, Scaling: queueengine.Scaling{Max: capped}}, queueengine.Callbacks{Invoke: h})
		peak := 0
		for handled.Load() < total {
			time.Sleep(50 * time.Millisecond)
			target, running := r.eng.Concurrency()
			elapsed := time.Since(t0)
			// 300 per minute is one step per 200ms.
			require.LessOrEqual(t, target, 5+int(elapsed/(200*time.Millisecond)), "at %v", elapsed)
			require.LessOrEqual(t, running, capped)
			peak = max(peak, target)
		}
		require.Equal(t, capped, peak, "the concurrency reaches MaximumConcurrency")
		require.LessOrEqual(t, int(most.Load()), capped, "never more invocations in flight than the cap")
		require.Greater(t, int(most.Load()), capped/2)
		// With the queue empty, receives come back empty and the
		// concurrency shrinks to 2.
		waitFor(t, 2*time.Minute, func() bool { target, running := r.eng.Concurrency(); return target == 2 && running == 2 }, "the shrink to 2")
		_, runErr := r.stop(t)
		require.NoError(t, runErr)
	})
}

// TestFIFOPropertyRandomFailures runs FIFO queues through random failures
// (function errors, partial responses listing only the failed message or it
// and the rest, filtered messages) and checks that, within each group,
// messages are first handled successfully in send order, and that nothing is
// deleted that was not handled successfully or filtered out.
func TestFIFOPropertyRandomFailures(t *testing.T) {
	for seed := range uint64(24) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { fifoProperty(t, seed) })
		})
	}
}

func fifoProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	q := newRecorder()
	url, arn := q.MustCreateQueue(t, "prop.fifo", map[string]string{"VisibilityTimeout": "5"})
	groups := 1 + rng.IntN(6)
	sent := map[string][]string{} // group -> message IDs in send order (not filtered)
	skipped := map[string]bool{}
	counts := make([]int, groups)
	for total := 5 + rng.IntN(40); total > 0; total-- {
		g := rng.IntN(groups)
		group := fmt.Sprintf("g%d", g)
		body := fmt.Sprintf("%s/%d", group, counts[g])
		counts[g]++
		if rng.IntN(10) == 0 {
			body += "/skip"
		}
		id := q.SendFIFO(t, url, group, body)
		if strings.HasSuffix(body, "/skip") {
			skipped[id] = true
		} else {
			sent[group] = append(sent[group], id)
		}
	}
	var mu sync.Mutex
	firstOK := map[string][]string{} // group -> IDs in order of first success
	ok := map[string]bool{}
	invoke := func(_ context.Context, b []events.SQSMessage) queueengine.Result {
		mu.Lock()
		defer mu.Unlock()
		for i, m := range b {
			require.False(t, skipped[m.MessageId], "a filtered message reached the handler")
			if rng.IntN(5) == 0 {
				switch rng.IntN(3) {
				case 0:
					return queueengine.Result{Err: errBoom}
				case 1: // only the failed one: the engine must keep the rest
					return queueengine.Result{ItemFailures: []string{m.MessageId}}
				default: // AWS's advice for FIFO: it and the rest
					var ids []string
					for _, r := range b[i:] {
						ids = append(ids, r.MessageId)
					}
					return queueengine.Result{ItemFailures: ids}
				}
			}
			if !ok[m.MessageId] {
				ok[m.MessageId] = true
				g := m.Attributes["MessageGroupId"]
				firstOK[g] = append(firstOK[g], m.MessageId)
			}
		}
		return queueengine.Result{}
	}
	set := queueengine.Settings{ReportBatchItemFailures: true, QueueARN: arn, BatchSize: 1 + rng.IntN(10), Scaling: queueengine.Scaling{Initial: 1 + rng.IntN(4), Min: 1}}
	if rng.IntN(2) == 0 {
		set.FailureBackoff = &retry.Backoff{Initial: time.Second, Max: 4 * time.Second}
	}
	r := start(t, q, set, queueengine.Callbacks{
		Invoke: invoke,
		Filter: func(m *events.SQSMessage) bool { return !strings.HasSuffix(m.Body, "/skip") },
	})
	waitFor(t, time.Hour, func() bool { return len(q.Messages(url)) == 0 }, "every message to be deleted")
	_, runErr := r.stop(t)
	require.NoError(t, runErr)

	mu.Lock()
	defer mu.Unlock()
	for g, ids := range sent {
		require.Equal(t, ids, firstOK[g], "group %s: first successes out of send order", g)
	}
	for _, id := range q.deletedIDs() {
		require.True(t, ok[id] || skipped[id], "message %s deleted without being handled or filtered", id)
	}
	deleted := q.deletedIDs()
	slices.Sort(deleted)
	require.Len(t, slices.Compact(deleted), len(ok)+len(skipped))
}
