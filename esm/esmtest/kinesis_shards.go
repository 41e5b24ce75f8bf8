package esmtest

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// DescribeStream describes a stream and up to Limit (default and at most 100)
// of its shards, closed ones included, after ExclusiveStartShardId.
func (k *Kinesis) DescribeStream(ctx context.Context, in *kinesis.DescribeStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "DescribeStream", in, k.describeStream)
}

func (k *Kinesis) describeStream(in *kinesis.DescribeStreamInput) (*kinesis.DescribeStreamOutput, error) {
	limit, ok := limitOf(in.Limit, kinesisDescribePage, kinesisMaxListShards)
	if !ok {
		return nil, invalidArg("Limit must be between 1 and %d.", kinesisMaxListShards)
	}
	limit = min(limit, kinesisDescribePage)
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := k.stream(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	after := ""
	if in.ExclusiveStartShardId != nil {
		after = *in.ExclusiveStartShardId
	}
	shards := []types.Shard{}
	more := false
	for _, sh := range s.shards {
		if sh.id <= after {
			continue
		}
		if len(shards) == limit {
			more = true
			break
		}
		shards = append(shards, sh.sdk())
	}
	sum := s.summary(k.clock.Now())
	return &kinesis.DescribeStreamOutput{StreamDescription: &types.StreamDescription{
		StreamName: sum.StreamName, StreamARN: sum.StreamARN, StreamStatus: sum.StreamStatus,
		StreamModeDetails: sum.StreamModeDetails, StreamCreationTimestamp: sum.StreamCreationTimestamp,
		RetentionPeriodHours: sum.RetentionPeriodHours, EnhancedMonitoring: sum.EnhancedMonitoring,
		EncryptionType: sum.EncryptionType, Shards: shards, HasMoreShards: new(more),
	}}, nil
}

// sdk describes the shard; the strings are copies.
func (sh *kShard) sdk() types.Shard {
	out := types.Shard{
		ShardId:      new(sh.id),
		HashKeyRange: &types.HashKeyRange{StartingHashKey: new(sh.startKey), EndingHashKey: new(sh.endKey)},
		SequenceNumberRange: &types.SequenceNumberRange{
			StartingSequenceNumber: new(sh.startSeq),
		},
	}
	if sh.parent != nil {
		out.ParentShardId = new(*sh.parent)
	}
	if sh.adjacent != nil {
		out.AdjacentParentShardId = new(*sh.adjacent)
	}
	if sh.endSeq != nil {
		out.SequenceNumberRange.EndingSequenceNumber = new(*sh.endSeq)
	}
	return out
}

// listFilter codes, as stored in a ListShards NextToken.
const (
	listAll = iota
	listAfterShardID
	listAtTrimHorizon
	listFromTrimHorizon
	listAtLatest
	listAtTimestamp
	listFromTimestamp
)

var listFilters = map[types.ShardFilterType]int{
	types.ShardFilterTypeAfterShardId:    listAfterShardID,
	types.ShardFilterTypeAtTrimHorizon:   listAtTrimHorizon,
	types.ShardFilterTypeFromTrimHorizon: listFromTrimHorizon,
	types.ShardFilterTypeAtLatest:        listAtLatest,
	types.ShardFilterTypeAtTimestamp:     listAtTimestamp,
	types.ShardFilterTypeFromTimestamp:   listFromTimestamp,
}

// ListShards lists the shards of a stream, closed ones included, in shard ID
// order, MaxResults (default and at most 1000) at a time. NextToken expires
// after 300 seconds. Every ShardFilter type is supported; the trim horizon is
// 24 hours ago or the stream's creation, whichever is later.
func (k *Kinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "ListShards", in, k.listShards)
}

