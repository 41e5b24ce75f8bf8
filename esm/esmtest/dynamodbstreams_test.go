package esmtest_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

func newStreams() (*esmtest.DynamoDBStreams, *esmtest.ManualClock) {
	clock := esmtest.NewManualClock(t0)
	return esmtest.NewDynamoDBStreams(esmtest.WithDynamoDBStreamsClock(clock)), clock
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

type item = map[string]types.AttributeValue

func ddbIterator(t *testing.T, d *esmtest.DynamoDBStreams, arn, shardID string, typ types.ShardIteratorType, seq string) string {
	t.Helper()
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: &shardID, ShardIteratorType: typ}
	if seq != "" {
		in.SequenceNumber = &seq
	}
	out, err := d.GetShardIterator(context.Background(), in)
	require.NoError(t, err)
	return *out.ShardIterator
}

func ddbRecords(t *testing.T, d *esmtest.DynamoDBStreams, iter string, limit int32) *dynamodbstreams.GetRecordsOutput {
	t.Helper()
	in := &dynamodbstreams.GetRecordsInput{ShardIterator: &iter}
	if limit > 0 {
		in.Limit = &limit
	}
	out, err := d.GetRecords(context.Background(), in)
	require.NoError(t, err)
	return out
}

func describe(t *testing.T, d *esmtest.DynamoDBStreams, in *dynamodbstreams.DescribeStreamInput) *types.StreamDescription {
	t.Helper()
	out, err := d.DescribeStream(context.Background(), in)
	require.NoError(t, err)
	return out.StreamDescription
}

func firstShard(t *testing.T, d *esmtest.DynamoDBStreams, arn string) string {
	t.Helper()
	return *describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn}).Shards[0].ShardId
}

func requireValidation(t *testing.T, err error) {
	t.Helper()
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "ValidationException", apiErr.ErrorCode())
}

func TestDynamoDBStreamsRecords(t *testing.T) {
	d, clock := newStreams()
	clock.Advance(700 * time.Millisecond)
	arn := d.MustCreateStream(t, "orders", types.StreamViewTypeNewAndOldImages, "pk", "sk")
	require.Equal(t, "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2025-03-01T12:00:00.700", arn)

	key := item{"pk": str("a"), "sk": num("1")}
	require.NoError(t, d.PutItem("orders", item{"pk": str("a"), "sk": num("1"), "v": num("1")}))
	require.NoError(t, d.PutItem("orders", item{"pk": str("a"), "sk": num("1"), "v": num("2")}))
	require.NoError(t, d.PutItem("orders", item{"pk": str("a"), "sk": num("1"), "v": num("2")})) // identical: no record
	require.NoError(t, d.UpdateItem("orders", key, item{"w": str("x"), "v": nil}))
	require.NoError(t, d.UpdateItem("orders", key, item{"w": str("x")})) // no change: no record
	require.Equal(t, item{"pk": str("a"), "sk": num("1"), "w": str("x")}, d.Item("orders", key))
	require.NoError(t, d.DeleteItem("orders", key))
	require.NoError(t, d.DeleteItem("orders", key)) // absent: no record
	require.Error(t, d.PutItem("orders", item{"pk": str("a")}), "the sort key is missing")
	require.Error(t, d.PutItem("nope", key))

	recs := ddbRecords(t, d, ddbIterator(t, d, arn, firstShard(t, d, arn), types.ShardIteratorTypeTrimHorizon, ""), 0).Records
	require.Len(t, recs, 4)
	var names []types.OperationType
	prevSeq := ""
	for _, r := range recs {
		names = append(names, r.EventName)
		require.Equal(t, "aws:dynamodb", *r.EventSource)
		require.Equal(t, "1.1", *r.EventVersion)
		require.Equal(t, "us-east-1", *r.AwsRegion)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), *r.EventID)
		require.Equal(t, t0, *r.Dynamodb.ApproximateCreationDateTime, "second precision")
		require.Equal(t, key, r.Dynamodb.Keys)
		require.Equal(t, types.StreamViewTypeNewAndOldImages, r.Dynamodb.StreamViewType)
		require.Positive(t, *r.Dynamodb.SizeBytes)
		require.Len(t, *r.Dynamodb.SequenceNumber, 21)
		require.Greater(t, *r.Dynamodb.SequenceNumber, prevSeq)
		prevSeq = *r.Dynamodb.SequenceNumber
	}
	require.Equal(t, []types.OperationType{"INSERT", "MODIFY", "MODIFY", "REMOVE"}, names)
	require.Nil(t, recs[0].Dynamodb.OldImage)
	require.Equal(t, item{"pk": str("a"), "sk": num("1"), "v": num("1")}, recs[0].Dynamodb.NewImage)
	require.Equal(t, num("1"), recs[1].Dynamodb.OldImage["v"])
	require.Equal(t, num("2"), recs[1].Dynamodb.NewImage["v"])
	require.Equal(t, item{"pk": str("a"), "sk": num("1"), "w": str("x")}, recs[3].Dynamodb.OldImage)
	require.Nil(t, recs[3].Dynamodb.NewImage)
}

