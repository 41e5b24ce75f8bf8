// Package shard is the engine behind Kinesis and DynamoDB Streams mappings:
// shard discovery, per-shard readers, batching, ParallelizationFactor lanes
// that keep per-key order, checkpoints and resharding.
//
// Most users construct mappings through package esm; this package holds the
// narrow client interfaces ([KinesisAPI], [DynamoDBStreamsAPI]), the
// checkpoint [Store] interface with its in-memory and file implementations,
// and the [Engine] that package esm drives.
//
// # Semantics
//
// Discovery lists the shards (Kinesis ListShards by StreamARN, DynamoDB
// DescribeStream, both paginated) at start, every DiscoveryInterval (30s) and
// whenever a shard ends. A shard is read only when every parent listed with
// it has been read to its end and its last record finished; children then
// start at TRIM_HORIZON, so a merge waits for both parents. A shard with a
// checkpoint resumes AFTER_SEQUENCE_NUMBER of it; a shard without one starts
// at StartingPosition.
//
// Each shard has one reader. It polls again at once (but at most every
// MinPollInterval, 200ms: Kinesis allows 5 GetRecords per second per shard)
// while reads return records, and every PollInterval when idle (1s for
// Kinesis, 250ms for DynamoDB, as Lambda). Throttling backs off with jitter
// and never counts as a function error; an expired iterator is replaced by
// one AFTER_SEQUENCE_NUMBER of the last record read; other service errors
// are retried with backoff. No record is skipped because of a service error.
//
// Records go to one of ParallelizationFactor lanes by a hash of the
// partition key (Kinesis) or of the item's key attributes (DynamoDB). A lane
// invokes one batch at a time in sequence order, so records with one key are
// handled in order while lanes run concurrently. A batch holds up to
// BatchSize records of one shard and at most MaxPayload (6 MB) of event JSON;
// with a BatchingWindow, a lane waits up to the window for a full batch, the
// window starting when its previous invocation completed. The reader waits
// while the shard's lanes hold more than BatchSize × ParallelizationFactor
// unfinished records, which bounds memory.
//
// A failed invocation is decided by the retry policy (package retry): retry
// with backoff, bisect, partial batch response, discard. Until a record is
// finished (handled, filtered out, or discarded and delivered to the failure
// destination), the shard's checkpoint cannot pass it, however the lanes
// interleave: the checkpoint is the last record before which every record is
// finished. Checkpoints are written by one writer per shard that coalesces
// bursts, and once more when the shard stops.
//
// # Shutdown
//
// Engine.Shutdown stops reading, lets each lane finish the invocation in
// flight (without starting retries or new batches), writes final
// checkpoints and waits for Run. Records read but not invoked stay behind the
// checkpoint and are read again on the next start: at-least-once delivery.
//
// # Configuration
//
// Package esm turns a Config into Settings. Zero fields get the defaults below,
// except Policy, whose zero value retries nothing: esm fills in Lambda's
// (retry until the records expire, no age limit).
//
//	Settings field         esm.Config / option                   default
//	BatchSize              BatchSize                             100
//	BatchingWindow         MaximumBatchingWindow                 0
//	ParallelizationFactor  ParallelizationFactor                 1
//	StartingPosition       StartingPosition (+Timestamp)         LATEST (esm requires it)
//	FunctionTimeout        FunctionTimeout                       3s
//	Policy                 MaximumRetryAttempts, MaximumRecordAge,
//	                       BisectBatchOnFunctionError, FunctionResponseTypes,
//	                       esm.WithRetryBackoff                  see above
//	PollInterval           esm.WithPolling(idle, …)              1s Kinesis, 250ms DynamoDB
//	MinPollInterval        esm.WithPolling(…, busy, …)           200ms
//	DiscoveryInterval      esm.WithPolling(…, discovery)         30s
//	Store                  esm.WithStore                         files (esm), memory (here)
//	LeaseInterval          esm.WithLeaseInterval                 1s
//	Disabled               Enabled=false                         false
//	MaxPayload, ReadLimit  —                                     6 MB, the service's maximum
//
// # Differences from AWS
//
//   - Lambda's ParallelizationFactor model (hash of the key to a "virtual
//     shard") is inferred, not documented bit-for-bit; this engine batches per
//     lane, so a batch holds records of one lane.
//   - A handler that ignores its context past FunctionTimeout cannot be
//     killed: the engine waits for it to return, then counts the invocation
//     as timed out ("Task timed out after N seconds").
//   - On its first start with LATEST, closed shards without a checkpoint are
//     skipped, as they hold no record newer than LATEST.
//   - Enhanced fan-out (SubscribeToShard), tumbling windows and KPL
//     de-aggregation are not implemented.
//   - The DynamoDB payload size is measured by marshalling each record; the
//     Kinesis one is computed from field lengths.
//
// # Testing
//
// esm/esmtest's Kinesis and DynamoDBStreams fakes satisfy KinesisAPI and
// DynamoDBStreamsAPI, with fault injection and resharding; under
// testing/synctest, polling, backoff and record age run in fake time.
// MemoryStore keeps checkpoints in a test, and LeaseTable shares a stream
// among several engines in one process.
package shard
