// Package queue holds the narrow SQS client interface an SQS mapping takes
// ([SQSAPI]) and the errors its background work reports ([DeleteError],
// [HeartbeatError], [VisibilityError]), and describes how an SQS mapping
// behaves: long polling, batching windows, deletion, partial batch
// responses, FIFO message-group fan-out, concurrency scaling and visibility
// heartbeats.
//
// Mappings are built with package esm (esm.NewSQSMapping), which validates
// the configuration and drives the SQS engine; the engine is internal.
//
// # Semantics
//
// The queue is named by ARN, and its URL then comes from GetQueueUrl with the
// queue name and owner account of the ARN (a URL is never built from an ARN:
// emulators and some partitions issue other forms), or by URL, used as it is.
// Run first reads the queue's VisibilityTimeout, RedrivePolicy, FifoQueue and
// QueueArn attributes and applies Lambda's create-time rules:
//
//   - a visibility timeout shorter than FunctionTimeout is an error, in AWS's
//     words: "Queue visibility timeout: 60 seconds is less than Function
//     timeout: 180 seconds";
//   - one shorter than 6 × FunctionTimeout + MaximumBatchingWindow is logged
//     as a warning citing AWS's recommendation;
//   - no RedrivePolicy, or a maxReceiveCount below 5, is a warning saying what
//     happens to failing messages;
//   - a FIFO queue with BatchSize above 10 or with a batching window is
//     rejected;
//   - when window + timeout exceeds the visibility timeout, every receive asks
//     for window + timeout + 30 s (at most 12 hours), as Lambda does.
//
// Transient errors of these start-up calls (server errors, throttling,
// network failures) are retried with backoff (retry.DefaultBackoff), as receives
// are, so a brief SQS outage at start-up does not end the mapping; each
// failure is logged. Only errors no retry heals end Run with an error: the
// queue does not exist (in Lambda's words: "Error occurred while
// ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue.
// SQS Error Message: The specified queue does not exist."), access is
// denied, the request is invalid, or the queue's attributes break the rules
// above. Shutdown, or the end of Run's context, during these retries makes
// Run return nil at once, abandoning a start-up call in flight.
//
// Each worker receives and hands one batch at a time to the function; the
// number of workers is the mapping's concurrency (see Scaling). Receives
// long-poll (WaitTimeSeconds 20, or esm.WithLongPoll) for every system and
// message attribute,
// asking for the messages the batch still lacks, at most 10. On a standard
// queue receives accumulate into one batch until it holds BatchSize messages,
// its event reaches the 6 MB payload cap (record JSON, escapes included, as
// Lambda counts it; messages beyond go to the next batch, invoked as soon as
// the first completes, and the visibility heartbeat extends them meanwhile;
// without the heartbeat, those whose visibility would lapse before
// FunctionTimeout passes are made visible again instead, with the later
// messages of their FIFO groups), or the batching window ends; the window
// starts when the worker's previous invocation completed. FIFO receives carry a ReceiveRequestAttemptId that is sent again
// when the receive is retried after an error, so SQS returns the same
// messages instead of locking their groups for a visibility timeout.
//
// Failed receives are retried with backoff (retry.DefaultBackoff) and never count
// as function errors.
//
// # Result of a batch
//
//   - Success: the batch is deleted with DeleteMessageBatch, ten entries a
//     call. Failed entries (and failed calls) are retried, three attempts in
//     all; messages still undeleted are logged, reported to a
//     lambdaesm.HookRecordsNotDeleted, and summed up in the [*DeleteError] Shutdown returns.
//     They will be delivered again.
//   - Function error (an error, a panic, a timeout: [*lambdaesm.TimeoutError]): nothing
//     is deleted. The messages come back when their visibility timeout ends
//     and the queue's redrive policy moves them to its dead-letter queue after
//     maxReceiveCount receives. With esm.WithFailureBackoff (beyond Lambda)
//     the failed messages are made visible again after
//     Delay(ApproximateReceiveCount) instead, so early retries come sooner and
//     later ones wait longer.
//   - Partial batch response (ReportBatchItemFailures; package esm passes the
//     batchItemFailures on only when it is set): every message except the
//     listed ones is deleted. An empty or null itemIdentifier, or one that is
//     not a message of the batch, fails the whole batch
//     (lambdaesm.ErrInvalidResponse), as in Lambda.
//   - Filtered out (FilterCriteria): the message is deleted without being
//     handed to the function, as Lambda deletes messages its filters reject.
//
// # FIFO queues
//
// A received FIFO batch may hold several message groups. The engine invokes
// the function once per group, with that group's messages in their order, and
// runs the groups of a batch concurrently (each invocation takes one of the
// MaximumConcurrency slots). When a message of a group fails (a function
// error, or listed in batchItemFailures), it and every later message of that
// group in the batch are left undeleted, even when the response listed only
// the first, while the other groups' messages are deleted. SQS keeps a group
// locked while any of its messages is in flight, so the group resumes, in
// order, with the failed message.
//
// # Scaling
//
// As Lambda, the engine starts with 5 concurrent batches, adds one for each
// receive that comes back full, at most 300 a minute, removes one for each
// receive that comes back empty, down to 2, and never exceeds
// ScalingConfig.MaximumConcurrency, or 1250 (Lambda's maximum for one SQS
// mapping) without it. The three numbers are esm.Scaling's fields. The rate is a
// token bucket that starts empty and holds at most ten seconds' worth of
// growth: from the start the concurrency grows by at most 300 per elapsed
// minute, and in any minute by at most 350. Each concurrent batch is one
// handler invocation in flight.
//
// # Visibility heartbeat
//
// With esm.WithVisibilityHeartbeat (beyond Lambda), while a batch is in the
// handler its messages' visibility is extended with
// ChangeMessageVisibilityBatch: each time the message closest to becoming
// visible has only visibility timeout − interval left (every interval, half
// the queue's visibility timeout by default), every message's remaining
// visibility is set back to the queue's visibility timeout, but never past
// SQS's 12-hour limit since the receive. It stops when the batch ends. If an
// extension fails, the handler's context is cancelled and context.Cause
// returns a [*HeartbeatError] saying which messages and why. With the
// heartbeat the queue's visibility timeout may be shorter than FunctionTimeout
// (messages of a crashed process come back sooner); Lambda's
// visibility-timeout error and 6× warning are then not applied.
//
// # Shutdown
//
// A mapping's Shutdown stops receiving and lets in-flight batches finish and
// delete their messages. Messages received but not yet handed to the function
// (a batch still inside its window, FIFO groups waiting for a slot, payload
// overflow) are made visible again at once with visibility timeout 0, so
// another consumer takes them without waiting for the timeout. Receives in
// flight are not cancelled: SQS keeps a long poll open after its client gave
// up and hands it messages that then stay invisible for their visibility
// timeout, among them the ones just made visible. They finish instead (within
// 20 seconds, or esm.WithLongPoll) and what they return is made visible
// too. When Shutdown's
// context ends first, or Run's context ends, receives and invocations are
// cancelled at once.
//
// # Configuration
//
// Package esm validates a Config and passes the engine settings with
// Lambda's defaults filled in, from one place (internal/limits).
//
//	esm.Config field / option                   default
//	EventSourceArn or QueueURL                  (one required)
//	BatchSize                                   10
//	MaximumBatchingWindowInSeconds              0
//	FunctionTimeout                             3s
//	esm.WithLongPoll(wait)                      20s
//	ScalingConfig.MaximumConcurrency            1250
//	esm.WithScaling(esm.Scaling{…})             5 initial, 300 more per minute, 2 at least
//	esm.WithVisibilityHeartbeat(interval)       off
//	esm.WithFailureBackoff(backoff)             off
//	Enabled=false                               enabled
//	(payload cap)                               6 MB
//
// # Differences from AWS
//
//   - FIFO batches: Lambda invokes the function once with a batch that may
//     mix message groups, and deletes every message the response does not
//     list. This engine invokes once per group and keeps a failed message's
//     later group-mates undeleted even when they are not listed. Lambda's way
//     makes one slow or failing group delay the others in the batch, and a
//     handler that reports only the message that failed (against AWS's
//     advice) gets the rest of its group deleted unprocessed or processed out
//     of order; per-group invocations keep groups independent and order safe.
//     A handler therefore sees fewer messages per invocation, all of one
//     group.
//   - Scaling is a model of Lambda's documented behaviour (5 at start, up to
//     300 more per minute, down to 2), not its implementation. The default cap
//     of 1250 is Lambda's documented maximum for one mapping (MaximumConcurrency
//     itself accepts 2–1000). FIFO group invocations count toward it.
//   - With a batching window, a receive made while the batch already holds
//     messages waits no longer than the rest of the window (Lambda may wait the
//     full 20 seconds); an empty batch waits 20 seconds, as in Lambda. Each
//     worker gathers its own batch, so with several workers messages spread
//     over several smaller batches.
//   - The visibility heartbeat and the failure backoff are not Lambda
//     features; both are off by default.
//   - Shutdown waits for receives in flight (see Shutdown); Lambda has no
//     shutdown.
//   - Lambda checks the queue once, when the mapping is created, and
//     refuses the mapping if that fails; Run retries transient failures of
//     its check instead (see Semantics).
//   - A handler that ignores its context past FunctionTimeout cannot be
//     killed: the engine waits for it, then counts the invocation as timed
//     out ("Task timed out after N seconds").
//   - The 6 MB payload is computed from the record fields and their JSON
//     escapes, not by marshalling the event.
//   - Provisioned mode (MinimumPollers/MaximumPollers) is not implemented.
//
// # Testing
//
// esm/esmtest's SQS fake satisfies [SQSAPI]; with testing/synctest, windows,
// visibility timeouts and heartbeats run in fake time.
package queue