func TestDynamoDBStreamsViewTypes(t *testing.T) {
	for _, tc := range []struct {
		view     types.StreamViewType
		old, new bool
	}{
		{types.StreamViewTypeKeysOnly, false, false},
		{types.StreamViewTypeNewImage, false, true},
		{types.StreamViewTypeOldImage, true, false},
		{types.StreamViewTypeNewAndOldImages, true, true},
	} {
		t.Run(string(tc.view), func(t *testing.T) {
			d, _ := newStreams()
			arn := d.MustCreateStream(t, "tbl", tc.view, "id")
			require.NoError(t, d.PutItem("tbl", item{"id": str("1"), "v": num("1")}))
			require.NoError(t, d.PutItem("tbl", item{"id": str("1"), "v": num("2")}))
			recs := ddbRecords(t, d, ddbIterator(t, d, arn, firstShard(t, d, arn), types.ShardIteratorTypeTrimHorizon, ""), 0).Records
			modify := recs[1].Dynamodb
			require.Equal(t, item{"id": str("1")}, modify.Keys)
			require.Equal(t, tc.old, modify.OldImage != nil)
			require.Equal(t, tc.new, modify.NewImage != nil)
			require.Equal(t, tc.view, modify.StreamViewType)
		})
	}
}

func TestDynamoDBStreamsIteratorTypes(t *testing.T) {
	ctx := context.Background()
	d, clock := newStreams()
	arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeNewImage, "id")
	sh := firstShard(t, d, arn)
	var seqs []string
	for i := range 4 {
		require.NoError(t, d.PutItem("tbl", item{"id": str(fmt.Sprint(i))}))
		clock.Advance(time.Second)
	}
	all := ddbRecords(t, d, ddbIterator(t, d, arn, sh, types.ShardIteratorTypeTrimHorizon, ""), 0).Records
	for _, r := range all {
		seqs = append(seqs, *r.Dynamodb.SequenceNumber)
	}
	ids := func(out *dynamodbstreams.GetRecordsOutput) []string {
		var ids []string
		for _, r := range out.Records {
			ids = append(ids, r.Dynamodb.Keys["id"].(*types.AttributeValueMemberS).Value)
		}
		return ids
	}
	require.Equal(t, []string{"1", "2"}, ids(ddbRecords(t, d, ddbIterator(t, d, arn, sh, types.ShardIteratorTypeAtSequenceNumber, seqs[1]), 2)))
	require.Equal(t, []string{"2", "3"}, ids(ddbRecords(t, d, ddbIterator(t, d, arn, sh, types.ShardIteratorTypeAfterSequenceNumber, seqs[1]), 0)))
	desc := describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	require.Equal(t, []string{"0", "1", "2", "3"}, ids(ddbRecords(t, d, ddbIterator(t, d, arn, sh, types.ShardIteratorTypeAtSequenceNumber, *desc.Shards[0].SequenceNumberRange.StartingSequenceNumber), 0)))

	at, err := d.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: &sh, ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: new(t0.Add(1500 * time.Millisecond))})
	require.NoError(t, err)
	require.Equal(t, []string{"2", "3"}, ids(ddbRecords(t, d, *at.ShardIterator, 0)))

	latest := ddbIterator(t, d, arn, sh, types.ShardIteratorTypeLatest, "")
	out := ddbRecords(t, d, latest, 0)
	require.Empty(t, out.Records)
	require.NotNil(t, out.Records)
	require.NotNil(t, out.NextShardIterator, "an open shard never ends")
	require.NoError(t, d.PutItem("tbl", item{"id": str("4")}))
	require.Equal(t, []string{"4"}, ids(ddbRecords(t, d, *out.NextShardIterator, 0)))

	for _, in := range []*dynamodbstreams.GetShardIteratorInput{
		{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber},
		{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: new("abc")},
		{ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: new("999999999999999999999")},
		{ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: new(clock.Now().Add(time.Hour))},
		{ShardIteratorType: "NOWHERE"},
	} {
		in.StreamArn, in.ShardId = &arn, &sh
		_, err := d.GetShardIterator(ctx, in)
		requireValidation(t, err)
	}
	_, err = d.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: new("shardId-nope"), ShardIteratorType: types.ShardIteratorTypeLatest})
	requireAPIError[*types.ResourceNotFoundException](t, err, "DynamoDB Streams")
	_, err = d.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: new(arn + "x"), ShardId: &sh, ShardIteratorType: types.ShardIteratorTypeLatest})
	requireAPIError[*types.ResourceNotFoundException](t, err, "DynamoDB Streams")
}

