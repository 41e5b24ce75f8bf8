package awstest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// cleanupTimeout bounds each deletion at the end of a test.
const cleanupTimeout = 10 * time.Second

// activeTimeout bounds the wait for a new stream to become ACTIVE (the
// emulator takes about 50 ms).
const activeTimeout = 30 * time.Second

// cleanup deletes a resource when the test ends; a failed deletion is only
// logged (the emulators are thrown away after the run).
func cleanup(t testing.TB, what string, del func(ctx context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := del(ctx); err != nil {
			t.Logf("awstest: delete %s: %v", what, err)
		}
	})
}

// NewStream creates a Kinesis stream with a unique name and this many shards,
// waits until it is ACTIVE and deletes it when the test ends. It returns the
// stream's name and ARN.
func NewStream(t testing.TB, c *kinesis.Client, shards int32) (name, arn string) {
	t.Helper()
	ctx := t.Context()
	name = UniqueName(t, "stream")
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: &shards}); err != nil {
		t.Fatalf("awstest: create stream %s: %v", name, err)
	}
	cleanup(t, "stream "+name, func(ctx context.Context) error {
		_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &name, EnforceConsumerDeletion: aws.Bool(true)})
		return err
	})
	ctx, cancel := context.WithTimeout(ctx, activeTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return name, aws.ToString(out.StreamDescriptionSummary.StreamARN)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("awstest: stream %s not ACTIVE within %v (last error: %v)", name, activeTimeout, err)
		case <-tick.C:
		}
	}
}

// StreamTableKey is the hash key (a string) of the tables [NewStreamTable]
// creates.
const StreamTableKey = "pk"

// NewStreamTable creates an on-demand DynamoDB table with a unique name, the
// string hash key [StreamTableKey] and a NEW_AND_OLD_IMAGES stream, and
// deletes it when the test ends. It returns the table's name and its
// stream's ARN.
func NewStreamTable(t testing.TB, c *dynamodb.Client) (table, streamARN string) {
	t.Helper()
	table = UniqueName(t, "table")
	out, err := c.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            &table,
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(StreamTableKey), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(StreamTableKey), KeyType: ddbtypes.KeyTypeHash}},
		StreamSpecification: &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages,
		},
	})
	if err != nil {
		t.Fatalf("awstest: create table %s: %v", table, err)
	}
	cleanup(t, "table "+table, func(ctx context.Context) error {
		_, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
		return err
	})
	streamARN = aws.ToString(out.TableDescription.LatestStreamArn)
	if streamARN == "" {
		t.Fatalf("awstest: table %s has no stream ARN", table)
	}
	return table, streamARN
}

// NewQueue creates an SQS queue with a unique name and these attributes
// (FifoQueue "true" makes a FIFO queue, named with ".fifo"), and deletes it
// when the test ends. It returns the queue's URL, exactly as the emulator
// issued it (fauxqs accepts no other form), and its ARN.
func NewQueue(t testing.TB, c *sqs.Client, attrs map[string]string) (url, arn string) {
	t.Helper()
	ctx := t.Context()
	name := UniqueName(t, "queue")
	if attrs[string(sqstypes.QueueAttributeNameFifoQueue)] == "true" {
		name += ".fifo"
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatalf("awstest: create queue %s: %v", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	cleanup(t, "queue "+name, func(ctx context.Context) error {
		_, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &url})
		return err
	})
	got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("awstest: queue %s ARN: %v", name, err)
	}
	return url, got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// NewTopic creates an SNS topic with a unique name and deletes it when the
// test ends. It returns the topic's ARN.
func NewTopic(t testing.TB, c *sns.Client) string {
	t.Helper()
	name := UniqueName(t, "topic")
	out, err := c.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: &name})
	if err != nil {
		t.Fatalf("awstest: create topic %s: %v", name, err)
	}
	arn := aws.ToString(out.TopicArn)
	cleanup(t, "topic "+name, func(ctx context.Context) error {
		_, err := c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: &arn})
		return err
	})
	return arn
}
