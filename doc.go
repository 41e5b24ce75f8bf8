// Package lambdaesm holds the vocabulary every package of the library shares:
// the hooks through which mappings, the async invoker and schedules report
// what they do ([Hook] and its optional interfaces), what a hook hears of
// ([Source], [Invocation], [Condition]), and the errors they return
// ([ErrClosed], [TimeoutError], [NotInvokedError]).
//
// Mappings themselves are built with package esm, the library's door:
//
//	m, err := esm.NewKinesisMapping(cfg, client, esm.HandleKinesis(handler),
//		esm.WithHooks(metrics, progress))
//
// # Hooks
//
// A [Hook] is any value; a mapping calls it for each event whose interface it
// implements (HookRecordsPolled, HookBatchInvoked, …), in the style of
// franz-go's kgo hooks. Several hooks may listen at once, and a hook
// implements only what it needs, so adding an event never breaks one. Hooks
// run on the mapping's goroutines: they must be safe for concurrent use and
// fast. The event names follow Lambda's EventCount metrics
// (PolledEventCount, FilteredOutEventCount, InvokedEventCount,
// FailedInvokeEventCount, DroppedEventCount, DeletedEventCount,
// OnFailureDestinationDeliveredEventCount) and IteratorAge, plus what Lambda
// does not show: checkpoints, leases, shards, throttles, retries and splits.
package lambdaesm
