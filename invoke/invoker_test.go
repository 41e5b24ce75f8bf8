package invoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/retry"
)

// TestMain checks that no goroutine outlives the tests, bar the idle
// keep-alive connections of the SDK clients of the integration tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

type order struct {
	ID string `json:"id"`
}

type receipt struct {
	Total int `json:"total"`
}

// call is one run of a test handler.
type call struct {
	at        time.Time
	attempt   int
	requestID string
	event     order
}

// recorder is a test handler that records its calls and answers with the
// scripted errors (nil after the script ends).
type recorder struct {
	mu    sync.Mutex
	calls []call
	errs  []error
	block chan struct{} // when set, each call waits for it (or ctx)
}

func (r *recorder) Handle(ctx context.Context, e order) (receipt, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, call{at: time.Now(), attempt: invoke.Attempt(ctx), requestID: lc.AwsRequestID, event: e})
	var err error
	if len(r.errs) > 0 {
		err, r.errs = r.errs[0], r.errs[1:]
	}
	block := r.block
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return receipt{}, ctx.Err()
		}
	}
	return receipt{Total: 42}, err
}

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// results is a hook that collects how the invoker finished with events.
type results struct {
	mu  sync.Mutex
	all []lambdaesm.AsyncResult
}

// onResult adapts a function to lambdaesm.HookAsyncResult.
type onResult func(lambdaesm.AsyncResult)

func (f onResult) OnAsyncResult(r lambdaesm.AsyncResult) { f(r) }

func (r *results) OnAsyncResult(res lambdaesm.AsyncResult) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
}

func (r *results) get() []lambdaesm.AsyncResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]lambdaesm.AsyncResult(nil), r.all...)
}

// run starts inv and returns a function that shuts it down and checks that
// Run returned nil.
func run[E, R any](t *testing.T, inv *invoke.Invoker[E, R]) (stop func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- inv.Run(context.Background()) }()
	return func() {
		t.Helper()
		require.NoError(t, inv.Shutdown(context.Background()))
		require.NoError(t, <-errc)
	}
}

// launch builds an invoker of h and runs it until the test ends.
func launch(t *testing.T, h esm.Handler[order, receipt], cfg invoke.Config, opts ...invoke.Option) *invoke.Invoker[order, receipt] {
	t.Helper()
	inv, err := invoke.New(h, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(run(t, inv))
	return inv
}

// send invokes inv with an order and returns the request ID.
func send[R any](t *testing.T, inv *invoke.Invoker[order, R], id string) string {
	t.Helper()
	reqID, err := inv.Invoke(t.Context(), order{ID: id})
	require.NoError(t, err)
	return reqID
}

// record decodes the invocation record of a destination message.
func record(t *testing.T, m destination.Message) map[string]any {
	t.Helper()
	var rec map[string]any
	require.NoError(t, json.Unmarshal(m.Record, &rec))
	return rec
}

func TestRetriesWithLambdasDelaysThenFailureDestinations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		h := &recorder{errs: []error{boom, boom, boom}}
		onFailure, dlq, onSuccess := &destination.Memory{}, &destination.Memory{}, &destination.Memory{}
		res := &results{}
		inv := launch(t, h, invoke.Config{FunctionARN: "arn:aws:lambda:us-east-2:123456789012:function:my-function", OnFailure: onFailure, DeadLetter: dlq, OnSuccess: onSuccess}, invoke.WithHooks(res))
		start := time.Now()
		id := send(t, inv, "o-1")
		time.Sleep(10 * time.Minute)
		synctest.Wait()

		calls := h.Calls()
		require.Len(t, calls, 3, "MaximumRetryAttempts 2 by default: three attempts")
		for i, want := range []time.Duration{0, time.Minute, 3 * time.Minute} {
			require.Equal(t, want, calls[i].at.Sub(start), "attempt %d", i+1)
			require.Equal(t, i+1, calls[i].attempt)
			require.Equal(t, id, calls[i].requestID, "retries keep the request ID")
			require.Equal(t, order{ID: "o-1"}, calls[i].event)
		}

		require.Empty(t, onSuccess.Messages())
		require.Len(t, onFailure.Messages(), 1)
		rec := record(t, onFailure.Messages()[0])
		require.Equal(t, map[string]any{
			"version":   "1.0",
			"timestamp": start.Add(3 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
			"requestContext": map[string]any{
				"requestId":              id,
				"functionArn":            "arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
				"condition":              "RetriesExhausted",
				"approximateInvokeCount": 3.0,
			},
			"requestPayload":  map[string]any{"id": "o-1"},
			"responseContext": map[string]any{"statusCode": 200.0, "executedVersion": "$LATEST", "functionError": "Unhandled"},
			"responsePayload": map[string]any{"errorMessage": "boom", "errorType": "errorString"},
		}, rec)

		require.Len(t, dlq.Messages(), 1)
		require.JSONEq(t, `{"id":"o-1"}`, string(dlq.Messages()[0].Record), "a dead-letter queue receives the payload only")
		require.Equal(t, map[string]destination.Attribute{
			"RequestID":    {DataType: "String", Value: id},
			"ErrorCode":    {DataType: "Number", Value: "200"},
			"ErrorMessage": {DataType: "String", Value: "boom"},
		}, dlq.Messages()[0].Attributes, "with Lambda's attributes: the request ID, the status code and the error message")

		require.Equal(t, []lambdaesm.AsyncResult{{RequestID: id, Condition: lambdaesm.RetriesExhausted, Attempts: 3, Err: boom}}, res.get())
	})
}

func TestConfiguredRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		h := &recorder{errs: []error{boom, boom, boom}}
		inv := launch(t, h, invoke.Config{MaximumRetryAttempts: new(1)}, invoke.WithRetryDelays(10*time.Second))
		start := time.Now()
		send(t, inv, "o-1")
		time.Sleep(time.Hour)
		calls := h.Calls()
		require.Len(t, calls, 2)
		require.Equal(t, 10*time.Second, calls[1].at.Sub(start))

		// No retries at all.
		h0 := &recorder{errs: []error{boom}}
		inv0 := launch(t, h0, invoke.Config{MaximumRetryAttempts: new(0)})
		send(t, inv0, "o-2")
		time.Sleep(time.Hour)
		require.Len(t, h0.Calls(), 1)
	})
}

func TestSuccessAfterRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &recorder{errs: []error{errors.New("flaky")}}
		onSuccess, onFailure := &destination.Memory{}, &destination.Memory{}
		inv := launch(t, h, invoke.Config{OnSuccess: onSuccess, OnFailure: onFailure})
		id := send(t, inv, "o-1")
		time.Sleep(2 * time.Minute)

		require.Len(t, h.Calls(), 2)
		require.Empty(t, onFailure.Messages())
		require.Len(t, onSuccess.Messages(), 1)
		rec := record(t, onSuccess.Messages()[0])
		require.Equal(t, map[string]any{
			"requestId":              id,
			"functionArn":            invoke.DefaultFunctionARN + ":$LATEST",
			"condition":              "Success",
			"approximateInvokeCount": 2.0,
		}, rec["requestContext"])
		require.Equal(t, map[string]any{"statusCode": 200.0, "executedVersion": "$LATEST"}, rec["responseContext"],
			"no functionError after a success")
		require.Equal(t, map[string]any{"total": 42.0}, rec["responsePayload"])
		require.Equal(t, map[string]any{"id": "o-1"}, rec["requestPayload"])
	})
}

