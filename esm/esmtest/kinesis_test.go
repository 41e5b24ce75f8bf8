package esmtest_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// The fakes satisfy the engines' client interfaces. (The assertion lives in a
// test so that package shard's own tests may import esmtest without a cycle.)
var (
	_ shard.KinesisAPI         = (*esmtest.Kinesis)(nil)
	_ shard.DynamoDBStreamsAPI = (*esmtest.DynamoDBStreams)(nil)
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newKinesis(opts ...esmtest.KinesisOption) (*esmtest.Kinesis, *esmtest.ManualClock) {
	clock := esmtest.NewManualClock(t0)
	return esmtest.NewKinesis(append(opts, esmtest.WithKinesisClock(clock))...), clock
}

// iterator gets a shard iterator of stream; seq or ts set the position of the
// types that need one.
func iterator(t *testing.T, k *esmtest.Kinesis, stream, shardID string, typ types.ShardIteratorType, seq string, ts time.Time) string {
	t.Helper()
	in := &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: &shardID, ShardIteratorType: typ}
	if seq != "" {
		in.StartingSequenceNumber = &seq
	}
	if !ts.IsZero() {
		in.Timestamp = &ts
	}
	out, err := k.GetShardIterator(context.Background(), in)
	require.NoError(t, err)
	return *out.ShardIterator
}

func getRecords(t *testing.T, k *esmtest.Kinesis, iter string, limit int32) *kinesis.GetRecordsOutput {
	t.Helper()
	in := &kinesis.GetRecordsInput{ShardIterator: &iter}
	if limit > 0 {
		in.Limit = &limit
	}
	out, err := k.GetRecords(context.Background(), in)
	require.NoError(t, err)
	return out
}

func keys(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = *r.PartitionKey
	}
	return out
}

func listShards(t *testing.T, k *esmtest.Kinesis, stream string) []types.Shard {
	t.Helper()
	out, err := k.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: &stream})
	require.NoError(t, err)
	return out.Shards
}

// requireAPIError checks that err is an SDK-shaped error of service wrapping
// an API error of type T.
func requireAPIError[T smithy.APIError](t *testing.T, err error, service string) T {
	t.Helper()
	var target T
	require.ErrorAs(t, err, &target)
	var opErr *smithy.OperationError
	require.ErrorAs(t, err, &opErr)
	require.Equal(t, service, opErr.ServiceID)
	var respErr *awshttp.ResponseError
	require.ErrorAs(t, err, &respErr)
	require.Equal(t, http.StatusBadRequest, respErr.HTTPStatusCode())
	return target
}

func TestKinesisHashRangesMatchCreateStream(t *testing.T) {
	k, _ := newKinesis()
	k.MustCreateStream(t, "s3", 3)
	k.MustCreateStream(t, "s1", 1)
	want := [][2]string{
		{"0", "113427455640312821154458202477256070484"},
		{"113427455640312821154458202477256070485", "226854911280625642308916404954512140969"},
		{"226854911280625642308916404954512140970", "340282366920938463463374607431768211455"},
	}
	for i, sh := range listShards(t, k, "s3") {
		require.Equal(t, fmt.Sprintf("shardId-%012d", i), *sh.ShardId)
		require.Equal(t, want[i], [2]string{*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey})
		require.Nil(t, sh.ParentShardId)
		require.Nil(t, sh.SequenceNumberRange.EndingSequenceNumber)
	}
	one := listShards(t, k, "s1")
	require.Equal(t, "340282366920938463463374607431768211455", *one[0].HashKeyRange.EndingHashKey)
}

