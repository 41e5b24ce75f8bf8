package retry

import (
	"fmt"
	"time"

	"github.com/lambdaesm/lambdaesm"
)

// Infinite is AWS's -1: retry until the record expires, or never discard for
// age.
const Infinite = -1

// Policy is a stream mapping's error handling: MaximumRetryAttempts,
// MaximumRecordAge, BisectBatchOnFunctionError and ReportBatchItemFailures.
type Policy struct {
	// MaximumRetryAttempts is the number of retries after the first attempt;
	// Infinite (-1) retries until the records expire.
	MaximumRetryAttempts int
	// MaximumRecordAge discards records older than this before an attempt;
	// zero or negative means infinite.
	MaximumRecordAge time.Duration
	// BisectBatchOnFunctionError splits a failed batch in two.
	BisectBatchOnFunctionError bool
	// ReportBatchItemFailures honours partial batch responses.
	ReportBatchItemFailures bool
	// Backoff spaces retries of the same records.
	Backoff Backoff
}

// Batch is a contiguous run of records of one lane awaiting an invocation:
// indexes [Lo, Hi) into the engine's records, in sequence order.
type Batch struct {
	Lo, Hi int
	// Attempts counts invocations of this run since it was made, by a split
	// or by reading. A split starts its halves at zero, as AWS's "splitting
	// a batch does not count towards the retry quota".
	Attempts int
	// FunctionError tells that the last invocation of these records
	// returned a function error (not a partial batch response), for the
	// failure record of records that then expire.
	FunctionError bool
}

// Len is the number of records in the run.
func (r Batch) Len() int { return r.Hi - r.Lo }

// Outcome is what one invocation of a run returned.
type Outcome struct {
	// Err is the function error (error, panic, timeout) or nil.
	Err error
	// FirstFailure is the index, relative to the run, of the lowest record
	// a valid partial batch response named; -1 when none. Ignored unless the
	// policy has ReportBatchItemFailures.
	FirstFailure int
	// InvalidResponse is a partial batch response that names an empty,
	// null or unknown identifier: the whole batch failed.
	InvalidResponse bool
}

// Success is the outcome of an invocation that returned no error and no
// failures.
var Success = Outcome{FirstFailure: -1}

// Discard is a run of records given up on.
type Discard struct {
	Batch     Batch
	Condition lambdaesm.Condition
	// InvokeCount is the approximateInvokeCount of the failure record.
	InvokeCount int
	// FunctionError tells whether the last invocation was a function error
	// (responseContext.functionError "Unhandled") rather than an invalid
	// partial batch response.
	FunctionError bool
}

// Decision is what the engine does after an invocation.
type Decision struct {
	// Done is the number of leading records of the run that succeeded.
	Done int
	// Discard, when non-nil, is given up on (after the Done records).
	Discard *Discard
	// Next are the runs to invoke next, first one first. They follow
	// Done and Discard in sequence order.
	Next []Batch
	// Retry tells that Next[0] repeats records that just failed, so the
	// engine waits Backoff first.
	Retry bool
}

// Expired returns how many leading records of a run are older than
// MaximumRecordAge at now. arrival gives the arrival time of the record at
// run-relative index i; arrivals do not decrease within a run.
func (p Policy) Expired(r Batch, now time.Time, arrival func(i int) time.Time) int {
	if p.MaximumRecordAge <= 0 {
		return 0
	}
	n := 0
	for n < r.Len() && now.Sub(arrival(n)) > p.MaximumRecordAge {
		n++
	}
	return n
}

// Decide applies the policy to the outcome of invoking r.
func (p Policy) Decide(r Batch, out Outcome) Decision {
	attempts := r.Attempts + 1
	failed := out.Err != nil || (p.ReportBatchItemFailures && out.InvalidResponse)
	if !failed {
		k := out.FirstFailure
		if !p.ReportBatchItemFailures || k < 0 || k >= r.Len() {
			return Decision{Done: r.Len()}
		}
		if k > 0 {
			// The checkpoint moves to the failed record, and the records
			// from it on are a new batch whose attempts start at zero,
			// as AWS's recordings show (BatchSize 3, MaximumRetryAttempts
			// 3, the 6th record always failing: delivered once in its
			// batch, then 4 times alone, approximateInvokeCount 4).
			// With bisect it is not even a retry: no backoff first.
			rest := Batch{Lo: r.Lo + k, Hi: r.Hi}
			return Decision{Done: k, Next: []Batch{rest}, Retry: !p.BisectBatchOnFunctionError}
		}
		// The first record failed: no progress, the batch failed.
	}
	if p.BisectBatchOnFunctionError && r.Len() > 1 {
		mid := r.Lo + r.Len()/2
		return Decision{Next: []Batch{{Lo: r.Lo, Hi: mid}, {Lo: mid, Hi: r.Hi}}}
	}
	rest := Batch{Lo: r.Lo, Hi: r.Hi, Attempts: attempts, FunctionError: out.Err != nil}
	if p.MaximumRetryAttempts >= 0 && rest.Attempts > p.MaximumRetryAttempts {
		return Decision{Discard: &Discard{
			Batch: rest, Condition: lambdaesm.RetryAttemptsExhausted, InvokeCount: rest.Attempts, FunctionError: rest.FunctionError,
		}}
	}
	return Decision{Next: []Batch{rest}, Retry: true}
}

// FailedPositions applies AWS's partial batch response rules to the
// itemIdentifier values a function returned for a batch of n records, whose
// identifiers id gives: it returns the positions named (in the order given;
// none for an empty or null list, a full success), or an error wrapping
// lambdaesm.ErrInvalidResponse when an identifier is empty, null or not in
// the batch (the whole batch failed).
func FailedPositions(ids []string, n int, id func(i int) string) ([]int, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	index := func(s string) int {
		for i := range n {
			if id(i) == s {
				return i
			}
		}
		return -1
	}
	if len(ids) > 4 && n > 16 {
		byID := make(map[string]int, n)
		for i := range n {
			byID[id(i)] = i
		}
		index = func(s string) int {
			if i, ok := byID[s]; ok {
				return i
			}
			return -1
		}
	}
	pos := make([]int, len(ids))
	for k, s := range ids {
		if s == "" {
			return nil, fmt.Errorf("%w: an itemIdentifier is empty or null", lambdaesm.ErrInvalidResponse)
		}
		i := index(s)
		if i < 0 {
			return nil, fmt.Errorf("%w: itemIdentifier %q is not in the batch", lambdaesm.ErrInvalidResponse, s)
		}
		pos[k] = i
	}
	return pos, nil
}
