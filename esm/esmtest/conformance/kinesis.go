package conformance

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"
)

// KinesisAPI is the part of the Kinesis Data Streams API the suite calls.
// *kinesis.Client and *esmtest.Kinesis satisfy it.
type KinesisAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	PutRecord(ctx context.Context, in *kinesis.PutRecordInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	SplitShard(ctx context.Context, in *kinesis.SplitShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
	MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
}

var _ KinesisAPI = (*kinesis.Client)(nil)

// KinesisHarness is a Kinesis target for [RunKinesis].
type KinesisHarness interface {
	Target
	// Kinesis returns the client under test.
	Kinesis() KinesisAPI
	// NewStream creates a PROVISIONED stream, new and named after t, with
	// this many shards, waits until it is ACTIVE, and returns its name. It
	// fails t on error, and may delete the stream when t ends.
	NewStream(t *testing.T, shards int) string
}

// RunKinesis runs the Kinesis conformance suite against h: every iterator
// type lands on the right record, Limit and MillisBehindLatest, sequence
// numbers increase per shard, partition keys and explicit hash keys are
// routed by hash range, the end of a closed shard (NextShardIterator nil and
// ChildShards), split and merge lineage, and ListShards pagination and
// filters.
func RunKinesis(t *testing.T, h KinesisHarness) {
	t.Helper()
	runSuite(t, "Kinesis", h, []suiteTest[KinesisHarness]{
		{name: "IteratorTypes", run: kinesisIteratorTypes},
		{name: "LimitAndMillisBehindLatest", run: kinesisLimit},
		{name: "SequenceNumbersIncreasePerShard", run: kinesisSequenceNumbers},
		{name: "HashKeyRouting", run: kinesisRouting},
		{name: "SplitLineageAndClosedShardEnd", run: kinesisSplit},
		{name: "MergeLineage", run: kinesisMerge},
		{name: "ListShardsPagination", run: kinesisListShardsPages},
		{name: "ShardFilters", run: kinesisShardFilters},
		{name: "ShardFilterAtTrimHorizon", needs: []Capability{KinesisAtTrimHorizonFilter}, run: kinesisAtTrimHorizon},
		{name: "InvalidIterator", needs: []Capability{KinesisInvalidIteratorError}, run: kinesisInvalidIterator},
	})
}

// The 128-bit hash key space of Kinesis.
var (
	maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	midHashKey = new(big.Int).Lsh(big.NewInt(1), 127) // the first key of the upper half
)

func kinesisIteratorTypes(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 1)
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	latestBefore := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeLatest, "", nil)

	seqs := kinesisPut(ctx, t, c, stream, kinesisEntries("r", 0, 5)...)
	time.Sleep(20 * time.Millisecond) // the next records arrive in a later millisecond
	seqs = append(seqs, kinesisPut(ctx, t, c, stream, kinesisEntries("r", 5, 2)...)...)
	all := []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}

	trim := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeTrimHorizon, "", nil)
	recs, _ := kinesisReadN(ctx, t, c, trim, 7)
	require.Equal(t, all, kinesisData(recs), "TRIM_HORIZON reads every record from the oldest")
	for i, r := range recs {
		require.Equal(t, seqs[i].seq, *r.SequenceNumber, "record %d keeps the sequence number PutRecords returned", i)
		require.NotNil(t, r.ApproximateArrivalTimestamp, "record %d has an ApproximateArrivalTimestamp", i)
	}
	got, _ := kinesisReadN(ctx, t, c, latestBefore, 7)
	require.Equal(t, all, kinesisData(got), "a LATEST iterator taken before the puts reads them all")

	at := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeAtSequenceNumber, seqs[2].seq, nil)
	got, _ = kinesisReadN(ctx, t, c, at, 5)
	require.Equal(t, all[2:], kinesisData(got), "AT_SEQUENCE_NUMBER starts at that record")
	after := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeAfterSequenceNumber, seqs[2].seq, nil)
	got, _ = kinesisReadN(ctx, t, c, after, 4)
	require.Equal(t, all[3:], kinesisData(got), "AFTER_SEQUENCE_NUMBER starts after that record")

	ts := *recs[5].ApproximateArrivalTimestamp
	require.True(t, ts.After(*recs[4].ApproximateArrivalTimestamp), "r5 (%v) arrived after r4 (%v)", ts, *recs[4].ApproximateArrivalTimestamp)
	atTime := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeAtTimestamp, "", &ts)
	got, _ = kinesisReadN(ctx, t, c, atTime, 2)
	require.Equal(t, all[5:], kinesisData(got), "AT_TIMESTAMP starts at the first record that arrived at or after it")

	latest := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeLatest, "", nil)
	out := kinesisGet(ctx, t, c, latest, 0)
	require.Empty(t, out.Records, "LATEST reads nothing until a new record arrives")
	require.NotNil(t, out.NextShardIterator, "an open shard always has a next iterator")
	kinesisPut(ctx, t, c, stream, kinesisEntries("r", 7, 1)...)
	got, _ = kinesisReadN(ctx, t, c, out.NextShardIterator, 1)
	require.Equal(t, []string{"r7"}, kinesisData(got), "LATEST reads the records put after it was taken")
}