func TestKinesisRoutesByPartitionKeyMD5(t *testing.T) {
	ctx := context.Background()
	k, _ := newKinesis()
	k.MustCreateStream(t, "s", 4)
	shards := listShards(t, k, "s")
	owner := func(h *big.Int) string {
		for _, sh := range shards {
			lo, _ := new(big.Int).SetString(*sh.HashKeyRange.StartingHashKey, 10)
			hi, _ := new(big.Int).SetString(*sh.HashKeyRange.EndingHashKey, 10)
			if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
				return *sh.ShardId
			}
		}
		t.Fatalf("no shard owns %s", h)
		return ""
	}
	seen := map[string]bool{}
	for i := range 50 {
		pk := fmt.Sprintf("key-%d", i)
		sum := md5.Sum([]byte(pk))
		got, _ := k.Put(t, "s", pk, []byte("x"))
		require.Equal(t, owner(new(big.Int).SetBytes(sum[:])), got, pk)
		seen[got] = true
	}
	require.Len(t, seen, 4, "50 keys spread over the 4 shards")

	put := func(ehk string) (string, error) {
		out, err := k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: new("s"), PartitionKey: new("ignored"), ExplicitHashKey: &ehk, Data: []byte("x")})
		if err != nil {
			return "", err
		}
		return *out.ShardId, nil
	}
	for _, ehk := range []string{"0", "340282366920938463463374607431768211455", *shards[1].HashKeyRange.EndingHashKey, *shards[2].HashKeyRange.StartingHashKey} {
		h, _ := new(big.Int).SetString(ehk, 10)
		got, err := put(ehk)
		require.NoError(t, err)
		require.Equal(t, owner(h), got, ehk)
	}
	for _, bad := range []string{"340282366920938463463374607431768211456", "-1", "01", "1e3", ""} {
		_, err := put(bad)
		requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	}
}

func TestKinesisSequenceNumbersIncreasePerShard(t *testing.T) {
	k, _ := newKinesis()
	k.MustCreateStream(t, "s", 2)
	put := map[string][]string{}
	for i := range 40 {
		sh, seq := k.Put(t, "s", fmt.Sprint(i), []byte("x"))
		require.Len(t, seq, 56)
		put[sh] = append(put[sh], seq)
	}
	require.Len(t, put, 2)
	for _, sh := range listShards(t, k, "s") {
		prev, _ := new(big.Int).SetString(*sh.SequenceNumberRange.StartingSequenceNumber, 10)
		recs := getRecords(t, k, iterator(t, k, "s", *sh.ShardId, types.ShardIteratorTypeTrimHorizon, "", time.Time{}), 0).Records
		require.Len(t, recs, len(put[*sh.ShardId]))
		for i, r := range recs {
			require.Equal(t, put[*sh.ShardId][i], *r.SequenceNumber, "GetRecords returns what PutRecord reported")
			n, ok := new(big.Int).SetString(*r.SequenceNumber, 10)
			require.True(t, ok)
			require.Equal(t, 1, n.Cmp(prev), "sequence numbers increase within a shard")
			prev = n
		}
	}
}

