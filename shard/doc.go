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
// # Starting positions are fixed once
//
// As in Lambda, where the position is fixed when the mapping is created,
// LATEST and AT_TIMESTAMP are resolved once per shard, not at every start.
// Before its first read of a shard without a checkpoint, the engine saves a
// start marker through the Store (Checkpoint.Start): for LATEST the time of
// that read less one second (clockSkew, for a clock running ahead of the
// service's), for AT_TIMESTAMP the configured time. A restarted process, or a
// replica that takes the shard over, resumes from the marker until the first
// record is checkpointed, whatever its own configuration or clock say: on
// Kinesis AT_TIMESTAMP the marker, on DynamoDB Streams (no AT_TIMESTAMP) the
// oldest record, skipping records created before the marker's minute
// (ApproximateCreationDateTime is cut to the second, or the minute on
// DynamoDB Local). So a crash during the first batch loses nothing; it may
// deliver records written up to a second (Kinesis) or a minute (DynamoDB)
// before the mapping first started. An iterator that expires before the
// first record is read resumes the same way. The marker is kept by every
// store (memory, file, lease table, DynamoDB) and fenced like a checkpoint.
//
// # Checkpoint writes and their failures
//
// A shard's checkpoint is written at most once per CheckpointInterval
// (default 1s): what finishes meanwhile is coalesced into the next write. The
// final checkpoint is written at once when the shard stops (shutdown, lease
// hand-off, shard end). After a crash, the records finished within the last
// interval are delivered again (at-least-once). A failed write is retried
// with backoff, reported through the CheckpointFailed hook and the engine's
// Health, and the shard reads no new records until a write succeeds. An
// error wrapping [ErrStoreUnusable] (a checkpoint file of another mapping, a
// directory that cannot be written) or a lease store that says this process
// was superseded ([ErrLeaseLost] from Leases) stops the mapping: Run returns
// the error once every shard has stopped. Start-up errors other than
// not-found and access denied are retried with backoff.
//
// [FileStore], esm's default, keeps one file per mapping in its directory
// (the mapping's name made safe for file names, cut to 64 bytes, then a
// hash of the exact name: <name>-<hash>.checkpoints.json) holding the
// checkpoints of all the mapping's shards. Each write replaces the file
// atomically: a temporary file, fsync, rename, fsync of the directory. The
// shards' saves are group commits: those made while the file is being
// written are written together by the next write, so a mapping's shards
// cost a few writes per CheckpointInterval, not one each (shards written
// together fall due together again). A save returns once a write holding
// it is durable, at most two writes after it was made, so after a crash a
// shard delivers again at most the records finished within its last
// CheckpointInterval and two file writes (milliseconds on a local disk). A
// kill during a write leaves the previous file intact beside a temporary
// file, which the next start removes. Files of earlier versions, named
// without the hash, are read and carried over by the first write.
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
// A batch reaches the handler without a copy: it is a run of the records
// converted from one GetRecords response, grouped by lane when there are
// several. What a handler does to its records (rewriting fields, appending
// to the slice) moves no checkpoint and reaches no other batch, but a retry
// or a bisected half of the same batch is given the same records: treat
// them as read-only, as Lambda's fresh copy per invocation is not made here.
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
// which are Lambda's (kept in internal/limits, which esm validates against
// too); a nil Policy is Lambda's default (retry until the records expire, no
// age limit).
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
//	MinPollInterval        esm.WithPolling(esm.Polling{Idle: …, Busy: busy, Discovery: …})           200ms
//	DiscoveryInterval      esm.WithPolling(…, discovery)         30s
//	Store                  esm.WithStore                         files (esm), memory (here)
//	CheckpointInterval     esm.WithCheckpointInterval            1s
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
