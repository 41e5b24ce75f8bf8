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
// Several processes share the work when given the same DynamoDB tables:
//
//	lambdaesm --mapping-table lambdaesm-mappings --lease-table lambdaesm-leases \
//	    --function my-function=http://127.0.0.1:3000/
//
// --mapping-table keeps the mapping definitions (esm.DynamoDBMappingStore)
// instead of --state-dir: a mapping created, updated or deleted through any
// process's API reaches the others within --mapping-poll-interval (5s by
// default), and every process runs every mapping. --lease-table keeps stream
// checkpoints and shard leases (shard/dynamolease): the processes split each
// stream's shards, and one that stops hands its shards to the others. An SQS
// queue needs no lease table. Both tables are created on first use
// (on-demand billing); the environment variables LAMBDAESM_MAPPING_TABLE and
// LAMBDAESM_LEASE_TABLE set them too.
//
// The command is a thin shell around esm.Registry (the mappings),
// esm/esmapi (the API) and invoke.Function (the functions).
package main
