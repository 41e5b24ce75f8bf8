package lambdaesm

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by Run after Shutdown, and by Run when it is called
// twice: by every mapping, the async invoker and the scheduler.
var ErrClosed = errors.New("lambdaesm: closed")

// ErrInvalidResponse is wrapped by the error of an invocation whose response
// was not a valid partial batch response (under ReportBatchItemFailures: an
// empty, null or unknown itemIdentifier, or a response that does not decode):
// as in Lambda, the whole batch fails, but it is not a function error
// (functionError is null in a failure record). Hooks see it in
// Invocation.Err; test for it with errors.Is.
var ErrInvalidResponse = errors.New("invalid partial batch response")

// TimeoutError is the function error of an invocation that ran past the
// function timeout, with Lambda's message ("Task timed out after N
// seconds"). Get it with errors.As.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", e.Timeout.Seconds())
}

// NotInvokedError wraps the error of a call that never reached the function:
// the Lambda service throttled it or failed (HTTP 429 or 5xx). As in Lambda,
// such a call does not count as an attempt: stream mappings retry it with
// backoff without using MaximumRetryAttempts (the records can still expire
// by MaximumRecordAge). A handler may return one too.
type NotInvokedError struct{ Err error }

func (e *NotInvokedError) Error() string { return "function not invoked: " + e.Err.Error() }

// Unwrap returns the service error.
func (e *NotInvokedError) Unwrap() error { return e.Err }

// Condition is why records were given up on, or how an asynchronous
// invocation ended, as AWS names it in failure and invocation records.
type Condition string

// The conditions of a stream mapping's on-failure record.
const (
	RetryAttemptsExhausted Condition = "RetryAttemptsExhausted"
	RecordAgeExceeded      Condition = "RecordAgeExceeded"
)

// The conditions of an asynchronous invocation record.
const (
	Success          Condition = "Success"
	RetriesExhausted Condition = "RetriesExhausted"
	EventAgeExceeded Condition = "EventAgeExceeded"
)