func TestKinesisIteratorTypes(t *testing.T) {
	ctx := context.Background()
	k, clock := newKinesis()
	k.MustCreateStream(t, "s", 1)
	const sh = "shardId-000000000000"
	var seqs []string
	var arrivals []time.Time
	for i := range 5 {
		arrivals = append(arrivals, clock.Now())
		_, seq := k.Put(t, "s", fmt.Sprint("r", i), []byte("x"))
		seqs = append(seqs, seq)
		clock.Advance(time.Second)
	}
	start := *listShards(t, k, "s")[0].SequenceNumberRange.StartingSequenceNumber
	first := func(typ types.ShardIteratorType, seq string, ts time.Time) []string {
		return keys(getRecords(t, k, iterator(t, k, "s", sh, typ, seq, ts), 2).Records)
	}
	require.Equal(t, []string{"r0", "r1"}, first(types.ShardIteratorTypeTrimHorizon, "", time.Time{}))
	require.Equal(t, []string{"r2", "r3"}, first(types.ShardIteratorTypeAtSequenceNumber, seqs[2], time.Time{}))
	require.Equal(t, []string{"r3", "r4"}, first(types.ShardIteratorTypeAfterSequenceNumber, seqs[2], time.Time{}))
	require.Empty(t, first(types.ShardIteratorTypeAfterSequenceNumber, seqs[4], time.Time{}))
	require.Equal(t, []string{"r0", "r1"}, first(types.ShardIteratorTypeAtSequenceNumber, start, time.Time{}))
	require.Equal(t, []string{"r3", "r4"}, first(types.ShardIteratorTypeAtTimestamp, "", arrivals[3]))
	require.Equal(t, []string{"r3", "r4"}, first(types.ShardIteratorTypeAtTimestamp, "", arrivals[3].Add(-500*time.Millisecond)))
	require.Equal(t, []string{"r0", "r1"}, first(types.ShardIteratorTypeAtTimestamp, "", t0.Add(-time.Hour)))

	latest := iterator(t, k, "s", sh, types.ShardIteratorTypeLatest, "", time.Time{})
	out := getRecords(t, k, latest, 0)
	require.Empty(t, out.Records)
	require.NotNil(t, out.Records, "an empty answer has an empty, non-nil Records like the SDK's")
	require.NotNil(t, out.NextShardIterator)
	k.Put(t, "s", "r5", []byte("x"))
	require.Equal(t, []string{"r5"}, keys(getRecords(t, k, latest, 0).Records), "LATEST sees records put after it")

	bad := func(in *kinesis.GetShardIteratorInput) {
		t.Helper()
		in.StreamName, in.ShardId = new("s"), new(sh)
		_, err := k.GetShardIterator(ctx, in)
		requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	}
	bad(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber})
	bad(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: new("12345")})
	bad(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: new(strings.Repeat("9", 56))})
	bad(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp})
	bad(&kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: new(clock.Now().Add(time.Minute))})
	bad(&kinesis.GetShardIteratorInput{ShardIteratorType: "SOMEWHERE"})

	k.MustCreateStream(t, "other", 2)
	_, otherSeq := k.Put(t, "other", "x", []byte("x"))
	_, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: new("s"), ShardId: new(sh),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: &otherSeq})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
}

func TestKinesisGetRecordsLimitAndMillisBehindLatest(t *testing.T) {
	ctx := context.Background()
	k, clock := newKinesis()
	k.MustCreateStream(t, "s", 1)
	for i := range 3 {
		k.Put(t, "s", fmt.Sprint("r", i), []byte("x"))
		clock.Advance(time.Second)
	}
	clock.Set(t0.Add(10 * time.Second))
	it := iterator(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", time.Time{})
	out := getRecords(t, k, it, 1)
	require.Equal(t, []string{"r0"}, keys(out.Records))
	require.Equal(t, t0, *out.Records[0].ApproximateArrivalTimestamp)
	require.Empty(t, out.Records[0].EncryptionType, "real Kinesis returns no EncryptionType on the records of an unencrypted stream")
	require.Equal(t, int64(9000), *out.MillisBehindLatest, "the first unread record arrived 9 s ago")
	out = getRecords(t, k, *out.NextShardIterator, 0)
	require.Equal(t, []string{"r1", "r2"}, keys(out.Records))
	require.Equal(t, int64(0), *out.MillisBehindLatest, "caught up")

	for _, limit := range []int32{0, 10001} {
		_, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: &it, Limit: &limit})
		requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	}
}