func TestDynamoDBStreamsRolloverLineage(t *testing.T) {
	ctx := context.Background()
	d, _ := newStreams()
	arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeKeysOnly, "id")
	parent := firstShard(t, d, arn)
	require.Regexp(t, regexp.MustCompile(`^shardId-\d{20}-[0-9a-f]{8}$`), parent)
	require.NoError(t, d.PutItem("tbl", item{"id": str("a")}))
	before := ddbIterator(t, d, arn, parent, types.ShardIteratorTypeLatest, "")

	children, err := d.Rollover(arn)
	require.NoError(t, err)
	require.Len(t, children, 1)
	require.NoError(t, d.PutItem("tbl", item{"id": str("b")}))

	desc := describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	require.Len(t, desc.Shards, 2)
	require.Equal(t, parent, *desc.Shards[0].ShardId)
	end := desc.Shards[0].SequenceNumberRange.EndingSequenceNumber
	require.NotNil(t, end, "the parent is closed")
	require.Equal(t, children[0], *desc.Shards[1].ShardId)
	require.Equal(t, parent, *desc.Shards[1].ParentShardId)
	require.Nil(t, desc.Shards[1].SequenceNumberRange.EndingSequenceNumber)
	require.Greater(t, *desc.Shards[1].SequenceNumberRange.StartingSequenceNumber, *end)

	out := ddbRecords(t, d, ddbIterator(t, d, arn, parent, types.ShardIteratorTypeTrimHorizon, ""), 0)
	require.Len(t, out.Records, 1)
	require.Nil(t, out.NextShardIterator, "the end of a closed shard")
	out = ddbRecords(t, d, before, 0)
	require.Empty(t, out.Records)
	require.Nil(t, out.NextShardIterator)
	out = ddbRecords(t, d, ddbIterator(t, d, arn, children[0], types.ShardIteratorTypeTrimHorizon, ""), 0)
	require.Equal(t, item{"id": str("b")}, out.Records[0].Dynamodb.Keys, "new records go to the child")

	split, err := d.SplitShard(arn, children[0])
	require.NoError(t, err)
	require.Len(t, split, 2)
	kids := describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeChildShards, ShardId: &children[0]}})
	require.Len(t, kids.Shards, 2)
	for i, sh := range kids.Shards {
		require.Equal(t, split[i], *sh.ShardId)
		require.Equal(t, children[0], *sh.ParentShardId)
	}
	// An item's records stay in one lineage: the same key lands in the same child.
	where := map[string]int{}
	for i := range 20 {
		for range 2 {
			require.NoError(t, d.PutItem("tbl", item{"id": str(fmt.Sprint(i)), "v": num(fmt.Sprint(len(where)))}))
		}
	}
	for _, id := range split {
		for _, r := range ddbRecords(t, d, ddbIterator(t, d, arn, id, types.ShardIteratorTypeTrimHorizon, ""), 0).Records {
			where[id+"/"+r.Dynamodb.Keys["id"].(*types.AttributeValueMemberS).Value]++
		}
	}
	require.Len(t, where, 20)
	_, err = d.Rollover(arn, parent)
	require.Error(t, err, "a closed shard cannot roll over")
	_, err = d.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeChildShards}})
	requireValidation(t, err)
}

