package destination_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
)

// failureRecord is a Kinesis failure record with every field set, and its
// fields as they must read back from the destination.
func failureRecord(t *testing.T) (destination.Message, map[string]any) {
	t.Helper()
	f := destination.NewStreamFailure(destination.StreamFailureInput{
		FunctionARN:            "arn:aws:lambda:us-east-1:000000000000:function:consumer",
		Condition:              lambdaesm.RetryAttemptsExhausted,
		ApproximateInvokeCount: 3,
		FunctionError:          true,
		ShardID:                "shardId-000000000000",
		StreamARN:              "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
		StartSequenceNumber:    "49590338271490256608559692538361571095921575989136588898",
		EndSequenceNumber:      "49590338271490256608559692540925702759324208523137515618",
		FirstArrival:           time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC),
		LastArrival:            time.Date(2024, 5, 1, 12, 0, 1, 456e6, time.UTC),
		BatchSize:              2,
		RequestID:              "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
		Now:                    time.Date(2024, 5, 1, 12, 3, 7, 890e6, time.UTC),
	})
	m, err := f.Message("3c9f5b1e-8d2a-4f6b-9e1c-7a5d3b2f1e0d", json.RawMessage(`{"Records":[{"n":1},{"n":2}]}`))
	require.NoError(t, err)
	want := map[string]any{
		"requestContext": map[string]any{
			"requestId":              "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
			"functionArn":            "arn:aws:lambda:us-east-1:000000000000:function:consumer",
			"condition":              "RetryAttemptsExhausted",
			"approximateInvokeCount": 3.0,
		},
		"responseContext": map[string]any{"statusCode": 200.0, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       "2024-05-01T12:03:07.890Z",
		"KinesisBatchInfo": map[string]any{
			"shardId":                         "shardId-000000000000",
			"startSequenceNumber":             "49590338271490256608559692538361571095921575989136588898",
			"endSequenceNumber":               "49590338271490256608559692540925702759324208523137515618",
			"approximateArrivalOfFirstRecord": "2024-05-01T12:00:00.123Z",
			"approximateArrivalOfLastRecord":  "2024-05-01T12:00:01.456Z",
			"batchSize":                       2.0,
			"streamArn":                       "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
		},
	}
	return m, want
}

// requireFields compares a record read back from a destination with want,
// field by field.
func requireFields(t *testing.T, want map[string]any, body string) {
	t.Helper()
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &got), "body: %s", body)
	require.Len(t, got, len(want), "fields: %v", got)
	for k, w := range want {
		wm, nested := w.(map[string]any)
		if !nested {
			require.Equal(t, w, got[k], "field %s", k)
			continue
		}
		gm, ok := got[k].(map[string]any)
		require.True(t, ok, "field %s is %T", k, got[k])
		require.Len(t, gm, len(wm), "fields of %s: %v", k, gm)
		for kk, ww := range wm {
			require.Equal(t, ww, gm[kk], "field %s.%s", k, kk)
		}
	}
}

// receiveOne waits (long poll) for one message on the queue and returns its
// body.
func receiveOne(t *testing.T, c *sqs.Client, url string) string {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 5,
	})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	return aws.ToString(out.Messages[0].Body)
}

func TestIntegrationSQS(t *testing.T) {
	awstest.Integration(t)
	c := awstest.SQS(t)
	url, arn := awstest.NewQueue(t, c, nil)

	s, err := destination.ForARN(arn, destination.Clients{SQS: c})
	require.NoError(t, err)
	m, want := failureRecord(t)
	require.NoError(t, s.Send(t.Context(), m))

	body := receiveOne(t, c, url)
	require.Equal(t, string(m.Record), body, "the body is the record, byte for byte")
	requireFields(t, want, body)
}

func TestIntegrationSNSToSQS(t *testing.T) {
	awstest.Integration(t)
	qc, tc := awstest.SQS(t), awstest.SNS(t)
	url, queueARN := awstest.NewQueue(t, qc, nil)
	topicARN := awstest.NewTopic(t, tc)
	_, err := tc.Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: &topicARN, Protocol: aws.String("sqs"), Endpoint: &queueARN})
	require.NoError(t, err)

	s, err := destination.ForARN(topicARN, destination.Clients{SNS: tc})
	require.NoError(t, err)
	m, want := failureRecord(t)
	require.NoError(t, s.Send(t.Context(), m))

	// The queue gets SNS's envelope; its Message is the record.
	var envelope struct{ Type, TopicArn, Message string }
	require.NoError(t, json.Unmarshal([]byte(receiveOne(t, qc, url)), &envelope))
	require.Equal(t, "Notification", envelope.Type)
	require.Equal(t, topicARN, envelope.TopicArn)
	require.Equal(t, string(m.Record), envelope.Message)
	requireFields(t, want, envelope.Message)
}