func TestKinesisSplitAndMergeLineage(t *testing.T) {
	ctx := context.Background()
	k, _ := newKinesis()
	k.MustCreateStream(t, "s", 1)
	const parent = "shardId-000000000000"
	k.Put(t, "s", "before", []byte("x"))
	latest := iterator(t, k, "s", parent, types.ShardIteratorTypeLatest, "", time.Time{})

	lo, hi := k.MustSplitShard(t, "s", parent)
	require.Equal(t, []string{"shardId-000000000001", "shardId-000000000002"}, []string{lo, hi})
	shards := listShards(t, k, "s")
	require.Len(t, shards, 3)
	end := shards[0].SequenceNumberRange.EndingSequenceNumber
	require.NotNil(t, end, "the parent is closed")
	for _, c := range shards[1:] {
		require.Equal(t, parent, *c.ParentShardId)
		require.Nil(t, c.AdjacentParentShardId)
		require.Greater(t, *c.SequenceNumberRange.StartingSequenceNumber, *end, "children's numbers follow the parent's")
	}
	require.Equal(t, "0", *shards[1].HashKeyRange.StartingHashKey)
	require.Equal(t, "340282366920938463463374607431768211455", *shards[2].HashKeyRange.EndingHashKey)
	loEnd, _ := new(big.Int).SetString(*shards[1].HashKeyRange.EndingHashKey, 10)
	hiStart, _ := new(big.Int).SetString(*shards[2].HashKeyRange.StartingHashKey, 10)
	require.Equal(t, hiStart, loEnd.Add(loEnd, big.NewInt(1)), "the children's ranges are contiguous")

	wantChildren := []types.ChildShard{
		{ShardId: &lo, ParentShards: []string{parent}, HashKeyRange: shards[1].HashKeyRange},
		{ShardId: &hi, ParentShards: []string{parent}, HashKeyRange: shards[2].HashKeyRange},
	}
	out := getRecords(t, k, iterator(t, k, "s", parent, types.ShardIteratorTypeTrimHorizon, "", time.Time{}), 0)
	require.Equal(t, []string{"before"}, keys(out.Records))
	require.Nil(t, out.NextShardIterator, "the end of a closed shard")
	require.Equal(t, wantChildren, out.ChildShards)
	out = getRecords(t, k, latest, 0)
	require.Empty(t, out.Records)
	require.Nil(t, out.NextShardIterator, "an iterator taken before the split reaches the end too")
	require.Equal(t, wantChildren, out.ChildShards)

	got, seq := k.Put(t, "s", "after", []byte("x"))
	require.Contains(t, []string{lo, hi}, got, "new records go to the children")
	require.Greater(t, seq, *end)

	merged := k.MustMergeShards(t, "s", hi, lo)
	require.Equal(t, "shardId-000000000003", merged)
	shards = listShards(t, k, "s")
	require.Equal(t, hi, *shards[3].ParentShardId)
	require.Equal(t, lo, *shards[3].AdjacentParentShardId)
	require.Equal(t, "0", *shards[3].HashKeyRange.StartingHashKey)
	require.Equal(t, "340282366920938463463374607431768211455", *shards[3].HashKeyRange.EndingHashKey)
	out = getRecords(t, k, iterator(t, k, "s", lo, types.ShardIteratorTypeTrimHorizon, "", time.Time{}), 0)
	require.Nil(t, out.NextShardIterator)
	require.Equal(t, []types.ChildShard{{ShardId: &merged, ParentShards: []string{lo, hi}, HashKeyRange: shards[3].HashKeyRange}}, out.ChildShards)

	_, err := k.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: new("s"), ShardToSplit: new(parent), NewStartingHashKey: new("5")})
	requireAPIError[*types.ResourceInUseException](t, err, "Kinesis")
	_, err = k.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: new("s"), ShardToSplit: &merged, NewStartingHashKey: new("0")})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	_, err = k.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: new("s"), ShardToMerge: &merged, AdjacentShardToMerge: new("shardId-000000000009")})
	requireAPIError[*types.ResourceNotFoundException](t, err, "Kinesis")

	k.MustCreateStream(t, "three", 3)
	_, err = k.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: new("three"), ShardToMerge: new("shardId-000000000000"), AdjacentShardToMerge: new("shardId-000000000002")})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
}

