package lambdaesm

import "time"

// Hook is a value that hears of what a mapping does: it implements any of
// the Hook… interfaces below, and is called for those events only. See the
// package documentation.
type Hook any

// Source names where records came from: the event source ARN and, for
// streams, the shard.
type Source struct {
	EventSourceARN string
	// ShardID is empty for queues.
	ShardID string
}

// Invocation describes one finished call of a handler.
type Invocation struct {
	Source Source
	// Records is the number of records in the event.
	Records int
	// Attempt is 1 for the first call of these records.
	Attempt  int
	Duration time.Duration
	// Err is the function error, nil on success. A partial batch response
	// is a success with Failed > 0; an invalid one fails the whole batch
	// with an error that is not a function error.
	Err    error
	Failed int
}

// HookRecordsPolled hears of records read from the source, before filtering
// (Lambda's PolledEventCount).
type HookRecordsPolled interface {
	OnRecordsPolled(src Source, n int)
}

// HookRecordsFilteredOut hears of records that no filter matched
// (FilteredOutEventCount).
type HookRecordsFilteredOut interface {
	OnRecordsFilteredOut(src Source, n int)
}

// HookBatchInvoked hears of each finished handler call (InvokedEventCount,
// FailedInvokeEventCount).
type HookBatchInvoked interface {
	OnBatchInvoked(inv Invocation)
}

// HookIteratorAge hears of the age of a batch's last record when the batch
// is handed to the handler (IteratorAge).
type HookIteratorAge interface {
	OnIteratorAge(src Source, age time.Duration)
}

// HookRecordsDropped hears of records discarded by the retry policy, after
// the failure destination, if any, accepted them (DroppedEventCount).
type HookRecordsDropped interface {
	OnRecordsDropped(src Source, n int, condition Condition)
}

// HookRecordsDeleted hears of SQS messages deleted from the queue
// (DeletedEventCount).
type HookRecordsDeleted interface {
	OnRecordsDeleted(src Source, n int)
}

// HookRecordsNotDeleted hears of SQS messages that could not be deleted
// after the retries: they will be delivered again.
type HookRecordsNotDeleted interface {
	OnRecordsNotDeleted(src Source, n int, err error)
}

// HookDestinationDelivered hears of a record delivered to a destination
// (err nil; OnFailureDestinationDeliveredEventCount) or refused (err set; it
// is retried).
type HookDestinationDelivered interface {
	OnDestinationDelivered(src Source, destinationARN string, err error)
}

// HookCheckpointWritten hears of a checkpoint written for a shard
// (sequenceNumber, or "SHARD_END").
type HookCheckpointWritten interface {
	OnCheckpointWritten(src Source, sequenceNumber string)
}

// HookCheckpointFailed hears of a checkpoint that could not be written. The
// mapping retries it with backoff and reads nothing new from the shard
// meanwhile; an error no retry heals stops the mapping, and Run returns it.
type HookCheckpointFailed interface {
	OnCheckpointFailed(src Source, err error)
}

// HookShardStarted hears of a shard this process starts reading.
type HookShardStarted interface {
	OnShardStarted(src Source, position string)
}

// HookShardEnded hears of a closed shard read to its end, every record
// finished and the end checkpointed: its children may start.
type HookShardEnded interface {
	OnShardEnded(src Source)
}

// HookLeaseAcquired hears of a shard lease this process took (with a lease
// store shared by several processes).
type HookLeaseAcquired interface {
	OnLeaseAcquired(src Source)
}

// HookLeaseLost hears of a shard lease this process no longer holds: handed
// to another process, expired, or taken over.
type HookLeaseLost interface {
	OnLeaseLost(src Source)
}

// HookThrottled hears of a service call that was throttled (operation is the
// API's name, e.g. "GetRecords"); it is retried with backoff and never counts
// as a function error.
type HookThrottled interface {
	OnThrottled(src Source, operation string)
}

// HookBatchRetried hears of records about to be invoked again after a
// failure (attempt is the coming attempt, 2 or more).
type HookBatchRetried interface {
	OnBatchRetried(src Source, records, attempt int)
}

// HookBatchSplit hears of a failed batch split in two
// (BisectBatchOnFunctionError).
type HookBatchSplit interface {
	OnBatchSplit(src Source, records int)
}

// AsyncResult is how the asynchronous invoker (package invoke) finished with
// one event.
type AsyncResult struct {
	// RequestID is the event's request ID, returned by Invoke.
	RequestID string
	// Condition is Success, RetriesExhausted or EventAgeExceeded, or empty
	// when the invoker stopped before it was done with the event.
	Condition Condition
	// Abandoned is true when the invoker stopped (Shutdown's context or
	// Run's context ended) before the event succeeded or was discarded.
	Abandoned bool
	// Attempts is the number of times the handler ran.
	Attempts int
	// Err is the last function error, nil after a success.
	Err error
	// DeliveryErr joins the errors of the destinations (OnSuccess,
	// OnFailure, DeadLetter) that refused the record after every delivery
	// attempt; nil when every configured destination accepted it.
	DeliveryErr error
}

// HookAsyncResult hears, once per event, how the asynchronous invoker
// finished with it: delivered, discarded or abandoned at shutdown.
type HookAsyncResult interface {
	OnAsyncResult(r AsyncResult)
}

// HookScheduleRefused hears of a schedule firing (package schedule) whose
// target refused the event (its queue full or closed); the firing is not
// retried.
type HookScheduleRefused interface {
	OnScheduleRefused(ruleARN string, at time.Time, err error)
}
