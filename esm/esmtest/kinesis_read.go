package esmtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// GetShardIterator returns an iterator, valid for 5 minutes, at a position of
// a shard: TRIM_HORIZON (the oldest record), LATEST (after the newest),
// AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER (a sequence number of this
// shard, such as its StartingSequenceNumber or a record's), or AT_TIMESTAMP
// (the first record that arrived at or after Timestamp).
func (k *Kinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "GetShardIterator", in, k.getShardIterator)
}

func (k *Kinesis) getShardIterator(in *kinesis.GetShardIteratorInput) (*kinesis.GetShardIteratorOutput, error) {
	if err := missingParams("GetShardIteratorInput", param{"ShardId", in.ShardId != nil}, param{"ShardIteratorType", in.ShardIteratorType != ""}); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	s, err := k.readable(in.StreamName, in.StreamARN, now)
	if err != nil {
		return nil, err
	}
	sh := s.shard(*in.ShardId)
	if sh == nil {
		return nil, k.shardNotFound(s, *in.ShardId)
	}
	pos, err := k.startIndex(s, sh, in.ShardIteratorType, in.StartingSequenceNumber, in.Timestamp, "GetShardIterator", now)
	if err != nil {
		return nil, err
	}
	it := iterToken{stream: s.ordinal, shard: sh.index, pos: pos, issued: now.UnixMilli()}
	return &kinesis.GetShardIteratorOutput{ShardIterator: new(it.encode('K'))}, nil
}

// startIndex returns the index in sh.recs where a read of type t starts:
// TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER (seq),
// or AT_TIMESTAMP (ts). op names the operation in error messages. Callers
// hold k.mu.
func (k *Kinesis) startIndex(s *kStream, sh *kShard, t types.ShardIteratorType, seqIn *string, tsIn *time.Time, op string, now time.Time) (int, error) {
	var pos int
	switch t {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		pos = len(sh.recs)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		if seqIn == nil {
			return 0, invalidArg("StartingSequenceNumber is required for ShardIteratorType %s.", t)
		}
		seq := *seqIn
		idx, c, ok := s.parseSeq(seq)
		if !ok || c >= s.next {
			why := ""
			if len(seq) == 56 && strings.HasPrefix(seq, "49") && seq[2:16] != s.tag {
				why = " because it did not come from this stream"
			}
			return 0, invalidArg("StartingSequenceNumber %s used in %s on shard %s in stream %s under account %s is invalid%s.", seq, op, sh.id, s.name, k.account, why)
		}
		if idx != sh.index {
			return 0, invalidArg("Invalid StartingSequenceNumber. It encodes shardId-%012d, while it was used in a call to a shard with %s.", idx, sh.id)
		}
		pos = sh.ctrs.at(c, t == types.ShardIteratorTypeAfterSequenceNumber)
	case types.ShardIteratorTypeAtTimestamp:
		if tsIn == nil {
			return 0, invalidArg("Timestamp is required for ShardIteratorType AT_TIMESTAMP.")
		}
		ts := sdkTime(*tsIn)
		if ts.After(now) {
			return 0, invalidArg("The timestamp %s is in the future.", ts.Format(time.RFC3339Nano))
		}
		pos = len(sh.recs)
		for i, r := range sh.recs {
			if !r.ApproximateArrivalTimestamp.Before(ts) {
				pos = i
				break
			}
		}
	default:
		return 0, invalidArg("Invalid ShardIteratorType %s.", t)
	}
	return pos, nil
}

// GetRecords returns up to Limit (default and at most 10000) records from an
// iterator's position, at most 10 MB, with MillisBehindLatest (how long ago,
// by the Clock, the first unread record arrived; 0 when none is left) and
// the next iterator. At the end of a closed shard NextShardIterator is nil and
// ChildShards lists the shard's children. An iterator older than 5 minutes
// fails with *types.ExpiredIteratorException.
func (k *Kinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "GetRecords", in, k.getRecords)
}

