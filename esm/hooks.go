package esm

import "github.com/lambdaesm/lambdaesm/internal/core"

// Hooks receives what a mapping does, for metrics. Implementations must be
// safe for concurrent use and fast (they run on the mapping's hot path).
// Embed [NopHooks] to implement a subset — and do embed it: methods may be
// added to Hooks in later versions, and an implementation that embeds
// NopHooks keeps compiling. The methods, named after Lambda's EventCount
// metrics and IteratorAge:
//
//	RecordsPolled(src HookSource, n int)          read from the source, before filtering
//	RecordsFilteredOut(src HookSource, n int)     matched no filter
//	BatchInvoked(inv Invocation)                  one finished handler call
//	RecordsDropped(src HookSource, n int, condition string)
//	                                              discarded by the retry policy, after the
//	                                              failure destination (if any) accepted them
//	RecordsDeleted(src HookSource, n int)         SQS messages deleted
//	DestinationDelivered(src HookSource, destinationARN string, err error)
//	                                              a record sent (err nil) or refused (retried)
//	Checkpointed(src HookSource, sequenceNumber string)
//	CheckpointFailed(src HookSource, err error)   a checkpoint write failed: retried with
//	                                              backoff, the shard reads nothing new
//	                                              meanwhile; an error wrapping
//	                                              shard.ErrStoreUnusable ends Run
//	IteratorAge(src HookSource, age time.Duration) age of a batch's last record when invoked
type Hooks = core.Hooks

// NopHooks implements [Hooks] doing nothing.
type NopHooks = core.NopHooks

// HookSource names the event source and shard a hook call is about.
type HookSource = core.Source

// Invocation describes one finished call of a handler, for [Hooks]: its
// Source, the number of Records, the Attempt (1 for the first call of the
// batch), the Duration, the function error Err (nil on success) and, for a
// partial batch response, the number of Failed records.
type Invocation = core.Invocation

// ErrClosed is returned by Run after Shutdown, or when Run is called twice.
// The engines (packages shard and queue), invoke.Invoker and
// schedule.Scheduler return this same error, so one errors.Is check serves
// them all.
var ErrClosed = core.ErrClosed

// TimeoutError is the function error of an invocation that ran past
// FunctionTimeout ("Task timed out after N seconds"); its Timeout field holds
// the timeout. Get it with errors.As.
type TimeoutError = core.TimeoutError

// NotInvokedError wraps the error of a call that never reached the function
// (a throttle or a service error of the Lambda service, from invoke.Function):
// stream mappings retry it without counting an attempt, as Lambda does. A
// handler may return one too.
type NotInvokedError = core.NotInvokedError
