package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/retry"
)

// Caller is the invocation step both engines share: it calls the function
// bounded by its timeout and applies Lambda's rules to what came back.
type Caller struct {
	Timeout                 time.Duration
	ReportBatchItemFailures bool
	Log                     *slog.Logger
	ignored                 sync.Once // warned that batchItemFailures are ignored
}

// Outcome is one invocation after Lambda's rules.
type Outcome struct {
	// Err is the function error: an error returned, a panic, a timeout
	// (*lambdaesm.TimeoutError); nil otherwise.
	Err error
	// Invalid, when set, wraps lambdaesm.ErrInvalidResponse: the response
	// was not a valid partial batch response, so the whole batch failed
	// without a function error.
	Invalid error
	// Failed are the batch positions a valid partial batch response named
	// (ReportBatchItemFailures only), in the order returned.
	Failed   []int
	Duration time.Duration
}

// Failure is the error hooks report for the invocation: Err or Invalid.
func (o Outcome) Failure() error {
	if o.Err != nil {
		return o.Err
	}
	return o.Invalid
}

// Call invokes fn with a context bounded by the timeout. n is the batch's
// size and id the itemIdentifier of its record i. A handler that ignores its
// context is waited for (no goroutine outlives the engine), then counts as
// timed out when the timeout passed while ctx itself had not ended; when ctx
// ended with a cause, the cause is added to the error.
func (c *Caller) Call(ctx context.Context, n int, id func(i int) string, fn func(ctx context.Context) (err error, itemFailures []string)) Outcome {
	ictx, cancel := context.WithTimeout(ctx, c.Timeout)
	start := time.Now()
	err, ids := fn(ictx)
	out := Outcome{Duration: time.Since(start)}
	timedOut := errors.Is(ictx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	switch {
	case timedOut:
		out.Err = &lambdaesm.TimeoutError{Timeout: c.Timeout}
		return out
	case InvalidPartialBatchResponse(err):
		// A response that does not decode: under ReportBatchItemFailures
		// the whole batch fails, without it the response is not read.
		if c.ReportBatchItemFailures {
			out.Invalid = fmt.Errorf("%w: %w", lambdaesm.ErrInvalidResponse, err)
		}
		return out
	case err != nil:
		if ctx.Err() != nil {
			if cause := context.Cause(ctx); cause != ctx.Err() {
				err = fmt.Errorf("%w (%w)", err, cause)
			}
		}
		out.Err = err
		return out
	case len(ids) == 0:
		return out
	case !c.ReportBatchItemFailures:
		c.ignored.Do(func() {
			c.Log.Warn("the handler returned batchItemFailures but FunctionResponseTypes does not include ReportBatchItemFailures: " +
				"they are ignored and the whole batch counts as a success, as in Lambda")
		})
		return out
	}
	out.Failed, out.Invalid = retry.FailedPositions(ids, n, id)
	return out
}

// InvalidPartialBatchResponse reports whether err says that the function's
// response was not a valid partial batch response (invoke.Function returns
// such an error for a response that does not decode): under
// ReportBatchItemFailures the whole batch then fails without a function
// error (functionError null), and without it the response is ignored, as
// Lambda does.
func InvalidPartialBatchResponse(err error) bool {
	if err == nil {
		return false // no errors.As target escapes on every successful call
	}
	var invalid interface{ InvalidPartialBatchResponse() bool }
	return errors.As(err, &invalid) && invalid.InvalidPartialBatchResponse()
}
