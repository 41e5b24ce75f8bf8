package metricstate

import (
	"errors"

	"github.com/lambdaesm/lambdaesm"
)

// Outcome is how a call of the handler ended, as the metrics count it.
type Outcome int

const (
	// Success: the call returned no error (a partial batch response
	// included).
	Success Outcome = iota
	// FunctionError: the handler returned an error, panicked or timed out
	// (Lambda's Errors).
	FunctionError
	// InvalidResponse: the partial batch response was invalid, so the
	// whole batch failed, but not by a function error.
	InvalidResponse
	// NotInvoked: the call never reached the function (throttled or
	// failed by the Lambda service); it is not an attempt.
	NotInvoked
)

// OutcomeOf classifies an invocation.
func OutcomeOf(inv lambdaesm.Invocation) Outcome {
	var ni *lambdaesm.NotInvokedError
	switch {
	case inv.Err == nil:
		return Success
	case errors.As(inv.Err, &ni):
		return NotInvoked
	case errors.Is(inv.Err, lambdaesm.ErrInvalidResponse):
		return InvalidResponse
	}
	return FunctionError
}

// FailedRecords is what FailedInvokeEventCount counts for an invocation:
// every record of a call that failed, the reported failures of a partial
// batch response.
func FailedRecords(inv lambdaesm.Invocation) int {
	if inv.Err != nil {
		return inv.Records
	}
	return inv.Failed
}

// AsyncCondition is the condition label of an asynchronous invocation's
// result: Success, RetriesExhausted, EventAgeExceeded, or Abandoned when
// the invoker stopped first.
func AsyncCondition(r lambdaesm.AsyncResult) string {
	if r.Abandoned || r.Condition == "" {
		return "Abandoned"
	}
	return string(r.Condition)
}
