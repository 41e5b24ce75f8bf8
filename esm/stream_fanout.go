package esm

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/shard"
)

// newKinesisEngine builds a Kinesis mapping's engine: one that reads with
// SubscribeToShard when cfg.EventSourceArn names a stream consumer (enhanced
// fan-out), with GetRecords otherwise.
func newKinesisEngine(cfg Config, client shard.KinesisAPI, o options, set streamengine.Settings,
	cb streamengine.Callbacks[events.KinesisEventRecord]) (*streamengine.Engine[events.KinesisEventRecord], error) {
	src, _ := cfg.EventSource() // valid: prepare checked it
	if o.consumerName != "" {
		if src.Consumer != "" {
			return nil, fmt.Errorf("esm: WithStreamConsumer(%q): EventSourceArn %s names a stream consumer already; give the stream's ARN", o.consumerName, cfg.EventSourceArn)
		}
		cc, ok := client.(shard.KinesisConsumerAPI)
		if !ok {
			return nil, fmt.Errorf("esm: WithStreamConsumer(%q) registers a stream consumer and reads with SubscribeToShard: "+
				"the client, a %T, lacks RegisterStreamConsumer, DescribeStreamConsumer or SubscribeToShard (shard.KinesisConsumerAPI; *kinesis.Client has them)", o.consumerName, client)
		}
		return streamengine.NewKinesisConsumer(cc, cfg.EventSourceArn, o.consumerName, o.invokeIdentity, set, cb)
	}
	if src.Consumer == "" {
		return streamengine.NewKinesis(client, cfg.EventSourceArn, o.invokeIdentity, set, cb)
	}
	fc, ok := client.(shard.KinesisFanOutAPI)
	if !ok {
		return nil, fmt.Errorf("esm: EventSourceArn %s names a stream consumer (enhanced fan-out), which is read with SubscribeToShard: "+
			"the client, a %T, lacks SubscribeToShard or DescribeStreamConsumer (shard.KinesisFanOutAPI; *kinesis.Client has both)", cfg.EventSourceArn, client)
	}
	return streamengine.NewKinesisFanOut(fc, cfg.EventSourceArn, o.invokeIdentity, set, cb)
}

// streamARNOf is the ARN of the stream a stream mapping reads: the
// EventSourceArn, or the stream of a Kinesis stream consumer.
func streamARNOf(cfg Config) string {
	if src, err := cfg.EventSource(); err == nil && src.StreamARN != "" {
		return src.StreamARN
	}
	return cfg.EventSourceArn
}

// WithStreamConsumer makes a Kinesis mapping of a stream ARN read with
// enhanced fan-out (SubscribeToShard) through the stream consumer called
// name, as a mapping of that consumer's ARN does: when Run starts, it
// registers the consumer (RegisterStreamConsumer), or uses the one of that
// name already registered (by an earlier run or another replica), and
// waits until it is ACTIVE, retrying with backoff. The client must also
// implement shard.KinesisConsumerAPI (*kinesis.Client does). Lambda has no
// such setting: there the consumer is registered beforehand and its ARN is
// the EventSourceArn.
//
// The consumer stays registered when the mapping stops: Kinesis bills each
// registered consumer by the shard-hour, so deregister it
// (DeregisterStreamConsumer) when no mapping uses it any more. Checkpoints
// are kept under the stream's ARN, as those of a polling mapping of the same
// name, so switching a mapping between polling and this option resumes where
// it was. The name is 1 to 128 letters, digits, '_', '-' or '.'. Kinesis
// mappings of a stream ARN only.
func WithStreamConsumer(name string) StreamOption {
	o := option{name: "WithStreamConsumer", to: kinesisMappings, set: func(o *options) { o.consumerName = name }}
	if !validName(name, 1, 128, ".") {
		o.errs = []error{errors.New("esm: WithStreamConsumer: the consumer name must be 1 to 128 letters, digits, '_', '-' or '.'")}
	}
	return streamOnly(o)
}