func kinesisLimit(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 1)
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	kinesisPut(ctx, t, c, stream, kinesisEntries("r", 0, 5)...)

	it := kinesisIterator(ctx, t, c, stream, shard, ktypes.ShardIteratorTypeTrimHorizon, "", nil)
	out := kinesisGet(ctx, t, c, it, 2)
	require.Equal(t, []string{"r0", "r1"}, kinesisData(out.Records), "Limit caps the records of one GetRecords")
	require.NotNil(t, out.MillisBehindLatest, "GetRecords reports MillisBehindLatest")
	require.GreaterOrEqual(t, *out.MillisBehindLatest, int64(0))
	rest, next := kinesisReadN(ctx, t, c, out.NextShardIterator, 3)
	require.Equal(t, []string{"r2", "r3", "r4"}, kinesisData(rest), "the next iterator continues after the last record read")

	tip := kinesisGet(ctx, t, c, next, 0)
	require.Empty(t, tip.Records)
	require.NotNil(t, tip.MillisBehindLatest)
	require.Zero(t, *tip.MillisBehindLatest, "MillisBehindLatest is 0 at the tip")
	require.NotNil(t, tip.NextShardIterator, "an open shard always has a next iterator")
	require.Empty(t, tip.ChildShards, "an open shard has no ChildShards")
}

func kinesisSequenceNumbers(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 2)
	shards := kinesisShards(ctx, t, c, stream, nil)
	puts := kinesisPut(ctx, t, c, stream, kinesisEntries("k", 0, 12)...)
	for i := 12; i < 18; i++ { // single puts too
		e := kinesisEntries("k", i, 1)[0]
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &stream, PartitionKey: e.PartitionKey, Data: e.Data})
		require.NoError(t, err)
		puts = append(puts, kinesisPutResult{shard: *out.ShardId, seq: *out.SequenceNumber, data: string(e.Data)})
	}
	byShard := map[string][]kinesisPutResult{}
	for _, p := range puts {
		byShard[p.shard] = append(byShard[p.shard], p)
	}
	require.Len(t, byShard, 2, "18 partition keys reach both shards")
	for _, sh := range shards {
		id := *sh.ShardId
		want := byShard[id]
		start := decimal(t, *sh.SequenceNumberRange.StartingSequenceNumber)
		for i, p := range want {
			require.GreaterOrEqual(t, decimal(t, p.seq).Cmp(start), 0, "%s: sequence number %s is not below the shard's StartingSequenceNumber", id, p.seq)
			if i > 0 {
				require.Positive(t, decimal(t, p.seq).Cmp(decimal(t, want[i-1].seq)), "%s: sequence numbers increase in put order: %s then %s", id, want[i-1].seq, p.seq)
			}
		}
		it := kinesisIterator(ctx, t, c, stream, id, ktypes.ShardIteratorTypeTrimHorizon, "", nil)
		recs, _ := kinesisReadN(ctx, t, c, it, len(want))
		require.Len(t, recs, len(want))
		for i, r := range recs {
			require.Equal(t, want[i].seq, *r.SequenceNumber, "%s: GetRecords returns the records in put order", id)
			require.Equal(t, want[i].data, string(r.Data))
		}
	}
}

