package esmtest

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Test helpers of the Kinesis fake. They bypass Faults and fail t on error;
// a stream argument is a stream name or a stream ARN.

// streamRef returns the StreamName or StreamARN member for a helper's stream
// argument.
func streamRef(stream string) (name, arn *string) {
	if strings.HasPrefix(stream, "arn:") {
		return nil, &stream
	}
	return &stream, nil
}

// MustCreateStream creates a PROVISIONED stream with this many shards and
// returns its ARN, failing the test on error. The stream is ACTIVE at once
// unless [WithKinesisTransitionDelay] is set.
func (k *Kinesis) MustCreateStream(t testing.TB, name string, shards int) (arn string) {
	t.Helper()
	if _, err := k.createStream(&kinesis.CreateStreamInput{StreamName: &name, ShardCount: new(int32(shards))}); err != nil {
		t.Fatalf("esmtest: create stream %s: %v", name, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.streams[name].arn
}

// Put writes one record with partition key pk and returns the shard it went
// to and its sequence number.
func (k *Kinesis) Put(t testing.TB, stream, pk string, data []byte) (shardID, seq string) {
	t.Helper()
	name, arn := streamRef(stream)
	out, err := k.putRecord(&kinesis.PutRecordInput{StreamName: name, StreamARN: arn, PartitionKey: &pk, Data: data})
	if err != nil {
		t.Fatalf("esmtest: put to %s: %v", stream, err)
	}
	return *out.ShardId, *out.SequenceNumber
}

// MustSplitShard splits a shard in the middle of its hash range and returns
// the IDs of the lower and upper children.
func (k *Kinesis) MustSplitShard(t testing.TB, stream, shardID string) (lower, upper string) {
	t.Helper()
	name, arn := streamRef(stream)
	mid, err := k.midpoint(name, arn, shardID)
	if err != nil {
		t.Fatalf("esmtest: split %s of %s: %v", shardID, stream, err)
	}
	if _, err := k.splitShard(&kinesis.SplitShardInput{StreamName: name, StreamARN: arn, ShardToSplit: &shardID, NewStartingHashKey: &mid}); err != nil {
		t.Fatalf("esmtest: split %s of %s: %v", shardID, stream, err)
	}
	c := k.children(name, arn, shardID)
	return c[0], c[1]
}

// MustMergeShards merges two open shards with adjacent hash ranges and
// returns the ID of the child.
func (k *Kinesis) MustMergeShards(t testing.TB, stream, shardID, adjacentID string) string {
	t.Helper()
	name, arn := streamRef(stream)
	if _, err := k.mergeShards(&kinesis.MergeShardsInput{StreamName: name, StreamARN: arn, ShardToMerge: &shardID, AdjacentShardToMerge: &adjacentID}); err != nil {
		t.Fatalf("esmtest: merge %s and %s of %s: %v", shardID, adjacentID, stream, err)
	}
	return k.children(name, arn, shardID)[0]
}

// midpoint returns the hash key that splits a shard's range in two halves.
func (k *Kinesis) midpoint(name, arn *string, shardID string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := k.stream(name, arn)
	if err != nil {
		return "", err
	}
	sh := s.shard(shardID)
	if sh == nil {
		return "", k.shardNotFound(s, shardID)
	}
	m := sh.rng.start.big()
	m.Add(m, sh.rng.end.big()).Rsh(m, 1).Add(m, bigOne)
	return m.String(), nil
}

func (k *Kinesis) children(name, arn *string, shardID string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, _ := k.stream(name, arn)
	var ids []string
	for _, i := range s.shard(shardID).children {
		ids = append(ids, s.shards[i].id)
	}
	return ids
}

// Records returns every record stored in a shard, oldest first, as
// GetRecords would return them.
func (k *Kinesis) Records(t testing.TB, stream, shardID string) []types.Record {
	t.Helper()
	name, arn := streamRef(stream)
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := k.stream(name, arn)
	if err != nil {
		t.Fatalf("esmtest: records of %s: %v", stream, err)
	}
	sh := s.shard(shardID)
	if sh == nil {
		t.Fatalf("esmtest: records of %s: %v", stream, k.shardNotFound(s, shardID))
	}
	return append([]types.Record{}, sh.recs...)
}

// StreamARN returns the ARN of the stream called name, or "" when there is
// none.
func (k *Kinesis) StreamARN(name string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s := k.streams[name]; s != nil {
		return s.arn
	}
	return ""
}
