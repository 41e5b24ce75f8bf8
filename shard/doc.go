// Package shard is the engine behind Kinesis and DynamoDB Streams mappings:
// shard discovery, per-shard readers, batching, ParallelizationFactor lanes
// that keep per-key order, checkpoints and resharding.
//
// Most users construct mappings through package esm; this package holds the
// narrow client interfaces ([KinesisAPI], [DynamoDBStreamsAPI]) and the
// checkpoint store interface that other stores implement.
package shard
