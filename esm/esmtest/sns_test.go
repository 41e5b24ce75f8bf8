package esmtest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

func TestSNSDeliversEnvelopeToQueue(t *testing.T) {
	clk := esmtest.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC))
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	s := esmtest.NewSNS(q)
	url, arn := q.MustCreateQueue(t, "sub", nil)
	out, err := s.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String("alerts")})
	require.NoError(t, err)
	topic := *out.TopicArn
	require.Equal(t, "arn:aws:sns:us-east-1:000000000000:alerts", topic)
	sub, err := s.Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: &topic, Protocol: aws.String("sqs"), Endpoint: &arn})
	require.NoError(t, err)

	pub, err := s.Publish(t.Context(), &sns.PublishInput{
		TopicArn: &topic, Message: aws.String(`{"a":"<b>"}`), Subject: aws.String("hi"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("x")},
			"raw":  {DataType: aws.String("Binary"), BinaryValue: []byte("hey")},
		},
	})
	require.NoError(t, err)

	msgs := q.Messages(url)
	require.Len(t, msgs, 1)
	require.Nil(t, msgs[0].MessageAttributes, "attributes travel inside the envelope")
	require.JSONEq(t, `{
		"Type": "Notification",
		"MessageId": "`+*pub.MessageId+`",
		"TopicArn": "`+topic+`",
		"Subject": "hi",
		"Message": "{\"a\":\"<b>\"}",
		"Timestamp": "2026-01-02T03:04:05.678Z",
		"SignatureVersion": "1",
		"Signature": "`+envelopeField(t, *msgs[0].Body, "Signature")+`",
		"SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000000.pem",
		"UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=`+*sub.SubscriptionArn+`",
		"MessageAttributes": {"kind": {"Type": "String", "Value": "x"}, "raw": {"Type": "Binary", "Value": "aGV5"}}
	}`, *msgs[0].Body)
	require.Contains(t, *msgs[0].Body, `<b>`, "no HTML escaping, like SNS")
	require.Equal(t, "AIDAIT2UOQQY3AUEKVGXU", msgs[0].Attributes["SenderId"])

	got := s.Published(topic)
	require.Len(t, got, 1)
	require.Equal(t, `{"a":"<b>"}`, got[0].Message)
	require.Equal(t, "hi", got[0].Subject)
	require.Equal(t, 1, s.Faults.Calls("Publish"))
}

func envelopeField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m[field].(string)
}

func TestSNSRawDeliveryAndFIFO(t *testing.T) {
	q, s, url, topic := rawSubscription(t)
	_, err := s.Publish(t.Context(), &sns.PublishInput{TopicArn: &topic, Message: aws.String("plain text"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"k": {DataType: aws.String("Number"), StringValue: aws.String("7")}}})
	require.NoError(t, err)
	msgs := receive(t, q, url, 10)
	require.Equal(t, []string{"plain text"}, bodies(msgs))
	require.Equal(t, map[string]sqstypes.MessageAttributeValue{"k": {DataType: aws.String("Number"), StringValue: aws.String("7")}}, msgs[0].MessageAttributes)
	require.NotNil(t, msgs[0].MD5OfMessageAttributes)

	fifoURL, fifoARN := q.MustCreateQueue(t, "f.fifo", nil)
	ftopic := s.MustCreateTopic(t, "f.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	s.MustSubscribe(t, ftopic, fifoARN, false)
	for range 2 { // the second is a duplicate
		out, err := s.Publish(t.Context(), &sns.PublishInput{TopicArn: &ftopic, Message: aws.String("m"), MessageGroupId: aws.String("g")})
		require.NoError(t, err)
		require.NotNil(t, out.SequenceNumber)
	}
	fmsgs := q.Messages(fifoURL)
	require.Len(t, fmsgs, 1)
	require.Equal(t, "g", fmsgs[0].Attributes["MessageGroupId"])

	_, err = s.Publish(t.Context(), &sns.PublishInput{TopicArn: &ftopic, Message: aws.String("m")})
	var invalid *snstypes.InvalidParameterException
	require.ErrorAs(t, err, &invalid, "FIFO topics need a group")
	_, err = s.Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String(topic + "-missing"), Message: aws.String("m")})
	var notFound *snstypes.NotFoundException
	require.ErrorAs(t, err, &notFound)
	_, err = s.Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: &topic, Protocol: aws.String("sqs"), Endpoint: &fifoARN})
	require.ErrorAs(t, err, &invalid, "a FIFO queue cannot subscribe to a standard topic")

	s.Faults.FailNext("Publish", 1, esmtest.APIError("ThrottlingException", "slow down"))
	_, err = s.Publish(t.Context(), &sns.PublishInput{TopicArn: &topic, Message: aws.String("m")})
	require.Error(t, err)
	require.Len(t, s.Published(""), 3)
}

func TestSNSMessageStructureJSON(t *testing.T) {
	q, s, url, topic := rawSubscription(t)
	_, err := s.Publish(t.Context(), &sns.PublishInput{TopicArn: &topic, MessageStructure: aws.String("json"),
		Message: aws.String(`{"default":"for everyone","sqs":"for queues"}`)})
	require.NoError(t, err)
	require.Equal(t, []string{"for queues"}, q.Bodies(url))
}

// rawSubscription makes a topic with one queue subscribed for raw delivery.
func rawSubscription(t *testing.T) (q *esmtest.SQS, s *esmtest.SNS, url, topic string) {
	q = esmtest.NewSQS()
	s = esmtest.NewSNS(q)
	url, arn := q.MustCreateQueue(t, "raw", nil)
	topic = s.MustCreateTopic(t, "events", nil)
	s.MustSubscribe(t, topic, arn, true)
	return q, s, url, topic
}