func TestKinesisListShardsPagination(t *testing.T) {
	ctx := context.Background()
	k, clock := newKinesis()
	arn := k.MustCreateStream(t, "s", 7)
	require.Equal(t, "arn:aws:kinesis:us-east-1:000000000000:stream/s", arn)

	var ids []string
	in := &kinesis.ListShardsInput{StreamARN: &arn, MaxResults: new(int32(3))}
	for pages := 1; ; pages++ {
		out, err := k.ListShards(ctx, in)
		require.NoError(t, err)
		for _, sh := range out.Shards {
			ids = append(ids, *sh.ShardId)
		}
		if out.NextToken == nil {
			require.Equal(t, 3, pages)
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: new(int32(3))}
	}
	require.Len(t, ids, 7)
	require.Equal(t, "shardId-000000000006", ids[6])

	out, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: new("s"), ExclusiveStartShardId: new("shardId-000000000004")})
	require.NoError(t, err)
	require.Len(t, out.Shards, 2)

	out, err = k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: new("s"), MaxResults: new(int32(1))})
	require.NoError(t, err)
	_, err = k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: new("s"), NextToken: out.NextToken})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	clock.Advance(301 * time.Second)
	_, err = k.ListShards(ctx, &kinesis.ListShardsInput{NextToken: out.NextToken})
	requireAPIError[*types.ExpiredNextTokenException](t, err, "Kinesis")

	beforeSplit := clock.Now()
	clock.Advance(time.Second)
	k.MustSplitShard(t, "s", "shardId-000000000000")
	filtered := func(f types.ShardFilter) int {
		out, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: new("s"), ShardFilter: &f})
		require.NoError(t, err)
		return len(out.Shards)
	}
	require.Equal(t, 9, filtered(types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}))
	require.Equal(t, 7, filtered(types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}))
	require.Equal(t, 8, filtered(types.ShardFilter{Type: types.ShardFilterTypeAtLatest}))
	require.Equal(t, 7, filtered(types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: &beforeSplit}))
	require.Equal(t, 8, filtered(types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: new(clock.Now())}))
	require.Equal(t, 9, filtered(types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: &beforeSplit}))
	require.Equal(t, 2, filtered(types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: new("shardId-000000000006")}))

	desc, err := k.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: new("s"), Limit: new(int32(5))})
	require.NoError(t, err)
	require.Len(t, desc.StreamDescription.Shards, 5)
	require.True(t, *desc.StreamDescription.HasMoreShards)
	desc, err = k.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: new("s"), ExclusiveStartShardId: desc.StreamDescription.Shards[4].ShardId})
	require.NoError(t, err)
	require.Len(t, desc.StreamDescription.Shards, 4)
	require.False(t, *desc.StreamDescription.HasMoreShards)
}

func TestKinesisIteratorsExpireAfterFiveMinutes(t *testing.T) {
	k, clock := newKinesis()
	k.MustCreateStream(t, "s", 1)
	k.Put(t, "s", "a", []byte("x"))
	old := iterator(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", time.Time{})
	clock.Advance(5 * time.Minute)
	next := getRecords(t, k, old, 0).NextShardIterator
	clock.Advance(time.Millisecond)
	_, err := k.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: &old})
	requireAPIError[*types.ExpiredIteratorException](t, err, "Kinesis")
	getRecords(t, k, *next, 0) // a NextShardIterator lives 5 minutes from its own issue
}

