// Package destination sends Lambda's invocation and failure records to their
// destinations (SQS queues, SNS topics and others), byte-compatible with the
// JSON AWS sends.
package destination
