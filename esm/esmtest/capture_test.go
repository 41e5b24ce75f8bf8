package esmtest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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
