package shard

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisFanOutAPI is what a Kinesis mapping of a stream consumer (enhanced
// fan-out: an EventSourceArn of the form
// arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<timestamp>)
// calls besides [KinesisAPI]: SubscribeToShard to read, and
// DescribeStreamConsumer to check the consumer at start-up. *kinesis.Client
// satisfies it, and so does the fake in esm/esmtest.
//
// It is a separate interface so that a [KinesisAPI] written before enhanced
// fan-out (a test fake, a wrapper) keeps working for stream ARNs; package
// esm checks for it only when the mapping names a consumer, and says so
// when the client lacks it.
type KinesisFanOutAPI interface {
	KinesisAPI
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
}

// KinesisConsumerAPI is what a Kinesis mapping that registers its own
// stream consumer (esm.WithStreamConsumer) calls besides
// [KinesisFanOutAPI]: RegisterStreamConsumer. *kinesis.Client satisfies
// it, and so does the fake in esm/esmtest.
type KinesisConsumerAPI interface {
	KinesisFanOutAPI
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
}

var (
	_ KinesisFanOutAPI   = (*kinesis.Client)(nil)
	_ KinesisConsumerAPI = (*kinesis.Client)(nil)
)