func TestDynamoDBStreamsDescribePagination(t *testing.T) {
	ctx := context.Background()
	d, _ := newStreams()
	arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeNewImage, "id")
	for range 3 {
		_, err := d.Rollover(arn)
		require.NoError(t, err)
	}
	open, err := d.SplitShard(arn, *describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn}).Shards[3].ShardId)
	require.NoError(t, err)
	_, err = d.SplitShard(arn, open[1])
	require.NoError(t, err) // 8 shards in all

	var ids []string
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, Limit: new(int32(3))}
	for pages := 1; ; pages++ {
		desc := describe(t, d, in)
		require.Equal(t, "tbl", *desc.TableName)
		require.Equal(t, []types.KeySchemaElement{{AttributeName: new("id"), KeyType: types.KeyTypeHash}}, desc.KeySchema)
		require.Equal(t, types.StreamStatusEnabled, desc.StreamStatus)
		for _, sh := range desc.Shards {
			ids = append(ids, *sh.ShardId)
		}
		if desc.LastEvaluatedShardId == nil {
			require.Equal(t, 3, pages)
			break
		}
		in.ExclusiveStartShardId = desc.LastEvaluatedShardId
	}
	require.Len(t, ids, 8)
	require.IsIncreasing(t, ids)

	_, err = d.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, Limit: new(int32(101))})
	requireValidation(t, err)
	_, err = d.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: new("arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/y")})
	requireAPIError[*types.ResourceNotFoundException](t, err, "DynamoDB Streams")
	_, err = d.DescribeStream(ctx, nil)
	var invalid smithy.InvalidParamsError
	require.ErrorAs(t, err, &invalid)
}

func TestDynamoDBStreamsGetRecordsLimits(t *testing.T) {
	ctx := context.Background()
	d, clock := newStreams()
	arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeNewImage, "id")
	for i := range 5 {
		require.NoError(t, d.PutItem("tbl", item{"id": str(fmt.Sprint(i))}))
	}
	it := ddbIterator(t, d, arn, firstShard(t, d, arn), types.ShardIteratorTypeTrimHorizon, "")
	out := ddbRecords(t, d, it, 2)
	require.Len(t, out.Records, 2)
	out = ddbRecords(t, d, *out.NextShardIterator, 0)
	require.Len(t, out.Records, 3)

	for _, limit := range []int32{0, 1001} {
		_, err := d.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: &it, Limit: &limit})
		requireValidation(t, err)
	}
	_, err := d.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: new(arn + "|1|bogus")})
	requireValidation(t, err)

	clock.Advance(15 * time.Minute)
	ddbRecords(t, d, it, 0)
	clock.Advance(time.Millisecond)
	_, err = d.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: &it})
	requireAPIError[*types.ExpiredIteratorException](t, err, "DynamoDB Streams")
}

func TestDynamoDBStreamsFaults(t *testing.T) {
	ctx := context.Background()
	d, _ := newStreams()
	arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeNewImage, "id")
	d.Faults.FailNext("DescribeStream", 1, &types.LimitExceededException{Message: new("slow down")})
	_, err := d.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	requireAPIError[*types.LimitExceededException](t, err, "DynamoDB Streams")
	require.Contains(t, err.Error(), "operation error DynamoDB Streams: DescribeStream")
	describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	require.Equal(t, 2, d.Faults.Calls("DescribeStream"))

	d.Faults.FailAlways("GetShardIterator", esmtest.APIError("ThrottlingException", "Rate exceeded"))
	_, err = d.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: new("x"), ShardIteratorType: types.ShardIteratorTypeLatest})
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "ThrottlingException", apiErr.ErrorCode())
}

