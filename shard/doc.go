// Package shard holds what a Kinesis or DynamoDB Streams mapping keeps per
// shard: the narrow client interfaces ([KinesisAPI], [DynamoDBStreamsAPI]),
// checkpoints ([Checkpoint]) and where they are kept ([Store], with
// [MemoryStore] and [FileStore]), and leases for several processes reading
// one stream ([LeaseStore], the in-memory [LeaseTable], and package
// shard/dynamolease).
//
// Mappings are built with package esm (esm.NewKinesisMapping,
// esm.NewDynamoDBMapping), which validates the configuration and drives the
// stream engine (shard discovery, per-shard readers, batching,
// ParallelizationFactor lanes that keep per-key order, checkpoints and
// resharding). The engine is internal; this documentation describes what it
// does with the stores above, as a mapping's user sees it.
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
// # Enhanced fan-out
//
// A Kinesis mapping whose EventSourceArn is a stream consumer's ARN
// (arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<timestamp>),
// or that names a consumer with esm.WithStreamConsumer, reads every shard
// with SubscribeToShard instead of GetRecords, as Lambda does: records are
// pushed to it as they arrive. The client must also implement
// [KinesisFanOutAPI] ([KinesisConsumerAPI] to register a consumer);
// *kinesis.Client does. Discovery, lanes, batching, retries, checkpoints,
// leases, resharding and hooks are those of the polling reader; only the
// reading differs:
//
//   - At start-up the consumer is described (DescribeStreamConsumer): a
//     missing one stops Run ("Stream consumer not found: <arn>"), one still
//     CREATING is waited for with backoff.
//   - A shard's subscription starts where its reader would: after the
//     checkpoint (AFTER_SEQUENCE_NUMBER), or at the starting position with
//     its start marker (above). Each event's records go to the lanes as a
//     GetRecords response does; RecordsPolled hears of every event.
//   - Kinesis ends every subscription after 5 minutes. The reader then
//     subscribes again AFTER_SEQUENCE_NUMBER of the ContinuationSequenceNumber
//     of the last event it handed to the lanes, so the seam skips and repeats
//     nothing; the same when a subscription fails. Until one event was handed
//     on, a LATEST position is resumed from its start marker (AT_TIMESTAMP).
//   - A shard is subscribed at most once a second (Kinesis's limit per
//     consumer and shard). LimitExceededException is throttling (the
//     Throttled hook, backoff); ResourceInUseException, which Kinesis
//     answers while another subscription of the consumer holds the shard
//     (that of a replica that just lost the lease: Kinesis lets a new one
//     take over after 5 seconds), is retried with backoff. Other failures
//     are retried with backoff and reach Health's LastError.
//   - While the lanes hold BatchSize × ParallelizationFactor unfinished
//     records the reader takes no event: the subscription stays open and
//     unread, the backlog waits in the stream (besides the events already
//     on their way: two in the SDK's reader, and what the connection
//     buffers), and reading resumes when the lanes drain. If Kinesis ends
//     the subscription meanwhile, the next one starts from the same place.
//   - The shard ends with the event that has no ContinuationSequenceNumber
//     (Kinesis sends its ChildShards then): after its records are finished,
//     the shard-end checkpoint is written and the children start, exactly as
//     after GetRecords' last page.
//
// Events carry the stream's ARN as eventSourceARN, and failure records the
// stream's ARN as streamArn; hooks, logs and checkpoints name the mapping's
// EventSourceArn (the consumer's ARN), so a consumer mapping keeps its
// checkpoints apart from a polling mapping of the stream (with
// esm.WithStreamConsumer, EventSourceArn is the stream's, and so are the
// checkpoints). esm.WithPolling's Idle and Busy do not apply.
//
// # Checkpoint writes and their failures
//
// A shard's checkpoint is written at most once per CheckpointInterval
// (default 1s): what finishes meanwhile is coalesced into the next write.
// With the [FileStore], writes fall on ticks every interval since the Unix
// epoch, which every shard (and every mapping) shares, so a busy mapping's
// shards save together and the store, which writes together what is saved
// together, pays one write per interval for all of them; a shard that was
// idle writes at the next tick after its first finished batch. With other
// stores (an item per shard, as in a lease table) each shard keeps its own
// phase, so the writes stay spread over the interval. The final
// checkpoint is written at once when the shard stops (shutdown, lease
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
// shards' saves are group commits: the first save waits a millisecond for
// the others of its tick, and those made while the file is being written
// are written together by the next write, so a mapping's shards cost one
// write per CheckpointInterval, not one each ([FileStore.Writes] counts
// them). A save returns once a write holding it is durable, at most two
// writes after it was made, so after a crash a shard delivers again at
// most the records finished within its last CheckpointInterval and two
// file writes (milliseconds on a local disk). A
// kill during a write leaves the previous file intact beside a temporary
// file, which the next start removes. Files of earlier versions, named
// without the hash, are read and carried over by the first write.
//
// Each shard has one reader (with enhanced fan-out, a subscription: see
// above). It polls again at once (but at most every
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
// # Tumbling windows
//
// With a TumblingWindow (Lambda's TumblingWindowInSeconds, 1s to 900s;
// esm.NewKinesisWindowMapping, esm.NewDynamoDBWindowMapping), each shard's
// records fall in windows aligned on the Unix epoch by their arrival time
// (Kinesis ApproximateArrivalTimestamp, DynamoDB ApproximateCreationDateTime),
// as the developer guide's example event shows: arrival 07:04:35, window
// 07:04:00-07:06:00 for 120 seconds. A shard with a window has one lane
// (ParallelizationFactor 1, which package esm enforces), and a batch holds
// records of one window. Each invocation gets the state the previous
// invocation of the window returned ({} in the window's first) and must
// return a state: "If the response does not contain a state property, Lambda
// considers this a failed invocation". Such a failure, like a function error,
// is retried, bisected or discarded under the retry policy; discarded records
// leave the state as it was. A partial batch response finishes the records
// before the failed one with the state it returned, and the rest is retried
// with that state.
//
// A window closes once all its records were read: when the next record
// belongs to a later window, when a read that started 5s after the window's
// end came back empty (an idle shard: the delay covers records that become
// readable a little after they arrive, and a clock ahead of the
// service's), or when the shard ends (so a split or a merge closes the
// parent's window early, and the children start fresh windows, as Lambda
// says: "When the shard ends, Lambda considers the window closed, and the
// child shards start their own window in a fresh state"). The window's
// final invocation then carries its state, no records ("Records": []) and
// isFinalInvokeForWindow. It is retried with the policy's backoff until it
// succeeds ("your Lambda function suspends further processing until a
// successful invocation"): MaximumRetryAttempts and MaximumRecordAge do not
// apply to it, since it has no record to discard, and nothing of the next
// window is invoked meanwhile.
//
// A state whose JSON is larger than 1 MB (1,048,576 bytes) ends the window
// early: a final invocation with that state and isWindowTerminatedEarly, after
// which the same window goes on with a fresh state ({}), as aws-lambda-go
// documents the flag ("Subsequent invoke will continue the same window with a
// fresh state"). A store that holds less ([WindowStateLimiter]:
// shard/dynamolease holds 384 KB) lowers that limit. The records of the
// invocation that returned the large state are finished only when that final
// invocation succeeded, so no checkpoint holds a state beyond the limit.
//
// The checkpoint carries the window's start and state ([Checkpoint].Window),
// changed in one step with the records each invocation finished, and every
// store keeps it in the same write as the sequence number. A restart or a
// lease hand-off resumes the window with its state, and a window that ended
// while the mapping was stopped is closed first. The window leaves the
// checkpoint only when its final invocation succeeded; the shard's end is
// recorded only after the window open there is closed.
//
// Windows never go back: a record that arrives after its window closed (its
// arrival time is approximate, or cut to the minute on DynamoDB Local) goes
// to the last window, which then continues with a fresh state and gets a
// second final invocation, as after an early termination. Records are
// delivered at least once; a record delivered again after a crash is
// aggregated again, as in Lambda ("In rare cases, such as error handling,
// some records might be processed more than once").
//
// # Shutdown
//
// A mapping's Shutdown stops reading, lets each lane finish the invocation in
// flight and hand on, once each, the records it already read (no retry,
// split or backoff starts: a batch that fails then stays behind the
// checkpoint), writes final checkpoints and waits for Run. Draining the
// lanes matters with ParallelizationFactor above 1: a record one lane
// finished is ahead of the checkpoint while an earlier record waits in
// another, and would be delivered again after a restart; drained, the final
// checkpoint passes every record read, so a restart (a deploy, a registry
// update) delivers none of them again. The drain takes at most the records
// the shard reads ahead (BatchSize × ParallelizationFactor); when
// Shutdown's context ends first, the invocations are cancelled and what is
// unfinished is read again on the next start: at-least-once delivery.
// Tumbling-window lanes (ParallelizationFactor 1) stop after the
// invocation in flight.
//
// # Configuration
//
// Package esm validates a Config and passes the engine settings with
// Lambda's defaults filled in, from one place (internal/limits): the engine
// never applies a default of its own.
//
//	esm.Config field / option                            default
//	BatchSize                                            100
//	MaximumBatchingWindowInSeconds                       0
//	ParallelizationFactor                                1
//	StartingPosition (+StartingPositionTimestamp)        required
//	TumblingWindow (window constructors only)            none; 1s to 900s
//	FunctionTimeout                                      3s
//	MaximumRetryAttempts, MaximumRecordAgeInSeconds,
//	BisectBatchOnFunctionError, FunctionResponseTypes,
//	esm.WithRetryBackoff                                 retry until the records expire
//	esm.WithPolling(esm.Polling{Idle, Busy, Discovery})  1s Kinesis / 250ms DynamoDB, 200ms, 30s
//	esm.WithStreamConsumer (Kinesis)                     none: EventSourceArn decides
//	esm.WithStore                                        files under esm.DefaultCheckpointDir
//	esm.WithCheckpointInterval                           1s
//	esm.WithLeaseInterval                                1s
//	Enabled=false                                        enabled
//	(payload cap, GetRecords limit)                      6 MB, the service's maximum
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
//   - KPL de-aggregation is not implemented.
//   - Tumbling windows: when a window closes on an idle shard is not
//     documented; here its final invocation comes after an empty read that
//     started 5s after the window's end (so a few seconds after the end). A
//     final invocation never carries records (Lambda's documentation does
//     not say whether the last batch of a window may be the final one). The
//     final invocation is retried until it succeeds and is not counted
//     against MaximumRetryAttempts; a state over the limit ends the window
//     with one final invocation that has both flags set, and the next
//     invocations continue the same window with {}. A record that arrives
//     after its window closed goes to the last window instead of reopening
//     its own. A mapping whose TumblingWindow is removed (an update) drops
//     the state of an open window without a final invocation; after a
//     change of its length, the open window keeps its start and ends at
//     the start plus the new length. A response without state counts as a
//     function error (functionError "Unhandled" in a failure record): AWS
//     says only that it is a failed invocation.
//     A Kinesis GetRecords that comes back empty while the reader is behind
//     (it can, on a sparse shard) would close a window early; its late
//     records then continue it as above.
//   - Enhanced fan-out: which eventSourceARN Lambda's events carry for a
//     consumer mapping is not documented; these carry the stream's ARN. How
//     Lambda holds back a subscription while the function is behind is not
//     documented either: this reader stops reading the event stream (above).
//     esm.WithStreamConsumer, which registers the consumer, is this
//     library's (with Lambda the consumer is registered beforehand), and the
//     consumer it registers is never deregistered.
//   - The DynamoDB payload size is measured by marshalling each record; the
//     Kinesis one is computed from field lengths.
//
// # Testing
//
// esm/esmtest's Kinesis and DynamoDBStreams fakes satisfy [KinesisAPI]
// (and [KinesisFanOutAPI], [KinesisConsumerAPI]) and [DynamoDBStreamsAPI],
// with fault injection and resharding; under testing/synctest, polling,
// backoff, record age and the 5-minute end of subscriptions run in fake
// time. Against kinesis-local, enhanced fan-out needs the initial-response
// shim of internal/awstest, pushes about one event a second (so its latency
// is worse than polling there), and never ends a closed shard's
// subscription (no ChildShards), so a consumer mapping does not follow a
// split there.
// [MemoryStore] keeps checkpoints in a test, and [LeaseTable] shares a stream
// among several mappings in one process.
package shard
