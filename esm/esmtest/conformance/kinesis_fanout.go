package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/lambdaesm/lambdaesm/internal/sdkfix"
	"github.com/stretchr/testify/require"
)

// Capabilities of Kinesis enhanced fan-out (stream consumers and
// SubscribeToShard).
const (
	// KinesisFanOutChildShards: at the end of a closed shard, the last
	// SubscribeToShardEvent carries ChildShards and no
	// ContinuationSequenceNumber, and the stream ends.
	KinesisFanOutChildShards Capability = "kinesis-fan-out/child-shards"
	// KinesisFanOutPush: a record is pushed to a subscription as it
	// arrives, within a few hundred milliseconds, not on a cadence.
	KinesisFanOutPush Capability = "kinesis-fan-out/push"
	// KinesisFanOutTakeOver: a SubscribeToShard call made 5 seconds or more
	// after the active subscription of the same consumer and shard takes
	// over, and the earlier stream ends with ResourceInUseException.
	KinesisFanOutTakeOver Capability = "kinesis-fan-out/take-over"
)

// KinesisFanOutAPI is the part of the Kinesis Data Streams API the enhanced
// fan-out suite calls. *kinesis.Client and *esmtest.Kinesis satisfy it.
type KinesisFanOutAPI interface {
	KinesisAPI
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

var _ KinesisFanOutAPI = (*kinesis.Client)(nil)

// KinesisFanOutHarness is a Kinesis target for [RunKinesisFanOut].
type KinesisFanOutHarness interface {
	Target
	// FanOut returns the client under test.
	FanOut() KinesisFanOutAPI
	// NewStream creates a PROVISIONED stream, new and named after t, with
	// this many shards, waits until it is ACTIVE, and returns its name. It
	// fails t on error, and may delete the stream when t ends.
	NewStream(t *testing.T, shards int) string
}

// RunKinesisFanOut runs the enhanced fan-out suite against h: registering a
// consumer (ARN, status, a name registered twice), SubscribeToShard from
// every starting position, ContinuationSequenceNumber as the place to
// subscribe again without a gap or a repeat, records pushed as they arrive,
// the end of a closed shard (ChildShards), a second subscription of the same
// consumer refused and, after 5 seconds, taking over, and the end of a
// subscription after 5 minutes (only in fake time: for a [Synctester]).
//
// The suite calls SubscribeToShard at most once a second per consumer and
// shard, as Kinesis allows.
func RunKinesisFanOut(t *testing.T, h KinesisFanOutHarness) {
	t.Helper()
	runSuite(t, "Kinesis fan-out", h, []suiteTest[KinesisFanOutHarness]{
		{name: "RegisterStreamConsumer", run: fanOutRegister},
		{name: "StartingPositions", run: fanOutPositions},
		{name: "ContinuationResumesExactly", run: fanOutContinuation},
		{name: "RecordsArePushed", needs: []Capability{KinesisFanOutPush}, run: fanOutPush},
		{name: "ClosedShardEndsWithChildShards", needs: []Capability{KinesisFanOutChildShards}, run: fanOutChildShards},
		{name: "SecondSubscriptionRefused", run: fanOutSecond},
		{name: "TakeOverAfterFiveSeconds", needs: []Capability{KinesisFanOutTakeOver}, run: fanOutTakeOver},
		{name: "EndsAfterFiveMinutes", run: fanOutFiveMinutes},
	})
}

// fanOutConsumer registers a consumer of stream and waits until it is
// ACTIVE; it returns its ARN.
func fanOutConsumer(ctx context.Context, t *testing.T, c KinesisFanOutAPI, stream, name string) string {
	t.Helper()
	streamARN := kinesisStreamARN(ctx, t, c, stream)
	out, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &streamARN, ConsumerName: &name})
	require.NoError(t, err)
	arn := *out.Consumer.ConsumerARN
	eventually(ctx, t, "consumer ACTIVE", func() (bool, error) {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: &arn})
		if err != nil {
			return false, err
		}
		return d.ConsumerDescription.ConsumerStatus == ktypes.ConsumerStatusActive, nil
	})
	return arn
}

func kinesisStreamARN(ctx context.Context, t *testing.T, c KinesisAPI, stream string) string {
	t.Helper()
	out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
	require.NoError(t, err)
	return *out.StreamDescriptionSummary.StreamARN
}

// fanOutSubscription is an open SubscribeToShard stream.
type fanOutSubscription struct {
	st      *kinesis.SubscribeToShardEventStream
	err     error                           // the call's error, when it failed
	pending []*ktypes.SubscribeToShardEvent // read ahead, for next
}

