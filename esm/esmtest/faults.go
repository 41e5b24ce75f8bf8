package esmtest

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Faults scripts failures and delays for the operations of one fake. The zero
// value injects nothing. It is safe for concurrent use. Operation names are
// the SDK's ("GetRecords", "ReceiveMessage", "DeleteMessageBatch", …).
type Faults struct {
	mu      sync.Mutex
	next    map[string][]error // one-shot errors, consumed in order
	always  map[string]error   // persistent errors
	delay   map[string]time.Duration
	entries map[string]map[string]error // op -> entry ID -> error code
	calls   map[string]int
}

// FailNext makes the next n calls of op fail with err.
func (f *Faults) FailNext(op string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == nil {
		f.next = map[string][]error{}
	}
	for range n {
		f.next[op] = append(f.next[op], err)
	}
}

// FailAlways makes every call of op fail with err until [Faults.Clear].
func (f *Faults) FailAlways(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.always == nil {
		f.always = map[string]error{}
	}
	f.always[op] = err
}

// Delay makes every call of op wait d (or until its context ends) first.
func (f *Faults) Delay(op string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delay == nil {
		f.delay = map[string]time.Duration{}
	}
	f.delay[op] = d
}

// FailEntries makes the batch operation op (DeleteMessageBatch,
// ChangeMessageVisibilityBatch, PutRecords, …) report the entries with these
// IDs as failed with err's error code, while the call itself succeeds. The
// failure persists until [Faults.Clear].
func (f *Faults) FailEntries(op string, err error, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = map[string]map[string]error{}
	}
	if f.entries[op] == nil {
		f.entries[op] = map[string]error{}
	}
	for _, id := range ids {
		f.entries[op][id] = err
	}
}

// Clear removes every scripted fault of op, or of all operations when op is "".
func (f *Faults) Clear(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == "" {
		f.next, f.always, f.delay, f.entries = nil, nil, nil, nil
		return
	}
	delete(f.next, op)
	delete(f.always, op)
	delete(f.delay, op)
	delete(f.entries, op)
}

// Calls reports how many times op was called (failed calls included).
func (f *Faults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Before is called by a fake at the start of every operation: it counts the
// call, waits for a scripted delay, and returns a scripted error, if any.
func (f *Faults) Before(ctx context.Context, op string) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	d := f.delay[op]
	var err error
	if q := f.next[op]; len(q) > 0 {
		err, f.next[op] = q[0], q[1:]
	} else if e, ok := f.always[op]; ok {
		err = e
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// EntryError returns the scripted error for one entry of a batch operation,
// or nil.
func (f *Faults) EntryError(op, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.entries[op][id]
}

// APIError returns an error that the engines classify like the AWS error with
// this code (for example "ProvisionedThroughputExceededException",
// "ThrottlingException", "ExpiredIteratorException", "AccessDeniedException").
// Prefer the SDK's typed errors (such as *types.ExpiredIteratorException)
// where the service package has one; this is for the others.
func APIError(code, message string) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: smithy.FaultClient}
}

// ServerError returns an error like the one the SDK returns for an HTTP 5xx
// answer after its own retries.
func ServerError(status int) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
		Err:      &smithy.GenericAPIError{Code: "InternalFailure", Message: http.StatusText(status), Fault: smithy.FaultServer},
	}
}
