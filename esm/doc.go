// Package esm runs AWS Lambda event source mappings inside any Go process.
//
// A mapping reads an Amazon Kinesis data stream, a DynamoDB stream or an SQS
// queue and calls a handler with batches of records exactly as Lambda would:
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
// # Observability
//
// Logging goes through *slog.Logger; metrics through [Hooks], named after
// Lambda's EventCount metrics and IteratorAge.
//
// # Testing
//
// Package esm/esmtest has in-memory Kinesis, DynamoDB Streams and SQS fakes
// that satisfy the client interfaces, for unit tests of handlers with the real
// batching and retry behaviour.
package esm
