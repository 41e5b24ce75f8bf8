package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/event"
)

// golden compares the marshalled event with the AWS-recorded shape in testdata.
func golden(t *testing.T, name string, ev any) {
	t.Helper()
	want, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	got, err := json.Marshal(ev)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
}

func TestKinesisGolden(t *testing.T) {
	rec := ktypes.Record{
		Data:                        []byte(`{"id":1}`),
		PartitionKey:                aws.String("user-1"),
		SequenceNumber:              aws.String("49590338271490256608559692538361571095921575989136588898"),
		ApproximateArrivalTimestamp: aws.Time(time.UnixMilli(1545084650987)),
	}
	r := event.Kinesis(&rec, "shardId-000000000006", "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream", "us-east-2", "arn:aws:iam::123456789012:role/lambda-role")
	golden(t, "kinesis.json", events.KinesisEvent{Records: []events.KinesisEventRecord{r}})
}

func TestDynamoDBGolden(t *testing.T) {
	rec := dstypes.Record{
		AwsRegion:    aws.String("us-east-1"),
		EventID:      aws.String("c4ca4238a0b923820dcc509a6f75849b"),
		EventName:    dstypes.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		Dynamodb: &dstypes.StreamRecord{
			ApproximateCreationDateTime: aws.Time(time.Unix(1657720081, 0)),
			Keys:                        map[string]dstypes.AttributeValue{"id": &dstypes.AttributeValueMemberS{Value: "k1"}},
			NewImage: map[string]dstypes.AttributeValue{
				"id":   &dstypes.AttributeValueMemberS{Value: "k1"},
				"v":    &dstypes.AttributeValueMemberN{Value: "2"},
				"tags": &dstypes.AttributeValueMemberSS{Value: []string{"a"}},
				"blob": &dstypes.AttributeValueMemberB{Value: []byte{1, 2}},
				"ok":   &dstypes.AttributeValueMemberBOOL{Value: true},
				"nested": &dstypes.AttributeValueMemberM{Value: map[string]dstypes.AttributeValue{
					"l": &dstypes.AttributeValueMemberL{Value: []dstypes.AttributeValue{
						&dstypes.AttributeValueMemberN{Value: "1"}, &dstypes.AttributeValueMemberNULL{Value: true},
					}},
				}},
			},
			OldImage: map[string]dstypes.AttributeValue{
				"id": &dstypes.AttributeValueMemberS{Value: "k1"},
				"v":  &dstypes.AttributeValueMemberN{Value: "1"},
			},
			SequenceNumber: aws.String("000000000000000000001"),
			SizeBytes:      aws.Int64(59),
			StreamViewType: dstypes.StreamViewTypeNewAndOldImages,
		},
	}
	r := event.DynamoDB(&rec, "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2022-07-13T13:47:00.000")
	golden(t, "dynamodb.json", events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{r}})
}

func TestSQSGolden(t *testing.T) {
	msg := sqstypes.Message{
		MessageId:              aws.String("059f36b4-87a3-44ab-83d2-661975830a7d"),
		ReceiptHandle:          aws.String("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"),
		Body:                   aws.String("test"),
		MD5OfBody:              aws.String("098f6bcd4621d373cade4e832627b4f6"),
		MD5OfMessageAttributes: aws.String("3b6e4b4e9d0c6f2b2f8e5c4a1a7e9d10"),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    "1545082649183",
			"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1545082649185",
			"SequenceNumber":                   "18849496460467696128",
			"MessageGroupId":                   "g1",
			"MessageDeduplicationId":           "d1",
		},
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"Color": {DataType: aws.String("String"), StringValue: aws.String("red")},
		},
	}
	r := event.SQS(&msg, "arn:aws:sqs:us-east-2:123456789012:my-queue.fifo", "us-east-2")
	golden(t, "sqs.json", events.SQSEvent{Records: []events.SQSMessage{r}})
}

func TestKinesisAllocs(t *testing.T) {
	rec := ktypes.Record{Data: []byte("x"), PartitionKey: aws.String("k"), SequenceNumber: aws.String("1"), ApproximateArrivalTimestamp: aws.Time(time.Now())}
	n := testing.AllocsPerRun(100, func() {
		_ = event.Kinesis(&rec, "shardId-000000000000", "arn", "us-east-1", "")
	})
	require.LessOrEqual(t, n, 1.0, "building a Kinesis event record allocates only its eventID")
}

