package awstest_test

// Integration tests: the real SDK against the emulators that `make test`
// starts. Without ESM_INTEGRATION=1 they skip.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/event"
)

// pollTimeout bounds every wait for records or messages.
const pollTimeout = 20 * time.Second

// ---------------------------------------------------------------- Kinesis

// putKinesis puts n records into the stream and returns their partition keys.
func putKinesis(t *testing.T, c *kinesis.Client, stream string, n int) []string {
	t.Helper()
	var keys []string
	var entries []ktypes.PutRecordsRequestEntry
	for i := range n {
		keys = append(keys, fmt.Sprintf("pk-%d", i))
		entries = append(entries, ktypes.PutRecordsRequestEntry{
			PartitionKey: aws.String(keys[i]),
			Data:         fmt.Appendf(nil, `{"n":%d}`, i),
		})
	}
	out, err := c.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
	require.NoError(t, err)
	require.Zero(t, aws.ToInt32(out.FailedRecordCount))
	return keys
}

// onlyShard returns the ID of the stream's single shard.
func onlyShard(t *testing.T, c *kinesis.Client, stream string) string {
	t.Helper()
	shards, err := c.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: &stream})
	require.NoError(t, err)
	require.Len(t, shards.Shards, 1)
	return aws.ToString(shards.Shards[0].ShardId)
}

func trimHorizon(t *testing.T, c *kinesis.Client, stream, shard string) *string {
	t.Helper()
	it, err := c.GetShardIterator(t.Context(), &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: &shard, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
	})
	require.NoError(t, err)
	return it.ShardIterator
}

// drain calls get from the iterator on until it has want records; the shard
// must stay open.
func drain[R any](t *testing.T, it *string, want int, get func(ctx context.Context, it *string) ([]R, *string, error)) []R {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), pollTimeout)
	defer cancel()
	var recs []R
	for len(recs) < want {
		got, next, err := get(ctx, it)
		require.NoError(t, err)
		recs = append(recs, got...)
		require.NotNil(t, next, "open shard")
		it = next
	}
	return recs
}

// readKinesis reads from the iterator until it has want records.
func readKinesis(t *testing.T, c *kinesis.Client, it *string, want int) []ktypes.Record {
	t.Helper()
	return drain(t, it, want, func(ctx context.Context, it *string) ([]ktypes.Record, *string, error) {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
		if err != nil {
			return nil, nil, err
		}
		return out.Records, out.NextShardIterator, nil
	})
}

func TestKinesisRoundTrip(t *testing.T) {
	c := awstest.Kinesis(t)
	stream, streamARN := awstest.NewStream(t, c, 1)
	keys := putKinesis(t, c, stream, 3)
	shard := onlyShard(t, c, stream)

	recs := readKinesis(t, c, trimHorizon(t, c, stream, shard), 3)
	require.Len(t, recs, 3)
	prev := new(big.Int)
	for i, r := range recs {
		require.Equal(t, keys[i], aws.ToString(r.PartitionKey))
		require.JSONEq(t, fmt.Sprintf(`{"n":%d}`, i), string(r.Data))
		require.NotNil(t, r.ApproximateArrivalTimestamp)
		seq := aws.ToString(r.SequenceNumber)
		n, ok := new(big.Int).SetString(seq, 10)
		require.True(t, ok, seq)
		require.Positive(t, n.Cmp(prev), "sequence numbers grow")
		prev = n

		ev := event.Kinesis(&r, shard, streamARN, "us-east-1", "")
		require.Equal(t, shard+":"+seq, ev.EventID)
		require.Equal(t, "aws:kinesis", ev.EventSource)
		require.Equal(t, "aws:kinesis:record", ev.EventName)
		require.Equal(t, streamARN, ev.EventSourceArn)
		require.Equal(t, "1.0", ev.Kinesis.KinesisSchemaVersion)
		require.Equal(t, keys[i], ev.Kinesis.PartitionKey)
		require.Equal(t, r.Data, ev.Kinesis.Data)
		require.WithinDuration(t, *r.ApproximateArrivalTimestamp, ev.Kinesis.ApproximateArrivalTimestamp.Time, 0)
	}
}

func TestKinesisThrottledTwiceThenSucceeds(t *testing.T) {
	ft := awstest.NewFaults()
	c := awstest.Kinesis(t, awstest.WithFaults(ft))
	stream, _ := awstest.NewStream(t, c, 1)
	putKinesis(t, c, stream, 2)
	it := trimHorizon(t, c, stream, onlyShard(t, c, stream))

	ft.FailNext("GetRecords", 2, awstest.ProvisionedThroughputExceeded)
	out, err := c.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it})
	require.NoError(t, err, "the SDK's retryer absorbs two throttles")
	require.Len(t, out.Records, 2)
	require.Equal(t, 3, ft.Calls("GetRecords"))
	require.Equal(t, 2, ft.Injected("GetRecords"))
}

