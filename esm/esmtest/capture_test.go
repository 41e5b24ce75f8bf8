package esmtest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

func TestCaptureRecordsDestinationPayloads(t *testing.T) {
	c := esmtest.NewCapture()
	url, err := c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String("failures"), QueueOwnerAWSAccountId: aws.String("123456789012")})
	require.NoError(t, err)
	require.Equal(t, "http://sqs.us-east-1.localhost/123456789012/failures", *url.QueueUrl)
	_, err = c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl,
		MessageBody: aws.String(`{"requestContext":{"condition":"RetryAttemptsExhausted","approximateInvokeCount":3},"KinesisBatchInfo":{"batchSize":2,"shardId":"shardId-000000000000"}}`)})
	require.NoError(t, err)
	_, err = c.Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:t"),
		Message: aws.String(`{"requestContext":{"condition":"RecordAgeExceeded"},"list":[{"x":"y"}]}`)})
	require.NoError(t, err)

	require.Equal(t, []string{"RetryAttemptsExhausted", "RecordAgeExceeded"}, c.Values("requestContext.condition"))
	require.Equal(t, []string{"3", ""}, c.Values("requestContext.approximateInvokeCount"))
	require.Equal(t, []string{"", "y"}, c.Values("list.0.x"))
	require.Equal(t, []string{`{"batchSize":2,"shardId":"shardId-000000000000"}`, ""}, c.Values("KinesisBatchInfo"))
	require.Len(t, c.Records(), 2)
	recs := esmtest.DecodeRecords[struct {
		RequestContext struct{ Condition string } `json:"requestContext"`
	}](t, c.Records())
	require.Equal(t, "RecordAgeExceeded", recs[1].RequestContext.Condition)

	sent := c.Sent()
	require.Equal(t, "sqs", sent[0].Service)
	require.Equal(t, *url.QueueUrl, sent[0].Target)
	require.Equal(t, "sns", sent[1].Service)

	c.Faults.FailNext("SendMessage", 1, esmtest.ServerError(500))
	_, err = c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String("not json")})
	require.Error(t, err)
	_, err = c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String("not json")})
	require.NoError(t, err)
	require.Equal(t, 3, c.Len())
	require.JSONEq(t, `"not json"`, string(c.Records()[2]))
	c.Reset()
	require.Zero(t, c.Len())
}

// A Capture keeps the message attributes sent with SQS and SNS messages (a
// dead-letter message's RequestID, ErrorCode and ErrorMessage), and refuses
// SQS attributes that SQS would refuse.
func TestCaptureKeepsMessageAttributes(t *testing.T) {
	c := esmtest.NewCapture()
	url, err := c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String("dlq")})
	require.NoError(t, err)
	out, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(`{"id":1}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"RequestID": {DataType: aws.String("String"), StringValue: aws.String("req-1")},
			"ErrorCode": {DataType: aws.String("Number"), StringValue: aws.String("200")},
			"Blob":      {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2}},
		}})
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(out.MD5OfMessageAttributes))
	_, err = c.Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:t"), Message: aws.String(`{"id":2}`),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"RequestID": {DataType: aws.String("String"), StringValue: aws.String("req-2")},
		}})
	require.NoError(t, err)
	_, err = c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(`{"id":3}`)})
	require.NoError(t, err)

	sent := c.Sent()
	require.Equal(t, map[string]esmtest.MessageAttribute{
		"RequestID": {DataType: "String", StringValue: "req-1"},
		"ErrorCode": {DataType: "Number", StringValue: "200"},
		"Blob":      {DataType: "Binary", BinaryValue: []byte{1, 2}},
	}, sent[0].Attributes)
	require.Equal(t, map[string]esmtest.MessageAttribute{"RequestID": {DataType: "String", StringValue: "req-2"}}, sent[1].Attributes)
	require.Nil(t, sent[2].Attributes)
	require.Equal(t, []string{"req-1", "req-2", ""}, c.AttributeValues("RequestID"))
	require.Equal(t, []string{"200", "", ""}, c.AttributeValues("ErrorCode"))

	// SQS refuses an empty value.
	_, err = c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(`{}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"ErrorMessage": {DataType: aws.String("String"), StringValue: aws.String("")}}})
	require.ErrorContains(t, err, "non-empty message attribute value")
	require.Equal(t, 3, c.Len())
}
