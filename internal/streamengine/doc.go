// Package streamengine is the engine behind Kinesis and DynamoDB Streams
// mappings: shard discovery, per-shard readers, batching,
// ParallelizationFactor lanes that keep per-key order, checkpoints through a
// shard.Store, leases and resharding.
//
// Only package esm builds engines, from a validated esm.Config; the
// behaviour a user sees is documented in package shard (the public home of
// the stores and client interfaces the engine uses) and package esm.
package streamengine