func TestKinesisFaultsReachTheCaller(t *testing.T) {
	ft := awstest.NewFaults()
	c := awstest.Kinesis(t, awstest.WithFaults(ft), awstest.WithMaxAttempts(1))
	stream, _ := awstest.NewStream(t, c, 1)
	putKinesis(t, c, stream, 1)
	shard := onlyShard(t, c, stream)
	it := trimHorizon(t, c, stream, shard)
	in := &kinesis.GetRecordsInput{ShardIterator: it}

	ft.FailNext("GetRecords", 1, awstest.ProvisionedThroughputExceeded)
	_, err := c.GetRecords(t.Context(), in)
	var throttled *ktypes.ProvisionedThroughputExceededException
	require.ErrorAs(t, err, &throttled)

	ft.FailNext("GetRecords", 1, awstest.ExpiredIterator)
	_, err = c.GetRecords(t.Context(), in)
	var expired *ktypes.ExpiredIteratorException
	require.ErrorAs(t, err, &expired)

	ft.FailNext("GetRecords", 1, awstest.InternalError)
	_, err = c.GetRecords(t.Context(), in)
	require.ErrorContains(t, err, "StatusCode: 500")

	ft.FailNext("GetRecords", 1, awstest.ConnReset)
	_, err = c.GetRecords(t.Context(), in)
	require.True(t, awstest.IsConnReset(err), "%v", err)

	// The iterator is still good: none of the failed calls reached the emulator.
	require.Len(t, readKinesis(t, c, it, 1), 1)
}

func TestKinesisSubscribeToShardWithShim(t *testing.T) {
	c := awstest.Kinesis(t)
	_, streamARN := awstest.NewStream(t, c, 1)
	ctx, cancel := context.WithTimeout(t.Context(), pollTimeout)
	defer cancel()
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: &streamARN, ConsumerName: aws.String(awstest.UniqueName(t, "consumer")),
	})
	require.NoError(t, err)
	consumerARN := reg.Consumer.ConsumerARN
	for {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: consumerARN})
		require.NoError(t, err)
		if d.ConsumerDescription.ConsumerStatus == ktypes.ConsumerStatusActive {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("consumer not ACTIVE")
		case <-time.After(50 * time.Millisecond):
		}
	}
	stream := streamARN[len("arn:aws:kinesis:us-east-1:000000000000:stream/"):]
	shard := onlyShard(t, c, stream)
	putKinesis(t, c, stream, 2)

	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: consumerARN, ShardId: &shard,
		StartingPosition: &ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon},
	})
	require.NoError(t, err)
	es := sub.GetStream()
	defer es.Close()
	var got int
	for got < 2 {
		select {
		case ev, ok := <-es.Events():
			require.True(t, ok, "stream ended: %v", es.Err())
			if e, isEvent := ev.(*ktypes.SubscribeToShardEventStreamMemberSubscribeToShardEvent); isEvent {
				got += len(e.Value.Records)
			}
		case <-ctx.Done():
			t.Fatalf("no records within %v (have %d)", pollTimeout, got)
		}
	}
}

// ---------------------------------------------------------------- DynamoDB

func pk(v string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{awstest.StreamTableKey: &ddbtypes.AttributeValueMemberS{Value: v}}
}

// streamShard returns the single shard of a DynamoDB stream.
func streamShard(t *testing.T, c *dynamodbstreams.Client, streamARN string) string {
	t.Helper()
	d, err := c.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: &streamARN})
	require.NoError(t, err)
	require.Equal(t, dstypes.StreamStatusEnabled, d.StreamDescription.StreamStatus)
	require.Equal(t, dstypes.StreamViewTypeNewAndOldImages, d.StreamDescription.StreamViewType)
	require.Len(t, d.StreamDescription.Shards, 1)
	return aws.ToString(d.StreamDescription.Shards[0].ShardId)
}

func streamTrimHorizon(t *testing.T, c *dynamodbstreams.Client, streamARN, shard string) *string {
	t.Helper()
	it, err := c.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{
		StreamArn: &streamARN, ShardId: &shard, ShardIteratorType: dstypes.ShardIteratorTypeTrimHorizon,
	})
	require.NoError(t, err)
	return it.ShardIterator
}

