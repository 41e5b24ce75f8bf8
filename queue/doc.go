// Package queue is the engine behind SQS mappings: long polling, batching
// windows, deletion, partial batch responses, FIFO message-group fan-out,
// concurrency scaling and visibility heartbeats.
//
// Most users construct mappings through package esm; this package holds the
// narrow client interface [SQSAPI].
package queue
