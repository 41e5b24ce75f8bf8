package conformance_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/esm/esmtest/conformance"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
)

// Every suite runs against the in-memory fake always, and against the local
// emulator when the integration environment is on (`make test`).

// targets runs a suite against the fake, and against the emulator when
// the integration environment is on; both in parallel, and in parallel with
// the other suites.
func targets(t *testing.T, fake, emulator func(t *testing.T)) {
	t.Parallel()
	t.Run("fake", func(t *testing.T) {
		t.Parallel()
		fake(t)
	})
	t.Run("emulator", func(t *testing.T) {
		t.Parallel()
		awstest.Integration(t)
		emulator(t)
	})
}

// ---------------------------------------------------------------- Kinesis

// The fakes read time from package time (their default clock), so their
// tests run in synctest bubbles and take no real time.

func TestKinesis(t *testing.T) {
	targets(t, func(t *testing.T) {
		conformance.RunKinesis(t, &fakeKinesis{k: esmtest.NewKinesis()})
	}, func(t *testing.T) {
		conformance.RunKinesis(t, &kinesisLocal{c: awstest.Kinesis(t)})
	})
}

type fakeKinesis struct{ k *esmtest.Kinesis }

func (*fakeKinesis) Synctest() bool                           { return true }
func (*fakeKinesis) Name() string                             { return "esmtest.Kinesis" }
func (*fakeKinesis) Lacks() map[conformance.Capability]string { return nil }
func (f *fakeKinesis) Kinesis() conformance.KinesisAPI        { return f.k }
func (f *fakeKinesis) NewStream(t *testing.T, shards int) string {
	name := awstest.UniqueName(t, "stream")
	f.k.MustCreateStream(t, name, shards)
	return name
}

type kinesisLocal struct{ c *kinesis.Client }

func (*kinesisLocal) Name() string { return "kinesis-local 0.6.2" }
func (*kinesisLocal) Lacks() map[conformance.Capability]string {
	return map[conformance.Capability]string{
		conformance.KinesisAtTrimHorizonFilter:  "ShardFilter AT_TRIM_HORIZON returns every shard, closed children included",
		conformance.KinesisInvalidIteratorError: "a malformed iterator fails with HTTP 500 UnknownError (which the SDK retries), not InvalidArgumentException",
	}
}
func (l *kinesisLocal) Kinesis() conformance.KinesisAPI { return l.c }
func (l *kinesisLocal) NewStream(t *testing.T, shards int) string {
	name, _ := awstest.NewStream(t, l.c, int32(shards))
	return name
}

// ---------------------------------------------------------------- Kinesis enhanced fan-out

func TestKinesisFanOut(t *testing.T) {
	targets(t, func(t *testing.T) {
		conformance.RunKinesisFanOut(t, &fakeKinesisFanOut{fakeKinesis{k: esmtest.NewKinesis()}})
	}, func(t *testing.T) {
		conformance.RunKinesisFanOut(t, &kinesisLocalFanOut{kinesisLocal{c: awstest.Kinesis(t)}})
	})
}

type fakeKinesisFanOut struct{ fakeKinesis }

func (*fakeKinesisFanOut) Lacks() map[conformance.Capability]string { return nil }
func (f *fakeKinesisFanOut) FanOut() conformance.KinesisFanOutAPI   { return f.k }

type kinesisLocalFanOut struct{ kinesisLocal }

func (*kinesisLocalFanOut) Lacks() map[conformance.Capability]string {
	return map[conformance.Capability]string{
		conformance.KinesisFanOutChildShards: "the stream of a closed shard sends no event with ChildShards and never ends",
		conformance.KinesisFanOutPush:        "events come about once a second, not as records arrive",
		conformance.KinesisFanOutTakeOver:    "a second subscription is refused (ResourceInUseException in its stream) however long the first has lasted",
	}
}
func (l *kinesisLocalFanOut) FanOut() conformance.KinesisFanOutAPI { return l.c }