func kinesisRouting(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 3)
	shards := kinesisShards(ctx, t, c, stream, nil)
	require.Len(t, shards, 3)
	require.Equal(t, "0", *shards[0].HashKeyRange.StartingHashKey, "the first shard starts at hash key 0")
	require.Equal(t, maxHashKey.String(), *shards[2].HashKeyRange.EndingHashKey, "the last shard ends at 2^128-1")
	for i := 1; i < len(shards); i++ {
		prev := decimal(t, *shards[i-1].HashKeyRange.EndingHashKey)
		require.Equal(t, new(big.Int).Add(prev, big.NewInt(1)).String(), *shards[i].HashKeyRange.StartingHashKey, "hash ranges are contiguous")
	}
	owner := func(h *big.Int) string {
		for _, sh := range shards {
			if decimal(t, *sh.HashKeyRange.StartingHashKey).Cmp(h) <= 0 && h.Cmp(decimal(t, *sh.HashKeyRange.EndingHashKey)) <= 0 {
				return *sh.ShardId
			}
		}
		t.Fatalf("no shard owns hash key %s", h)
		return ""
	}
	entries := kinesisEntries("pk", 0, 30)
	for i, p := range kinesisPut(ctx, t, c, stream, entries...) {
		sum := md5.Sum([]byte(*entries[i].PartitionKey))
		require.Equal(t, owner(new(big.Int).SetBytes(sum[:])), p.shard, "partition key %s goes to the shard owning its MD5", *entries[i].PartitionKey)
	}
	second := decimal(t, *shards[1].HashKeyRange.StartingHashKey)
	for _, key := range []*big.Int{big.NewInt(0), new(big.Int).Sub(second, big.NewInt(1)), second, maxHashKey} {
		e := ktypes.PutRecordsRequestEntry{PartitionKey: new("same"), ExplicitHashKey: new(key.String()), Data: []byte("x")}
		p := kinesisPut(ctx, t, c, stream, e)[0]
		require.Equal(t, owner(key), p.shard, "ExplicitHashKey %s overrides the partition key", key)
	}
}

func kinesisSplit(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 1)
	parent := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	puts := kinesisPut(ctx, t, c, stream, kinesisEntries("p", 0, 3)...)
	before := kinesisIterator(ctx, t, c, stream, parent, ktypes.ShardIteratorTypeTrimHorizon, "", nil)

	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &stream, ShardToSplit: &parent, NewStartingHashKey: new(midHashKey.String())})
	require.NoError(t, err)
	shards := kinesisWaitShards(ctx, t, c, stream, 3)
	byID := kinesisByID(shards)
	require.NotNil(t, byID[parent].SequenceNumberRange.EndingSequenceNumber, "the split shard is closed")
	var lo, hi string
	for _, sh := range shards {
		if *sh.ShardId == parent {
			continue
		}
		require.Equal(t, parent, deref(sh.ParentShardId), "child %s names the split shard as parent", *sh.ShardId)
		require.Nil(t, sh.AdjacentParentShardId, "a split child has no adjacent parent")
		require.Nil(t, sh.SequenceNumberRange.EndingSequenceNumber, "child %s is open", *sh.ShardId)
		if *sh.HashKeyRange.StartingHashKey == "0" {
			lo = *sh.ShardId
		} else {
			hi = *sh.ShardId
		}
	}
	require.NotEmpty(t, lo)
	require.NotEmpty(t, hi)
	require.Equal(t, new(big.Int).Sub(midHashKey, big.NewInt(1)).String(), *byID[lo].HashKeyRange.EndingHashKey, "the lower child ends below NewStartingHashKey")
	require.Equal(t, midHashKey.String(), *byID[hi].HashKeyRange.StartingHashKey, "the upper child starts at NewStartingHashKey")
	require.Equal(t, maxHashKey.String(), *byID[hi].HashKeyRange.EndingHashKey)

	wantChildren := []ktypes.ChildShard{
		{ShardId: new(lo), ParentShards: []string{parent}, HashKeyRange: byID[lo].HashKeyRange},
		{ShardId: new(hi), ParentShards: []string{parent}, HashKeyRange: byID[hi].HashKeyRange},
	}
	for _, it := range []*string{before, kinesisIterator(ctx, t, c, stream, parent, ktypes.ShardIteratorTypeTrimHorizon, "", nil)} {
		recs, last := kinesisReadToEnd(ctx, t, c, it)
		require.Equal(t, []string{"p0", "p1", "p2"}, kinesisData(recs), "the closed shard keeps its records")
		require.ElementsMatch(t, wantChildren, last.ChildShards, "the end of a closed shard lists its children")
	}
	latest := kinesisGet(ctx, t, c, kinesisIterator(ctx, t, c, stream, parent, ktypes.ShardIteratorTypeLatest, "", nil), 0)
	require.Empty(t, latest.Records)
	require.Nil(t, latest.NextShardIterator, "LATEST on a closed shard is at its end")
	require.ElementsMatch(t, wantChildren, latest.ChildShards)

	after := kinesisPut(ctx, t, c, stream,
		ktypes.PutRecordsRequestEntry{PartitionKey: new("x"), ExplicitHashKey: new("0"), Data: []byte("lo")},
		ktypes.PutRecordsRequestEntry{PartitionKey: new("x"), ExplicitHashKey: new(maxHashKey.String()), Data: []byte("hi")})
	require.Equal(t, lo, after[0].shard, "new records go to the children")
	require.Equal(t, hi, after[1].shard)
	for _, p := range after {
		require.Positive(t, decimal(t, p.seq).Cmp(decimal(t, puts[2].seq)), "a child's records come after its parent's: %s vs %s", p.seq, puts[2].seq)
	}
}