func TestDynamoDBStreamsDisableAndAppend(t *testing.T) {
	d, _ := newStreams()
	arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeNewAndOldImages, "id")
	sh := firstShard(t, d, arn)
	seq, err := d.Append(arn, types.Record{
		EventName:    types.OperationTypeRemove,
		UserIdentity: &types.Identity{Type: new("Service"), PrincipalId: new("dynamodb.amazonaws.com")},
		Dynamodb:     &types.StreamRecord{Keys: item{"id": str("ttl")}, OldImage: item{"id": str("ttl"), "exp": num("1")}},
	})
	require.NoError(t, err)
	_, err = d.Append(arn, types.Record{Dynamodb: &types.StreamRecord{Keys: item{"other": str("x")}}})
	require.Error(t, err)
	_, err = d.CreateStream("tbl", types.StreamViewTypeKeysOnly, "id")
	require.Error(t, err, "one enabled stream per table")

	require.NoError(t, d.DisableStream(arn))
	require.NoError(t, d.PutItem("tbl", item{"id": str("after")}))
	desc := describe(t, d, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	require.Equal(t, types.StreamStatusDisabled, desc.StreamStatus)
	out := ddbRecords(t, d, ddbIterator(t, d, arn, sh, types.ShardIteratorTypeTrimHorizon, ""), 0)
	require.Len(t, out.Records, 1, "a disabled stream gets no more records")
	require.Nil(t, out.NextShardIterator)
	r := out.Records[0]
	require.Equal(t, seq, *r.Dynamodb.SequenceNumber)
	require.Equal(t, "Service", *r.UserIdentity.Type)
	require.Equal(t, "1.1", *r.EventVersion)
	require.Equal(t, types.StreamViewTypeNewAndOldImages, r.Dynamodb.StreamViewType)

	arn2 := d.MustCreateStream(t, "tbl", types.StreamViewTypeKeysOnly, "id")
	require.NotEqual(t, arn, arn2, "re-enabling makes a new stream")
}

func TestDynamoDBStreamsUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := esmtest.NewDynamoDBStreams()
		arn := d.MustCreateStream(t, "tbl", types.StreamViewTypeNewImage, "id")
		require.NoError(t, d.PutItem("tbl", item{"id": str("a")}))
		it := ddbIterator(t, d, arn, firstShard(t, d, arn), types.ShardIteratorTypeTrimHorizon, "")
		time.Sleep(15*time.Minute + time.Second)
		_, err := d.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: &it})
		requireAPIError[*types.ExpiredIteratorException](t, err, "DynamoDB Streams")
	})
}

func BenchmarkDynamoDBStreamsGetRecords100(b *testing.B) {
	ctx := context.Background()
	d := esmtest.NewDynamoDBStreams(esmtest.WithDynamoDBStreamsClock(esmtest.NewManualClock(t0)))
	arn := d.MustCreateStream(b, "tbl", types.StreamViewTypeNewAndOldImages, "id")
	for i := range 100 {
		if err := d.PutItem("tbl", item{"id": str(fmt.Sprint(i)), "payload": str("0123456789abcdef")}); err != nil {
			b.Fatal(err)
		}
	}
	desc, err := d.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	require.NoError(b, err)
	out, err := d.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: desc.StreamDescription.Shards[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	require.NoError(b, err)
	in := &dynamodbstreams.GetRecordsInput{ShardIterator: out.ShardIterator, Limit: new(int32(100))}
	b.ReportAllocs()
	for b.Loop() {
		recs, err := d.GetRecords(ctx, in)
		if err != nil || len(recs.Records) != 100 {
			b.Fatal(err)
		}
	}
}
