// Package esmotel records what event source mappings do with OpenTelemetry
// metric instruments: Lambda's event-source-mapping metrics under
// OpenTelemetry names, and what Lambda does not show — concurrency, lag per
// shard, checkpoint age, leases, throttles, checkpoint failures, retries and
// splits. It reports what package esm/esmprom reports, computed the same way.
//
// A [Metrics] is a hook (package lambdaesm): build one per mapping with the
// WithMeterProvider the program exports with, and give it to the mapping with
// esm.WithHooks, beside any other hook:
//
//	metrics, err := esmotel.New("orders", esmotel.WithMeterProvider(provider))
//	if err != nil { … }
//	defer metrics.Close()
//	m, err := esm.NewKinesisMapping(cfg, client, handler, esm.WithHooks(metrics))
//
// Without [WithMeterProvider] the global one (otel.GetMeterProvider) is used.
// This package is apart from esm so that a program that does not import it
// does not depend on OpenTelemetry.
//
// # Instruments
//
// The meter's scope is [ScopeName]. Every measurement has the attributes
// lambdaesm.mapping (the name given to [New]) and lambdaesm.event_source_arn
// (the stream's or queue's ARN, as the mapping reports it), and those of
// [WithAttributes]; the per-shard gauges add lambdaesm.shard_id, dropped events
// lambdaesm.condition and throttles lambdaesm.operation. Record-level values
// never become attributes. Names and units follow OpenTelemetry's
// conventions: dotted names, no unit or _total in them, durations in
// seconds (where CloudWatch reports milliseconds), counts in {curly} units.
// Gauges (and the observable up-down counter lambdaesm.leases) are
// observed when the reader collects.
//
// The same [Metrics] may also be given to an asynchronous invoker (package
// invoke) or a scheduler (package schedule), through their WithHooks: it
// then counts their results, under the name given to [New] and with no
// lambdaesm.event_source_arn (the last four rows of the table).
//
//	instrument [extra attribute]                       unit          kind           Lambda (CloudWatch), or - and what Lambda does not show
//	lambdaesm.events.polled                            {event}       counter        PolledEventCount
//	lambdaesm.events.filtered_out                      {event}       counter        FilteredOutEventCount
//	lambdaesm.events.invoked                           {event}       counter        InvokedEventCount (each attempt)
//	lambdaesm.events.failed_invoke                     {event}       counter        FailedInvokeEventCount
//	lambdaesm.events.dropped [condition]               {event}       counter        DroppedEventCount
//	lambdaesm.events.deleted                           {event}       counter        DeletedEventCount (SQS)
//	lambdaesm.events.on_failure_destination_delivered  {event}       counter        OnFailureDestinationDeliveredEventCount
//	lambdaesm.destination.delivery_failures            {failure}     counter        DestinationDeliveryFailures
//	lambdaesm.shard.iterator_age [shard_id]            s             gauge          IteratorAge (ms), per shard
//	lambdaesm.iterator_age.max                         s             gauge          IteratorAge (ms), Maximum
//	lambdaesm.invocations                              {invocation}  counter        Invocations
//	lambdaesm.invocation.errors                        {invocation}  counter        Errors
//	lambdaesm.invocation.duration                      s             histogram      Duration (ms)
//	lambdaesm.concurrent_executions                    {invocation}  gauge          ConcurrentExecutions, averaged
//	lambdaesm.throttles [operation]                    {throttle}    counter        Throttles (operation Invoke)
//	lambdaesm.shard.checkpoint_age [shard_id]          s             gauge          - time since the shard's last checkpoint
//	lambdaesm.checkpoints                              {checkpoint}  counter        - checkpoints written
//	lambdaesm.checkpoint.failures                      {failure}     counter        - checkpoint writes that failed
//	lambdaesm.leases                                   {lease}       updowncounter  - shard leases held
//	lambdaesm.batches.retried                          {batch}       counter        - batches invoked again
//	lambdaesm.batches.split                            {batch}       counter        - batches bisected
//	lambdaesm.events.not_deleted                       {event}       counter        - SQS messages not deleted
//	lambdaesm.async.events [condition]                 {event}       counter        AsyncEventsDropped (RetriesExhausted, EventAgeExceeded)
//	lambdaesm.async.attempts                           {attempt}     counter        - handler runs of the invoker's events
//	lambdaesm.async.destination.delivery_failures      {event}       counter        DestinationDeliveryFailures, DeadLetterErrors
//	lambdaesm.schedule.refused [rule_arn]              {firing}      counter        - schedule firings the target refused
//
// What each value means, in detail (the same as esm/esmprom's):
//
//   - lambdaesm.events.invoked counts the records of every call of the
//     handler, each attempt again; lambdaesm.events.failed_invoke every
//     record of a call that failed (function error, panic, timeout, invalid
//     partial batch response) and the failures a partial batch response
//     reports.
//   - A call that never reached the function (a [lambdaesm.NotInvokedError]:
//     the Lambda service throttled it or failed) is no invocation: it counts
//     its records in lambdaesm.events.failed_invoke and one throttle with
//     operation "Invoke"; a stream read the service throttled counts one with
//     operation "GetRecords". An invalid partial batch response fails every
//     record of the batch but is not a function error.
//   - lambdaesm.concurrent_executions is the number of handler calls running
//     at once, averaged over the last minute ([WithConcurrencyWindow]): the time
//     calls ran within the window divided by its length. The hooks hear of a
//     call when it ends, so a call counts from then on (for the part of it
//     inside the window): a handler slower than the window shows late.
//   - lambdaesm.shard.iterator_age is the lag of each shard read by this
//     process, as of its latest batch; lambdaesm.iterator_age.max is what to
//     alert on. A shard's gauges go when it is read to its end or its lease
//     is lost. An idle shard keeps the age of its last batch.
//   - lambdaesm.shard.checkpoint_age is the time since the shard's last
//     checkpoint (since the shard started, before the first): after a crash,
//     what was finished within it is delivered again. Checkpoints are written only
//     when records were finished, so it also grows on an idle shard; alert
//     on it together with iterator age, or on lambdaesm.checkpoint.failures.
//   - lambdaesm.leases counts the shard leases of a lease store shared by
//     several processes (shard.LeaseTable, shard/dynamolease); it adds up
//     across processes. With a plain checkpoint store no lease is taken and
//     it stays 0. Queues have no shard gauges and no leases.
//   - lambdaesm.events.on_failure_destination_delivered counts records: a
//     delivery is heard of (one failure record) before the records it
//     describes are reported dropped, and those are counted.
package esmotel