func kinesisMerge(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 2)
	ids := kinesisShardIDs(ctx, t, c, stream, nil)
	a, b := ids[0], ids[1]
	kinesisPut(ctx, t, c, stream,
		ktypes.PutRecordsRequestEntry{PartitionKey: new("x"), ExplicitHashKey: new("0"), Data: []byte("a")},
		ktypes.PutRecordsRequestEntry{PartitionKey: new("x"), ExplicitHashKey: new(maxHashKey.String()), Data: []byte("b")})

	_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: &stream, ShardToMerge: &a, AdjacentShardToMerge: &b})
	require.NoError(t, err)
	shards := kinesisWaitShards(ctx, t, c, stream, 3)
	var child *ktypes.Shard
	for i, sh := range shards {
		switch *sh.ShardId {
		case a, b:
			require.NotNil(t, sh.SequenceNumberRange.EndingSequenceNumber, "merged shard %s is closed", *sh.ShardId)
		default:
			child = &shards[i]
		}
	}
	require.NotNil(t, child)
	require.Equal(t, a, deref(child.ParentShardId), "the child names ShardToMerge as parent")
	require.Equal(t, b, deref(child.AdjacentParentShardId), "the child names AdjacentShardToMerge as adjacent parent")
	require.Equal(t, "0", *child.HashKeyRange.StartingHashKey, "the child owns both ranges")
	require.Equal(t, maxHashKey.String(), *child.HashKeyRange.EndingHashKey)

	for parent, data := range map[string]string{a: "a", b: "b"} {
		it := kinesisIterator(ctx, t, c, stream, parent, ktypes.ShardIteratorTypeTrimHorizon, "", nil)
		recs, last := kinesisReadToEnd(ctx, t, c, it)
		require.Equal(t, []string{data}, kinesisData(recs))
		require.Len(t, last.ChildShards, 1, "the end of merged shard %s lists the child", parent)
		require.Equal(t, *child.ShardId, deref(last.ChildShards[0].ShardId))
		require.ElementsMatch(t, []string{a, b}, last.ChildShards[0].ParentShards, "the child's ParentShards are both merged shards")
		require.Equal(t, child.HashKeyRange, last.ChildShards[0].HashKeyRange)
	}
	p := kinesisPut(ctx, t, c, stream, ktypes.PutRecordsRequestEntry{PartitionKey: new("x"), ExplicitHashKey: new("5"), Data: []byte("c")})
	require.Equal(t, *child.ShardId, p[0].shard, "new records go to the child")
}

func kinesisListShardsPages(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, stream := h.Kinesis(), h.NewStream(t, 3)
	all := kinesisShardIDs(ctx, t, c, stream, nil)
	require.Len(t, all, 3)
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
	require.NoError(t, err)
	require.Equal(t, int32(3), deref(sum.StreamDescriptionSummary.OpenShardCount))
	require.Equal(t, ktypes.StreamStatusActive, sum.StreamDescriptionSummary.StreamStatus)

	var paged []string
	in := &kinesis.ListShardsInput{StreamName: &stream, MaxResults: new(int32(1))}
	for range 10 {
		out, err := c.ListShards(ctx, in)
		require.NoError(t, err)
		require.LessOrEqual(t, len(out.Shards), 1, "MaxResults caps a page")
		for _, sh := range out.Shards {
			paged = append(paged, *sh.ShardId)
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: new(int32(1))}
	}
	require.Equal(t, all, paged, "the pages list every shard once, in order")
}