// readStream reads from the iterator until it has want records.
func readStream(t *testing.T, c *dynamodbstreams.Client, it *string, want int) []dstypes.Record {
	t.Helper()
	return drain(t, it, want, func(ctx context.Context, it *string) ([]dstypes.Record, *string, error) {
		out, err := c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
		if err != nil {
			return nil, nil, err
		}
		return out.Records, out.NextShardIterator, nil
	})
}

// writeItem puts, updates and deletes one item: three stream records.
func writeItem(t *testing.T, c *dynamodb.Client, table, key string) {
	t.Helper()
	ctx := t.Context()
	item := pk(key)
	item["v"] = &ddbtypes.AttributeValueMemberN{Value: "1"}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item})
	require.NoError(t, err)
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &table, Key: pk(key), UpdateExpression: aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberN{Value: "2"}},
	})
	require.NoError(t, err)
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: pk(key)})
	require.NoError(t, err)
}

func TestDynamoDBStreamsRoundTrip(t *testing.T) {
	db := awstest.DynamoDB(t)
	st := awstest.DynamoDBStreams(t)
	table, streamARN := awstest.NewStreamTable(t, db)
	writeItem(t, db, table, "k1")
	shard := streamShard(t, st, streamARN)

	recs := readStream(t, st, streamTrimHorizon(t, st, streamARN, shard), 3)
	require.Len(t, recs, 3)
	var names []string
	for _, r := range recs {
		names = append(names, string(r.EventName))
		ev := event.DynamoDB(&r, streamARN)
		require.Equal(t, "aws:dynamodb", ev.EventSource)
		require.Equal(t, "1.1", ev.EventVersion)
		require.Equal(t, streamARN, ev.EventSourceArn)
		require.Equal(t, aws.ToString(r.EventID), ev.EventID)
		require.Equal(t, "ddblocal", ev.AWSRegion, "DynamoDB Local's region")
		require.Equal(t, "k1", ev.Change.Keys[awstest.StreamTableKey].String())
		require.Equal(t, aws.ToString(r.Dynamodb.SequenceNumber), ev.Change.SequenceNumber)
		require.Positive(t, ev.Change.SizeBytes)
		require.Equal(t, "NEW_AND_OLD_IMAGES", ev.Change.StreamViewType)
		switch ev.EventName {
		case "INSERT":
			require.Equal(t, "1", ev.Change.NewImage["v"].Number())
			require.Nil(t, ev.Change.OldImage)
		case "MODIFY":
			require.Equal(t, "1", ev.Change.OldImage["v"].Number())
			require.Equal(t, "2", ev.Change.NewImage["v"].Number())
		case "REMOVE":
			require.Equal(t, "2", ev.Change.OldImage["v"].Number())
			require.Nil(t, ev.Change.NewImage)
		}
	}
	require.Equal(t, []string{"INSERT", "MODIFY", "REMOVE"}, names)
}

func TestDynamoDBStreamsFaults(t *testing.T) {
	db := awstest.DynamoDB(t)
	ft := awstest.NewFaults()
	st := awstest.DynamoDBStreams(t, awstest.WithFaults(ft), awstest.WithMaxAttempts(1))
	table, streamARN := awstest.NewStreamTable(t, db)
	writeItem(t, db, table, "k1")
	it := streamTrimHorizon(t, st, streamARN, streamShard(t, st, streamARN))
	in := &dynamodbstreams.GetRecordsInput{ShardIterator: it}

	ft.FailNext("GetRecords", 1, awstest.ExpiredIterator)
	_, err := st.GetRecords(t.Context(), in)
	var expired *dstypes.ExpiredIteratorException
	require.ErrorAs(t, err, &expired)

	ft.FailNext("GetRecords", 1, awstest.Throttle)
	_, err = st.GetRecords(t.Context(), in)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "ThrottlingException", apiErr.ErrorCode())

	require.Len(t, readStream(t, st, it, 3), 3)
}

func TestDynamoDBThrottledThenSucceeds(t *testing.T) {
	ft := awstest.NewFaults()
	db := awstest.DynamoDB(t, awstest.WithFaults(ft))
	table, _ := awstest.NewStreamTable(t, db)

	ft.FailNext("PutItem", 2, awstest.ProvisionedThroughputExceeded)
	_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: pk("k")})
	require.NoError(t, err)
	require.Equal(t, 3, ft.Calls("PutItem"))

	ft.FailNext("GetItem", 3, awstest.ProvisionedThroughputExceeded)
	_, err = db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, Key: pk("k")})
	var throttled *ddbtypes.ProvisionedThroughputExceededException
	require.ErrorAs(t, err, &throttled, "three attempts, three throttles")
}