// fanOutTry calls SubscribeToShard once; the stream is closed when t ends.
func fanOutTry(ctx context.Context, t *testing.T, c KinesisFanOutAPI, consumer, shardID string, pos ktypes.StartingPosition) *fanOutSubscription {
	t.Helper()
	out, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: &consumer, ShardId: &shardID, StartingPosition: &pos}, sdkfix.OwnKinesisProtocol)
	if err != nil {
		return &fanOutSubscription{err: err}
	}
	st := out.GetStream()
	t.Cleanup(func() { _ = st.Close() })
	return &fanOutSubscription{st: st}
}

// fanOutSubscribe subscribes, waiting out a subscription the consumer held
// on the shard before (Kinesis refuses a new one with
// ResourceInUseException for a few seconds after a successful call, by the
// call or in the stream) and the limit of one call a second
// (LimitExceededException), and returns once the first event arrived.
func fanOutSubscribe(ctx context.Context, t *testing.T, c KinesisFanOutAPI, consumer, shardID string, pos ktypes.StartingPosition) *fanOutSubscription {
	t.Helper()
	var inUse *ktypes.ResourceInUseException
	for {
		s := fanOutTry(ctx, t, c, consumer, shardID, pos)
		if s.err == nil {
			ev, ok, timedOut := s.next(ctx, t, testTimeout)
			require.False(t, timedOut, "no event")
			if ok {
				s.pending = append(s.pending, ev)
				return s
			}
			s.err = s.st.Err()
			require.Error(t, s.err, "the stream ended without an event")
		}
		var limit *ktypes.LimitExceededException
		require.True(t, errors.As(s.err, &inUse) || errors.As(s.err, &limit), "SubscribeToShard: %v", s.err)
		select {
		case <-ctx.Done():
			t.Fatalf("conformance: subscribing: %v (last error: %v)", ctx.Err(), s.err)
		case <-time.After(spacing):
		}
	}
}

// next waits up to d for the next event; ok is false when the stream ended
// (Err tells why) and timedOut when d passed first.
func (s *fanOutSubscription) next(ctx context.Context, t *testing.T, d time.Duration) (ev *ktypes.SubscribeToShardEvent, ok, timedOut bool) {
	t.Helper()
	require.NoError(t, s.err, "SubscribeToShard")
	if len(s.pending) > 0 {
		ev, s.pending = s.pending[0], s.pending[1:]
		return ev, true, false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e, open := <-s.st.Events():
			if !open {
				return nil, false, false
			}
			if v, isEvent := e.(*ktypes.SubscribeToShardEventStreamMemberSubscribeToShardEvent); isEvent {
				return &v.Value, true, false
			}
		case <-timer.C:
			return nil, true, true
		case <-ctx.Done():
			t.Fatalf("conformance: waiting for an event: %v", ctx.Err())
		}
	}
}

// records reads events until it has n records (or the stream ends), and
// returns them and the last event's continuation.
func (s *fanOutSubscription) records(ctx context.Context, t *testing.T, n int) ([]ktypes.Record, string) {
	t.Helper()
	var recs []ktypes.Record
	cont := ""
	for len(recs) < n {
		ev, ok, timedOut := s.next(ctx, t, testTimeout)
		require.False(t, timedOut, "no event")
		require.True(t, ok, "the stream ended after %d of %d records: %v", len(recs), n, s.st.Err())
		recs = append(recs, ev.Records...)
		cont = deref(ev.ContinuationSequenceNumber)
	}
	return recs, cont
}

// spacing is the wait between two SubscribeToShard calls of one consumer on
// one shard (Kinesis allows one a second).
const spacing = 1100 * time.Millisecond

func fanOutRegister(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	streamARN := kinesisStreamARN(ctx, t, c, stream)
	arn := fanOutConsumer(ctx, t, c, stream, "app")
	require.True(t, strings.HasPrefix(arn, streamARN+"/consumer/app:"), "the consumer ARN is the stream's, /consumer/<name>:<timestamp>: %s", arn)
	byName, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: &streamARN, ConsumerName: new("app")})
	require.NoError(t, err)
	require.Equal(t, arn, deref(byName.ConsumerDescription.ConsumerARN), "a consumer is found by its stream and name")
	require.Equal(t, streamARN, deref(byName.ConsumerDescription.StreamARN))
	_, err = c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &streamARN, ConsumerName: new("app")})
	var inUse *ktypes.ResourceInUseException
	require.ErrorAs(t, err, &inUse, "a name registered twice")
	_, err = c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: new(arn + "0")})
	var nf *ktypes.ResourceNotFoundException
	require.ErrorAs(t, err, &nf, "an unknown consumer ARN")
}