// KinesisRecords builds, for a whole response, exactly the records Kinesis
// builds one by one, appending to what dst holds, in two allocations (the
// records and their eventIDs) whatever the number of records.
func TestKinesisRecords(t *testing.T) {
	now := time.UnixMilli(1545084650987)
	recs := []ktypes.Record{
		{Data: []byte(`{"id":1}`), PartitionKey: aws.String("user-1"), SequenceNumber: aws.String("49590338271490256608559692538361571095921575989136588898"), ApproximateArrivalTimestamp: &now},
		{Data: []byte("x"), PartitionKey: aws.String("user-2"), SequenceNumber: aws.String("49590338271490256608559692538361571095921575989136588899"), EncryptionType: ktypes.EncryptionTypeKms},
		{Data: nil, PartitionKey: nil, SequenceNumber: nil, EncryptionType: ktypes.EncryptionTypeNone},
		{Data: []byte("y"), PartitionKey: aws.String("k"), SequenceNumber: aws.String("7"), ApproximateArrivalTimestamp: &now},
	}
	const shardID, arn, region, role = "shardId-000000000006", "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream", "us-east-2", "arn:aws:iam::123456789012:role/lambda-role"
	var want []events.KinesisEventRecord
	for i := range recs {
		want = append(want, event.Kinesis(&recs[i], shardID, arn, region, role))
	}
	require.Equal(t, want, event.KinesisRecords(nil, recs, shardID, arn, region, role))

	prior := []events.KinesisEventRecord{{EventID: "kept"}}
	got := event.KinesisRecords(prior, recs, shardID, arn, region, role)
	require.Equal(t, append([]events.KinesisEventRecord{{EventID: "kept"}}, want...), got)
	require.Empty(t, event.KinesisRecords(nil, nil, shardID, arn, region, role))

	many := make([]ktypes.Record, 1000)
	for i := range many {
		many[i] = recs[i%len(recs)]
	}
	n := testing.AllocsPerRun(20, func() { _ = event.KinesisRecords(nil, many, shardID, arn, region, role) })
	require.LessOrEqual(t, n, 2.0, "one allocation for the records, one for their eventIDs")
}

// Real Kinesis returns no EncryptionType on the records of an unencrypted
// stream, and Lambda's event then has no encryptionType key (LocalStack
// snapshots recorded against AWS); an emulator that says NONE must not add
// it. A KMS stream's records keep "KMS".
func TestKinesisEncryptionType(t *testing.T) {
	for _, tc := range []struct {
		name   string
		enc    ktypes.EncryptionType
		golden string
	}{
		{"absent", "", "kinesis.json"},
		{"NONE", ktypes.EncryptionTypeNone, "kinesis.json"},
		{"KMS", ktypes.EncryptionTypeKms, "kinesis_kms.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := ktypes.Record{
				Data:                        []byte(`{"id":1}`),
				PartitionKey:                aws.String("user-1"),
				SequenceNumber:              aws.String("49590338271490256608559692538361571095921575989136588898"),
				ApproximateArrivalTimestamp: aws.Time(time.UnixMilli(1545084650987)),
				EncryptionType:              tc.enc,
			}
			r := event.Kinesis(&rec, "shardId-000000000006", "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream", "us-east-2", "arn:aws:iam::123456789012:role/lambda-role")
			golden(t, tc.golden, events.KinesisEvent{Records: []events.KinesisEventRecord{r}})
		})
	}
}

// goldenBytes compares data with the testdata file compacted: same keys,
// same values, same order.
func goldenBytes(t *testing.T, name string, data []byte) {
	t.Helper()
	want, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, want))
	require.Equal(t, buf.String(), string(data))
}

// A message without message attributes reaches a function with
// "md5OfMessageAttributes": null (AWS), which events.SQSMessage cannot
// hold: Marshal writes the JSON Lambda sends.
func TestMarshalSQSWithoutAttributes(t *testing.T) {
	msg := sqstypes.Message{
		MessageId:     aws.String("059f36b4-87a3-44ab-83d2-661975830a7d"),
		ReceiptHandle: aws.String("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"),
		Body:          aws.String("test"),
		MD5OfBody:     aws.String("098f6bcd4621d373cade4e832627b4f6"),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    "1545082649183",
			"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1545082649185",
		},
	}
	r := event.SQS(&msg, "arn:aws:sqs:us-east-2:123456789012:my-queue", "us-east-2")
	ev := events.SQSEvent{Records: []events.SQSMessage{r}}
	for _, v := range []any{ev, &ev} {
		data, err := event.Marshal(v)
		require.NoError(t, err)
		goldenBytes(t, "sqs_no_attributes.json", data)
	}
}