// kinesisSplitOne makes a 2-shard stream and splits its first shard; it
// returns the stream, the split shard, the other original shard and the
// two children.
func kinesisSplitOne(ctx context.Context, t *testing.T, h KinesisHarness) (stream, split, other string, children []string) {
	c := h.Kinesis()
	stream = h.NewStream(t, 2)
	ids := kinesisShardIDs(ctx, t, c, stream, nil)
	split, other = ids[0], ids[1]
	lo := kinesisShards(ctx, t, c, stream, nil)[0].HashKeyRange
	mid := new(big.Int).Add(decimal(t, *lo.StartingHashKey), decimal(t, *lo.EndingHashKey))
	mid.Rsh(mid, 1).Add(mid, big.NewInt(1))
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &stream, ShardToSplit: &split, NewStartingHashKey: new(mid.String())})
	require.NoError(t, err)
	for _, sh := range kinesisWaitShards(ctx, t, c, stream, 4) {
		if deref(sh.ParentShardId) == split {
			children = append(children, *sh.ShardId)
		}
	}
	require.Len(t, children, 2)
	return stream, split, other, children
}

func kinesisShardFilters(ctx context.Context, t *testing.T, h KinesisHarness) {
	c := h.Kinesis()
	stream, split, other, children := kinesisSplitOne(ctx, t, h)
	open := append([]string{other}, children...)
	require.ElementsMatch(t, open, kinesisShardIDs(ctx, t, c, stream, &ktypes.ShardFilter{Type: ktypes.ShardFilterTypeAtLatest}),
		"AT_LATEST lists the open shards")
	require.ElementsMatch(t, append([]string{split}, open...), kinesisShardIDs(ctx, t, c, stream, &ktypes.ShardFilter{Type: ktypes.ShardFilterTypeFromTrimHorizon}),
		"FROM_TRIM_HORIZON lists every shard with data since the trim horizon")
	require.ElementsMatch(t, open, kinesisShardIDs(ctx, t, c, stream, &ktypes.ShardFilter{Type: ktypes.ShardFilterTypeAfterShardId, ShardId: &split}),
		"AFTER_SHARD_ID lists the shards after that one")
}

func kinesisAtTrimHorizon(ctx context.Context, t *testing.T, h KinesisHarness) {
	c := h.Kinesis()
	stream, split, other, _ := kinesisSplitOne(ctx, t, h)
	require.ElementsMatch(t, []string{split, other}, kinesisShardIDs(ctx, t, c, stream, &ktypes.ShardFilter{Type: ktypes.ShardFilterTypeAtTrimHorizon}),
		"AT_TRIM_HORIZON lists the shards open at the trim horizon")
}

func kinesisInvalidIterator(ctx context.Context, t *testing.T, h KinesisHarness) {
	c, _ := h.Kinesis(), h.NewStream(t, 1)
	_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: new("AAAAAAAAAAFbogusbogusbogusbogusbogusbogusbogusbogusbogus")})
	var invalid *ktypes.InvalidArgumentException
	require.True(t, errors.As(err, &invalid), "a malformed iterator fails with InvalidArgumentException, got %v", err)
}

// ---------------------------------------------------------------- helpers

type kinesisPutResult struct{ shard, seq, data string }

// kinesisEntries returns n entries with partition key and data prefix+i,
// for i from first on.
func kinesisEntries(prefix string, first, n int) []ktypes.PutRecordsRequestEntry {
	out := make([]ktypes.PutRecordsRequestEntry, n)
	for i := range out {
		v := fmt.Sprintf("%s%d", prefix, first+i)
		out[i] = ktypes.PutRecordsRequestEntry{PartitionKey: new(v), Data: []byte(v)}
	}
	return out
}