func fanOutPositions(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	puts := kinesisPut(ctx, t, c, stream, kinesisEntries("r", 0, 5)...)
	time.Sleep(20 * time.Millisecond) // the next records arrive in a later millisecond
	puts = append(puts, kinesisPut(ctx, t, c, stream, kinesisEntries("r", 5, 2)...)...)
	all := []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}

	s := fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon})
	recs, cont := s.records(ctx, t, 7)
	require.Equal(t, all, kinesisData(recs), "TRIM_HORIZON pushes every record from the oldest")
	require.Equal(t, puts[6].seq, cont, "the continuation is the last record pushed")
	for i, r := range recs {
		require.Equal(t, puts[i].seq, *r.SequenceNumber)
		require.NotNil(t, r.ApproximateArrivalTimestamp)
	}
	require.NoError(t, s.st.Close())

	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: &puts[2].seq})
	got, _ := s.records(ctx, t, 5)
	require.Equal(t, all[2:], kinesisData(got), "AT_SEQUENCE_NUMBER starts at that record")
	require.NoError(t, s.st.Close())

	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: &puts[2].seq})
	got, _ = s.records(ctx, t, 4)
	require.Equal(t, all[3:], kinesisData(got), "AFTER_SEQUENCE_NUMBER starts after that record")
	require.NoError(t, s.st.Close())

	ts := *recs[5].ApproximateArrivalTimestamp
	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeAtTimestamp, Timestamp: &ts})
	got, _ = s.records(ctx, t, 2)
	require.Equal(t, all[5:], kinesisData(got), "AT_TIMESTAMP starts at the first record that arrived at or after it")
	require.NoError(t, s.st.Close())

	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	ev, ok, _ := s.next(ctx, t, testTimeout)
	require.True(t, ok, "the stream ended: %v", s.st.Err())
	require.Empty(t, ev.Records, "LATEST pushes nothing of what was there")
	kinesisPut(ctx, t, c, stream, kinesisEntries("r", 7, 1)...)
	got, _ = s.records(ctx, t, 1)
	require.Equal(t, []string{"r7"}, kinesisData(got), "LATEST pushes the records put after it")
}

// A subscription closed mid-stream and one started AFTER_SEQUENCE_NUMBER of
// its last continuation together push every record once: how a consumer
// renews its subscription every 5 minutes.
func fanOutContinuation(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	kinesisPut(ctx, t, c, stream, kinesisEntries("a", 0, 4)...)
	s := fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon})
	first, cont := s.records(ctx, t, 4)
	require.NotEmpty(t, cont)
	require.NoError(t, s.st.Close())
	kinesisPut(ctx, t, c, stream, kinesisEntries("a", 4, 3)...)

	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: &cont})
	second, cont2 := s.records(ctx, t, 3)
	require.Equal(t, []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6"}, kinesisData(append(first, second...)), "no gap, no repeat at the seam")

	// The continuation of an event without records is a place too.
	require.NoError(t, s.st.Close())
	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: &cont2})
	ev, ok, _ := s.next(ctx, t, testTimeout)
	require.True(t, ok, "the stream ended: %v", s.st.Err())
	require.Empty(t, ev.Records, "nothing after the last record")
	require.NotNil(t, ev.ContinuationSequenceNumber)
	empty := *ev.ContinuationSequenceNumber
	require.NoError(t, s.st.Close())
	kinesisPut(ctx, t, c, stream, kinesisEntries("a", 7, 1)...)
	s = fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: &empty})
	got, _ := s.records(ctx, t, 1)
	require.Equal(t, []string{"a7"}, kinesisData(got), "AFTER_SEQUENCE_NUMBER of an empty event's continuation")
}

func fanOutPush(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	s := fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	_, ok, _ := s.next(ctx, t, testTimeout)
	require.True(t, ok, "the stream ended: %v", s.st.Err())
	for i := range 3 {
		time.Sleep(300 * time.Millisecond)
		begin := time.Now()
		kinesisPut(ctx, t, c, stream, kinesisEntries("p", i, 1)...)
		got, _ := s.records(ctx, t, 1)
		require.Len(t, got, 1)
		require.Less(t, time.Since(begin), 500*time.Millisecond, "a record is pushed as it arrives")
	}
}

