// Package esmapi serves Lambda's event-source-mapping API over HTTP, backed
// by an [esm.Registry], so that the AWS CLI and SDKs manage the mappings of a
// lambdaesm process unchanged:
//
//	aws lambda create-event-source-mapping --endpoint-url http://127.0.0.1:9001 \
//	    --function-name my-function --event-source-arn arn:aws:sqs:us-east-1:123456789012:jobs
//
// [NewHandler] returns an http.Handler for the five operations, with
// Lambda's paths, status codes and JSON bodies (REST-JSON, protocol version
// 2015-03-31):
//
//	POST   /2015-03-31/event-source-mappings          CreateEventSourceMapping  202
//	GET    /2015-03-31/event-source-mappings          ListEventSourceMappings   200 (EventSourceArn, FunctionName, Marker, MaxItems)
//	GET    /2015-03-31/event-source-mappings/{UUID}   GetEventSourceMapping     200
//	PUT    /2015-03-31/event-source-mappings/{UUID}   UpdateEventSourceMapping  202
//	DELETE /2015-03-31/event-source-mappings/{UUID}   DeleteEventSourceMapping  202
//
// A mapping is answered as Lambda's EventSourceMappingConfiguration, with the
// fields AWS returns for its kind of source, in AWS's order: for a stream
// UUID, StartingPosition, BatchSize, MaximumBatchingWindowInSeconds,
// ParallelizationFactor, EventSourceArn, FunctionArn, LastModified (Unix
// seconds), LastProcessingResult, State, StateTransitionReason,
// DestinationConfig, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError,
// MaximumRetryAttempts, TumblingWindowInSeconds, FunctionResponseTypes and
// EventSourceMappingArn; for a queue fewer (no LastProcessingResult, which
// Lambda leaves null for SQS, unless it reports a problem). Errors carry
// Lambda's type in the X-Amzn-ErrorType header and {"Type": "User",
// "message": …} as the body, so the SDKs raise their typed exceptions
// (ResourceNotFoundException, ResourceConflictException, …); see
// [esm.APIError] for the types and messages.
//
// # Authentication
//
// Requests are verified as AWS verifies them: Signature Version 4 with the
// service name "lambda", any region, against [WithCredentials] (the
// access key IDs and secrets the clients sign with). A request signed by an
// unknown key, with a wrong signature or more than 15 minutes away from this
// machine's clock is refused with AWS's error (UnrecognizedClientException,
// InvalidSignatureException). With [WithUnauthenticated] the handler
// accepts any request, signed or not, but only from a loopback address:
// meant for a server bound to 127.0.0.1 on a developer's machine, where it
// should say so in its logs.
//
// # Differences from AWS
//
//   - Configuration fields of sources this library does not map (Kafka,
//     Amazon MQ, DocumentDB) and Tags, KMSKeyArn, LoggingConfig and
//     ProvisionedPollerConfig are accepted and ignored.
//   - A request body may also carry this library's FunctionTimeoutInSeconds
//     and, for a queue named by URL, QueueURL; responses leave them out.
//   - Validation errors name every violated rule at once ("Field = value:
//     rule; …") unless there is one rule worded by AWS, which is then AWS's
//     message as it is.
//   - Presigned URLs (query-string signatures) and SigV4a are not accepted.
package esmapi