// TestIntegrationS3 writes to fauxqs's S3, which listens on the SQS port
// (AWS_ENDPOINT_URL_S3, when set, wins).
func TestIntegrationS3(t *testing.T) {
	awstest.Integration(t)
	cfg := awstest.Config(t)
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_SQS")
	}
	require.NotEmpty(t, endpoint, "no S3 endpoint: set AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL_SQS")
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = &endpoint
		o.UsePathStyle = true
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	bucket := strings.ToLower(awstest.UniqueName(t, "bucket"))
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &bucket})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
		if err == nil {
			for _, o := range list.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	})

	s, err := destination.ForARN("arn:aws:s3:::"+bucket, destination.Clients{S3: c})
	require.NoError(t, err)
	m, want := failureRecord(t)
	require.NoError(t, s.Send(t.Context(), m))

	list, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &bucket})
	require.NoError(t, err)
	require.Len(t, list.Contents, 1)
	key := aws.ToString(list.Contents[0].Key)
	require.Regexp(t, regexp.MustCompile(`^aws/lambda/3c9f5b1e-8d2a-4f6b-9e1c-7a5d3b2f1e0d/shardId-000000000000/2024/05/01/2024-05-01T12\.03\.07-[0-9a-f-]{36}$`), key)

	obj, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	require.NoError(t, err)
	defer obj.Body.Close()
	body, err := io.ReadAll(obj.Body)
	require.NoError(t, err)
	want["payload"] = `{"Records":[{"n":1},{"n":2}]}`
	requireFields(t, want, string(body))
	require.Regexp(t, `^\{"KinesisBatchInfo":\{"approximateArrivalOfFirstRecord":`, string(body), "keys are sorted")
}

// deadLetter is a dead-letter message and the attributes a queue must give
// back.
func deadLetter() (destination.Message, map[string]sqstypes.MessageAttributeValue) {
	m := destination.NewDeadLetter(destination.DeadLetterInput{
		Payload: json.RawMessage(`{"raise_error":1}`), RequestID: "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
		StatusCode: 200, ErrorMessage: "Test exception (this is intentional)",
	})
	return m, map[string]sqstypes.MessageAttributeValue{
		"RequestID":    {DataType: aws.String("String"), StringValue: aws.String("5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c")},
		"ErrorCode":    {DataType: aws.String("Number"), StringValue: aws.String("200")},
		"ErrorMessage": {DataType: aws.String("String"), StringValue: aws.String("Test exception (this is intentional)")},
	}
}

// TestIntegrationSQSDeadLetterAttributes: a dead-letter message reaches the
// queue with Lambda's attributes, as AWS recorded them.
func TestIntegrationSQSDeadLetterAttributes(t *testing.T) {
	awstest.Integration(t)
	c := awstest.SQS(t)
	url, arn := awstest.NewQueue(t, c, nil)
	s, err := destination.ForARN(arn, destination.Clients{SQS: c})
	require.NoError(t, err)
	m, want := deadLetter()
	require.NoError(t, s.Send(t.Context(), m))

	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
	})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	require.Equal(t, `{"raise_error":1}`, aws.ToString(out.Messages[0].Body), "the body is the event, unchanged")
	require.Equal(t, want, out.Messages[0].MessageAttributes)
	require.NotEmpty(t, aws.ToString(out.Messages[0].MD5OfMessageAttributes))
}

// TestIntegrationSNSDeadLetterAttributes: through a topic, the attributes
// reach a subscribed queue in SNS's envelope.
func TestIntegrationSNSDeadLetterAttributes(t *testing.T) {
	awstest.Integration(t)
	qc, tc := awstest.SQS(t), awstest.SNS(t)
	url, queueARN := awstest.NewQueue(t, qc, nil)
	topicARN := awstest.NewTopic(t, tc)
	_, err := tc.Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: &topicARN, Protocol: aws.String("sqs"), Endpoint: &queueARN})
	require.NoError(t, err)
	s, err := destination.ForARN(topicARN, destination.Clients{SNS: tc})
	require.NoError(t, err)
	m, want := deadLetter()
	require.NoError(t, s.Send(t.Context(), m))

	var envelope struct {
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	require.NoError(t, json.Unmarshal([]byte(receiveOne(t, qc, url)), &envelope))
	require.Equal(t, `{"raise_error":1}`, envelope.Message)
	require.Len(t, envelope.MessageAttributes, len(want))
	for k, w := range want {
		require.Equal(t, aws.ToString(w.DataType), envelope.MessageAttributes[k].Type, k)
		require.Equal(t, aws.ToString(w.StringValue), envelope.MessageAttributes[k].Value, k)
	}
}