// ---------------------------------------------------------------- DynamoDB Streams

func TestDynamoDBStreams(t *testing.T) {
	targets(t, func(t *testing.T) {
		conformance.RunDynamoDBStreams(t, &fakeDynamoDB{d: esmtest.NewDynamoDBStreams()})
	}, func(t *testing.T) {
		conformance.RunDynamoDBStreams(t, &dynamoDBLocal{db: awstest.DynamoDB(t), streams: awstest.DynamoDBStreams(t)})
	})
}

type fakeDynamoDB struct{ d *esmtest.DynamoDBStreams }

func (*fakeDynamoDB) Synctest() bool                            { return true }
func (*fakeDynamoDB) Name() string                              { return "esmtest.DynamoDBStreams" }
func (*fakeDynamoDB) Lacks() map[conformance.Capability]string  { return nil }
func (f *fakeDynamoDB) Streams() conformance.DynamoDBStreamsAPI { return f.d }
func (f *fakeDynamoDB) NewTable(t *testing.T) (table, arn string) {
	table = awstest.UniqueName(t, "table")
	return table, f.d.MustCreateStream(t, table, dstypes.StreamViewTypeNewAndOldImages, conformance.DynamoDBKey)
}
func (f *fakeDynamoDB) PutItem(t *testing.T, table string, item map[string]dstypes.AttributeValue) {
	require.NoError(t, f.d.PutItem(table, item))
}
func (f *fakeDynamoDB) UpdateItem(t *testing.T, table string, key, set map[string]dstypes.AttributeValue) {
	require.NoError(t, f.d.UpdateItem(table, key, set))
}
func (f *fakeDynamoDB) DeleteItem(t *testing.T, table string, key map[string]dstypes.AttributeValue) {
	require.NoError(t, f.d.DeleteItem(table, key))
}
func (f *fakeDynamoDB) DisableStream(t *testing.T, _, arn string) {
	require.NoError(t, f.d.DisableStream(arn))
}
func (f *fakeDynamoDB) Rollover(t *testing.T, arn string) {
	_, err := f.d.Rollover(arn)
	require.NoError(t, err)
}

type dynamoDBLocal struct {
	db      *dynamodb.Client
	streams *dynamodbstreams.Client
}

func (*dynamoDBLocal) Name() string { return "DynamoDB Local 1.25.1" }
func (*dynamoDBLocal) Lacks() map[conformance.Capability]string {
	return map[conformance.Capability]string{
		conformance.DynamoDBShardLineage:        "a stream keeps one shard forever: no rollover, so no parent/child lineage",
		conformance.DynamoDBCreationTimeSeconds: "ApproximateCreationDateTime is cut to the minute",
		conformance.DynamoDBLatestOnEmptyShard: "a LATEST iterator taken on a shard without records fails with TrimmedDataAccessException " +
			"once another table is written first (sequence numbers are global to the instance)",
		conformance.DynamoDBAtTimestampIterator: "GetShardIterator AT_TIMESTAMP fails with ValidationException: Invalid ShardIteratorType",
	}
}
func (l *dynamoDBLocal) Streams() conformance.DynamoDBStreamsAPI { return l.streams }
func (l *dynamoDBLocal) NewTable(t *testing.T) (table, arn string) {
	return awstest.NewStreamTable(t, l.db)
}
func (l *dynamoDBLocal) PutItem(t *testing.T, table string, item map[string]dstypes.AttributeValue) {
	_, err := l.db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: toDynamoDB(t, item)})
	require.NoError(t, err)
}
func (l *dynamoDBLocal) UpdateItem(t *testing.T, table string, key, set map[string]dstypes.AttributeValue) {
	var sets []string
	names := map[string]string{}
	values := map[string]ddbtypes.AttributeValue{}
	for i, name := range slices.Sorted(maps.Keys(set)) {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":v%d", i)
		sets = append(sets, n+" = "+v)
		names[n] = name
		values[v] = toDynamoDB(t, map[string]dstypes.AttributeValue{"": set[name]})[""]
	}
	_, err := l.db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName: &table, Key: toDynamoDB(t, key), UpdateExpression: new("SET " + strings.Join(sets, ", ")),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	require.NoError(t, err)
}
func (l *dynamoDBLocal) DeleteItem(t *testing.T, table string, key map[string]dstypes.AttributeValue) {
	_, err := l.db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: &table, Key: toDynamoDB(t, key)})
	require.NoError(t, err)
}
func (l *dynamoDBLocal) DisableStream(t *testing.T, table, _ string) {
	_, err := l.db.UpdateTable(t.Context(), &dynamodb.UpdateTableInput{
		TableName: &table, StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: new(false)},
	})
	require.NoError(t, err)
}
func (*dynamoDBLocal) Rollover(t *testing.T, _ string) {
	t.Fatal("DynamoDB Local cannot roll a stream's shards over")
}

