package destination

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"
)

// Memory is a [Sender] that keeps the messages it accepts, for tests. Failures
// can be scripted. It wants the payload ([PayloadReceiver]): its messages
// have the record as SQS and SNS receive it and, for a stream failure, the
// invocation event that an S3 destination would get. The zero value is ready to use; it is safe for concurrent
// use.
type Memory struct {
	// ARN names the destination in errors. Empty means "memory".
	ARN string

	mu       sync.Mutex
	msgs     []Message
	attempts int
	next     []error
	always   error
}

// WantsPayload reports true ([PayloadReceiver]): a mapping hands Memory the
// invocation event of a stream failure in Message.Payload, as it does an S3
// destination, so that a test can check which records were discarded.
func (d *Memory) WantsPayload() bool { return true }

// Send records a copy of m, or fails with the next scripted error (or the
// context's error).
func (d *Memory) Send(ctx context.Context, m Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	err := ctx.Err()
	switch {
	case err != nil:
	case len(d.next) > 0:
		err, d.next = d.next[0], d.next[1:]
	default:
		err = d.always
	}
	if err != nil {
		arn := d.ARN
		if arn == "" {
			arn = "memory"
		}
		return &SendError{Destination: arn, Err: err}
	}
	m.Record = bytes.Clone(m.Record)
	m.Reduced = bytes.Clone(m.Reduced)
	m.Payload = bytes.Clone(m.Payload)
	m.Attributes = maps.Clone(m.Attributes)
	d.msgs = append(d.msgs, m)
	return nil
}

// FailNext makes the next len(errs) calls of Send fail, in order, with errs.
func (d *Memory) FailNext(errs ...error) {
	d.mu.Lock()
	d.next = append(d.next, errs...)
	d.mu.Unlock()
}

// FailAlways makes every call of Send fail with err (after those scripted by
// FailNext) until FailAlways(nil).
func (d *Memory) FailAlways(err error) {
	d.mu.Lock()
	d.always = err
	d.mu.Unlock()
}

// Messages returns the messages accepted so far, in order.
func (d *Memory) Messages() []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.msgs)
}

// Attempts returns the number of calls of Send, failed ones included.
func (d *Memory) Attempts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts
}
