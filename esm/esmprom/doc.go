// Package esmprom reports what event source mappings do as Prometheus
// metrics: Lambda's event-source-mapping metrics under Prometheus names, and
// what Lambda does not show — concurrency, lag per shard, checkpoint age,
// leases, throttles, checkpoint failures, retries and splits.
//
// A [Metrics] is a hook (package lambdaesm) and a prometheus.Collector:
// build one per mapping, register it, and give it to the mapping with
// esm.WithHooks, beside any other hook:
//
//	metrics, err := esmprom.New("orders")
//	if err != nil { … }
//	prometheus.MustRegister(metrics)
//	m, err := esm.NewKinesisMapping(cfg, client, handler, esm.WithHooks(metrics))
//	…
//	http.Handle("/metrics", promhttp.Handler())
//
// Package esm/esmotel reports the same through OpenTelemetry. This package
// is apart from esm so that a program that does not import it does not
// depend on the Prometheus client.
//
// # Metrics
//
// Every series has the labels mapping (the name given to [New]) and
// event_source_arn (the stream's or queue's ARN, as the mapping reports
// it); the per-shard gauges add shard_id. Record-level values never become
// labels. [WithNamespace] changes the "lambdaesm" prefix, [WithConstLabels] adds
// labels of your own. The counters that fit the kind of source are reported
// from zero as soon as the mapping is first heard of, so rate() and alerts
// see them before anything happens; those that do not (deleted messages of a
// stream, checkpoints of a queue) appear only if they ever count.
//
// The same [Metrics] may also be given to an asynchronous invoker (package
// invoke) or a scheduler (package schedule), through their WithHooks:
// it then counts their results, under the name given to [New] and with no
// event_source_arn (the last four rows of the table).
//
//	Prometheus                                               type       Lambda (CloudWatch), or - and what Lambda does not show
//	lambdaesm_polled_events_total                            counter    PolledEventCount
//	lambdaesm_filtered_out_events_total                      counter    FilteredOutEventCount
//	lambdaesm_invoked_events_total                           counter    InvokedEventCount (each attempt)
//	lambdaesm_failed_invoke_events_total                     counter    FailedInvokeEventCount
//	lambdaesm_dropped_events_total{condition}                counter    DroppedEventCount
//	lambdaesm_deleted_events_total                           counter    DeletedEventCount (SQS)
//	lambdaesm_on_failure_destination_delivered_events_total  counter    OnFailureDestinationDeliveredEventCount
//	lambdaesm_destination_delivery_failures_total            counter    DestinationDeliveryFailures
//	lambdaesm_iterator_age_seconds{shard_id}                 gauge      IteratorAge (ms), per shard
//	lambdaesm_iterator_age_max_seconds                       gauge      IteratorAge (ms), Maximum
//	lambdaesm_invocations_total                              counter    Invocations
//	lambdaesm_invocation_errors_total                        counter    Errors
//	lambdaesm_invocation_duration_seconds                    histogram  Duration (ms)
//	lambdaesm_concurrent_executions                          gauge      ConcurrentExecutions, averaged
//	lambdaesm_throttles_total{operation}                     counter    Throttles (operation Invoke)
//	lambdaesm_checkpoint_age_seconds{shard_id}               gauge      - time since the shard's last checkpoint
//	lambdaesm_checkpoints_total                              counter    - checkpoints written
//	lambdaesm_checkpoint_failures_total                      counter    - checkpoint writes that failed
//	lambdaesm_leases_held                                    gauge      - shard leases held
//	lambdaesm_batches_retried_total                          counter    - batches invoked again
//	lambdaesm_batches_split_total                            counter    - batches bisected
//	lambdaesm_not_deleted_events_total                       counter    - SQS messages not deleted
//	lambdaesm_async_events_total{condition}                  counter    AsyncEventsDropped (RetriesExhausted, EventAgeExceeded)
//	lambdaesm_async_attempts_total                           counter    - handler runs of the invoker's events
//	lambdaesm_async_destination_delivery_failures_total      counter    DestinationDeliveryFailures, DeadLetterErrors
//	lambdaesm_schedule_refused_total{rule_arn}               counter    - schedule firings the target refused
//
// Durations are in seconds, Prometheus's base unit, where CloudWatch
// reports milliseconds. Some values need a word:
//
//   - invoked_events_total counts the records of every call of the handler,
//     each attempt again; failed_invoke_events_total every record of a call
//     that failed (function error, panic, timeout, invalid partial batch
//     response) and the failures a partial batch response reports.
//   - throttles_total has operation "GetRecords" for a stream read the
//     service throttled (retried with backoff) and "Invoke" for a call the
//     Lambda service refused, below.
//   - A call that never reached the function (a [lambdaesm.NotInvokedError]:
//     the Lambda service throttled it or failed) is no invocation: it counts
//     its records in failed_invoke_events_total and one throttle with
//     operation "Invoke". An invalid partial batch response fails every
//     record of the batch but is not a function error.
//   - concurrent_executions is the number of handler calls running at once,
//     averaged over the last minute ([WithConcurrencyWindow]): the time calls
//     ran within the window divided by its length. The hooks hear of a call
//     when it ends, so a call counts from then on (for the part of it inside
//     the window): a handler slower than the window shows late. The same
//     figure over any range is rate(lambdaesm_invocation_duration_seconds_sum[5m]).
//   - iterator_age_seconds is the lag of each shard read by this process, as
//     of its latest batch; iterator_age_max_seconds is what to alert on. A
//     shard's gauges go when it is read to its end or its lease is lost. An
//     idle shard keeps the age of its last batch.
//   - checkpoint_age_seconds is the time since the shard's last checkpoint
//     (since the shard started, before the first): after a crash, what was
//     finished within it is delivered again. Checkpoints are written only
//     when records were finished, so it also grows on an idle shard; alert
//     on it together with iterator age, or on checkpoint_failures_total.
//   - leases_held counts the shard leases of a lease store shared by
//     several processes (shard.LeaseTable, shard/dynamolease); with a plain
//     checkpoint store no lease is taken and it stays 0. Queues have no
//     shard gauges and no leases_held.
//   - on_failure_destination_delivered_events_total counts records: a
//     delivery is heard of (one failure record) before the records it
//     describes are reported dropped, and those are counted.
package esmprom