// toDynamoDB converts the scalar attribute values the suite writes from
// their DynamoDB Streams type to their DynamoDB type.
func toDynamoDB(t *testing.T, item map[string]dstypes.AttributeValue) map[string]ddbtypes.AttributeValue {
	out := make(map[string]ddbtypes.AttributeValue, len(item))
	for name, v := range item {
		switch v := v.(type) {
		case *dstypes.AttributeValueMemberS:
			out[name] = &ddbtypes.AttributeValueMemberS{Value: v.Value}
		case *dstypes.AttributeValueMemberN:
			out[name] = &ddbtypes.AttributeValueMemberN{Value: v.Value}
		case *dstypes.AttributeValueMemberB:
			out[name] = &ddbtypes.AttributeValueMemberB{Value: v.Value}
		case *dstypes.AttributeValueMemberBOOL:
			out[name] = &ddbtypes.AttributeValueMemberBOOL{Value: v.Value}
		default:
			t.Fatalf("toDynamoDB: attribute %s: unsupported type %T", name, v)
		}
	}
	return out
}

// ---------------------------------------------------------------- SQS

func TestSQS(t *testing.T) {
	targets(t, func(t *testing.T) {
		conformance.RunSQS(t, &fakeSQS{s: esmtest.NewSQS()})
	}, func(t *testing.T) {
		conformance.RunSQS(t, &fauxqs{c: awstest.SQS(t)})
	})
}

type fakeSQS struct{ s *esmtest.SQS }

func (*fakeSQS) Synctest() bool                           { return true }
func (*fakeSQS) Name() string                             { return "esmtest.SQS" }
func (*fakeSQS) Lacks() map[conformance.Capability]string { return nil }
func (f *fakeSQS) SQS() conformance.SQSAPI                { return f.s }
func (f *fakeSQS) NewQueue(t *testing.T, attrs map[string]string) (url, arn string) {
	name := awstest.UniqueName(t, "queue")
	if attrs["FifoQueue"] == "true" {
		name += ".fifo"
	}
	return f.s.MustCreateQueue(t, name, attrs)
}

type fauxqs struct{ c *sqs.Client }

func (*fauxqs) Name() string { return "fauxqs 1.9.2" }
func (*fauxqs) Lacks() map[conformance.Capability]string {
	return map[conformance.Capability]string{
		conformance.SQSFIFOBatchPerGroup:       "a FIFO receive returns at most one message per message group",
		conformance.SQSDeleteBatchFailures:     "DeleteMessageBatch reports every entry Successful, even with an invalid receipt handle",
		conformance.SQSReceiveAttemptID:        "ReceiveRequestAttemptId is ignored: a retry finds the group locked and returns nothing",
		conformance.SQSRequestedAttributesOnly: "message attributes are returned even when MessageAttributeNames does not ask for them",
	}
}
func (q *fauxqs) SQS() conformance.SQSAPI { return q.c }
func (q *fauxqs) NewQueue(t *testing.T, attrs map[string]string) (url, arn string) {
	return awstest.NewQueue(t, q.c, attrs)
}
