// Package limits holds Lambda's limits and defaults for event source
// mappings in one place: package esm validates configurations against them
// and fills in the defaults, and the engines (shard, queue) default to the
// same values, so an engine's zero value never means something else than
// Lambda's.
package limits

import "time"

// Batching.
const (
	MaxBatchSize           = 10000 // BatchSize, every source
	MaxFIFOBatchSize       = 10    // BatchSize of a FIFO queue
	DefaultStreamBatchSize = 100   // Kinesis, DynamoDB Streams
	DefaultSQSBatchSize    = 10
	MaxBatchingWindow      = 300 * time.Second
	MaxPayload             = 6 << 20 // a synchronous invocation's event
)

// Streams.
const (
	MaxParallelization     = 10
	DefaultParallelization = 1
	MinRecordAge           = 60 * time.Second
	MaxRecordAge           = 604800 * time.Second
	MaxRetryAttempts       = 10000
	MaxTumblingWindow      = 900 * time.Second
	// MaxWindowState is a tumbling window's largest state: "Your state
	// can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
	// terminates the window early." Measured as the state's JSON.
	MaxWindowState = 1 << 20
)

// The function and SQS scaling.
const (
	DefaultFunctionTimeout = 3 * time.Second
	MaxFunctionTimeout     = 900 * time.Second
	MinMaximumConcurrency  = 2
	MaxMaximumConcurrency  = 1000
	LongPoll               = 20 * time.Second // SQS WaitTimeSeconds, Lambda's and the service's maximum
)