func (k *Kinesis) listShards(in *kinesis.ListShardsInput) (*kinesis.ListShardsOutput, error) {
	if in.ShardFilter != nil && in.ShardFilter.Type == "" {
		return nil, missingParams("ListShardsInput", param{"ShardFilter.Type", false})
	}
	page, ok := limitOf(in.MaxResults, kinesisListShardsPage, kinesisMaxListShards)
	if !ok {
		return nil, invalidArg("MaxResults must be between 1 and %d.", kinesisMaxListShards)
	}
	page = min(page, kinesisListShardsPage)
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	var (
		s   *kStream
		tok iterToken // shard: first index to list; pos: filter; at: filter time
	)
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamARN != nil || in.ExclusiveStartShardId != nil {
			return nil, invalidArg("NextToken cannot be combined with StreamName, StreamARN or ExclusiveStartShardId.")
		}
		t, ok := decodeIter(*in.NextToken, 'L')
		if !ok || t.stream >= len(k.ordered) {
			return nil, invalidArg("Invalid NextToken.")
		}
		if now.UnixMilli()-t.issued > kinesisNextTokenTTL.Milliseconds() {
			return nil, &types.ExpiredNextTokenException{Message: new("The NextToken has expired.")}
		}
		s, tok = k.ordered[t.stream], t
	} else {
		var err error
		if s, err = k.readable(in.StreamName, in.StreamARN, now); err != nil {
			return nil, err
		}
		tok.stream = s.ordinal
		if in.ExclusiveStartShardId != nil {
			tok.shard = s.firstAfter(*in.ExclusiveStartShardId)
		}
		if err := s.applyFilter(in.ShardFilter, now, &tok); err != nil {
			return nil, err
		}
	}
	shards := []types.Shard{}
	i := tok.shard
	for ; i < len(s.shards) && len(shards) < page; i++ {
		if sh := s.shards[i]; s.listed(sh, tok.pos, time.UnixMilli(tok.at)) {
			shards = append(shards, sh.sdk())
		}
	}
	out := &kinesis.ListShardsOutput{Shards: shards}
	for ; i < len(s.shards); i++ {
		if s.listed(s.shards[i], tok.pos, time.UnixMilli(tok.at)) {
			tok.shard, tok.issued = i, now.UnixMilli()
			out.NextToken = new(tok.encode('L'))
			break
		}
	}
	return out, nil
}

// firstAfter returns the index of the first shard whose ID sorts after id.
func (s *kStream) firstAfter(id string) int {
	for i, sh := range s.shards {
		if sh.id > id {
			return i
		}
	}
	return len(s.shards)
}

// applyFilter records a ShardFilter into tok.
func (s *kStream) applyFilter(f *types.ShardFilter, now time.Time, tok *iterToken) error {
	if f == nil {
		return nil
	}
	code, ok := listFilters[f.Type]
	if !ok {
		return invalidArg("Unknown ShardFilter type %s.", f.Type)
	}
	tok.pos = code
	at := now.Add(-kinesisRetentionHours * time.Hour) // trim horizon
	switch code {
	case listAfterShardID:
		if f.ShardId == nil {
			return invalidArg("ShardFilter type AFTER_SHARD_ID requires a ShardId.")
		}
		tok.shard = max(tok.shard, s.firstAfter(*f.ShardId))
	case listAtTimestamp, listFromTimestamp:
		if f.Timestamp == nil {
			return invalidArg("ShardFilter type %s requires a Timestamp.", f.Type)
		}
		at = *f.Timestamp
	}
	if at.Before(s.created) {
		at = s.created
	}
	tok.at = at.UnixMilli()
	return nil
}

// listed reports whether shard sh passes a ListShards filter at time at. At
// (or before) the stream's creation only the shards it was created with were
// open, even when a reshard happened within the same millisecond (as it does
// under testing/synctest, where time stands still).
func (s *kStream) listed(sh *kShard, filter int, at time.Time) bool {
	atCreation := !at.After(s.created)
	openAt := !sh.created.After(at) && (sh.open() || sh.closed.After(at))
	if atCreation {
		openAt = sh.parent == nil
	}
	switch filter {
	case listAtTrimHorizon, listAtTimestamp:
		return openAt
	case listFromTrimHorizon, listFromTimestamp:
		return atCreation || sh.open() || sh.closed.After(at)
	case listAtLatest:
		return sh.open()
	}
	return true
}