// ---------------------------------------------------------------- SQS

// receive long-polls the queue once for up to max messages, with every
// attribute.
func receive(t *testing.T, c *sqs.Client, url string, max int32, visibility int32) []sqstypes.Message {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl:                    &url,
		MaxNumberOfMessages:         max,
		WaitTimeSeconds:             1,
		VisibilityTimeout:           visibility,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	require.NoError(t, err)
	return out.Messages
}

// sendN sends messages "m0".."m<n-1>" and returns their IDs.
func sendN(t *testing.T, c *sqs.Client, url string, n int) []string {
	t.Helper()
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i := range n {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(fmt.Sprintf("m%d", i))})
	}
	out, err := c.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
	require.NoError(t, err)
	require.Empty(t, out.Failed)
	ids := make([]string, n)
	for _, s := range out.Successful {
		var i int
		_, _ = fmt.Sscan(aws.ToString(s.Id), &i)
		ids[i] = aws.ToString(s.MessageId)
	}
	return ids
}

func TestSQSRoundTrip(t *testing.T) {
	c := awstest.SQS(t)
	ctx := t.Context()
	url, queueARN := awstest.NewQueue(t, c, nil)
	require.Contains(t, queueARN, "arn:aws:sqs:us-east-1:000000000000:")

	// The library finds queues by name from their ARN; the URL must be the one the emulator issued.
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{
		QueueName: aws.String(queueARN[len("arn:aws:sqs:us-east-1:000000000000:"):]), QueueOwnerAWSAccountId: aws.String("000000000000"),
	})
	require.NoError(t, err)
	require.Equal(t, url, aws.ToString(got.QueueUrl))

	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: &url, MessageBody: aws.String(`{"hello":"world"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"Trace": {DataType: aws.String("String"), StringValue: aws.String("abc")},
		},
	})
	require.NoError(t, err)

	msgs := receive(t, c, url, 10, 30)
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, aws.ToString(sent.MessageId), aws.ToString(m.MessageId))
	require.Equal(t, "1", m.Attributes["ApproximateReceiveCount"])
	require.NotEmpty(t, m.Attributes["SentTimestamp"])
	require.NotEmpty(t, m.Attributes["ApproximateFirstReceiveTimestamp"])

	ev := event.SQS(&m, queueARN, "us-east-1")
	require.Equal(t, aws.ToString(sent.MessageId), ev.MessageId)
	require.Equal(t, `{"hello":"world"}`, ev.Body)
	require.Equal(t, "aws:sqs", ev.EventSource)
	require.Equal(t, queueARN, ev.EventSourceARN)
	require.Equal(t, "us-east-1", ev.AWSRegion)
	require.Equal(t, aws.ToString(m.ReceiptHandle), ev.ReceiptHandle)
	require.Equal(t, aws.ToString(sent.MD5OfMessageBody), ev.Md5OfBody)
	require.Equal(t, "1", ev.Attributes["ApproximateReceiveCount"])
	require.Equal(t, "abc", aws.ToString(ev.MessageAttributes["Trace"].StringValue))
	require.Equal(t, "String", ev.MessageAttributes["Trace"].DataType)

	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
	require.NoError(t, err)
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	require.Error(t, err, "the message is gone")
}

func TestSQSDeleteMessageBatchFailedEntry(t *testing.T) {
	ft := awstest.NewFaults()
	c := awstest.SQS(t, awstest.WithFaults(ft))
	ctx := t.Context()
	url, _ := awstest.NewQueue(t, c, nil)
	sendN(t, c, url, 2)
	msgs := receive(t, c, url, 10, 30)
	require.Len(t, msgs, 2)

	ft.FailNext("DeleteMessageBatch", 1, awstest.FailedEntries("ReceiptHandleIsInvalid", "1"))
	out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: msgs[0].ReceiptHandle},
		{Id: aws.String("1"), ReceiptHandle: msgs[1].ReceiptHandle},
	}})
	require.NoError(t, err)
	require.Len(t, out.Successful, 1)
	require.Len(t, out.Failed, 1)
	require.Equal(t, "1", aws.ToString(out.Failed[0].Id))
	require.Equal(t, "ReceiptHandleIsInvalid", aws.ToString(out.Failed[0].Code))

	// The failed entry was not deleted: it is still in flight and comes back.
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: msgs[1].ReceiptHandle, VisibilityTimeout: 0})
	require.NoError(t, err)
	again := receive(t, c, url, 10, 30)
	require.Len(t, again, 1)
	require.Equal(t, aws.ToString(msgs[1].MessageId), aws.ToString(again[0].MessageId))
	require.Equal(t, "2", again[0].Attributes["ApproximateReceiveCount"])
}

func TestSQSChangeMessageVisibilityBatchFailedEntry(t *testing.T) {
	ft := awstest.NewFaults()
	c := awstest.SQS(t, awstest.WithFaults(ft))
	url, _ := awstest.NewQueue(t, c, nil)
	ids := sendN(t, c, url, 2)
	msgs := receive(t, c, url, 10, 30)
	require.Len(t, msgs, 2)
	byID := map[string]sqstypes.Message{}
	for _, m := range msgs {
		byID[aws.ToString(m.MessageId)] = m
	}

	ft.FailNext("ChangeMessageVisibilityBatch", 1, awstest.FailedEntriesIf("ReceiptHandleIsInvalid",
		func(e awstest.Entry) bool { return e.ReceiptHandle == aws.ToString(byID[ids[0]].ReceiptHandle) }))
	out, err := c.ChangeMessageVisibilityBatch(t.Context(), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url,
		Entries: []sqstypes.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("a"), ReceiptHandle: byID[ids[0]].ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("b"), ReceiptHandle: byID[ids[1]].ReceiptHandle, VisibilityTimeout: 0},
		}})
	require.NoError(t, err)
	require.Len(t, out.Failed, 1)
	require.Equal(t, "a", aws.ToString(out.Failed[0].Id))

	// Only the message whose visibility really changed is visible again.
	again := receive(t, c, url, 10, 30)
	require.Len(t, again, 1)
	require.Equal(t, ids[1], aws.ToString(again[0].MessageId))
}

func TestSQSServerErrorsAndResets(t *testing.T) {
	ft := awstest.NewFaults()
	c := awstest.SQS(t, awstest.WithFaults(ft))
	ctx := t.Context()
	url, _ := awstest.NewQueue(t, c, nil)
	sendN(t, c, url, 1)

	// A 500 and a reset on receive are retried by the SDK.
	ft.FailNext("ReceiveMessage", 1, awstest.InternalError)
	ft.Fail("ReceiveMessage", awstest.ConnReset, ft.Calls("ReceiveMessage")+2)
	msgs := receive(t, c, url, 10, 30)
	require.Len(t, msgs, 1)
	require.Equal(t, 3, ft.Calls("ReceiveMessage"))

	// A reset after the emulator acted: the caller sees an error, yet the delete happened.
	noRetry := awstest.SQS(t, awstest.WithFaults(ft), awstest.WithMaxAttempts(1))
	ft.FailNext("DeleteMessageBatch", 1, awstest.ConnResetAfter)
	_, err := noRetry.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: msgs[0].ReceiptHandle},
	}})
	require.True(t, awstest.IsConnReset(err), "%v", err)
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0})
	require.Error(t, err, "deleted despite the error")
}

// ---------------------------------------------------------------- SNS

func TestSNSToSQS(t *testing.T) {
	ft := awstest.NewFaults()
	sn := awstest.SNS(t, awstest.WithFaults(ft), awstest.WithMaxAttempts(1))
	q := awstest.SQS(t)
	ctx := t.Context()
	topic := awstest.NewTopic(t, sn)
	url, queueARN := awstest.NewQueue(t, q, nil)
	_, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &topic, Protocol: aws.String("sqs"), Endpoint: &queueARN})
	require.NoError(t, err)

	in := &sns.PublishInput{TopicArn: &topic, Subject: aws.String("greeting"), Message: aws.String(`{"hello":"sns"}`)}
	ft.FailNext("Publish", 1, awstest.APIError(http.StatusBadRequest, "Throttling", "Rate exceeded"))
	_, err = sn.Publish(ctx, in)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "Throttling", apiErr.ErrorCode())

	pub, err := sn.Publish(ctx, in)
	require.NoError(t, err)
	var msgs []sqstypes.Message
	deadline := time.Now().Add(pollTimeout)
	for len(msgs) == 0 && time.Now().Before(deadline) {
		msgs = receive(t, q, url, 10, 30)
	}
	require.Len(t, msgs, 1, "exactly one publish reached the queue")
	var envelope events.SNSEntity
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &envelope))
	require.Equal(t, "Notification", envelope.Type)
	require.Equal(t, topic, envelope.TopicArn)
	require.Equal(t, aws.ToString(pub.MessageId), envelope.MessageID)
	require.Equal(t, "greeting", envelope.Subject)
	require.JSONEq(t, `{"hello":"sns"}`, envelope.Message)
}
