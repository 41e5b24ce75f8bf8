package esm_test

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// waitReal polls cond in real time (emulator tests cannot use synctest).
func waitReal(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A 4-shard kinesis-local stream, one split and one merge during consumption:
// every record handled, each key in order (so parents before children).
func TestIntegrationKinesisReshardingOnEmulator(t *testing.T) {
	awstest.Integration(t)
	c := awstest.Kinesis(t)
	_, arn := awstest.NewStream(t, c, 4)
	ctx := t.Context()

	next := map[string]int{}
	put := func(n int) {
		entries := make([]ktypes.PutRecordsRequestEntry, n)
		for i := range entries {
			key := fmt.Sprintf("key-%d", i%40)
			entries[i] = ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: fmt.Appendf(nil, "%s %d", key, next[key])}
			next[key]++
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries})
		require.NoError(t, err)
		require.Zero(t, aws.ToInt32(out.FailedRecordCount))
	}
	active := func() {
		waitReal(t, "stream ACTIVE", 30*time.Second, func() bool {
			d, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: &arn})
			require.NoError(t, err)
			return d.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive
		})
	}
	shards := func() []ktypes.Shard {
		out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: &arn})
		require.NoError(t, err)
		return out.Shards
	}

	put(200)
	col := newCollector()
	m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 25, ParallelizationFactor: 5},
		c, esm.HandleKinesis(col.handle), esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.Polling{Idle: 200 * time.Millisecond, Discovery: 2 * time.Second}))
	require.NoError(t, err)
	stop := start(t, m)

	// Split shard 0 at the middle of its range.
	sh0 := shards()[0]
	lo, _ := new(big.Int).SetString(*sh0.HashKeyRange.StartingHashKey, 10)
	hi, _ := new(big.Int).SetString(*sh0.HashKeyRange.EndingHashKey, 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamARN: &arn, ShardToSplit: sh0.ShardId, NewStartingHashKey: &mid})
	require.NoError(t, err)
	active()
	put(200)

	// Merge the two children back.
	var children []string
	for _, s := range shards() {
		if aws.ToString(s.ParentShardId) == *sh0.ShardId && s.SequenceNumberRange.EndingSequenceNumber == nil {
			children = append(children, *s.ShardId)
		}
	}
	require.Len(t, children, 2)
	_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamARN: &arn, ShardToMerge: &children[0], AdjacentShardToMerge: &children[1]})
	require.NoError(t, err)
	active()
	put(200)

	waitReal(t, "600 records", 90*time.Second, func() bool { return col.count() == 600 })
	stop()
	require.Empty(t, col.errs, "each key's records in order across split and merge")
}

// On DynamoDB Local: INSERT/MODIFY/REMOVE reach the handler with images, and
// disabling the stream ends its shard cleanly (a shard-end checkpoint).
func TestIntegrationDynamoDBStreamOnEmulator(t *testing.T) {
	awstest.Integration(t)
	db := awstest.DynamoDB(t)
	table, arn := awstest.NewStreamTable(t, db)
	ctx := t.Context()
	key := map[string]ddbtypes.AttributeValue{awstest.StreamTableKey: &ddbtypes.AttributeValueMemberS{Value: "a"}}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
		awstest.StreamTableKey: key[awstest.StreamTableKey], "v": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
	require.NoError(t, err)
	_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key, UpdateExpression: aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberN{Value: "2"}}})
	require.NoError(t, err)
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key})
	require.NoError(t, err)

	var mu sync.Mutex
	var got []events.DynamoDBEventRecord
	store := shard.NewMemoryStore()
	m, err := esm.NewDynamoDBMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon}, awstest.DynamoDBStreams(t),
		esm.HandleDynamoDB(func(_ context.Context, ev events.DynamoDBEvent) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev.Records...)
			return nil
		}), esm.WithStore(store), esm.WithName("ddb"), esm.WithPolling(esm.Polling{Discovery: time.Second}))
	require.NoError(t, err)
	stop := start(t, m)
	waitReal(t, "3 records", 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })

	_, err = db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &table, StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(false)}})
	require.NoError(t, err)
	desc, err := awstest.DynamoDBStreams(t).DescribeStream(ctx, describeInput(arn))
	require.NoError(t, err)
	shardID := *desc.StreamDescription.Shards[0].ShardId
	waitReal(t, "shard-end checkpoint", 30*time.Second, func() bool {
		cp, ok, _ := store.Load(ctx, "ddb|"+arn, shardID)
		return ok && cp.ShardEnd
	})
	stop()

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "INSERT", got[0].EventName)
	require.Equal(t, "MODIFY", got[1].EventName)
	require.Equal(t, "REMOVE", got[2].EventName)
	require.Equal(t, "2", got[1].Change.NewImage["v"].Number())
	require.Equal(t, "1", got[1].Change.OldImage["v"].Number())
	require.Equal(t, "1.1", got[0].EventVersion)
	require.Equal(t, arn, got[0].EventSourceArn)
}

func describeInput(arn string) *dynamodbstreams.DescribeStreamInput {
	return &dynamodbstreams.DescribeStreamInput{StreamArn: &arn}
}