// With message attributes, Marshal writes the same record as json.Marshal,
// in AWS's key order.
func TestMarshalSQSWithAttributes(t *testing.T) {
	msg := sqstypes.Message{
		MessageId:              aws.String("059f36b4-87a3-44ab-83d2-661975830a7d"),
		ReceiptHandle:          aws.String("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"),
		Body:                   aws.String("test"),
		MD5OfBody:              aws.String("098f6bcd4621d373cade4e832627b4f6"),
		MD5OfMessageAttributes: aws.String("3b6e4b4e9d0c6f2b2f8e5c4a1a7e9d10"),
		Attributes:             map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"Color": {DataType: aws.String("String"), StringValue: aws.String("red")},
		},
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{event.SQS(&msg, "arn:aws:sqs:us-east-2:123456789012:q", "us-east-2")}}
	data, err := event.Marshal(ev)
	require.NoError(t, err)
	want, err := json.Marshal(ev)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(data))
	require.Equal(t, `{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a","body":"test",`+
		`"attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{"Color":{"stringValue":"red","stringListValues":[],"binaryListValues":[],"dataType":"String"}},`+
		`"md5OfMessageAttributes":"3b6e4b4e9d0c6f2b2f8e5c4a1a7e9d10","md5OfBody":"098f6bcd4621d373cade4e832627b4f6","eventSource":"aws:sqs",`+
		`"eventSourceARN":"arn:aws:sqs:us-east-2:123456789012:q","awsRegion":"us-east-2"}]}`, string(data))
}

// Other events are marshalled as they are.
func TestMarshalOtherEvents(t *testing.T) {
	for _, v := range []any{events.KinesisEvent{}, map[string]int{"a": 1}, nil, events.SQSEvent{}} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := event.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	var nilEvent *events.SQSEvent
	got, err := event.Marshal(nilEvent)
	require.NoError(t, err)
	require.Equal(t, "null", string(got))
}

// DynamoDB records reach a function with ApproximateCreationDateTime as a
// Java double, as AWS writes it (its recordings check it is a float).
func TestMarshalDynamoDBCreationTime(t *testing.T) {
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{
		EventID: "1", EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Unix(1578648338, 0)},
			Keys:                        map[string]events.DynamoDBAttributeValue{"Id": events.NewNumberAttribute("101")},
			SequenceNumber:              "4421584500000000017450439091", SizeBytes: 26, StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}}}
	b, err := event.Marshal(ev)
	require.NoError(t, err)
	require.Contains(t, string(b), `"ApproximateCreationDateTime":1.578648338E9`)
	require.Equal(t, 1, strings.Count(string(b), "ApproximateCreationDateTime"))
	var back events.DynamoDBEvent
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, ev.Records[0].Change.Keys, back.Records[0].Change.Keys)
	require.Equal(t, "4421584500000000017450439091", back.Records[0].Change.SequenceNumber)
	b, _ = event.Marshal(&events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{Change: events.DynamoDBStreamRecord{
		ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Unix(1000000000, 0)}}}}})
	require.Contains(t, string(b), `"ApproximateCreationDateTime":1.0E9`)
}

// A tumbling window's DynamoDB event has its records as the plain event's
// and the window's fields beside them, as the developer guide shows them.
func TestMarshalDynamoDBTimeWindowEvent(t *testing.T) {
	ev := events.DynamoDBTimeWindowEvent{
		DynamoDBEvent: events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{EventID: "1", Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Unix(1578648338, 0)}, SequenceNumber: "111"}}}},
		TimeWindowProperties: events.TimeWindowProperties{
			Window: events.Window{Start: events.RFC3339EpochTime{Time: time.Date(2020, 7, 30, 17, 0, 0, 0, time.UTC)},
				End: events.RFC3339EpochTime{Time: time.Date(2020, 7, 30, 17, 5, 0, 0, time.UTC)}},
			State: map[string]string{"1": "state1"}, ShardID: "shard123456789", EventSourceARN: "stream-ARN",
		},
	}
	for _, v := range []any{ev, &ev} {
		b, err := event.Marshal(v)
		require.NoError(t, err)
		require.Contains(t, string(b), `"ApproximateCreationDateTime":1.578648338E9`)
		require.Contains(t, string(b), `"window":{"start":"2020-07-30T17:00:00Z","end":"2020-07-30T17:05:00Z"},"state":{"1":"state1"},"shardId":"shard123456789","eventSourceARN":"stream-ARN","isFinalInvokeForWindow":false,"isWindowTerminatedEarly":false`)
		var back events.DynamoDBTimeWindowEvent
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, ev.TimeWindowProperties, back.TimeWindowProperties)
		require.Equal(t, "111", back.Records[0].Change.SequenceNumber)
	}
}
