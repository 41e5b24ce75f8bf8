// Package esm runs AWS Lambda event source mappings inside any Go process.
//
// A mapping reads an Amazon Kinesis data stream (with GetRecords, or with
// enhanced fan-out when EventSourceArn is a stream consumer's ARN), a
// DynamoDB stream or an SQS queue and calls a handler with batches of
// records exactly as Lambda would:
// same settings (the fields of CreateEventSourceMapping), same defaults and
// ranges, same event types (github.com/aws/aws-lambda-go/events), same retry,
// bisect, partial-batch and failure-destination behaviour. An existing Lambda
// handler runs unchanged.
//
// # Configuration
//
// [Config] mirrors the CreateEventSourceMapping request, one type for all three
// sources; the source (see [Config.Source]) follows from EventSourceArn, or
// from QueueURL for an SQS queue named by URL. Its JSON form is AWS's (field
// names and units), so a mapping pasted from `aws lambda
// create-event-source-mapping --cli-input-json` or `get-event-source-mapping`
// loads as it is with [LoadConfig], while Go code uses time.Duration for
// windows and ages. A zero field means AWS's default, which
// [Config.WithDefaults] fills in per source; where 0 is a real value
// (MaximumRetryAttempts) the field is a pointer, and AWS's −1 is [Infinite].
// FunctionTimeout, FunctionArn and QueueURL are this library's own fields.
//
// [Config.Validate] reports every violated rule at once as a [*ConfigError]:
// each [Violation] names the field, the value and what is allowed, in AWS's
// words where AWS has them.
//
// # Handlers
//
// [HandleKinesis], [HandleDynamoDB] and [HandleSQS] adapt a Lambda handler of
// the shape func(ctx, E) error or func(ctx, E) (R, error). A returned error
// fails the whole batch; a panic is recovered and counts as a function error.
//
// # Tumbling windows
//
// A Kinesis or DynamoDB Streams mapping with a TumblingWindow (Lambda's
// TumblingWindowInSeconds, 1s to 900s) aggregates each shard's records window
// by window without a database: its handler receives aws-lambda-go's
// events.KinesisTimeWindowEvent or events.DynamoDBTimeWindowEvent (the
// records, the window's start and end, the state so far, shardId,
// eventSourceARN, isFinalInvokeForWindow, isWindowTerminatedEarly) and
// returns events.KinesisTimeWindowEventResponse or
// events.DynamoDBTimeWindowEventResponse with the new state (and
// batchItemFailures, with ReportBatchItemFailures). Build it with
// [NewKinesisWindowMapping] or [NewDynamoDBWindowMapping] and a handler
// adapted by [HandleKinesisWindow] or [HandleDynamoDBWindow] (the example of
// NewKinesisWindowMapping counts clicks per page, window by window).
//
// The event's State is a copy the handler may change, empty (never nil) in a
// window's first invocation. A response whose State is nil fails the
// invocation, as Lambda fails a response without state; return an empty map
// for an empty state, the final invocation's response included. The state
// travels in the checkpoint store, so a restart, a lease hand-off or a
// Registry update resumes it. The window constructors refuse a Config
// without a TumblingWindow and the others one with it, naming the
// constructor to use; a TumblingWindow with a ParallelizationFactor above 1
// is refused, as AWS refuses it. Package shard ("Tumbling windows")
// describes when windows close, the final invocation, early termination at
// 1 MB and what happens on failures and resharding.
//
// # Mappings
//
// [NewKinesisMapping] and [NewDynamoDBMapping] (and [NewSQSMapping] for
// queues) take the Config, an AWS SDK client (or an esm/esmtest fake: any
// value with the narrow client interface) and a handler. They validate
// everything and start nothing: a nil client or handler (a typed nil too), a
// nil [Option], an option for another kind of mapping (say [WithLongPoll]
// on a Kinesis mapping) or an option argument out of its range is an error
// naming it, reported together with every other problem (errors.Join).
// [Mapping.Run] polls until its context ends or [Mapping.Shutdown] is
// called, and returns nil after such a stop.
// Shutdown stops polling, lets in-flight batches finish (stream mappings
// also hand on the records already read, so that a restart delivers none of
// them again), writes final checkpoints and is bounded by its context. No
// goroutine outlives Run.
//
// Stream checkpoints go to files under [DefaultCheckpointDir] unless
// [WithStore] names another store (shard.NewMemoryStore for tests, a lease
// store to share a stream among replicas). Records discarded by the retry
// policy go to the Config's on-failure destination through the clients given
// with [WithDestinationClients], or to any sender given with [WithOnFailure];
// until the destination accepts them, the checkpoint does not move.
// Checkpoints are written at most once a second per shard
// ([WithCheckpointInterval]) and always when a shard stops; after a crash,
// the records finished within the last interval are delivered again.
//
// FilterCriteria is applied as Lambda applies it, record by record before
// batching (package filter compiles the patterns once per mapping): a Kinesis
// record's data is matched as JSON when it is JSON, a DynamoDB record's
// images in DynamoDB JSON, an SQS body as JSON or as a plain string.
// Filtered-out SQS messages are deleted; filtered-out stream records are
// checkpointed past, even when a batch holds nothing else. Hooks count them
// (RecordsFilteredOut). An invalid pattern is refused when the mapping is
// constructed with AWS's message, "Invalid filter pattern definition.", and
// the precise reason.
//
// # Differences from AWS
//
//   - A tumbling window's state is aws-lambda-go's map[string]string, as
//     Lambda's Java guidance recommends: a function behind invoke.Function
//     (the Registry, cmd/lambdaesm) that returns other JSON values in its
//     state (numbers, as the guide's Python example does) gives an invalid
//     response, which fails the invocation as a response without state
//     does (Lambda accepts any JSON values there). A nil State is a
//     response without state. AWS's message for
//     a TumblingWindow with a ParallelizationFactor above 1 was not
//     recorded: the words are ours. See package shard for the windows'
//     other decisions.
//   - FilterCriteria accepts the whole EventBridge pattern language (package
//     filter), a superset of the operators Lambda's guide lists; the quota of
//     5 patterns is raised to 10 with [WithFilterQuota], as a quota increase
//     does in AWS.
//   - There is no Lambda function: FunctionArn in failure records is derived
//     from FunctionName or the mapping's name ([WithName]), and the mapping
//     UUID in S3 failure-record keys is derived from the name and the source.
//   - RecordAgeExceeded records report approximateInvokeCount as the
//     invocations the batch had (1 when it expired before the first), as
//     AWS's latest recording does (8 after 60 s of retries); an older
//     recording (2025-04) says 1 after retries.
//   - Where AWS's recordings disagree, the library follows the latest: the
//     RecordAgeExceeded count above; SQS events of messages without
//     attributes, recorded with md5OfMessageAttributes null by an echoing
//     function and without the key by others, carry it as null (through
//     invoke.Function; a Go handler sees events.SQSMessage); the S3 failure
//     object's payload, shown parsed by LocalStack's snapshot tool, is the
//     event as a JSON string, as the developer guide says.
//   - See packages shard and queue for the engines' own differences.
//
// # Observability
//
// Logging goes through *slog.Logger ([WithLogger]); metrics through hooks
// ([WithHooks]): any values implementing the small interfaces of package
// lambdaesm (HookBatchInvoked, HookRecordsPolled, HookCheckpointFailed, …),
// named after Lambda's EventCount metrics and IteratorAge, plus checkpoints,
// leases, shards, throttles, retries and splits. Several hooks listen at
// once. Each stream mapping's Health method reports whether it runs, its last
// poll and checkpoint and its last background error, for a readiness probe.
// Errors are package lambdaesm's: lambdaesm.ErrClosed, *lambdaesm.TimeoutError
// and *lambdaesm.NotInvokedError.
//
// # Testing
//
// Package esm/esmtest has in-memory Kinesis, DynamoDB Streams, SQS and SNS
// fakes that satisfy the client interfaces, with fault injection, for unit
// tests of handlers with the real batching and retry behaviour; under
// testing/synctest, windows, backoff and timeouts run in fake time. Give a
// mapping shard.NewMemoryStore with [WithStore], an esmtest.Progress with
// [WithHooks] to wait until records are done, and a destination.Memory with
// [WithOnFailure] to inspect failure records.
package esm