func TestEventAgeExceeded(t *testing.T) {
	t.Run("while waiting for a retry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			boom := errors.New("boom")
			h := &recorder{errs: []error{boom, boom, boom}}
			onFailure, dlq := &destination.Memory{}, &destination.Memory{}
			res := &results{}
			inv := launch(t, h, invoke.Config{MaximumEventAge: 90 * time.Second, OnFailure: onFailure, DeadLetter: dlq}, invoke.WithHooks(res))
			start := time.Now()
			send(t, inv, "o-1")
			time.Sleep(time.Hour)

			require.Len(t, h.Calls(), 2, "the third attempt would start after 3 minutes, past the 90 s age limit")
			require.Len(t, onFailure.Messages(), 1)
			rec := record(t, onFailure.Messages()[0])
			rc := rec["requestContext"].(map[string]any)
			require.Equal(t, "EventAgeExceeded", rc["condition"])
			require.Equal(t, 2.0, rc["approximateInvokeCount"])
			require.Equal(t, start.Add(90*time.Second).UTC().Format("2006-01-02T15:04:05.000Z"), rec["timestamp"],
				"discarded when it reached the age limit")
			require.Equal(t, "Unhandled", rec["responseContext"].(map[string]any)["functionError"])
			require.Len(t, dlq.Messages(), 1)
			require.Equal(t, "boom", dlq.Messages()[0].Attributes[destination.ErrorMessageAttribute].Value, "the last attempt's error")
			require.Equal(t, lambdaesm.EventAgeExceeded, res.get()[0].Condition)
		})
	})
	t.Run("before the first attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &recorder{block: make(chan struct{})}
			onFailure, dlq := &destination.Memory{}, &destination.Memory{}
			inv := launch(t, h, invoke.Config{MaximumEventAge: time.Minute, FunctionTimeout: time.Hour, OnFailure: onFailure, DeadLetter: dlq}, invoke.WithConcurrency(1))
			send(t, inv, "slow")
			id := send(t, inv, "waits")
			time.Sleep(2 * time.Minute)
			close(h.block) // the only worker is free after 2 minutes
			synctest.Wait()

			require.Len(t, h.Calls(), 1)
			require.Len(t, onFailure.Messages(), 1)
			rec := record(t, onFailure.Messages()[0])
			require.Equal(t, 0.0, rec["requestContext"].(map[string]any)["approximateInvokeCount"])
			require.NotContains(t, rec, "responseContext", "never invoked: no response")
			require.NotContains(t, rec, "responsePayload")
			require.Equal(t, map[string]any{"id": "waits"}, rec["requestPayload"])
			require.Len(t, dlq.Messages(), 1)
			require.Equal(t, map[string]destination.Attribute{"RequestID": {DataType: "String", Value: id}}, dlq.Messages()[0].Attributes,
				"no attempt, no error: the request ID alone")
		})
	})
}

func TestFullQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &recorder{block: make(chan struct{})}
		inv := launch(t, h, invoke.Config{FunctionTimeout: time.Hour}, invoke.WithQueueCapacity(2), invoke.WithConcurrency(1))
		for range 2 {
			send(t, inv, "o")
		}
		synctest.Wait()
		_, err := inv.Invoke(t.Context(), order{ID: "one too many"})
		require.ErrorIs(t, err, invoke.ErrQueueFull, "running and queued events both count")
		close(h.block)
		synctest.Wait()
		send(t, inv, "room again")
	})
}

func TestInvokeErrors(t *testing.T) {
	inv, err := invoke.New(&recorder{}, invoke.Config{}, invoke.WithMaxPayloadBytes(16))
	require.NoError(t, err)
	_, err = inv.Invoke(t.Context(), order{ID: "far too long for sixteen bytes"})
	require.ErrorIs(t, err, invoke.ErrPayloadTooLarge)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = inv.Invoke(ctx, order{})
	require.ErrorIs(t, err, context.Canceled)

	bad, err := invoke.New(esm.HandlerFunc[chan int, any](func(context.Context, chan int) (any, error) { return nil, nil }), invoke.Config{})
	require.NoError(t, err)
	_, err = bad.Invoke(t.Context(), make(chan int))
	require.ErrorContains(t, err, "encode event")
}

