package streamengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/internal/event"
	"github.com/lambdaesm/lambdaesm/internal/sdkfix"
	"github.com/lambdaesm/lambdaesm/shard"
)

// subscriber is a source that reads a shard through push subscriptions
// (Kinesis enhanced fan-out) instead of iterators: the reader then runs
// proc.subscribe instead of proc.read.
type subscriber[R any] interface {
	// subscribe opens a subscription to a shard from pos.
	subscribe(ctx context.Context, shardID string, pos position) (subscription[R], error)
}

// subscription is one open subscription to a shard.
type subscription[R any] interface {
	// next waits for the next event and converts its records, appending
	// them to into. It returns io.EOF when the service ended the
	// subscription cleanly (Kinesis ends each after 5 minutes): subscribe
	// again from the last event's continuation.
	next(ctx context.Context, into []R) (subEvent[R], error)
	// close ends the subscription and waits (briefly) for its readers.
	close()
}

// subEvent is one event of a subscription.
type subEvent[R any] struct {
	recs []R
	// cont is where the next subscription starts, after it
	// (AFTER_SEQUENCE_NUMBER); "" on the shard's last event.
	cont string
	// ended tells that the shard ended with this event: it was closed and
	// every record was pushed (Kinesis: ChildShards and no continuation).
	ended bool
	// caughtUp tells that the event holds everything the shard had
	// (MillisBehindLatest 0): what arrives later is newer than now.
	caughtUp bool
}

// kinesisFanOut reads a Kinesis stream through a registered stream consumer:
// discovery, iterators and records are the stream's (kinesisSource), and the
// shards are read with SubscribeToShard.
type kinesisFanOut struct {
	*kinesisSource
	fc       shard.KinesisFanOutAPI
	consumer string // the consumer's ARN; set by check when registering
	// With a consumer to register (NewKinesisConsumer): its name and the
	// client that registers it.
	register  string
	registrar shard.KinesisConsumerAPI
}

var _ subscriber[events.KinesisEventRecord] = (*kinesisFanOut)(nil)

// ConsumerStreamARN returns the ARN of the stream of a stream consumer ARN
// (arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<created>),
// and ok=false when s is not such an ARN.
func ConsumerStreamARN(s string) (streamARN string, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "kinesis" {
		return "", false
	}
	stream, consumer, found := strings.Cut(a.Resource, "/consumer/")
	name, created, colon := strings.Cut(consumer, ":")
	if !found || !colon || name == "" || created == "" || !strings.HasPrefix(stream, "stream/") || len(stream) == len("stream/") ||
		strings.Contains(stream[len("stream/"):], "/") {
		return "", false
	}
	a.Resource = stream
	return a.String(), true
}

func newKinesisFanOut(c shard.KinesisFanOutAPI, consumerARN, invokeIdentityARN string) (*kinesisFanOut, error) {
	streamARN, ok := ConsumerStreamARN(consumerARN)
	if !ok {
		return nil, fmt.Errorf("shard: %s is not a Kinesis stream consumer ARN (arn:aws:kinesis:region:account:stream/name/consumer/consumer-name:timestamp)", consumerARN)
	}
	src, err := newKinesisSource(c, streamARN, invokeIdentityARN)
	if err != nil {
		return nil, err
	}
	return &kinesisFanOut{kinesisSource: src, fc: c, consumer: consumerARN}, nil
}

// check verifies that the stream can be read and that the consumer exists
// (registering it first if asked to) and is ACTIVE: a consumer still
// CREATING is a transient error, which Run retries with backoff.
func (s *kinesisFanOut) check(ctx context.Context) error {
	if err := s.kinesisSource.check(ctx); err != nil {
		return err
	}
	if s.consumer == "" {
		arn, err := s.registerConsumer(ctx)
		if err != nil {
			return err
		}
		s.consumer = arn
	}
	out, err := s.fc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: &s.consumer})
	if err != nil {
		if classify(err) == errNotFound {
			return fmt.Errorf("Stream consumer not found: %s (kinesis:DescribeStreamConsumer: %w)", s.consumer, err)
		}
		return serviceError("kinesis:DescribeStreamConsumer", "stream consumer "+s.consumer, err)
	}
	if out == nil || out.ConsumerDescription == nil {
		return fmt.Errorf("kinesis:DescribeStreamConsumer on stream consumer %s returned no description", s.consumer)
	}
	if d := out.ConsumerDescription; d.ConsumerStatus != ktypes.ConsumerStatusActive {
		return fmt.Errorf("stream consumer %s is %s, not ACTIVE", s.consumer, d.ConsumerStatus)
	}
	return nil
}

// registerConsumer registers the consumer called s.register, or finds the
// one of that name already registered, and returns its ARN.
func (s *kinesisFanOut) registerConsumer(ctx context.Context) (string, error) {
	out, err := s.registrar.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &s.arn, ConsumerName: &s.register})
	if err == nil && out != nil && out.Consumer != nil && out.Consumer.ConsumerARN != nil {
		return *out.Consumer.ConsumerARN, nil
	}
	if err != nil && errorCode(err) != "ResourceInUseException" {
		return "", serviceError("kinesis:RegisterStreamConsumer", "stream consumer "+s.register+" of "+s.arn, err)
	}
	// Registered already (by an earlier run, or another replica): use it.
	d, err := s.registrar.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: &s.arn, ConsumerName: &s.register})
	if err != nil {
		return "", serviceError("kinesis:DescribeStreamConsumer", "stream consumer "+s.register+" of "+s.arn, err)
	}
	if d == nil || d.ConsumerDescription == nil || d.ConsumerDescription.ConsumerARN == nil {
		return "", fmt.Errorf("kinesis:DescribeStreamConsumer on stream consumer %s of %s returned no ARN", s.register, s.arn)
	}
	return *d.ConsumerDescription.ConsumerARN, nil
}

