package core

import "time"

// Hooks receives what a mapping does, for metrics. The methods are called from
// the mapping's goroutines: an implementation must be safe for concurrent use
// and fast (it runs on the hot path). Embed [NopHooks] to implement only some.
//
// The names follow Lambda's EventCount metrics (PolledEventCount,
// FilteredOutEventCount, InvokedEventCount, FailedInvokeEventCount,
// DroppedEventCount, DeletedEventCount, OnFailureDestinationDeliveredEventCount)
// and IteratorAge.
type Hooks interface {
	// RecordsPolled reports records read from the source (before filtering).
	RecordsPolled(src Source, n int)
	// RecordsFilteredOut reports records that no filter matched.
	RecordsFilteredOut(src Source, n int)
	// BatchInvoked reports one finished invocation of the handler.
	BatchInvoked(inv Invocation)
	// RecordsDropped reports records discarded by a policy (retries
	// exhausted, record age exceeded), after the failure destination, if
	// any, accepted them.
	RecordsDropped(src Source, n int, condition string)
	// RecordsDeleted reports SQS messages deleted from the queue.
	RecordsDeleted(src Source, n int)
	// DestinationDelivered reports a record delivered to a destination, or
	// a delivery that failed (err non-nil; it will be retried).
	DestinationDelivered(src Source, destinationARN string, err error)
	// Checkpointed reports a checkpoint written for a shard.
	Checkpointed(src Source, sequenceNumber string)
	// CheckpointFailed reports a checkpoint that could not be written. The
	// engine retries it with backoff and stops reading the shard meanwhile;
	// an error no retry heals (shard.ErrStoreUnusable) stops the mapping,
	// and Run returns it.
	CheckpointFailed(src Source, err error)
	// IteratorAge reports the age of the last record of a batch when the
	// batch was handed to the handler, as Lambda's IteratorAge metric.
	IteratorAge(src Source, age time.Duration)
}

// Source names where records came from: the event source ARN and, for
// streams, the shard.
type Source struct {
	EventSourceARN string
	ShardID        string // empty for queues
}

// Invocation describes one call of the handler.
type Invocation struct {
	Source   Source
	Records  int
	Attempt  int // 1 for the first call of this batch
	Duration time.Duration
	// Err is the function error, nil on success. A partial batch failure
	// is a success with Failed > 0.
	Err    error
	Failed int
}

// NopHooks implements [Hooks] doing nothing. Embed it in a struct to implement
// only the methods of interest.
type NopHooks struct{}

func (NopHooks) RecordsPolled(Source, int)                  {}
func (NopHooks) RecordsFilteredOut(Source, int)             {}
func (NopHooks) BatchInvoked(Invocation)                    {}
func (NopHooks) RecordsDropped(Source, int, string)         {}
func (NopHooks) RecordsDeleted(Source, int)                 {}
func (NopHooks) DestinationDelivered(Source, string, error) {}
func (NopHooks) Checkpointed(Source, string)                {}
func (NopHooks) CheckpointFailed(Source, error)             {}
func (NopHooks) IteratorAge(Source, time.Duration)          {}

var _ Hooks = NopHooks{}