func fanOutChildShards(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	parent := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	kinesisPut(ctx, t, c, stream, kinesisEntries("p", 0, 3)...)
	s := fanOutSubscribe(ctx, t, c, consumer, parent, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon})
	recs, _ := s.records(ctx, t, 3)
	require.Equal(t, []string{"p0", "p1", "p2"}, kinesisData(recs))
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &stream, ShardToSplit: &parent, NewStartingHashKey: new(midHashKey.String())})
	require.NoError(t, err)
	var children []string
	for _, sh := range kinesisWaitShards(ctx, t, c, stream, 3) {
		if deref(sh.ParentShardId) == parent {
			children = append(children, *sh.ShardId)
		}
	}
	for {
		ev, ok, timedOut := s.next(ctx, t, testTimeout)
		require.False(t, timedOut, "no event with ChildShards within %v", testTimeout)
		require.True(t, ok, "the stream ended before its ChildShards event: %v", s.st.Err())
		require.Empty(t, ev.Records, "no record after the split")
		if len(ev.ChildShards) == 0 {
			continue
		}
		var got []string
		for _, ch := range ev.ChildShards {
			got = append(got, *ch.ShardId)
			require.Equal(t, []string{parent}, ch.ParentShards)
		}
		require.ElementsMatch(t, children, got, "the last event names the children")
		require.Nil(t, ev.ContinuationSequenceNumber, "and has no continuation")
		break
	}
	_, ok, timedOut := s.next(ctx, t, testTimeout)
	require.False(t, timedOut, "the stream ends after the ChildShards event")
	require.False(t, ok, "the stream ends after the ChildShards event")
	require.NoError(t, s.st.Err())
}

// fanOutInUse tells whether a subscription was refused with
// ResourceInUseException, by the call or in its stream (Kinesis may answer
// either way).
func fanOutInUse(ctx context.Context, t *testing.T, s *fanOutSubscription) bool {
	t.Helper()
	var inUse *ktypes.ResourceInUseException
	if s.err != nil {
		return errors.As(s.err, &inUse)
	}
	for {
		_, ok, timedOut := s.next(ctx, t, 3*time.Second)
		if timedOut {
			return false
		}
		if !ok {
			return errors.As(s.st.Err(), &inUse)
		}
	}
}

func fanOutSecond(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	first := fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	_, ok, _ := first.next(ctx, t, testTimeout)
	require.True(t, ok, "the stream ended: %v", first.st.Err())
	time.Sleep(spacing)
	second := fanOutTry(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	require.True(t, fanOutInUse(ctx, t, second), "a second subscription within 5 seconds is refused with ResourceInUseException")

	other := fanOutConsumer(ctx, t, c, stream, "other")
	s := fanOutSubscribe(ctx, t, c, other, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	_, ok, _ = s.next(ctx, t, testTimeout)
	require.True(t, ok, "another consumer subscribes to the same shard: %v", s.st.Err())
}

func fanOutTakeOver(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	first := fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	_, ok, _ := first.next(ctx, t, testTimeout)
	require.True(t, ok, "the stream ended: %v", first.st.Err())
	time.Sleep(5 * time.Second)
	second := fanOutTry(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	_, ok, _ = second.next(ctx, t, testTimeout)
	require.True(t, ok, "5 seconds later, a second subscription takes over: %v", second.st.Err())
	for {
		_, ok, timedOut := first.next(ctx, t, testTimeout)
		require.False(t, timedOut, "the first stream ends")
		if !ok {
			break
		}
	}
	var inUse *ktypes.ResourceInUseException
	require.ErrorAs(t, first.st.Err(), &inUse, "the first stream ends with ResourceInUseException")
}

func fanOutFiveMinutes(ctx context.Context, t *testing.T, h KinesisFanOutHarness) {
	if st, ok := any(h).(Synctester); !ok || !st.Synctest() {
		t.Skip("a subscription lasts 5 minutes: checked only in fake time (a Synctester target)")
	}
	// Longer than the suite's test timeout: the wait is in fake time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	c, stream := h.FanOut(), h.NewStream(t, 1)
	consumer := fanOutConsumer(ctx, t, c, stream, "app")
	shard := kinesisShardIDs(ctx, t, c, stream, nil)[0]
	begin := time.Now()
	s := fanOutSubscribe(ctx, t, c, consumer, shard, ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest})
	for {
		_, ok, timedOut := s.next(ctx, t, 6*time.Minute)
		require.False(t, timedOut, "the stream ends")
		if !ok {
			break
		}
	}
	require.NoError(t, s.st.Err(), "the stream ends cleanly")
	require.InDelta(t, 5*time.Minute, time.Since(begin), float64(10*time.Second), "after 5 minutes")
}