// reshardable resolves an ACTIVE stream and open shards of it, for SplitShard
// and MergeShards.
func (k *Kinesis) reshardable(name, arn *string, now time.Time, ids ...string) (*kStream, []*kShard, error) {
	s, err := k.stream(name, arn)
	if err != nil {
		return nil, nil, err
	}
	if st := s.status(now); st != types.StreamStatusActive {
		return nil, nil, inUse("Stream %s under account %s not ACTIVE, instead in state %s.", s.name, k.account, st)
	}
	shards := make([]*kShard, len(ids))
	for i, id := range ids {
		if shards[i] = s.shard(id); shards[i] == nil {
			return nil, nil, k.shardNotFound(s, id)
		}
		if !shards[i].open() {
			return nil, nil, inUse("Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", id, s.name, k.account)
		}
	}
	return s, shards, nil
}

// SplitShard closes ShardToSplit and opens two children: the lower one owns
// the hash keys below NewStartingHashKey, the upper one the rest. Both name
// the closed shard as ParentShardId.
func (k *Kinesis) SplitShard(ctx context.Context, in *kinesis.SplitShardInput, _ ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "SplitShard", in, k.splitShard)
}

func (k *Kinesis) splitShard(in *kinesis.SplitShardInput) (*kinesis.SplitShardOutput, error) {
	if err := missingParams("SplitShardInput", param{"ShardToSplit", in.ShardToSplit != nil}, param{"NewStartingHashKey", in.NewStartingHashKey != nil}); err != nil {
		return nil, err
	}
	at, ok := parseHash(*in.NewStartingHashKey)
	if !ok {
		return nil, invalidArg("NewStartingHashKey %s is not a valid hash key.", *in.NewStartingHashKey)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := sdkTime(k.clock.Now())
	s, shards, err := k.reshardable(in.StreamName, in.StreamARN, now, *in.ShardToSplit)
	if err != nil {
		return nil, err
	}
	p := shards[0]
	if at.cmp(p.rng.start) <= 0 || at.cmp(p.rng.end) > 0 {
		return nil, invalidArg("NewStartingHashKey %s is not within the hash range of shard %s (excluding its first key).", *in.NewStartingHashKey, p.id)
	}
	s.closeShard(p, now)
	s.addShard(hashRange{p.rng.start, at.add(-1)}, p, nil, now)
	s.addShard(hashRange{at, p.rng.end}, p, nil, now)
	s.updating = now.Add(k.delay)
	return &kinesis.SplitShardOutput{}, nil
}

// MergeShards closes two open shards with adjacent hash ranges and opens one
// child owning both ranges, with ParentShardId ShardToMerge and
// AdjacentParentShardId AdjacentShardToMerge.
func (k *Kinesis) MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, _ ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "MergeShards", in, k.mergeShards)
}

func (k *Kinesis) mergeShards(in *kinesis.MergeShardsInput) (*kinesis.MergeShardsOutput, error) {
	if err := missingParams("MergeShardsInput", param{"ShardToMerge", in.ShardToMerge != nil}, param{"AdjacentShardToMerge", in.AdjacentShardToMerge != nil}); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := sdkTime(k.clock.Now())
	s, shards, err := k.reshardable(in.StreamName, in.StreamARN, now, *in.ShardToMerge, *in.AdjacentShardToMerge)
	if err != nil {
		return nil, err
	}
	a, b := shards[0], shards[1]
	lo, hi := a, b
	if b.rng.start.cmp(a.rng.start) < 0 {
		lo, hi = b, a
	}
	if lo.rng.end == maxHash || lo.rng.end.add(1) != hi.rng.start {
		return nil, invalidArg("Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging.", a.id, b.id, s.name, k.account)
	}
	s.closeShard(a, now)
	s.closeShard(b, now)
	s.addShard(hashRange{lo.rng.start, hi.rng.end}, a, b, now)
	s.updating = now.Add(k.delay)
	return &kinesis.MergeShardsOutput{}, nil
}
