package esmtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// kinesisMaxConsumers is the most consumers a stream may have registered.
const kinesisMaxConsumers = 20

// kConsumer is a registered stream consumer (enhanced fan-out).
type kConsumer struct {
	name    string
	arn     string
	created time.Time
	readyAt time.Time // CREATING until then
	// subs is the active subscription of each shard (by index), lastCall
	// the time of the last SubscribeToShard call of each shard.
	subs     map[int]*kSub
	lastCall map[int]time.Time
}

func (c *kConsumer) status(now time.Time) types.ConsumerStatus {
	if now.Before(c.readyAt) {
		return types.ConsumerStatusCreating
	}
	return types.ConsumerStatusActive
}

func (c *kConsumer) description(s *kStream, now time.Time) *types.ConsumerDescription {
	return &types.ConsumerDescription{
		ConsumerName: new(c.name), ConsumerARN: new(c.arn), ConsumerStatus: c.status(now),
		ConsumerCreationTimestamp: new(sdkTime(c.created)), StreamARN: new(s.arn),
	}
}

// consumerByARN resolves a consumer ARN:
// arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<seconds>.
// Callers hold k.mu.
func (k *Kinesis) consumerByARN(consumerARN string) (*kStream, *kConsumer, error) {
	parts := strings.SplitN(consumerARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" {
		return nil, nil, invalidArg("ConsumerARN %s is not a valid Kinesis stream consumer ARN.", consumerARN)
	}
	stream, rest, ok := strings.Cut(strings.TrimPrefix(parts[5], "stream/"), "/consumer/")
	if !ok || !strings.HasPrefix(parts[5], "stream/") || !strings.Contains(rest, ":") {
		return nil, nil, invalidArg("ConsumerARN %s is not a valid Kinesis stream consumer ARN.", consumerARN)
	}
	s := k.streams[stream]
	if s != nil {
		for _, c := range s.consumers {
			if c.arn == consumerARN {
				return s, c, nil
			}
		}
	}
	return nil, nil, notFound("ConsumerARN %s not found.", consumerARN)
}

// consumerOf resolves a consumer named by its ARN, or by its stream and
// name. Callers hold k.mu.
func (k *Kinesis) consumerOf(consumerARN, streamARN, name *string) (*kStream, *kConsumer, error) {
	if consumerARN != nil {
		if streamARN != nil || name != nil {
			return nil, nil, invalidArg("Either ConsumerARN, or StreamARN and ConsumerName, must be provided, not both.")
		}
		return k.consumerByARN(*consumerARN)
	}
	if streamARN == nil || name == nil {
		return nil, nil, invalidArg("Either ConsumerARN, or StreamARN and ConsumerName, must be provided.")
	}
	s, err := k.stream(nil, streamARN)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range s.consumers {
		if c.name == *name {
			return s, c, nil
		}
	}
	return nil, nil, notFound("Consumer %s under stream %s not found.", *name, s.arn)
}

// RegisterStreamConsumer registers a consumer of a stream for enhanced
// fan-out. It is CREATING for the transition delay
// ([WithKinesisTransitionDelay]; ACTIVE at once by default), and its ARN is
// the stream's ARN followed by /consumer/<name>:<creation time in seconds>.
// A name already registered fails with *types.ResourceInUseException, a
// 21st consumer with *types.LimitExceededException.
func (k *Kinesis) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "RegisterStreamConsumer", in, k.registerStreamConsumer)
}

func (k *Kinesis) registerStreamConsumer(in *kinesis.RegisterStreamConsumerInput) (*kinesis.RegisterStreamConsumerOutput, error) {
	if err := missingParams("RegisterStreamConsumerInput", param{"ConsumerName", in.ConsumerName != nil}, param{"StreamARN", in.StreamARN != nil}); err != nil {
		return nil, err
	}
	name := *in.ConsumerName
	if !validName(name, 128) {
		return nil, invalidArg("Consumer name %q must be 1 to 128 characters of [a-zA-Z0-9_.-].", name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	s, err := k.readable(nil, in.StreamARN, now)
	if err != nil {
		return nil, err
	}
	for _, c := range s.consumers {
		if c.name == name {
			return nil, inUse("Consumer %s exists.", name)
		}
	}
	if len(s.consumers) >= kinesisMaxConsumers {
		return nil, &types.LimitExceededException{Message: new(fmt.Sprintf("Stream %s under account %s already has %d consumers.", s.name, k.account, kinesisMaxConsumers))}
	}
	created := sdkTime(now)
	c := &kConsumer{
		name: name, created: created, readyAt: created.Add(k.delay),
		arn:  s.arn + "/consumer/" + name + ":" + strconv.FormatInt(created.Unix(), 10),
		subs: map[int]*kSub{}, lastCall: map[int]time.Time{},
	}
	s.consumers = append(s.consumers, c)
	return &kinesis.RegisterStreamConsumerOutput{Consumer: &types.Consumer{
		ConsumerName: new(c.name), ConsumerARN: new(c.arn), ConsumerStatus: c.status(now), ConsumerCreationTimestamp: new(created),
	}}, nil
}

// DescribeStreamConsumer describes a consumer named by its ARN, or by its
// stream's ARN and its name.
func (k *Kinesis) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "DescribeStreamConsumer", in, k.describeStreamConsumer)
}