func (s *kinesisFanOut) subscribe(ctx context.Context, shardID string, pos position) (subscription[events.KinesisEventRecord], error) {
	sp := &ktypes.StartingPosition{Type: ktypes.ShardIteratorType(pos.Type)}
	switch pos.Type {
	case "AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER":
		sp.SequenceNumber = &pos.Seq
	case "AT_TIMESTAMP":
		sp.Timestamp = &pos.Time
	}
	// The stream's reads end with this context: close cancels it, so the
	// SDK's reader goroutines end even if closing the body does not wake
	// them.
	sctx, cancel := context.WithCancel(ctx)
	out, err := s.fc.SubscribeToShard(sctx, &kinesis.SubscribeToShardInput{ConsumerARN: &s.consumer, ShardId: &shardID, StartingPosition: sp}, sdkfix.OwnKinesisProtocol)
	if err != nil {
		cancel()
		return nil, serviceError("kinesis:SubscribeToShard", "shard "+shardID+" of "+s.consumer, err)
	}
	var st *kinesis.SubscribeToShardEventStream
	if out != nil {
		st = out.GetStream()
	}
	if st == nil || st.Reader == nil {
		cancel()
		return nil, fmt.Errorf("kinesis:SubscribeToShard on shard %s of %s: the client returned no event stream", shardID, s.consumer)
	}
	return &kinesisSubscription{src: s, shardID: shardID, st: st, cancel: cancel}, nil
}

// kinesisSubscription is one SubscribeToShard event stream.
type kinesisSubscription struct {
	src     *kinesisFanOut
	shardID string
	st      *kinesis.SubscribeToShardEventStream
	cancel  context.CancelFunc
}

func (k *kinesisSubscription) next(ctx context.Context, into []events.KinesisEventRecord) (subEvent[events.KinesisEventRecord], error) {
	for {
		select {
		case <-ctx.Done():
			return subEvent[events.KinesisEventRecord]{}, ctx.Err()
		case ev, ok := <-k.st.Events():
			if !ok {
				if err := k.st.Err(); err != nil {
					return subEvent[events.KinesisEventRecord]{}, serviceError("kinesis:SubscribeToShard", "shard "+k.shardID+" of "+k.src.consumer, err)
				}
				return subEvent[events.KinesisEventRecord]{}, io.EOF
			}
			e, isEvent := ev.(*ktypes.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !isEvent {
				continue // an event type this SDK does not know
			}
			s := k.src
			out := subEvent[events.KinesisEventRecord]{
				recs: event.KinesisRecords(into, e.Value.Records, k.shardID, s.arn, s.region, s.identity),
				cont: aws.ToString(e.Value.ContinuationSequenceNumber),
			}
			// The last event of a closed shard has no continuation (and
			// names the ChildShards).
			out.ended = e.Value.ContinuationSequenceNumber == nil
			out.caughtUp = aws.ToInt64(e.Value.MillisBehindLatest) == 0
			return out, nil
		}
	}
}

// closeWait bounds how long close waits for the SDK's readers to stop.
const closeWait = 5 * time.Second

func (k *kinesisSubscription) close() {
	_ = k.st.Close()
	k.cancel()
	// The SDK's reader says when its goroutines are done; wait for them,
	// so that none outlives Run.
	if r, ok := k.st.Reader.(interface{ Closed() <-chan struct{} }); ok {
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-r.Closed():
		case <-t.C:
		}
	}
}

// NewKinesisFanOut returns an engine for the Kinesis stream of the stream
// consumer consumerARN, which reads every shard with SubscribeToShard
// (enhanced fan-out) instead of GetRecords; everything else (discovery,
// lanes, checkpoints, leases, resharding) is as [NewKinesis]. Events carry
// the stream's ARN as eventSourceARN; hooks and logs name the consumer's.
// PollInterval and MinPollInterval do not apply.
func NewKinesisFanOut(c shard.KinesisFanOutAPI, consumerARN, invokeIdentityARN string, set Settings, cb Callbacks[events.KinesisEventRecord]) (*Engine[events.KinesisEventRecord], error) {
	src, err := newKinesisFanOut(c, consumerARN, invokeIdentityARN)
	if err != nil {
		return nil, err
	}
	if set.PollInterval <= 0 {
		set.PollInterval = time.Second
	}
	return newEngine[events.KinesisEventRecord](src, consumerARN, set, cb)
}

// NewKinesisConsumer is [NewKinesisFanOut] for a consumer known by its name:
// at Run's start-up check it registers the consumer consumerName of the
// stream streamARN (RegisterStreamConsumer), or uses the one of that name
// already registered, and waits, retrying with backoff, until it is ACTIVE.
// Hooks, logs and events name the stream.
func NewKinesisConsumer(c shard.KinesisConsumerAPI, streamARN, consumerName, invokeIdentityARN string, set Settings, cb Callbacks[events.KinesisEventRecord]) (*Engine[events.KinesisEventRecord], error) {
	src, err := newKinesisSource(c, streamARN, invokeIdentityARN)
	if err != nil {
		return nil, err
	}
	if consumerName == "" {
		return nil, errors.New("shard: the stream consumer's name is empty")
	}
	if set.PollInterval <= 0 {
		set.PollInterval = time.Second
	}
	return newEngine[events.KinesisEventRecord](&kinesisFanOut{kinesisSource: src, fc: c, register: consumerName, registrar: c}, streamARN, set, cb)
}

// errorCode returns the API error code of err, or "".
func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
