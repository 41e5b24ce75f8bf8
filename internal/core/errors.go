package core

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by Run after Shutdown, and by Run when called twice.
var ErrClosed = errors.New("esm: closed")

// TimeoutError is the function error of an invocation that ran past the
// function timeout, with Lambda's message.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", e.Timeout.Seconds())
}

// NotInvokedError wraps the error of a call that never reached the function:
// the Lambda service throttled it or failed (HTTP 429 or 5xx). As in Lambda,
// such a call does not count as an attempt: the stream engine retries it
// with backoff without using MaximumRetryAttempts (the records can still
// expire by MaximumRecordAge).
type NotInvokedError struct{ Err error }

func (e *NotInvokedError) Error() string { return "function not invoked: " + e.Err.Error() }

// Unwrap returns the service error.
func (e *NotInvokedError) Unwrap() error { return e.Err }

// InvalidPartialBatchResponse reports whether err says that the function's
// response was not a valid partial batch response (invoke.Function returns
// such an error for a response that does not decode): under
// ReportBatchItemFailures the whole batch then fails without a function
// error (functionError null), and without it the response is ignored, as
// Lambda does.
func InvalidPartialBatchResponse(err error) bool {
	var invalid interface{ InvalidPartialBatchResponse() bool }
	return errors.As(err, &invalid) && invalid.InvalidPartialBatchResponse()
}
