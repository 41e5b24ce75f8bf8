// Command worker is a production-shaped consumer: one process running a
// Kinesis mapping ("orders") and an SQS mapping ("emails") side by side,
// the way a service on ECS or Kubernetes would run them outside Lambda.
//
//	go run ./examples/worker                 # in-memory stream and queue, with a producer
//	go run ./examples/worker -help           # every flag
//
// It shows what such a service needs around the mappings:
//
//   - SIGTERM or SIGINT (Ctrl-C) shuts both mappings down gracefully: no
//     new batches, in-flight ones finish, final checkpoints are written,
//     all within -grace; a second signal kills the process at once.
//   - GET /metrics serves Prometheus metrics (package esm/esmprom, plus the
//     Go runtime's and the process's); GET /healthz answers 200 when every
//     mapping is healthy and 503 otherwise, with each mapping's health as
//     JSON: the readiness probe. Both on -listen, 127.0.0.1:8080 by default
//     (use :8080 in a container, so the probe can reach it).
//   - Logs are JSON lines (log/slog) on standard output, mappings' included.
//
// By default it needs no AWS account: the stream and the queue are the
// in-memory fakes of esm/esmtest, fed by a small producer. Naming a stream
// (-kinesis-arn) or a queue (-sqs-arn), or giving a mapping's settings as a
// CreateEventSourceMapping JSON file that names its source (-kinesis-config,
// -sqs-config), switches to the AWS SDK, configured the standard way
// (credentials, AWS_REGION, and AWS_ENDPOINT_URL_KINESIS,
// AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB for an emulator), and runs
// the mappings named.
// Kinesis checkpoints go to files under -checkpoint-dir, or, for several
// replicas sharing the stream, to a DynamoDB lease table (-lease-table).
package main
