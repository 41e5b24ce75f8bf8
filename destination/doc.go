// Package destination builds the records Lambda sends to destinations and
// delivers them: the failure record of an event source mapping that discarded
// stream records ([StreamFailure]), and the record of an asynchronous
// invocation ([InvocationRecord]). Senders deliver them to an SQS queue
// ([SQSSender]), an SNS topic ([SNSSender]), an S3 bucket ([S3Sender]),
// a Lambda function ([LambdaSender]) or an EventBridge event bus
// ([EventBridgeSender]), byte-compatible with what AWS writes, so that a
// consumer of those records works unchanged against this library and against
// Lambda.
//
// # Record format
//
// A stream failure record, as Lambda sends it to SQS and SNS (one line, no
// spaces; indented here):
//
//	{"requestContext":{"requestId":"<uuid v4>",
//	                   "functionArn":"arn:aws:lambda:us-east-2:123456789012:function:myfunction",
//	                   "condition":"RetryAttemptsExhausted","approximateInvokeCount":3},
//	 "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
//	 "version":"1.0",
//	 "timestamp":"2019-11-14T00:38:06.021Z",
//	 "KinesisBatchInfo":{"shardId":"shardId-000000000001",
//	                     "startSequenceNumber":"4960…","endSequenceNumber":"4960…",
//	                     "approximateArrivalOfFirstRecord":"2019-11-14T00:38:04.835Z",
//	                     "approximateArrivalOfLastRecord":"2019-11-14T00:38:05.580Z",
//	                     "batchSize":500,
//	                     "streamArn":"arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}}
//
// The facts below come from the records LocalStack's test suite recorded
// against real AWS (localstack/localstack,
// tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_kinesis.snapshot.json
// and test_lambda_integration_dynamodbstreams.snapshot.json, recorded
// 2024-10 to 2025-10) and from the examples in Lambda's developer guide
// (kinesis-on-failure-destination, with-ddb):
//
//   - Field order: requestContext, responseContext, version, timestamp, then
//     KinesisBatchInfo (Kinesis) or DDBStreamBatchInfo (DynamoDB). Inside:
//     requestId, functionArn, condition, approximateInvokeCount; statusCode,
//     executedVersion, functionError; shardId, startSequenceNumber,
//     endSequenceNumber, approximateArrivalOfFirstRecord,
//     approximateArrivalOfLastRecord, batchSize, streamArn. All batch-info
//     fields are always present.
//   - condition is RetryAttemptsExhausted or RecordAgeExceeded. A
//     RecordAgeExceeded record has no responseContext at all (snapshots
//     test_kinesis_maximum_record_age_exceeded[expire-while-retrying],
//     [expire-before-ingestion] and …_discard_records). The recordings
//     disagree on approximateInvokeCount after retries: the 2025-04 one
//     reports 1 for expire-while-retrying, the 2025-11 one 8, the
//     invocations the batch had after 60 s of retries. The library follows
//     the latest: the invocations the records had, 1 when they expired
//     before the first (the caller sets ApproximateInvokeCount; package esm
//     does so).
//   - functionError is "Unhandled" after a function error (an exception, a
//     timeout) and null when the function returned normally but its partial
//     batch response failed the batch: an empty, null or unknown
//     itemIdentifier, a bad key (…failure_scenarios[empty_string_item_identifier_failure],
//     [null_item_identifier_failure], [invalid_key_foo_failure],
//     [item_identifier_not_present_failure]), or retries exhausted on a
//     reported item (test_kinesis_report_batch_item_failures). statusCode is
//     200 and executedVersion "$LATEST" in every case.
//   - approximateInvokeCount is retries + 1 when the retries ran out
//     (MaximumRetryAttempts 1 → 2, 2 → 3, 3 → 4).
//   - version is "1.0". timestamp is UTC with milliseconds
//     ("2019-11-14T00:38:06.021Z"). Kinesis arrival times have milliseconds
//     too; DynamoDB arrival times have whole seconds
//     ("2019-11-14T00:13:19Z"). This package truncates the extra digits
//     (the recorded values do not show whether AWS truncates or rounds).
//
// An asynchronous invocation record ([InvocationRecord]) has version, timestamp,
// requestContext (condition Success, RetriesExhausted or EventAgeExceeded),
// requestPayload, responseContext and responsePayload, in that order; after a
// success responseContext has no functionError (a Success record captured
// from AWS reads "responseContext":{"statusCode":200,"executedVersion":"$LATEST"}),
// and functionArn is qualified (…:function:name:$LATEST).
//
// # S3
//
// An S3 destination receives more than SQS and SNS: the record plus
// "payload", the invocation event ({"Records":[...]}), one object per record,
// under the key
//
//	aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>
//
// where the time is the record's timestamp (kinesis-on-failure-destination;
// the snapshot test …_with_s3_on_failure_destination checks the key against
// the record's timestamp). The S3 object is not laid out like the SQS body:
// the recorded objects (record_body in both snapshots) have their keys sorted
// at every level (DDBStreamBatchInfo/KinesisBatchInfo, payload,
// requestContext, responseContext, timestamp, version) while the event
// inside payload keeps Lambda's event order. That, and the developer guide
// ("the payload field contains the original invocation record as an escaped
// JSON string"), say that payload is a string holding the event's JSON, which
// is what [S3Sender] writes. (LocalStack's snapshot tool parses any string
// that starts with "{", so the snapshot shows it as an object.) A mapping
// puts the event in [Message.Payload] for every sender that wants it
// ([PayloadReceiver], [WantsPayload]), so that a sender wrapping an
// S3Sender can pass it on.
//
// # Dead-letter messages
//
// A function's dead-letter queue or topic (asynchronous invocation) receives
// the event itself, unchanged, with three message attributes
// ([NewDeadLetter]), as AWS recorded them (LocalStack,
// test_lambda_destinations.py::TestLambdaDLQ::test_dead_letter_queue;
// developer guide, "Dead-letter queues"):
//
//	RequestID     String  the invocation's request ID
//	ErrorCode     Number  "200" (the HTTP status code of the last attempt)
//	ErrorMessage  String  the error's errorMessage, truncated to 1 KB
//
// [Message.Attributes] carries them; the SQS and SNS senders send them as
// message attributes. What AWS sets for an event that expired before any
// attempt is not recorded; [NewDeadLetter] then sets RequestID alone.
//
// # SNS size limit
//
// An SNS message is at most 256 KiB. Lambda drops the
// payload from a record that would be larger (API_OnFailure). A stream
// failure record carries no payload to SQS or SNS and is always small; an
// invocation record that is too large is published without requestPayload
// and responsePayload ([Message.Reduced], [InvocationRecord.WithoutPayloads]).
//
// # Delivery
//
// A [Sender] makes one attempt per Send and returns a [*SendError] naming the
// destination. Retrying is the caller's job: the stream engine retries a
// refused record with backoff and holds the shard's checkpoint meanwhile, so
// a destination that is down delays the shard instead of losing records.
// Build senders with [NewSQS], [NewSNS], [NewS3], [NewLambda],
// [NewEventBridge], or [ForARN], which picks one by the ARN's service.
// Constructors make no AWS call.
//
// # Testing
//
// [Memory] is an in-memory sender with scripted failures (esm.WithOnFailure,
// or the destinations of an invoke.Config). It keeps each message whole: the record,
// the attributes of a dead-letter message, and — as it wants the payload
// ([PayloadReceiver], like [S3Sender]) — the invocation event of a stream
// failure. esm/esmtest's Capture stands in for the
// SQS and SNS clients, to check the records byte for byte as a queue or topic
// would receive them.
package destination
