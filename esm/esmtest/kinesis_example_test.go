package esmtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

// A Kinesis fake with a manual clock: records put with partition keys are
// read back in order from their shard, and MillisBehindLatest tells how far
// behind the reader is.
func ExampleKinesis() {
	ctx := context.Background()
	clock := esmtest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	k := esmtest.NewKinesis(esmtest.WithKinesisClock(clock))
	// In a test: k.MustCreateStream(t, "orders", 1) and
	// k.Put(t, "orders", "order-1", data) do the same in one line each.
	_, _ = k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)})
	for i := 1; i <= 3; i++ {
		out, _ := k.PutRecord(ctx, &kinesis.PutRecordInput{
			StreamName:   aws.String("orders"),
			PartitionKey: aws.String(fmt.Sprint("order-", i)),
			Data:         fmt.Appendf(nil, `{"order":%d}`, i),
		})
		fmt.Println("put to", *out.ShardId)
		clock.Advance(time.Second)
	}

	it, _ := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName:        aws.String("orders"),
		ShardId:           aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	out, _ := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(2)})
	for _, r := range out.Records {
		fmt.Println(*r.PartitionKey, string(r.Data), r.ApproximateArrivalTimestamp.Format(time.TimeOnly))
	}
	fmt.Println("behind:", *out.MillisBehindLatest, "ms")
	out, _ = k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	fmt.Println(*out.Records[0].PartitionKey, "behind:", *out.MillisBehindLatest, "ms")
	// Output:
	// put to shardId-000000000000
	// put to shardId-000000000000
	// put to shardId-000000000000
	// order-1 {"order":1} 00:00:00
	// order-2 {"order":2} 00:00:01
	// behind: 1000 ms
	// order-3 behind: 0 ms
}

// Enhanced fan-out on the fake: a registered consumer subscribes to a shard,
// and the records come as SubscribeToShard events, each with the sequence
// number to subscribe again after (ContinuationSequenceNumber).
func ExampleKinesis_SubscribeToShard() {
	ctx := context.Background()
	clock := esmtest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	k := esmtest.NewKinesis(esmtest.WithKinesisClock(clock))
	_, _ = k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)})
	stream := k.StreamARN("orders")
	reg, _ := k.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &stream, ConsumerName: aws.String("billing")})
	fmt.Println(*reg.Consumer.ConsumerARN)
	for i := 1; i <= 2; i++ {
		_, _ = k.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: &stream, PartitionKey: aws.String("o"), Data: fmt.Appendf(nil, "order %d", i)})
	}

	out, _ := k.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN:      reg.Consumer.ConsumerARN,
		ShardId:          aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	})
	events := out.GetStream()
	defer events.Close()
	ev := (<-events.Events()).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
	for _, r := range ev.Records {
		fmt.Println(string(r.Data))
	}
	fmt.Println("continue after the last record:", *ev.ContinuationSequenceNumber == *ev.Records[1].SequenceNumber)
	// Output:
	// arn:aws:kinesis:us-east-1:000000000000:stream/orders/consumer/billing:1767225600
	// order 1
	// order 2
	// continue after the last record: true
}
