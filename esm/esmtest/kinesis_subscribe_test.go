package esmtest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

var (
	_ shard.KinesisFanOutAPI   = (*esmtest.Kinesis)(nil)
	_ shard.KinesisConsumerAPI = (*esmtest.Kinesis)(nil)
)

func subscribe(t *testing.T, k *esmtest.Kinesis, consumer, shardID string, pos types.StartingPosition) (*kinesis.SubscribeToShardEventStream, error) {
	t.Helper()
	out, err := k.SubscribeToShard(t.Context(), &kinesis.SubscribeToShardInput{ConsumerARN: &consumer, ShardId: &shardID, StartingPosition: &pos})
	if err != nil {
		return nil, err
	}
	s := out.GetStream()
	t.Cleanup(func() { _ = s.Close() })
	return s, nil
}

// nextEvent waits for the stream's next event; nil when the stream ended.
func nextEvent(t *testing.T, s *kinesis.SubscribeToShardEventStream) *types.SubscribeToShardEvent {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			return nil
		}
		e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		require.True(t, isEvent, "unexpected event %T", ev)
		return &e.Value
	case <-time.After(10 * time.Minute):
		t.Fatal("no event within 10 minutes")
		return nil
	}
}

func eventData(e *types.SubscribeToShardEvent) []string {
	var out []string
	for _, r := range e.Records {
		out = append(out, string(r.Data))
	}
	return out
}

func TestKinesisSubscribeToShardPushesRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		consumer := k.MustRegisterStreamConsumer(t, arn, "c")
		const shardID = "shardId-000000000000"
		_, seq0 := k.Put(t, arn, "k", []byte("r0"))
		k.Put(t, arn, "k", []byte("r1"))

		s, err := subscribe(t, k, consumer, shardID, types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)
		e := nextEvent(t, s)
		require.Equal(t, []string{"r0", "r1"}, eventData(e), "the records already there come at once")
		require.Equal(t, *e.Records[1].SequenceNumber, *e.ContinuationSequenceNumber, "the continuation is the last record")
		require.Equal(t, time.Now().UTC().Truncate(time.Millisecond), e.Records[0].ApproximateArrivalTimestamp.UTC(), "arrival times keep their milliseconds")
		require.Equal(t, "k", *e.Records[0].PartitionKey)
		require.Zero(t, *e.MillisBehindLatest)

		time.Sleep(time.Second)
		k.Put(t, arn, "k", []byte("r2"))
		e = nextEvent(t, s)
		require.Equal(t, []string{"r2"}, eventData(e), "a new record is pushed when it arrives")

		// AFTER_SEQUENCE_NUMBER of a record, and LATEST: an empty first
		// event that says where the subscription stands.
		require.NoError(t, s.Close())
		time.Sleep(time.Second)
		s, err = subscribe(t, k, consumer, shardID, types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: &seq0})
		require.NoError(t, err)
		require.Equal(t, []string{"r1", "r2"}, eventData(nextEvent(t, s)))
		require.NoError(t, s.Close())
		time.Sleep(time.Second)
		s, err = subscribe(t, k, consumer, shardID, types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		require.NoError(t, err)
		e = nextEvent(t, s)
		require.Empty(t, e.Records, "LATEST: the first event comes at once, empty")
		require.NotNil(t, e.ContinuationSequenceNumber)
		k.Put(t, arn, "k", []byte("r3"))
		require.Equal(t, []string{"r3"}, eventData(nextEvent(t, s)))
	})
}

func TestKinesisSubscribeToShardEndsClosedShardWithChildShards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		consumer := k.MustRegisterStreamConsumer(t, arn, "c")
		const parent = "shardId-000000000000"
		k.Put(t, arn, "k", []byte("r0"))
		s, err := subscribe(t, k, consumer, parent, types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)
		require.Equal(t, []string{"r0"}, eventData(nextEvent(t, s)))

		lower, upper := k.MustSplitShard(t, arn, parent)
		e := nextEvent(t, s)
		require.Empty(t, e.Records)
		require.Nil(t, e.ContinuationSequenceNumber, "the shard's last event has no continuation")
		require.Len(t, e.ChildShards, 2)
		require.Equal(t, lower, *e.ChildShards[0].ShardId)
		require.Equal(t, upper, *e.ChildShards[1].ShardId)
		require.Equal(t, []string{parent}, e.ChildShards[0].ParentShards)
		require.Nil(t, nextEvent(t, s), "then the stream ends")
		require.NoError(t, s.Err())
		require.Empty(t, k.Subscriptions(consumer), "the subscription is gone")
	})
}

func TestKinesisSubscribeToShardEndsAfterFiveMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		consumer := k.MustRegisterStreamConsumer(t, arn, "c")
		start := time.Now()
		s, err := subscribe(t, k, consumer, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		require.NoError(t, err)
		require.NotNil(t, nextEvent(t, s))
		require.Equal(t, []string{"shardId-000000000000"}, k.Subscriptions(consumer))
		require.Nil(t, nextEvent(t, s), "the stream ends")
		require.Equal(t, 5*time.Minute, time.Since(start), "after five minutes")
		require.NoError(t, s.Err(), "cleanly")
	})
}

func TestKinesisSubscribeToShardLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		consumer := k.MustRegisterStreamConsumer(t, arn, "c")
		const shardID = "shardId-000000000000"
		latest := types.StartingPosition{Type: types.ShardIteratorTypeLatest}
		first, err := subscribe(t, k, consumer, shardID, latest)
		require.NoError(t, err)
		require.NotNil(t, nextEvent(t, first))

		_, err = subscribe(t, k, consumer, shardID, latest)
		var limit *types.LimitExceededException
		require.ErrorAs(t, err, &limit, "a second call within a second")

		time.Sleep(time.Second)
		_, err = subscribe(t, k, consumer, shardID, latest)
		var inUse *types.ResourceInUseException
		require.ErrorAs(t, err, &inUse, "within 5 seconds of the active subscription")

		time.Sleep(4 * time.Second)
		second, err := subscribe(t, k, consumer, shardID, latest)
		require.NoError(t, err, "5 seconds later, a call takes over")
		require.NotNil(t, nextEvent(t, second))
		require.Nil(t, nextEvent(t, first), "the earlier stream ends")
		require.ErrorAs(t, first.Err(), &inUse, "with ResourceInUseException")

		// Another consumer is not limited by this one.
		other := k.MustRegisterStreamConsumer(t, arn, "other")
		_, err = subscribe(t, k, other, shardID, latest)
		require.NoError(t, err)
	})
}

func TestKinesisStreamConsumers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis(esmtest.WithKinesisTransitionDelay(time.Second))
		arn := k.MustCreateStream(t, "s", 1)
		time.Sleep(time.Second)
		ctx := t.Context()
		reg, err := k.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &arn, ConsumerName: new("c")})
		require.NoError(t, err)
		consumer := *reg.Consumer.ConsumerARN
		require.Equal(t, fmt.Sprintf("%s/consumer/c:%d", arn, time.Now().Unix()), consumer)
		require.Equal(t, types.ConsumerStatusCreating, reg.Consumer.ConsumerStatus)

		_, err = k.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &arn, ConsumerName: new("c")})
		var inUse *types.ResourceInUseException
		require.ErrorAs(t, err, &inUse, "a name already registered")
		_, err = subscribe(t, k, consumer, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		require.ErrorAs(t, err, &inUse, "a consumer still CREATING")

		time.Sleep(time.Second)
		byName, err := k.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: &arn, ConsumerName: new("c")})
		require.NoError(t, err)
		require.Equal(t, consumer, *byName.ConsumerDescription.ConsumerARN)
		require.Equal(t, types.ConsumerStatusActive, byName.ConsumerDescription.ConsumerStatus)
		require.Equal(t, arn, *byName.ConsumerDescription.StreamARN)
		list, err := k.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: &arn})
		require.NoError(t, err)
		require.Len(t, list.Consumers, 1)
		sum, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: &arn})
		require.NoError(t, err)
		require.EqualValues(t, 1, *sum.StreamDescriptionSummary.ConsumerCount)

		s, err := subscribe(t, k, consumer, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		require.NoError(t, err)
		require.NotNil(t, nextEvent(t, s))
		_, err = k.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: &consumer})
		require.NoError(t, err)
		require.Nil(t, nextEvent(t, s))
		var nf *types.ResourceNotFoundException
		require.ErrorAs(t, s.Err(), &nf, "a deregistered consumer's streams end")
		_, err = k.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: &consumer})
		require.ErrorAs(t, err, &nf)
		_, err = subscribe(t, k, consumer+"0", "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		require.ErrorAs(t, err, &nf, "an unknown consumer")
	})
}

// Streams of one client decode concurrently (run with -race), and a
// stream whose context ends stops.
func TestKinesisSubscribeToShardConcurrentStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 4)
		consumer := k.MustRegisterStreamConsumer(t, arn, "c")
		for i := range 400 {
			k.Put(t, arn, fmt.Sprint("k", i), []byte(fmt.Sprint(i)))
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := range 4 {
			id := fmt.Sprintf("shardId-%012d", i)
			out, err := k.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: &consumer, ShardId: &id,
				StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
			require.NoError(t, err)
			wg.Go(func() {
				s := out.GetStream()
				defer s.Close()
				for ev := range s.Events() {
					e := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
					mu.Lock()
					total += len(e.Records)
					mu.Unlock()
				}
				if err := s.Err(); err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("stream %s: %v", id, err)
				}
			})
		}
		synctest.Wait()
		mu.Lock()
		require.Equal(t, 400, total)
		mu.Unlock()
		cancel()
		wg.Wait()
	})
}