func TestShutdown(t *testing.T) {
	t.Run("waits for retries", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &recorder{errs: []error{errors.New("once")}}
			res := &results{}
			inv, err := invoke.New(h, invoke.Config{}, invoke.WithHooks(res))
			require.NoError(t, err)
			stop := run(t, inv)
			send(t, inv, "o-1")
			synctest.Wait()
			start := time.Now()
			stop()
			require.Equal(t, time.Minute, time.Since(start), "Shutdown waited for the retry")
			require.Equal(t, lambdaesm.Success, res.get()[0].Condition)
			_, err = inv.Invoke(t.Context(), order{})
			require.ErrorIs(t, err, lambdaesm.ErrClosed)
			require.ErrorIs(t, inv.Run(t.Context()), lambdaesm.ErrClosed)
			require.NoError(t, inv.Shutdown(t.Context()), "idempotent")
		})
	})
	t.Run("deadline abandons", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &recorder{errs: []error{errors.New("once")}}
			res := &results{}
			inv, err := invoke.New(h, invoke.Config{}, invoke.WithHooks(res))
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() { errc <- inv.Run(t.Context()) }()
			send(t, inv, "o-1")
			synctest.Wait()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err = inv.Shutdown(ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "1 events still held")
			require.NoError(t, <-errc)
			got := res.get()
			require.Len(t, got, 1)
			require.True(t, got[0].Abandoned)
			require.Equal(t, 1, got[0].Attempts)
		})
	})
	t.Run("run context cancels handlers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &recorder{block: make(chan struct{})}
			res := &results{}
			inv, err := invoke.New(h, invoke.Config{FunctionTimeout: time.Hour}, invoke.WithHooks(res))
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- inv.Run(ctx) }()
			send(t, inv, "o-1")
			synctest.Wait()
			cancel()
			require.NoError(t, <-errc)
			require.True(t, res.get()[0].Abandoned)
			_, err = inv.Invoke(t.Context(), order{})
			require.ErrorIs(t, err, lambdaesm.ErrClosed)
		})
	})
	t.Run("before run, nothing held", func(t *testing.T) {
		inv, err := invoke.New(&recorder{}, invoke.Config{})
		require.NoError(t, err)
		require.NoError(t, inv.Shutdown(t.Context()))
		require.ErrorIs(t, inv.Run(t.Context()), lambdaesm.ErrClosed)
	})
	t.Run("before run, events held", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &recorder{}
			res := &results{}
			inv, err := invoke.New(h, invoke.Config{}, invoke.WithHooks(res))
			require.NoError(t, err)
			send(t, inv, "queued")
			shut := make(chan error, 1)
			go func() { shut <- inv.Shutdown(t.Context()) }()
			synctest.Wait()
			require.NoError(t, inv.Run(t.Context()), "Run runs what Shutdown waits for")
			require.NoError(t, <-shut)
			require.Len(t, h.Calls(), 1)
			require.Equal(t, lambdaesm.Success, res.get()[0].Condition)
		})
	})
	t.Run("before run, never run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &results{}
			inv, err := invoke.New(&recorder{}, invoke.Config{}, invoke.WithHooks(res))
			require.NoError(t, err)
			send(t, inv, "queued")
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			require.ErrorIs(t, inv.Shutdown(ctx), context.DeadlineExceeded)
			require.ErrorIs(t, inv.Run(t.Context()), lambdaesm.ErrClosed)
			require.Len(t, res.get(), 1)
			require.True(t, res.get()[0].Abandoned)
			require.NoError(t, inv.Shutdown(t.Context()), "finished: nothing to wait for")
		})
	})
}

func TestDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := &destination.Memory{ARN: "arn:aws:sqs:us-east-1:000000000000:flaky"}
		flaky.FailNext(errors.New("503"), errors.New("503"))
		down := &destination.Memory{ARN: "arn:aws:sqs:us-east-1:000000000000:down"}
		down.FailAlways(errors.New("503"))
		res := &results{}
		inv := launch(t, &recorder{}, invoke.Config{OnSuccess: flaky}, invoke.WithHooks(res))
		invDown := launch(t, &recorder{}, invoke.Config{OnSuccess: down}, invoke.WithHooks(res), invoke.WithDelivery(3, retry.Backoff{}))
		send(t, inv, "o-1")
		send(t, invDown, "o-2")
		time.Sleep(time.Hour)

		require.Len(t, flaky.Messages(), 1, "delivered on the third attempt")
		require.Equal(t, 3, flaky.Attempts())
		require.Equal(t, 3, down.Attempts())
		got := res.get()
		require.Len(t, got, 2)
		for _, r := range got {
			if r.DeliveryErr != nil {
				require.ErrorContains(t, r.DeliveryErr, "OnSuccess: record not delivered after 3 attempts")
				var se *destination.SendError
				require.ErrorAs(t, r.DeliveryErr, &se)
				require.Equal(t, down.ARN, se.Destination)
			}
		}
		require.True(t, got[0].DeliveryErr != nil || got[1].DeliveryErr != nil, "the refused record is reported")
	})
}

func TestCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		h := &recorder{errs: []error{boom}}
		onFailure, dlq := &destination.Memory{}, &destination.Memory{}
		inv, err := invoke.New(h, invoke.Config{OnFailure: onFailure, DeadLetter: dlq})
		require.NoError(t, err)
		_, err = inv.Call(t.Context(), order{ID: "sync"})
		require.ErrorIs(t, err, boom, "the handler's error goes to the caller")
		time.Sleep(time.Hour)
		require.Len(t, h.Calls(), 1, "no retry")
		require.Equal(t, 1, h.Calls()[0].attempt)
		require.Empty(t, onFailure.Messages())
		require.Empty(t, dlq.Messages())

		r, err := inv.Call(t.Context(), order{ID: "ok"})
		require.NoError(t, err)
		require.Equal(t, receipt{Total: 42}, r)
	})
}

func TestCallPanicAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		panicky, err := invoke.New(esm.HandlerFunc[order, receipt](func(context.Context, order) (receipt, error) {
			panic("oops")
		}), invoke.Config{})
		require.NoError(t, err)
		_, err = panicky.Call(t.Context(), order{})
		var pe *esm.PanicError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "oops", pe.Value)

		slow, err := invoke.New(esm.HandlerFunc[order, receipt](func(ctx context.Context, _ order) (receipt, error) {
			time.Sleep(5 * time.Second) // ignores its context
			return receipt{}, nil
		}), invoke.Config{FunctionTimeout: time.Second})
		require.NoError(t, err)
		_, err = slow.Call(t.Context(), order{})
		var te *lambdaesm.TimeoutError
		require.ErrorAs(t, err, &te)
		require.EqualError(t, err, "Task timed out after 1.00 seconds")
	})
}

func TestPanicRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		onFailure := &destination.Memory{}
		inv := launch(t, esm.HandlerFunc[order, receipt](func(context.Context, order) (receipt, error) {
			panic("oops")
		}), invoke.Config{MaximumRetryAttempts: new(0), OnFailure: onFailure})
		send(t, inv, "")
		synctest.Wait()
		require.Len(t, onFailure.Messages(), 1)
		require.Equal(t, map[string]any{"errorMessage": "oops", "errorType": "string"},
			record(t, onFailure.Messages()[0])["responsePayload"])
	})
}

func TestConfigValidation(t *testing.T) {
	_, err := invoke.New(&recorder{}, invoke.Config{MaximumRetryAttempts: new(3), MaximumEventAge: 30 * time.Second}, invoke.WithRetryDelays(-time.Second), invoke.WithConcurrency(-1))
	require.Error(t, err)
	for _, want := range []string{
		"MaximumRetryAttempts 3: must be between 0 and 2",
		"MaximumEventAge 30s: must be between 1m0s and 6h0m0s",
		"WithRetryDelays: delay 1, -1s, must not be negative",
		"WithConcurrency -1: must not be negative",
	} {
		require.ErrorContains(t, err, want)
	}
	_, err = invoke.New(&recorder{}, invoke.Config{}, invoke.WithRetryDelays())
	require.ErrorContains(t, err, "WithRetryDelays gives no delay but retries are enabled")
	_, err = invoke.New[order, receipt](nil, invoke.Config{})
	require.ErrorContains(t, err, "handler is nil")
}
