// Package limits holds Lambda's limits and defaults in one place: package
// esm validates mapping configurations against them and fills in the
// defaults, the engines (internal/streamengine, internal/queueengine)
// default to the same values, so an engine's zero value never means
// something else than Lambda's, and package invoke and package destination
// apply the asynchronous invocation quotas.
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

// Asynchronous invocation (PutFunctionEventInvokeConfig and its quotas).
const (
	DefaultAsyncRetryAttempts = 2 // MaximumRetryAttempts: two retries, three attempts
	MaxAsyncRetryAttempts     = 2
	MinEventAge               = 60 * time.Second // MaximumEventAgeInSeconds
	MaxEventAge               = 6 * time.Hour    // also the default
	MaxAsyncPayload           = 256 << 10        // an asynchronous invocation's event
)

// AsyncRetryDelays are Lambda's waits before the second and the third
// attempt: "a one-minute wait between the first two attempts, and two
// minutes between the second and third attempts".
var AsyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