func (k *Kinesis) describeStreamConsumer(in *kinesis.DescribeStreamConsumerInput) (*kinesis.DescribeStreamConsumerOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, c, err := k.consumerOf(in.ConsumerARN, in.StreamARN, in.ConsumerName)
	if err != nil {
		return nil, err
	}
	return &kinesis.DescribeStreamConsumerOutput{ConsumerDescription: c.description(s, k.clock.Now())}, nil
}

// ListStreamConsumers lists the consumers of a stream, in registration
// order, in one page.
func (k *Kinesis) ListStreamConsumers(ctx context.Context, in *kinesis.ListStreamConsumersInput, _ ...func(*kinesis.Options)) (*kinesis.ListStreamConsumersOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "ListStreamConsumers", in, k.listStreamConsumers)
}

func (k *Kinesis) listStreamConsumers(in *kinesis.ListStreamConsumersInput) (*kinesis.ListStreamConsumersOutput, error) {
	if err := missingParams("ListStreamConsumersInput", param{"StreamARN", in.StreamARN != nil}); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := k.stream(nil, in.StreamARN)
	if err != nil {
		return nil, err
	}
	now := k.clock.Now()
	out := &kinesis.ListStreamConsumersOutput{Consumers: []types.Consumer{}}
	for _, c := range s.consumers {
		out.Consumers = append(out.Consumers, types.Consumer{
			ConsumerName: new(c.name), ConsumerARN: new(c.arn), ConsumerStatus: c.status(now), ConsumerCreationTimestamp: new(c.created),
		})
	}
	return out, nil
}

// DeregisterStreamConsumer removes a consumer at once; its subscriptions
// end with *types.ResourceNotFoundException in their streams.
func (k *Kinesis) DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "DeregisterStreamConsumer", in, k.deregisterStreamConsumer)
}

func (k *Kinesis) deregisterStreamConsumer(in *kinesis.DeregisterStreamConsumerInput) (*kinesis.DeregisterStreamConsumerOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, c, err := k.consumerOf(in.ConsumerARN, in.StreamARN, in.ConsumerName)
	if err != nil {
		return nil, err
	}
	for i, sc := range s.consumers {
		if sc == c {
			s.consumers = append(s.consumers[:i:i], s.consumers[i+1:]...)
			break
		}
	}
	for _, sub := range c.subs {
		sub.end(notFound("Consumer %s was deregistered.", c.arn))
	}
	return &kinesis.DeregisterStreamConsumerOutput{}, nil
}

// MustRegisterStreamConsumer registers a consumer of a stream (a name or
// ARN) and returns its ARN, failing the test on error. The consumer is
// ACTIVE at once unless [WithKinesisTransitionDelay] is set.
func (k *Kinesis) MustRegisterStreamConsumer(t testing.TB, stream, name string) (consumerARN string) {
	t.Helper()
	k.mu.Lock()
	s, err := k.stream(streamRef(stream))
	k.mu.Unlock()
	if err != nil {
		t.Fatalf("esmtest: register consumer %s of %s: %v", name, stream, err)
	}
	out, err := k.registerStreamConsumer(&kinesis.RegisterStreamConsumerInput{StreamARN: new(s.arn), ConsumerName: &name})
	if err != nil {
		t.Fatalf("esmtest: register consumer %s of %s: %v", name, stream, err)
	}
	return *out.Consumer.ConsumerARN
}

// Subscriptions returns the IDs of the shards that a consumer has an active
// SubscribeToShard stream on, in shard order.
func (k *Kinesis) Subscriptions(consumerARN string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, c, err := k.consumerByARN(consumerARN)
	if err != nil {
		return nil
	}
	var ids []string
	for _, sh := range s.shards {
		if c.subs[sh.index] != nil {
			ids = append(ids, sh.id)
		}
	}
	return ids
}