// kinesisPut puts entries with one PutRecords call, which must accept all.
func kinesisPut(ctx context.Context, t *testing.T, c KinesisAPI, stream string, entries ...ktypes.PutRecordsRequestEntry) []kinesisPutResult {
	t.Helper()
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
	require.NoError(t, err)
	require.Zero(t, deref(out.FailedRecordCount), "PutRecords failed some records: %+v", out.Records)
	require.Len(t, out.Records, len(entries))
	res := make([]kinesisPutResult, len(entries))
	for i, r := range out.Records {
		res[i] = kinesisPutResult{shard: deref(r.ShardId), seq: deref(r.SequenceNumber), data: string(entries[i].Data)}
	}
	return res
}

// kinesisShards lists every shard of a stream (page after page) that passes
// filter.
func kinesisShards(ctx context.Context, t *testing.T, c KinesisAPI, stream string, filter *ktypes.ShardFilter) []ktypes.Shard {
	t.Helper()
	var shards []ktypes.Shard
	in := &kinesis.ListShardsInput{StreamName: &stream, ShardFilter: filter}
	for {
		out, err := c.ListShards(ctx, in)
		require.NoError(t, err)
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func kinesisShardIDs(ctx context.Context, t *testing.T, c KinesisAPI, stream string, filter *ktypes.ShardFilter) []string {
	t.Helper()
	var ids []string
	for _, sh := range kinesisShards(ctx, t, c, stream, filter) {
		ids = append(ids, *sh.ShardId)
	}
	return ids
}

func kinesisByID(shards []ktypes.Shard) map[string]ktypes.Shard {
	m := map[string]ktypes.Shard{}
	for _, sh := range shards {
		m[*sh.ShardId] = sh
	}
	return m
}

// kinesisWaitShards waits until the stream is ACTIVE with n shards after a
// split or merge, and returns them.
func kinesisWaitShards(ctx context.Context, t *testing.T, c KinesisAPI, stream string, n int) []ktypes.Shard {
	t.Helper()
	var shards []ktypes.Shard
	eventually(ctx, t, "stream "+stream+" ACTIVE after resharding", func() (bool, error) {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if err != nil || out.StreamDescriptionSummary.StreamStatus != ktypes.StreamStatusActive {
			return false, err
		}
		shards = kinesisShards(ctx, t, c, stream, nil)
		return len(shards) == n, nil
	})
	return shards
}

func kinesisIterator(ctx context.Context, t *testing.T, c KinesisAPI, stream, shard string, typ ktypes.ShardIteratorType, seq string, ts *time.Time) *string {
	t.Helper()
	out, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: &shard, ShardIteratorType: typ, StartingSequenceNumber: optional(seq), Timestamp: ts,
	})
	require.NoError(t, err, "GetShardIterator %s", typ)
	require.NotNil(t, out.ShardIterator)
	return out.ShardIterator
}

func kinesisGet(ctx context.Context, t *testing.T, c KinesisAPI, it *string, limit int32) *kinesis.GetRecordsOutput {
	t.Helper()
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: optional(limit)})
	require.NoError(t, err)
	return out
}

// kinesisReadN reads an open shard from it until it has n records, and
// returns them with the next iterator.
func kinesisReadN(ctx context.Context, t *testing.T, c KinesisAPI, it *string, n int) ([]ktypes.Record, *string) {
	t.Helper()
	return readN(ctx, t, it, n, func(it *string) ([]ktypes.Record, *string) {
		out := kinesisGet(ctx, t, c, it, 0)
		return out.Records, out.NextShardIterator
	})
}

// kinesisReadToEnd reads a closed shard from it until NextShardIterator is
// nil, and returns the records and the last answer.
func kinesisReadToEnd(ctx context.Context, t *testing.T, c KinesisAPI, it *string) ([]ktypes.Record, *kinesis.GetRecordsOutput) {
	t.Helper()
	var last *kinesis.GetRecordsOutput
	recs := readToEnd(ctx, t, it, func(it *string) ([]ktypes.Record, *string) {
		last = kinesisGet(ctx, t, c, it, 0)
		return last.Records, last.NextShardIterator
	})
	return recs, last
}

func kinesisData(recs []ktypes.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

// decimal reads a sequence number or hash key, which are decimal strings.
func decimal(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	require.True(t, ok, "%q is not a decimal number", s)
	return v
}

// optional returns &v, or nil for the zero value.
func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
