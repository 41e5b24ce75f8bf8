package invoke_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/retry"
)

// durableQueue creates an invocation queue on a fake SQS.
func durableQueue(t *testing.T) (*esmtest.SQS, string, *invoke.Durable) {
	t.Helper()
	q := esmtest.NewSQS()
	url, _ := q.MustCreateQueue(t, "invocations", map[string]string{"VisibilityTimeout": "30"})
	return q, url, &invoke.Durable{Client: q, QueueURL: url, Options: []esm.SQSOption{esm.WithLongPoll(time.Second)}}
}

func TestDurableEventsSurviveARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, durable := durableQueue(t)

		// The first process accepts two events and stops before running them.
		first, err := invoke.New(&recorder{}, invoke.Config{}, invoke.WithDurable(*durable))
		require.NoError(t, err)
		id1, id2 := send(t, first, "o-1"), send(t, first, "o-2")
		require.NoError(t, first.Shutdown(t.Context()))
		_, err = first.Invoke(t.Context(), order{ID: "late"})
		require.ErrorIs(t, err, lambdaesm.ErrClosed)
		require.Len(t, q.Bodies(url), 2, "the events wait in the queue")

		// The second one runs them.
		h := &recorder{}
		res := &results{}
		launch(t, h, invoke.Config{}, invoke.WithDurable(*durable), invoke.WithHooks(res))
		esmtest.WaitUntil(t, time.Minute, "both events", func() bool { return len(res.get()) == 2 })
		calls := h.Calls()
		require.Len(t, calls, 2)
		require.ElementsMatch(t, []string{id1, id2}, []string{calls[0].requestID, calls[1].requestID})
		require.ElementsMatch(t, []order{{ID: "o-1"}, {ID: "o-2"}}, []order{calls[0].event, calls[1].event})
		esmtest.WaitUntil(t, time.Minute, "the queue drained", func() bool { return len(q.Bodies(url)) == 0 })
	})
}

func TestDurableRetriesAcrossARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, durable := durableQueue(t)
		boom := errors.New("boom")
		start := time.Now()

		// The first process makes attempt 1 and stops during the retry delay.
		h1 := &recorder{errs: []error{boom}}
		first, err := invoke.New(h1, invoke.Config{}, invoke.WithDurable(*durable))
		require.NoError(t, err)
		stop := run(t, first)
		id := send(t, first, "o-1")
		esmtest.WaitUntil(t, 10*time.Second, "attempt 1", func() bool { return len(h1.Calls()) == 1 })
		synctest.Wait()
		stop()

		// The second one makes attempts 2 and 3, a minute and two minutes
		// later, and discards the event.
		h2 := &recorder{errs: []error{boom, boom}}
		onFailure, dlq := &destination.Memory{}, &destination.Memory{}
		res := &results{}
		launch(t, h2, invoke.Config{OnFailure: onFailure, DeadLetter: dlq}, invoke.WithDurable(*durable), invoke.WithHooks(res))
		esmtest.WaitUntil(t, 10*time.Minute, "the event discarded", func() bool { return len(res.get()) == 1 })

		calls := h2.Calls()
		require.Len(t, calls, 2)
		for n, want := range []time.Duration{time.Minute, 3 * time.Minute} {
			require.Equal(t, n+2, calls[n].attempt)
			require.Equal(t, id, calls[n].requestID)
			require.GreaterOrEqual(t, calls[n].at.Sub(start), want, "attempt %d", n+2)
			require.Less(t, calls[n].at.Sub(start), want+5*time.Second, "attempt %d", n+2)
		}
		require.Equal(t, lambdaesm.RetriesExhausted, res.get()[0].Condition)
		require.Equal(t, 3, res.get()[0].Attempts)
		rec := record(t, onFailure.Messages()[0])
		require.Equal(t, 3.0, rec["requestContext"].(map[string]any)["approximateInvokeCount"])
		require.Equal(t, map[string]any{"errorMessage": "boom", "errorType": "errorString"}, rec["responsePayload"])
		require.JSONEq(t, `{"id":"o-1"}`, string(dlq.Messages()[0].Record))
		require.Equal(t, map[string]destination.Attribute{
			"RequestID":    {DataType: "String", Value: id},
			"ErrorCode":    {DataType: "Number", Value: "200"},
			"ErrorMessage": {DataType: "String", Value: "boom"},
		}, dlq.Messages()[0].Attributes)
	})
}

func TestDurableDelaysBeyondSQSLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, durable := durableQueue(t)
		h := &recorder{errs: []error{errors.New("boom")}}
		res := &results{}
		inv := launch(t, h, invoke.Config{}, invoke.WithDurable(*durable), invoke.WithRetryDelays(40*time.Minute), invoke.WithHooks(res))
		start := time.Now()
		send(t, inv, "o-1")
		esmtest.WaitUntil(t, time.Hour, "the retry", func() bool { return len(res.get()) == 1 })
		calls := h.Calls()
		require.Len(t, calls, 2)
		wait := calls[1].at.Sub(start)
		require.True(t, wait >= 40*time.Minute && wait < 40*time.Minute+5*time.Second,
			"a 40-minute delay spans several 15-minute SQS delays: %v", wait)
		require.Equal(t, lambdaesm.Success, res.get()[0].Condition)
	})
}

func TestDurableLeavesForeignMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, durable := durableQueue(t)
		q.Send(t, url, "not an event")
		h := &recorder{}
		launch(t, h, invoke.Config{}, invoke.WithDurable(*durable))
		time.Sleep(2 * time.Minute)
		require.Empty(t, h.Calls())
		require.Equal(t, []string{"not an event"}, q.Bodies(url), "left for the queue's redrive policy")
	})
}

func TestDurableConfig(t *testing.T) {
	_, err := invoke.New(&recorder{}, invoke.Config{}, invoke.WithDurable(invoke.Durable{}))
	require.ErrorContains(t, err, "Durable.Client is nil")
	require.ErrorContains(t, err, "Durable.QueueURL is empty")

	q := esmtest.NewSQS()
	_, err = invoke.New(&recorder{}, invoke.Config{}, invoke.WithDurable(invoke.Durable{Client: q, QueueURL: q.QueueURL("events.fifo")}))
	require.ErrorContains(t, err, "a FIFO queue cannot delay retries per message")

	// An attempt and its deliveries must fit the 15 minutes a queued event
	// may take: otherwise a timing-out attempt is cut short, never counted,
	// and run again and again. (Found in review.)
	_, err = invoke.New(&recorder{}, invoke.Config{FunctionTimeout: 900 * time.Second}, invoke.WithDurable(invoke.Durable{Client: q, QueueURL: q.QueueURL("events")}))
	require.ErrorContains(t, err, "FunctionTimeout 15m0s: with WithDurable, at most 14m0s")
}

// A finished event whose records a destination refuses stays in the durable
// queue, done: only its records are offered again, until they are
// accepted; the function is not run again. (Found in review: the message
// was deleted and the failure record lost.)
func TestDurableKeepsRefusedRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, url, durable := durableQueue(t)
		down := &destination.Memory{}
		down.FailAlways(errors.New("503"))
		res := &results{}
		h := &recorder{errs: []error{errors.New("boom")}}
		inv := launch(t, h, invoke.Config{MaximumRetryAttempts: new(0), OnFailure: down},
			invoke.WithDurable(*durable), invoke.WithHooks(res), invoke.WithDelivery(2, retry.Backoff{}))
		send(t, inv, "o-1")
		esmtest.WaitUntil(t, time.Minute, "discarded", func() bool { return len(res.get()) == 1 })
		require.Error(t, res.get()[0].DeliveryErr)
		require.Len(t, q.Bodies(url), 1, "the event stays in the queue")
		down.FailAlways(nil)
		esmtest.WaitUntil(t, 5*time.Minute, "the record delivered", func() bool { return len(down.Messages()) == 1 })
		esmtest.WaitUntil(t, time.Minute, "the queue empty", func() bool { return len(q.Bodies(url)) == 0 })
		require.Len(t, h.Calls(), 1, "the function ran once")
		got := res.get()
		require.Len(t, got, 2)
		require.NoError(t, got[1].DeliveryErr)
		require.Equal(t, 1, got[1].Attempts)
	})
}

// A retry due when the event's age limit has already passed (its attempt
// ended after the deadline) is sent without delay and discarded with the
// attempt counted. (Found in review: the negative delay was refused and the
// event came back as if it had never run.)
func TestDurableAttemptEndingPastTheAgeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, durable := durableQueue(t)
		res := &results{}
		h := &recorder{block: make(chan struct{})}
		inv := launch(t, h, invoke.Config{MaximumEventAge: time.Minute, FunctionTimeout: 90 * time.Second},
			invoke.WithDurable(*durable), invoke.WithHooks(res))
		send(t, inv, "o-1")
		time.Sleep(10 * time.Minute)
		close(h.block)
		require.Len(t, res.get(), 1)
		require.Equal(t, 1, res.get()[0].Attempts)
	})
}