func TestKinesisFaults(t *testing.T) {
	ctx := context.Background()
	k, _ := newKinesis()
	k.MustCreateStream(t, "s", 1)
	it := iterator(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", time.Time{})

	k.Faults.FailNext("GetRecords", 2, &types.ProvisionedThroughputExceededException{Message: new("Rate exceeded")})
	for range 2 {
		_, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: &it})
		requireAPIError[*types.ProvisionedThroughputExceededException](t, err, "Kinesis")
		require.True(t, strings.HasPrefix(err.Error(), "operation error Kinesis: GetRecords, https response error StatusCode: 400"), err.Error())
	}
	getRecords(t, k, it, 0)
	require.Equal(t, 3, k.Faults.Calls("GetRecords"))

	k.Faults.FailNext("ListShards", 1, esmtest.ServerError(http.StatusServiceUnavailable))
	_, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: new("s")})
	var respErr *awshttp.ResponseError
	require.False(t, errors.As(err, &respErr), "a scripted HTTP error keeps its own shape")
	var opErr *smithy.OperationError
	require.ErrorAs(t, err, &opErr)
	require.Equal(t, "ListShards", opErr.OperationName)

	k.Faults.FailEntries("PutRecords", &types.ProvisionedThroughputExceededException{Message: new("slow down")}, "b")
	out, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: new("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: new("a"), Data: []byte("1")}, {PartitionKey: new("b"), Data: []byte("2")}, {PartitionKey: new("c"), Data: []byte("3")},
	}})
	require.NoError(t, err)
	require.Equal(t, int32(1), *out.FailedRecordCount)
	require.Equal(t, "ProvisionedThroughputExceededException", *out.Records[1].ErrorCode)
	require.Equal(t, "slow down", *out.Records[1].ErrorMessage)
	require.Nil(t, out.Records[1].SequenceNumber)
	require.NotNil(t, out.Records[2].SequenceNumber)
	require.Equal(t, []string{"a", "c"}, keys(k.Records(t, "s", "shardId-000000000000")))
}

func TestKinesisReadLimits(t *testing.T) {
	ctx := context.Background()
	k, clock := newKinesis(esmtest.WithKinesisReadLimits())
	k.MustCreateStream(t, "s", 1)
	it := iterator(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", time.Time{})
	for range 5 {
		getRecords(t, k, it, 0)
		clock.Advance(100 * time.Millisecond)
	}
	_, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: &it})
	requireAPIError[*types.ProvisionedThroughputExceededException](t, err, "Kinesis")
	clock.Advance(600 * time.Millisecond) // the first call is now more than a second old
	getRecords(t, k, it, 0)

	big := make([]byte, 1<<20-1)
	k.Put(t, "s", "a", big)
	k.Put(t, "s", "b", big)
	clock.Advance(time.Second)
	out := getRecords(t, k, it, 0)
	require.Len(t, out.Records, 2)
	clock.Advance(500 * time.Millisecond)
	_, err = k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	requireAPIError[*types.ProvisionedThroughputExceededException](t, err, "Kinesis")
	clock.Advance(500 * time.Millisecond) // 2 MB at 2 MB/s
	getRecords(t, k, *out.NextShardIterator, 0)

	unlimited, _ := newKinesis()
	unlimited.MustCreateStream(t, "s", 1)
	it = iterator(t, unlimited, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", time.Time{})
	for range 50 {
		getRecords(t, unlimited, it, 0)
	}
}

func TestKinesisErrors(t *testing.T) {
	ctx := context.Background()
	k, _ := newKinesis()
	k.MustCreateStream(t, "s", 1)

	_, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: new("nope")})
	e := requireAPIError[*types.ResourceNotFoundException](t, err, "Kinesis")
	require.Equal(t, "Stream nope under account 000000000000 not found.", e.ErrorMessage())
	_, err = k.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: new("arn:aws:kinesis:eu-west-1:000000000000:stream/s")})
	requireAPIError[*types.ResourceNotFoundException](t, err, "Kinesis")
	_, err = k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: new("s"), ShardId: new("shardId-000000000001"), ShardIteratorType: types.ShardIteratorTypeLatest})
	requireAPIError[*types.ResourceNotFoundException](t, err, "Kinesis")
	_, err = k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: new("AAAAbogus")})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	_, err = k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: new("s"), ShardCount: new(int32(1))})
	requireAPIError[*types.ResourceInUseException](t, err, "Kinesis")
	_, err = k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: new("bad name"), ShardCount: new(int32(1))})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	_, err = k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: new("s"), Data: []byte("x")})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	_, err = k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: new("s"), PartitionKey: new("k"), Data: make([]byte, 1<<20)})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")
	_, err = k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{})
	requireAPIError[*types.InvalidArgumentException](t, err, "Kinesis")

	// Missing required members fail on the client side, as in the SDK.
	_, err = k.GetRecords(ctx, nil)
	var invalid smithy.InvalidParamsError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "operation error Kinesis: GetRecords, 1 validation error(s) found.\n- missing required field, GetRecordsInput.ShardIterator.\n", err.Error())
	_, err = k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: new("s")})
	require.ErrorAs(t, err, &invalid)
	require.Len(t, invalid.Errs(), 2)
}

