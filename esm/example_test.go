package esm_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// A Lambda Kinesis handler runs unchanged under a mapping; here the stream is
// the in-memory fake of esm/esmtest, as in a unit test.
func ExampleNewKinesisMapping() {
	ctx := context.Background()
	k := esmtest.NewKinesis()
	// In a test: arn := k.MustCreateStream(t, "orders", 1) and k.Put(t, …).
	_, _ = k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)})
	for _, order := range []string{"apple", "pear", "plum"} {
		_, _ = k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("customer-1"), Data: []byte(order)})
	}
	arn := k.StreamARN("orders")

	var wg sync.WaitGroup
	wg.Add(3)
	handler := func(ctx context.Context, ev events.KinesisEvent) error {
		for _, r := range ev.Records {
			fmt.Printf("%s %s\n", r.EventName, r.Kinesis.Data)
			wg.Done()
		}
		return nil
	}
	cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 10}
	m, err := esm.NewKinesisMapping(cfg, k, esm.HandleKinesis(handler),
		esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.Polling{Idle: 10 * time.Millisecond}))
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	wg.Wait()
	_ = m.Shutdown(ctx)
	fmt.Println("Run returned", <-done)
	// Output:
	// aws:kinesis:record apple
	// aws:kinesis:record pear
	// aws:kinesis:record plum
	// Run returned <nil>
}

// A DynamoDB Streams handler sees INSERT, MODIFY and REMOVE records with
// their images, from the in-memory fake.
func ExampleNewDynamoDBMapping() {
	d := esmtest.NewDynamoDBStreams()
	arn, _ := d.CreateStream("orders", dstypes.StreamViewTypeNewAndOldImages, "id")
	key := map[string]dstypes.AttributeValue{"id": &dstypes.AttributeValueMemberS{Value: "o-1"}}
	_ = d.PutItem("orders", map[string]dstypes.AttributeValue{"id": key["id"], "state": &dstypes.AttributeValueMemberS{Value: "new"}})
	_ = d.UpdateItem("orders", key, map[string]dstypes.AttributeValue{"state": &dstypes.AttributeValueMemberS{Value: "paid"}})
	_ = d.DeleteItem("orders", key)

	var wg sync.WaitGroup
	wg.Add(3)
	state := func(image map[string]events.DynamoDBAttributeValue) string {
		if v, ok := image["state"]; ok {
			return v.String()
		}
		return "-"
	}
	handler := func(ctx context.Context, ev events.DynamoDBEvent) error {
		for _, r := range ev.Records {
			fmt.Println(r.EventName, r.Change.Keys["id"].String(), state(r.Change.OldImage), "->", state(r.Change.NewImage))
			wg.Done()
		}
		return nil
	}
	cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon}
	m, err := esm.NewDynamoDBMapping(cfg, d, esm.HandleDynamoDB(handler),
		esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.Polling{Idle: 10 * time.Millisecond}))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	wg.Wait()
	_ = m.Shutdown(ctx)
	<-done
	// Output:
	// INSERT o-1 - -> new
	// MODIFY o-1 new -> paid
	// REMOVE o-1 paid -> -
}

// A tumbling window counts a stream's records per key, window by window,
// and writes each window's totals when it closes. The fake stamps the
// records an hour in the past, so their window has ended: it closes as soon
// as the stream is read.
func ExampleNewKinesisWindowMapping() {
	ctx := context.Background()
	clock := esmtest.NewManualClock(time.Date(2024, 6, 1, 12, 0, 10, 0, time.UTC))
	k := esmtest.NewKinesis(esmtest.WithKinesisClock(clock))
	_, _ = k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(1)})
	for _, page := range []string{"home", "cart", "home"} {
		_, _ = k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String(page), Data: []byte("click")})
	}

	closed := make(chan struct{})
	handler := func(ctx context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
		state := ev.State // {} in the window's first invocation
		if ev.IsFinalInvokeForWindow {
			fmt.Println(ev.Window.Start.Format(time.TimeOnly), "to", ev.Window.End.Format(time.TimeOnly), state)
			close(closed)
		} else {
			for _, r := range ev.Records {
				n, _ := strconv.Atoi(state[r.Kinesis.PartitionKey])
				state[r.Kinesis.PartitionKey] = strconv.Itoa(n + 1)
			}
		}
		return events.KinesisTimeWindowEventResponse{
			TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: state},
		}, nil
	}
	cfg := esm.Config{EventSourceArn: k.StreamARN("clicks"), StartingPosition: esm.TrimHorizon, TumblingWindow: time.Minute}
	m, err := esm.NewKinesisWindowMapping(cfg, k, esm.HandleKinesisWindow(handler),
		esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.Polling{Idle: 10 * time.Millisecond}))
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	<-closed
	_ = m.Shutdown(ctx)
	<-done
	// Output:
	// 12:00:00 to 12:01:00 map[cart:1 home:2]
}
