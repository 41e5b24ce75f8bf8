// Command lambdaesm runs AWS Lambda event source mappings (Kinesis, DynamoDB
// Streams, SQS) on any machine, for functions written in any language, and
// serves Lambda's own event-source-mapping API so that the AWS CLI and SDKs
// manage them unchanged:
//
//	lambdaesm --function my-function=http://127.0.0.1:3000/
//	aws lambda create-event-source-mapping --endpoint-url http://127.0.0.1:9001 \
//	    --function-name my-function --event-source-arn arn:aws:sqs:us-east-1:123456789012:my-queue
//
// A function is an HTTP endpoint that takes Lambda's event JSON (a POST) and
// answers the response JSON, or a Lambda function reached with the Invoke
// API (in AWS, or a container under the Runtime Interface Emulator, with
// AWS_ENDPOINT_URL_LAMBDA). Mappings also come from files, the JSON that
// `aws lambda get-event-source-mapping` prints; they persist in --state-dir
// and resume after a restart. SIGTERM drains in-flight batches and writes
// final checkpoints. /healthz and /metrics are served on --ops-listen; logs
// are JSON lines on standard error. Run `lambdaesm --help` for every flag.
//
// The command is a thin shell around esm.Registry (the mappings),
// esm/esmapi (the API) and invoke.Function (the functions).
package main
