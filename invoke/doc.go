// Package invoke runs a handler the way Lambda runs a function that is
// invoked asynchronously (InvocationType Event), synchronously
// (RequestResponse), or as a real Lambda function behind a mapping.
//
// # Asynchronous invocation
//
// [Invoker.Invoke] queues an event and returns its request ID at once; a
// bounded pool of workers (10, or WithConcurrency) runs the handler. As in Lambda
// (PutFunctionEventInvokeConfig):
//
//   - A function error — a returned error, a panic, a timeout past
//     Config.FunctionTimeout — is retried MaximumRetryAttempts times (0 to
//     2, default 2: three attempts), after one minute and then two minutes
//     by default (WithRetryDelays changes the waits).
//   - An event older than MaximumEventAge (60 s to 6 h, default 6 h) when
//     an attempt would start is discarded with the condition
//     EventAgeExceeded. A retry due after that age is not waited for in
//     full: the event is discarded when it reaches the age.
//   - When the handler succeeds, the OnSuccess destination receives the
//     invocation record (condition Success, the response as
//     responsePayload). When the retries run out (RetriesExhausted) or the
//     event is too old, the OnFailure destination receives the record, with
//     the error object as responsePayload, and the dead-letter queue
//     (Config.DeadLetter) receives the event payload alone, with Lambda's
//     message attributes RequestID, ErrorCode ("200" after a function
//     error, the Invoke call's HTTP status when [Function]'s call failed)
//     and ErrorMessage (the error's message, at most 1 KB; see
//     destination.NewDeadLetter). All three are
//     optional [destination.Sender]s: SQS, SNS, Lambda, EventBridge, or
//     [destination.Memory] in tests. Records are byte-compatible with
//     Lambda's (see package destination).
//   - A destination that refuses a record is offered again, five attempts
//     in all with backoff (WithDelivery changes both); a record still refused is reported
//     ([Result.DeliveryErr], and an Error log), never dropped silently.
//   - The handler sees its attempt number through [Attempt] and the request
//     ID, which retries keep, through [RequestID] and
//     lambdacontext.FromContext, like a function in Lambda.
//
// Events are JSON-encoded by Invoke (at most 256 KB by default, or
// WithMaxPayloadBytes: Lambda's asynchronous payload quota) and decoded afresh for
// each attempt. Order between events is not kept, as in Lambda.
//
// # Queue, Run and Shutdown
//
// The queue is in memory and bounded: it holds at most 1000 events
// (WithQueueCapacity) at once (queued, running or waiting for a retry), and Invoke
// returns [ErrQueueFull] beyond that rather than blocking. New starts no
// goroutine; Run runs the pool until Shutdown or until its context ends.
// Shutdown stops accepting events and waits until every held event is done,
// retries and their delays included, or until its context ends: then the
// running handlers see their context cancelled and the remaining events are
// abandoned, reported to the hooks (lambdaesm.AsyncResult.Abandoned) and the
// log, and Shutdown returns an error saying how many. An in-memory queue
// does not survive a crash; a durable one does.
//
// # Durable queue
//
// Given WithDurable, the events live in a standard SQS queue instead, and
// survive a crash or a restart: Invoke sends each event as one message
// (the payload with its request ID, enqueue time, attempt count and last
// error), and Run consumes the queue with the library's SQS mapping
// (esm.NewSQSMapping), one message per invocation, the pool's size at a
// time (at least 2, the least MaximumConcurrency Lambda allows), with a
// visibility heartbeat so that the queue's visibility timeout does not
// bound the handler. A failed attempt with retries left is sent again with
// its retry delay as DelaySeconds (delays over SQS's 15 minutes are reached
// in steps) and the received message deleted; the age limit counts from the
// first Invoke, across restarts. A finished event whose records a
// destination refused (after WithDelivery's attempts) stays in the queue,
// done: a minute later its records alone are offered again (the function
// is not run again), until they are accepted; its AsyncResult is reported
// each time. An attempt and its deliveries must fit the 15 minutes the
// queue mapping gives a message, so FunctionTimeout is at most 14 minutes
// with WithDurable. Shutdown stops receiving and lets the events in flight
// finish; the others wait in the queue for the next Run. QueueCapacity
// does not apply: the queue holds what SQS holds.
//
// Delivery is at least once, as in Lambda: a process that crashes during an
// attempt, or fails to send a retry or delete a message, leaves the message
// to come back after its visibility timeout, and the attempt is made again.
// A message that is not an invoker event is left in the queue for its
// redrive policy. The queue must not be a FIFO queue (per-message delays).
//
// # Synchronous invocation
//
// [Invoker.Call] runs the handler once and returns its response and error,
// as a RequestResponse invocation does: no retry, no destination, no
// dead-letter queue. It needs neither Run nor a queue slot.
//
// # A Lambda function as the handler
//
// [Function] turns a Lambda function — in AWS, or a function image running
// locally under the Runtime Interface Emulator — into an [esm.Handler] for
// any mapping (and for the invoker): the event is sent as JSON with a
// RequestResponse Invoke, a function error becomes a [*FunctionError], and
// the payload is decoded into the response type after Lambda's rules for
// partial batch responses, so batchItemFailures work. A response that does
// not decode (an itemIdentifier that is a number, a payload that is not
// JSON) is a [*ResponseError]: an invalid partial batch response, which
// fails the whole batch but is not a function error — the failure record
// says functionError null, as Lambda's does. The mapping engines recognise
// it by its method InvalidPartialBatchResponse. The client is the narrow
// [LambdaAPI], which *lambda.Client satisfies.
//
// # Idempotency
//
// Retries repeat events: an attempt can fail after its side effect happened
// (a timeout, a crash, an error on the way out), and the next attempt then
// does it again. Lambda's guidance applies unchanged: make the handler
// idempotent. Key each side effect by an identifier that stays the same
// across deliveries — an ID carried by the event itself (an order or
// payment ID) serves even when the producer invokes twice; [RequestID] serves
// across the retries of one invocation — and record it atomically with the
// effect, or before it with a conditional write (for example a DynamoDB
// PutItem with attribute_not_exists(pk)), so that a repeat finds it and
// returns success without doing the work twice:
//
//	h := esm.HandlerFunc[Payment, struct{}](func(ctx context.Context, p Payment) (struct{}, error) {
//		first, err := ledger.Claim(ctx, p.ID) // conditional write: false if p.ID was claimed before
//		if err != nil || !first {
//			return struct{}{}, err // a repeat: already done, report success
//		}
//		return struct{}{}, charge(ctx, p)
//	})
//
// See the package's Example (idempotency) for a runnable version.
//
// # Differences from AWS Lambda
//
//   - Every error of the handler is a function error. Lambda retries
//     throttles and its own system errors separately, for up to six hours
//     with exponential backoff; here there are none, except that with
//     [Function] an Invoke call that fails (throttled, unreachable) is a
//     function error of that attempt.
//   - The in-memory queue is bounded and lost on a crash: Lambda's never
//     reports a full queue and keeps its events (use WithDurable).
//   - Retry delays are exact; Lambda's are approximate.
//   - A dead-letter message of an event that expired before any attempt
//     carries RequestID alone (what Lambda sets then is not recorded), and
//     a [Function] whose Invoke call failed without an HTTP response
//     (unreachable) reports ErrorCode 200.
//   - With [Function] behind the invoker, a response that does not decode
//     into the response type is a failed attempt ([*ResponseError]);
//     Lambda does not read the response of an asynchronous invocation.
//     Use json.RawMessage as the response type, or
//     FunctionOptions.IgnoreInvalidResponse.
//
// # Testing
//
// The invoker reads time only from package time, so under testing/synctest
// the minutes of retry delays and the hours of MaximumEventAge pass at once;
// WithRetryDelays shortens them outside a bubble. destination.Memory
// captures the records of OnSuccess, OnFailure and DeadLetter (with the
// dead-letter attributes), and a lambdaesm.HookAsyncResult given with WithHooks
// hears of each event's outcome.
// A durable invoker runs over esm/esmtest's SQS fake.
//
// A Go handler cannot return some responses a function in another language
// can — an itemIdentifier that is a number, a key that is not
// itemIdentifier, bytes that are not JSON. To test how a mapping treats
// such a malformed response, run [Function] over a fake [LambdaAPI] whose
// Invoke returns the raw JSON as its Payload (see the Function example,
// malformedResponse): the mapping then sees exactly what it would see from
// a deployed function.
package invoke
