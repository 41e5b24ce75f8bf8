// Package queueengine is the engine behind SQS mappings: long polling,
// batching windows, deletion, partial batch responses, FIFO message-group
// fan-out, concurrency scaling and visibility heartbeats.
//
// Only package esm builds engines, from a validated esm.Config; the
// behaviour a user sees is documented in package queue (the public home of
// the client interface and errors) and package esm.
package queueengine
