package esm

import (
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