func TestKinesisCreateStreamAndTransitions(t *testing.T) {
	ctx := context.Background()
	k, clock := newKinesis(esmtest.WithKinesisTransitionDelay(time.Second), esmtest.WithKinesisRegion("eu-west-1"), esmtest.WithKinesisAccount("123456789012"))
	_, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: new("s")})
	require.NoError(t, err)
	summary := func() *types.StreamDescriptionSummary {
		out, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: new("s")})
		require.NoError(t, err)
		return out.StreamDescriptionSummary
	}
	s := summary()
	require.Equal(t, types.StreamStatusCreating, s.StreamStatus)
	require.Equal(t, "arn:aws:kinesis:eu-west-1:123456789012:stream/s", *s.StreamARN)
	require.Equal(t, types.StreamModeOnDemand, s.StreamModeDetails.StreamMode)
	require.Equal(t, int32(4), *s.OpenShardCount)
	require.Equal(t, int32(24), *s.RetentionPeriodHours)
	require.Equal(t, t0, *s.StreamCreationTimestamp)
	_, err = k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: new("s"), PartitionKey: new("k"), Data: []byte("x")})
	requireAPIError[*types.ResourceInUseException](t, err, "Kinesis")

	clock.Advance(time.Second)
	require.Equal(t, types.StreamStatusActive, summary().StreamStatus)
	k.MustSplitShard(t, "s", "shardId-000000000000")
	require.Equal(t, types.StreamStatusUpdating, summary().StreamStatus)
	require.Equal(t, int32(5), *summary().OpenShardCount)
	k.Put(t, "s", "k", []byte("x")) // writes go on while UPDATING
	_, err = k.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: new("s"), ShardToMerge: new("shardId-000000000004"), AdjacentShardToMerge: new("shardId-000000000005")})
	requireAPIError[*types.ResourceInUseException](t, err, "Kinesis")
	clock.Advance(time.Second)
	require.Equal(t, types.StreamStatusActive, summary().StreamStatus)
	k.MustMergeShards(t, "s", "shardId-000000000004", "shardId-000000000005")
}

func TestKinesisUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		k := esmtest.NewKinesis() // RealClock: the bubble's fake time
		k.MustCreateStream(t, "s", 1)
		k.Put(t, "s", "a", []byte("x"))
		put := time.Now()
		it := iterator(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", time.Time{})

		k.Faults.Delay("GetRecords", 2*time.Second)
		out := getRecords(t, k, it, 0)
		require.Equal(t, 2*time.Second, time.Since(put), "the scripted delay passed in fake time")
		require.True(t, out.Records[0].ApproximateArrivalTimestamp.Equal(put))

		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := k.GetRecords(dctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		k.Faults.Clear("GetRecords")

		time.Sleep(5*time.Minute + time.Second)
		_, err = k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		requireAPIError[*types.ExpiredIteratorException](t, err, "Kinesis")
	})
}

func BenchmarkKinesisGetRecords100(b *testing.B) {
	ctx := context.Background()
	k := esmtest.NewKinesis(esmtest.WithKinesisClock(esmtest.NewManualClock(t0)))
	k.MustCreateStream(b, "s", 1)
	data := make([]byte, 1024)
	for i := range 100 {
		k.Put(b, "s", fmt.Sprint("key-", i), data)
	}
	out, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: new("s"), ShardId: new("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	require.NoError(b, err)
	in := &kinesis.GetRecordsInput{ShardIterator: out.ShardIterator, Limit: new(int32(100))}
	b.ReportAllocs()
	for b.Loop() {
		recs, err := k.GetRecords(ctx, in)
		if err != nil || len(recs.Records) != 100 {
			b.Fatal(err)
		}
	}
}