func (k *Kinesis) getRecords(in *kinesis.GetRecordsInput) (*kinesis.GetRecordsOutput, error) {
	if err := missingParams("GetRecordsInput", param{"ShardIterator", in.ShardIterator != nil}); err != nil {
		return nil, err
	}
	limit, ok := limitOf(in.Limit, kinesisMaxLimit, kinesisMaxLimit)
	if !ok {
		return nil, invalidArg("Limit %d must be between 1 and %d.", *in.Limit, kinesisMaxLimit)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	it, ok := decodeIter(*in.ShardIterator, 'K')
	if !ok || it.stream >= len(k.ordered) || it.shard >= len(k.ordered[it.stream].shards) {
		return nil, invalidArg("Invalid ShardIterator.")
	}
	s := k.ordered[it.stream]
	sh := s.shards[it.shard]
	if it.pos > len(sh.recs) {
		return nil, invalidArg("Invalid ShardIterator.")
	}
	if in.StreamARN != nil && *in.StreamARN != s.arn {
		return nil, invalidArg("StreamARN %s does not match the stream of the ShardIterator.", *in.StreamARN)
	}
	if age := now.UnixMilli() - it.issued; age > kinesisIteratorTTL.Milliseconds() {
		return nil, &types.ExpiredIteratorException{Message: new(fmt.Sprintf(
			"Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.UnixMilli(it.issued).UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), kinesisIteratorTTL.Milliseconds()))}
	}
	if k.readLimits && !sh.admit(now) {
		return nil, &types.ProvisionedThroughputExceededException{Message: new(fmt.Sprintf(
			"Rate exceeded for shard %s in stream %s under account %s.", sh.id, s.name, k.account))}
	}
	end, size := it.pos, 0
	for end < len(sh.recs) && end-it.pos < limit {
		r := &sh.recs[end]
		n := len(r.Data) + len(*r.PartitionKey)
		if end > it.pos && size+n > kinesisMaxResponseBytes {
			break
		}
		size += n
		end++
	}
	if k.readLimits {
		sh.charge(now, size)
	}
	out := &kinesis.GetRecordsOutput{
		Records:            make([]types.Record, end-it.pos),
		MillisBehindLatest: new(int64(0)),
	}
	copy(out.Records, sh.recs[it.pos:end])
	if end < len(sh.recs) {
		*out.MillisBehindLatest = max(0, now.Sub(*sh.recs[end].ApproximateArrivalTimestamp).Milliseconds())
	}
	if !sh.open() && end == len(sh.recs) {
		out.ChildShards = s.childShards(sh)
		return out, nil
	}
	it.pos, it.issued = end, now.UnixMilli()
	out.NextShardIterator = new(it.encode('K'))
	return out, nil
}

// admit reports whether a GetRecords call on the shard is within the read
// limits now.
func (sh *kShard) admit(now time.Time) bool {
	if sh.nCalls >= len(sh.calls) && now.Sub(sh.calls[sh.nCalls%len(sh.calls)]) < time.Second {
		return false
	}
	return !sh.readyAt.After(now)
}

// charge counts a GetRecords call that read n bytes against the read limits.
func (sh *kShard) charge(now time.Time, n int) {
	sh.calls[sh.nCalls%len(sh.calls)] = now
	sh.nCalls++
	sh.readyAt = later(sh.readyAt, now).Add(time.Duration(n) * time.Second / kinesisReadBytesPerSecond)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// childShards describes the children of a closed shard as GetRecords does.
func (s *kStream) childShards(sh *kShard) []types.ChildShard {
	out := make([]types.ChildShard, 0, len(sh.children))
	for _, i := range sh.children {
		c := s.shards[i]
		var parents []string
		for _, p := range []*string{c.parent, c.adjacent} {
			if p != nil {
				parents = append(parents, *p)
			}
		}
		if len(parents) == 2 && parents[0] > parents[1] {
			parents[0], parents[1] = parents[1], parents[0]
		}
		out = append(out, types.ChildShard{
			ShardId:      new(c.id),
			ParentShards: parents,
			HashKeyRange: &types.HashKeyRange{StartingHashKey: new(c.startKey), EndingHashKey: new(c.endKey)},
		})
	}
	return out
}
