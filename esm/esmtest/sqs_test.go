package esmtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/queue"
)

// The fakes satisfy the library's client interfaces. The checks live in a
// test so that esmtest imports no library package, and the engines' own
// tests can use it without an import cycle.
var (
	_ queue.SQSAPI       = (*esmtest.SQS)(nil)
	_ destination.SQSAPI = (*esmtest.SQS)(nil)
	_ destination.SNSAPI = (*esmtest.SNS)(nil)
	_ destination.SQSAPI = (*esmtest.Capture)(nil)
	_ destination.SNSAPI = (*esmtest.Capture)(nil)
)

var sqsT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// receive is a ReceiveMessage asking for every attribute, as Lambda does.
func receive(t *testing.T, q *esmtest.SQS, url string, max int32, mod ...func(*sqs.ReceiveMessageInput)) []types.Message {
	t.Helper()
	in := &sqs.ReceiveMessageInput{
		QueueUrl: &url, MaxNumberOfMessages: max,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	for _, m := range mod {
		m(in)
	}
	out, err := q.ReceiveMessage(t.Context(), in)
	require.NoError(t, err)
	return out.Messages
}

func bodies(msgs []types.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = *m.Body
	}
	return out
}

func deleteAll(t *testing.T, q *esmtest.SQS, url string, msgs []types.Message) {
	t.Helper()
	var entries []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	out, err := q.DeleteMessageBatch(t.Context(), &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries})
	require.NoError(t, err)
	require.Empty(t, out.Failed)
}

func TestSQSVisibilityExpiryRedelivers(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, arn := q.MustCreateQueue(t, "orders", map[string]string{"VisibilityTimeout": "30"})
	require.Equal(t, "arn:aws:sqs:us-east-1:000000000000:orders", arn)
	id := q.Send(t, url, "hello")

	clk.Advance(time.Second)
	first := receive(t, q, url, 10)
	require.Len(t, first, 1)
	m := first[0]
	require.Equal(t, id, *m.MessageId)
	require.Equal(t, "hello", *m.Body)
	require.Equal(t, "5d41402abc4b2a76b9719d911017c592", *m.MD5OfBody)
	require.Equal(t, map[string]string{
		"ApproximateReceiveCount":          "1",
		"SentTimestamp":                    strconv.FormatInt(sqsT0.UnixMilli(), 10),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(sqsT0.Add(time.Second).UnixMilli(), 10),
		"SenderId":                         esmtest.DefaultAccount,
	}, m.Attributes)

	require.Empty(t, receive(t, q, url, 10), "in flight")
	clk.Advance(29 * time.Second)
	require.Empty(t, receive(t, q, url, 10), "still in flight 1 ns before expiry")
	clk.Advance(time.Second)
	second := receive(t, q, url, 10)
	require.Len(t, second, 1)
	require.Equal(t, "2", second[0].Attributes["ApproximateReceiveCount"])
	require.Equal(t, m.Attributes["ApproximateFirstReceiveTimestamp"], second[0].Attributes["ApproximateFirstReceiveTimestamp"])
	require.NotEqual(t, *m.ReceiptHandle, *second[0].ReceiptHandle)

	// The first receipt handle is stale now.
	_, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
	var bad *types.ReceiptHandleIsInvalid
	require.ErrorAs(t, err, &bad)
	_, err = q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: second[0].ReceiptHandle})
	require.NoError(t, err)
	clk.Advance(time.Hour)
	require.Empty(t, receive(t, q, url, 10), "deleted")
	require.Empty(t, q.Messages(url))
}

func TestSQSVisibilityOverrideAndChange(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "q", nil)
	q.Send(t, url, "a")
	msgs := receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) { in.VisibilityTimeout = 5 })
	require.Len(t, msgs, 1)
	clk.Advance(5 * time.Second)
	msgs = receive(t, q, url, 1) // queue default, 30 s
	require.Len(t, msgs, 1)
	require.Equal(t, "2", msgs[0].Attributes["ApproximateReceiveCount"])

	// ChangeMessageVisibility 0 makes it visible at once.
	_, err := q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0})
	require.NoError(t, err)
	msgs = receive(t, q, url, 1)
	require.Len(t, msgs, 1)
	require.Equal(t, "3", msgs[0].Attributes["ApproximateReceiveCount"])

	// Extending keeps it hidden past the original timeout.
	_, err = q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 120})
	require.NoError(t, err)
	clk.Advance(119 * time.Second)
	require.Empty(t, receive(t, q, url, 1))
	clk.Advance(time.Second)
	require.Len(t, receive(t, q, url, 1), 1)

	// A message no longer in flight cannot be changed.
	clk.Advance(31 * time.Second)
	msgs = q.Messages(url)
	require.Len(t, msgs, 1)
	stale := receive(t, q, url, 1)
	clk.Advance(31 * time.Second)
	_, err = q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: stale[0].ReceiptHandle, VisibilityTimeout: 10})
	var notInflight *types.MessageNotInflight
	require.ErrorAs(t, err, &notInflight)
}

func TestSQSDelaySeconds(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "delayed", map[string]string{"DelaySeconds": "10"})
	q.Send(t, url, "queue delay")
	_, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("own delay"), DelaySeconds: 2})
	require.NoError(t, err)
	attrs := queueAttributes(t, q, url)
	require.Equal(t, "2", attrs["ApproximateNumberOfMessagesDelayed"])
	clk.Advance(2 * time.Second)
	require.Equal(t, []string{"own delay"}, bodies(receive(t, q, url, 10)))
	clk.Advance(8 * time.Second)
	require.Equal(t, []string{"queue delay"}, bodies(receive(t, q, url, 10)))
}

func queueAttributes(t *testing.T, q *esmtest.SQS, url string, names ...types.QueueAttributeName) map[string]string {
	t.Helper()
	if names == nil {
		names = []types.QueueAttributeName{types.QueueAttributeNameAll}
	}
	out, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: names})
	require.NoError(t, err)
	return out.Attributes
}

func TestSQSQueueAttributes(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk), esmtest.WithSQSRegion("eu-west-1"), esmtest.WithSQSAccount("123456789012"))
	_, dlqARN := q.MustCreateQueue(t, "dlq", nil)
	url, arn := q.MustCreateQueue(t, "src", map[string]string{
		"VisibilityTimeout": "45",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"3"}`,
	})
	require.Equal(t, "http://sqs.eu-west-1.localhost/123456789012/src", url)
	require.Equal(t, "arn:aws:sqs:eu-west-1:123456789012:src", arn)
	for range 3 {
		q.Send(t, url, "m")
	}
	receive(t, q, url, 2)

	all := queueAttributes(t, q, url)
	require.Equal(t, "45", all["VisibilityTimeout"])
	require.Equal(t, arn, all["QueueArn"])
	require.Equal(t, `{"deadLetterTargetArn":"`+dlqARN+`","maxReceiveCount":3}`, all["RedrivePolicy"])
	require.Equal(t, "1", all["ApproximateNumberOfMessages"])
	require.Equal(t, "2", all["ApproximateNumberOfMessagesNotVisible"])
	require.NotContains(t, all, "FifoQueue")

	named := queueAttributes(t, q, url, types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameQueueArn)
	require.Equal(t, map[string]string{"VisibilityTimeout": "45", "QueueArn": arn}, named)

	_, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"Bogus"}})
	var badName *types.InvalidAttributeName
	require.ErrorAs(t, err, &badName)

	fifoURL, _ := q.MustCreateQueue(t, "f.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	fifo := queueAttributes(t, q, fifoURL)
	require.Equal(t, "true", fifo["FifoQueue"])
	require.Equal(t, "true", fifo["ContentBasedDeduplication"])

	got, err := q.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String("src"), QueueOwnerAWSAccountId: aws.String("123456789012")})
	require.NoError(t, err)
	require.Equal(t, url, *got.QueueUrl)

	_, err = q.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{
		"VisibilityTimeout": "5", "RedrivePolicy": "",
	}})
	require.NoError(t, err)
	all = queueAttributes(t, q, url)
	require.Equal(t, "5", all["VisibilityTimeout"])
	require.NotContains(t, all, "RedrivePolicy")
	_, err = q.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"FifoQueue": "true"}})
	require.Error(t, err)
}

func TestSQSCreateQueue(t *testing.T) {
	q := esmtest.NewSQS()
	ctx := t.Context()
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("a"), Attributes: map[string]string{"VisibilityTimeout": "60"}})
	require.NoError(t, err)
	again, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("a"), Attributes: map[string]string{"VisibilityTimeout": "60"}})
	require.NoError(t, err, "same attributes: idempotent")
	require.Equal(t, *out.QueueUrl, *again.QueueUrl)

	_, err = q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("a"), Attributes: map[string]string{"VisibilityTimeout": "61"}})
	var exists *types.QueueNameExists
	require.ErrorAs(t, err, &exists)

	for name, attrs := range map[string]map[string]string{
		"x.fifo":    nil,                            // FIFO name without FifoQueue
		"y":         {"FifoQueue": "true"},          // FifoQueue without .fifo
		"bad name!": nil,                            // characters
		"z":         {"VisibilityTimeout": "43201"}, // range
		"w":         {"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":1}`},
		"v":         {"NotAnAttribute": "1"},
	} {
		_, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		var api smithy.APIError
		require.ErrorAs(t, err, &api, name)
	}

	_, err = q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})
	var missing *types.QueueDoesNotExist
	require.ErrorAs(t, err, &missing)
	require.Equal(t, "AWS.SimpleQueueService.NonExistentQueue", missing.ErrorCode())
	_, err = q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("a"), QueueOwnerAWSAccountId: aws.String("999999999999")})
	require.ErrorAs(t, err, &missing)

	// Only the exact URL finds the queue.
	_, err = q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String("https://sqs.us-east-1.amazonaws.com/000000000000/a")})
	require.ErrorAs(t, err, &missing)
}

func TestSQSRequestValidation(t *testing.T) {
	q := esmtest.NewSQS()
	url, _ := q.MustCreateQueue(t, "q", nil)
	ctx := t.Context()
	var api smithy.APIError

	_, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 11})
	require.ErrorAs(t, err, &api)
	require.Equal(t, "InvalidParameterValue", api.ErrorCode())
	_, err = q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 21})
	require.ErrorAs(t, err, &api)

	entries := make([]types.DeleteMessageBatchRequestEntry, 11)
	for i := range entries {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String("x")}
	}
	_, err = q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries})
	var tooMany *types.TooManyEntriesInBatchRequest
	require.ErrorAs(t, err, &tooMany)
	_, err = q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url})
	var empty *types.EmptyBatchRequest
	require.ErrorAs(t, err, &empty)
	_, err = q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: aws.String("x")}, {Id: aws.String("a"), ReceiptHandle: aws.String("y")},
	}})
	var dup *types.BatchEntryIdsNotDistinct
	require.ErrorAs(t, err, &dup)

	_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("bad \x01 char")})
	var contents *types.InvalidMessageContents
	require.ErrorAs(t, err, &contents)
	_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageAttributes: map[string]types.MessageAttributeValue{
		"n": {DataType: aws.String("Number"), StringValue: aws.String("not a number")},
	}})
	require.ErrorAs(t, err, &api)
	require.Equal(t, "InvalidParameterValue", api.ErrorCode())
	_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("")})
	require.ErrorAs(t, err, &api)
	require.Equal(t, "MissingParameter", api.ErrorCode())
}

func TestSQSMessageAttributes(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "attrs", nil)
	vectors, _ := q.MustCreateQueue(t, "vectors", nil)
	attrs := map[string]types.MessageAttributeValue{
		"ordinal":  {DataType: aws.String("Number"), StringValue: aws.String("1")},
		"category": {DataType: aws.String("String"), StringValue: aws.String("test")},
		"blob":     {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3}},
	}
	out, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("b"), MessageAttributes: attrs})
	require.NoError(t, err)
	require.NotNil(t, out.MD5OfMessageAttributes)

	// Known vectors (computed by SQS) for the two string attributes.
	two := map[string]types.MessageAttributeValue{"ordinal": attrs["ordinal"], "category": attrs["category"]}
	seller := map[string]types.MessageAttributeValue{"SellerName": {DataType: aws.String("String"), StringValue: aws.String("Example Store")}}
	for want, a := range map[string]map[string]types.MessageAttributeValue{
		"d21ae90c49061e927f57df5f5d72be1f": two,
		"cd28f3b68aeee4b2eac9c66f2f694b58": seller,
	} {
		out, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &vectors, MessageBody: aws.String("v"), MessageAttributes: a})
		require.NoError(t, err)
		require.Equal(t, want, *out.MD5OfMessageAttributes)
	}

	// Not requested: no attributes, no MD5.
	plain, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &url, VisibilityTimeout: 1})
	clk.Advance(time.Second)
	require.NoError(t, err)
	require.Len(t, plain.Messages, 1)
	require.Nil(t, plain.Messages[0].MessageAttributes)
	require.Nil(t, plain.Messages[0].MD5OfMessageAttributes)
	require.Nil(t, plain.Messages[0].Attributes)

	all := receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) { in.VisibilityTimeout = 1 })
	require.Equal(t, attrs, all[0].MessageAttributes)
	require.Equal(t, *out.MD5OfMessageAttributes, *all[0].MD5OfMessageAttributes)
	clk.Advance(time.Second)

	named := receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) {
		in.MessageAttributeNames = []string{"ordinal", "category", "nomatch.*"}
		in.VisibilityTimeout = 1
	})
	require.Equal(t, two, named[0].MessageAttributes)
	require.Equal(t, "d21ae90c49061e927f57df5f5d72be1f", *named[0].MD5OfMessageAttributes)
}

func TestSQSRedriveToDeadLetterQueue(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	dlqURL, dlqARN := q.MustCreateQueue(t, "dlq", nil)
	url, arn := q.MustCreateQueue(t, "src", map[string]string{
		"VisibilityTimeout": "10",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":2}`,
	})
	id := q.Send(t, url, "poison")
	for i := 1; i <= 2; i++ {
		msgs := receive(t, q, url, 10)
		require.Len(t, msgs, 1)
		require.Equal(t, strconv.Itoa(i), msgs[0].Attributes["ApproximateReceiveCount"])
		clk.Advance(10 * time.Second)
	}
	require.Zero(t, q.Redriven("src"), "the last failed delivery does not move it")
	require.Empty(t, receive(t, q, url, 10), "the third receive moves it instead")
	require.Empty(t, q.Messages(url))
	require.Equal(t, 1, q.Redriven(url))
	require.Equal(t, 1, q.Redriven(arn))
	require.Zero(t, q.Redriven("dlq"))
	require.Zero(t, q.Redriven("no-such-queue"))
	moved := receive(t, q, dlqURL, 10)
	require.Len(t, moved, 1)
	require.Equal(t, id, *moved[0].MessageId)
	require.Equal(t, "poison", *moved[0].Body)
	require.Equal(t, "4", moved[0].Attributes["ApproximateReceiveCount"])
	require.Equal(t, arn, moved[0].Attributes["DeadLetterQueueSourceArn"])
}

func TestSQSBatchEntryFailures(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "q", nil)
	for i := range 3 {
		q.Send(t, url, fmt.Sprint(i))
	}
	msgs := receive(t, q, url, 10)
	require.Len(t, msgs, 3)

	q.Faults.FailEntries("ChangeMessageVisibilityBatch", esmtest.ServerError(500), "1")
	cmv, err := q.ChangeMessageVisibilityBatch(t.Context(), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 300},
		{Id: aws.String("1"), ReceiptHandle: msgs[1].ReceiptHandle, VisibilityTimeout: 300},
		{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 300},
	}})
	require.NoError(t, err)
	require.Equal(t, []types.ChangeMessageVisibilityBatchResultEntry{{Id: aws.String("0")}}, cmv.Successful)
	require.Len(t, cmv.Failed, 2)
	require.Equal(t, "InternalFailure", *cmv.Failed[0].Code)
	require.False(t, cmv.Failed[0].SenderFault)
	require.Equal(t, "ReceiptHandleIsInvalid", *cmv.Failed[1].Code)
	require.True(t, cmv.Failed[1].SenderFault)

	q.Faults.FailEntries("DeleteMessageBatch", esmtest.APIError("InternalError", "boom"), "b")
	del, err := q.DeleteMessageBatch(t.Context(), &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: msgs[0].ReceiptHandle},
		{Id: aws.String("b"), ReceiptHandle: msgs[1].ReceiptHandle},
		{Id: aws.String("c"), ReceiptHandle: msgs[2].ReceiptHandle},
	}})
	require.NoError(t, err)
	require.Equal(t, []types.DeleteMessageBatchResultEntry{{Id: aws.String("a")}, {Id: aws.String("c")}}, del.Successful)
	require.Len(t, del.Failed, 1)
	require.Equal(t, "b", *del.Failed[0].Id)
	require.Equal(t, []string{"1"}, q.Bodies(url), "the failed entry stays")

	// Deleting again with the same handles: already gone.
	del, err = q.DeleteMessageBatch(t.Context(), &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: msgs[0].ReceiptHandle},
	}})
	require.NoError(t, err)
	require.Equal(t, "ReceiptHandleIsInvalid", *del.Failed[0].Code)
	require.Equal(t, 2, q.Faults.Calls("DeleteMessageBatch"))
}

func TestSQSFaults(t *testing.T) {
	q := esmtest.NewSQS()
	url, _ := q.MustCreateQueue(t, "q", nil)
	q.Send(t, url, "x")
	q.Faults.FailNext("ReceiveMessage", 2, esmtest.APIError("ThrottlingException", "slow down"))
	for range 2 {
		_, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &url})
		var api smithy.APIError
		require.ErrorAs(t, err, &api)
		require.Equal(t, "ThrottlingException", api.ErrorCode())
	}
	require.Len(t, receive(t, q, url, 1), 1)
	require.Equal(t, 3, q.Faults.Calls("ReceiveMessage"))

	q.Faults.FailAlways("SendMessage", esmtest.ServerError(503))
	_, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("y")})
	require.Error(t, err)
	q.Send(t, url, "helpers bypass faults")

	q.Faults.FailEntries("SendMessageBatch", esmtest.APIError("InternalError", "boom"), "2")
	out, err := q.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("1"), MessageBody: aws.String("one")},
		{Id: aws.String("2"), MessageBody: aws.String("two")},
	}})
	require.NoError(t, err)
	require.Len(t, out.Successful, 1)
	require.Equal(t, "f97c5d29941bfb1b2fdab0874906ab82", *out.Successful[0].MD5OfMessageBody)
	require.Len(t, out.Failed, 1)
}

func TestSQSLongPollReturnsWhenMessageSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, _ := q.MustCreateQueue(t, "q", nil)
		start := time.Now()
		go func() {
			time.Sleep(3 * time.Second)
			q.Send(t, url, "late")
		}()
		msgs := receive(t, q, url, 10, func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = 20 })
		require.Equal(t, []string{"late"}, bodies(msgs))
		require.Equal(t, 3*time.Second, time.Since(start))
	})
}

func TestSQSLongPollWakesAtVisibilityExpiryAndDelayEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, _ := q.MustCreateQueue(t, "q", map[string]string{"VisibilityTimeout": "7"})
		q.Send(t, url, "m")
		require.Len(t, receive(t, q, url, 1), 1)
		start := time.Now()
		msgs := receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = 20 })
		require.Len(t, msgs, 1)
		require.Equal(t, 7*time.Second, time.Since(start))
		deleteAll(t, q, url, msgs)

		_, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("d"), DelaySeconds: 4})
		require.NoError(t, err)
		start = time.Now()
		require.Len(t, receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = 20 }), 1)
		require.Equal(t, 4*time.Second, time.Since(start))
	})
}

func TestSQSLongPollTimesOutAndCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, _ := q.MustCreateQueue(t, "q", map[string]string{"ReceiveMessageWaitTimeSeconds": "15"})
		start := time.Now()
		require.Empty(t, receive(t, q, url, 10), "queue default wait")
		require.Equal(t, 15*time.Second, time.Since(start))

		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestSQSLongPollFIFOWakesWhenGroupUnlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, _ := q.MustCreateQueue(t, "q.fifo", nil)
		q.SendFIFO(t, url, "g", "1")
		q.SendFIFO(t, url, "g", "2")
		first := receive(t, q, url, 1)
		require.Equal(t, []string{"1"}, bodies(first))
		go func() {
			time.Sleep(time.Second)
			deleteAll(t, q, url, first)
		}()
		start := time.Now()
		require.Equal(t, []string{"2"}, bodies(receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = 20 })))
		require.Equal(t, time.Second, time.Since(start))
	})
}

func TestSQSConcurrentUse(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := esmtest.NewSQS()
	url, _ := q.MustCreateQueue(t, "q", nil)
	const producers, each = 4, 50
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				q.Send(t, url, fmt.Sprint(p, "-", i))
			}
		})
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for range 3 {
		wg.Go(func() {
			for {
				out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
				if err != nil {
					return
				}
				mu.Lock()
				for _, m := range out.Messages {
					assert.False(t, seen[*m.Body], "delivered twice while in flight")
					seen[*m.Body] = true
				}
				if len(seen) == producers*each {
					cancel()
				}
				mu.Unlock()
				var entries []types.DeleteMessageBatchRequestEntry
				for i, m := range out.Messages {
					entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				_, err = q.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, producers*each)
	require.Empty(t, q.Messages(url))
}

func TestSQSRetentionAndPurge(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "q", map[string]string{"MessageRetentionPeriod": "60"})
	q.Send(t, url, "old")
	clk.Advance(30 * time.Second)
	q.Send(t, url, "new")
	clk.Advance(30 * time.Second)
	require.Equal(t, []string{"new"}, q.Bodies(url))
	require.Equal(t, []string{"new"}, bodies(receive(t, q, url, 10)))
	_, err := q.PurgeQueue(t.Context(), &sqs.PurgeQueueInput{QueueUrl: &url})
	require.NoError(t, err)
	require.Empty(t, q.Messages(url))
}

func TestSQSErrorsAreSDKTyped(t *testing.T) {
	q := esmtest.NewSQS()
	_, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(q.QueueURL("nope")), MessageBody: aws.String("x")})
	var missing *types.QueueDoesNotExist
	require.True(t, errors.As(err, &missing))
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, smithy.FaultClient, api.ErrorFault())
}

func TestSQSLongPollWithManualClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := esmtest.NewManualClock(sqsT0)
		q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
		url, _ := q.MustCreateQueue(t, "q", map[string]string{"VisibilityTimeout": "5"})
		q.Send(t, url, "m")
		first := receive(t, q, url, 1)
		go func() {
			time.Sleep(time.Second)
			clk.Advance(time.Minute) // does not wake the poll by itself…
			time.Sleep(time.Second)
			_, err := q.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{ // …an SQS call does
				QueueUrl: &url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0,
			})
			assert.ErrorAs(t, err, new(*types.MessageNotInflight), "the advance already ended its visibility")
			q.Send(t, url, "n")
		}()
		start := time.Now()
		msgs := receive(t, q, url, 10, func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = 20 })
		require.Equal(t, []string{"m", "n"}, bodies(msgs))
		require.Equal(t, 2*time.Second, time.Since(start), "the wait itself runs on (the bubble's) real time")
	})
}

// sqsModelMsg is one message of sqsModel.
type sqsModelMsg struct {
	body      string
	sentAt    time.Time
	visibleAt time.Time
	count     int
	handle    string // latest receipt handle
	gone      bool   // deleted, expired or redriven
}

// sqsModel is the plainest statement of a standard queue's receive: scan
// every message in send order, take the visible ones.
type sqsModel struct {
	msgs          []*sqsModelMsg
	retention, vt time.Duration
	maxReceive    int
	dlq           []string // bodies redriven, in order
}

func (m *sqsModel) expired(x *sqsModelMsg, now time.Time) bool {
	return now.Sub(x.sentAt) >= m.retention
}

// receive returns the messages a receive delivers, updating the model.
func (m *sqsModel) receive(max int, vt time.Duration, now time.Time) []*sqsModelMsg {
	var out []*sqsModelMsg
	for _, x := range m.msgs {
		if len(out) == max {
			break
		}
		switch {
		case x.gone:
		case m.expired(x, now):
			x.gone = true
		case x.visibleAt.After(now):
		case x.count >= m.maxReceive:
			x.gone = true
			m.dlq = append(m.dlq, x.body)
		default:
			out = append(out, x)
		}
	}
	if vt == 0 {
		vt = m.vt
	}
	for _, x := range out {
		x.count++
		x.visibleAt = now.Add(vt)
	}
	return out
}

// live returns the bodies Bodies reports.
func (m *sqsModel) live(now time.Time) []string {
	out := []string{}
	for _, x := range m.msgs {
		if !x.gone && !m.expired(x, now) {
			out = append(out, x.body)
		}
	}
	return out
}

// TestSQSStandardReceiveMatchesModel runs random sends (some delayed),
// receives (with and without a visibility timeout), deletes and visibility
// changes (with current and stale receipt handles), clock advances and
// setbacks against a standard queue with a retention period and a redrive
// policy, and checks every answer against sqsModel.
func TestSQSStandardReceiveMatchesModel(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 1))
			clk := esmtest.NewManualClock(sqsT0)
			q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
			dlqURL, dlqARN := q.MustCreateQueue(t, "dlq", nil)
			url, _ := q.MustCreateQueue(t, "q", map[string]string{
				"VisibilityTimeout":      "4",
				"MessageRetentionPeriod": "60",
				"RedrivePolicy":          `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":3}`,
			})
			model := &sqsModel{dlq: []string{}, retention: time.Minute, vt: 4 * time.Second, maxReceive: 3}
			var handles []*string              // every receipt handle handed out
			owner := map[string]*sqsModelMsg{} // by receipt handle
			sent := 0
			for step := range 1500 {
				now := clk.Now()
				switch op := rnd.IntN(100); {
				case op < 30:
					body := "m" + strconv.Itoa(sent)
					sent++
					delay := int32(0)
					if rnd.IntN(4) == 0 {
						delay = rnd.Int32N(4)
					}
					_, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, DelaySeconds: delay})
					require.NoError(t, err)
					x := &sqsModelMsg{body: body, sentAt: now, visibleAt: now.Add(time.Duration(delay) * time.Second)}
					model.msgs = append(model.msgs, x)
				case op < 55:
					max := 1 + rnd.IntN(10)
					vt := int32(rnd.IntN(3) * 2) // 0: the queue's
					got := receive(t, q, url, int32(max), func(in *sqs.ReceiveMessageInput) { in.VisibilityTimeout = vt })
					want := model.receive(max, time.Duration(vt)*time.Second, now)
					require.Len(t, got, len(want), "step %d", step)
					for i, w := range want {
						require.Equal(t, w.body, *got[i].Body, "step %d", step)
						require.Equal(t, strconv.Itoa(w.count), got[i].Attributes["ApproximateReceiveCount"], "step %d", step)
						w.handle = *got[i].ReceiptHandle
						handles = append(handles, got[i].ReceiptHandle)
						owner[w.handle] = w
					}
				case op < 70 && len(handles) > 0:
					h := handles[rnd.IntN(len(handles))]
					x := owner[*h]
					if model.expired(x, now) {
						continue // when an expired message goes is not specified
					}
					_, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: h})
					if x.gone || x.handle != *h {
						require.ErrorAs(t, err, new(*types.ReceiptHandleIsInvalid), "step %d", step)
						continue
					}
					require.NoError(t, err, "step %d", step)
					x.gone = true
				case op < 85 && len(handles) > 0:
					h := handles[rnd.IntN(len(handles))]
					x := owner[*h]
					if model.expired(x, now) {
						continue
					}
					secs := int32(rnd.IntN(3) * 3)
					_, err := q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: h, VisibilityTimeout: secs})
					switch {
					case x.gone || x.handle != *h:
						require.ErrorAs(t, err, new(*types.ReceiptHandleIsInvalid), "step %d", step)
					case !x.visibleAt.After(now):
						require.ErrorAs(t, err, new(*types.MessageNotInflight), "step %d", step)
					default:
						require.NoError(t, err, "step %d", step)
						x.visibleAt = now.Add(time.Duration(secs) * time.Second)
					}
				case op < 98:
					clk.Advance(time.Duration(rnd.IntN(5)) * 500 * time.Millisecond)
				default:
					clk.Advance(-time.Duration(rnd.IntN(5)) * time.Second)
				}
				require.Equal(t, model.live(clk.Now()), q.Bodies(url), "step %d", step)
			}
			require.NotEmpty(t, model.dlq, "the run redrives")
			require.Equal(t, model.dlq, q.Bodies(dlqURL))
		})
	}
}

// TestSQSLongPollWakesAtEarliestVisibility keeps several messages in flight
// with different timeouts: a long poll returns when the earliest one is
// visible again, and at once when a visibility change makes one visible.
func TestSQSLongPollWakesAtEarliestVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, _ := q.MustCreateQueue(t, "q", nil)
		timeouts := []int32{50, 9, 40, 4, 30}
		for i := range timeouts {
			q.Send(t, url, strconv.Itoa(i))
		}
		hide := func(in *sqs.ReceiveMessageInput) { in.VisibilityTimeout = 60 }
		msgs := receive(t, q, url, 10, hide)
		require.Len(t, msgs, len(timeouts))
		for i, secs := range timeouts {
			_, err := q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{
				QueueUrl: &url, ReceiptHandle: msgs[i].ReceiptHandle, VisibilityTimeout: secs,
			})
			require.NoError(t, err)
		}
		poll := func() []string {
			return bodies(receive(t, q, url, 10, hide, func(in *sqs.ReceiveMessageInput) { in.WaitTimeSeconds = 20 }))
		}
		start := time.Now()
		require.Equal(t, []string{"3"}, poll())
		require.Equal(t, 4*time.Second, time.Since(start))
		require.Equal(t, []string{"1"}, poll())
		require.Equal(t, 9*time.Second, time.Since(start))

		go func() {
			time.Sleep(time.Second)
			_, err := q.ChangeMessageVisibilityBatch(t.Context(), &sqs.ChangeMessageVisibilityBatchInput{
				QueueUrl: &url, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
					{Id: aws.String("a"), ReceiptHandle: msgs[4].ReceiptHandle, VisibilityTimeout: 0},
					{Id: aws.String("b"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0},
				},
			})
			assert.NoError(t, err)
		}()
		require.Equal(t, []string{"0", "4"}, poll(), "oldest first")
		require.Equal(t, 10*time.Second, time.Since(start))
		require.Empty(t, poll(), "the wait ends first")
		require.Equal(t, 30*time.Second, time.Since(start))
		require.Equal(t, []string{"2"}, poll())
		require.Equal(t, 40*time.Second, time.Since(start))
	})
}

// TestSQSRetentionDropsInFlightMessages: a receive drops the messages that
// outlived the retention period even while they are in flight, so that they
// leave the counts and their receipt handles stop working.
func TestSQSRetentionDropsInFlightMessages(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "q", map[string]string{"MessageRetentionPeriod": "60"})
	q.Send(t, url, "old")
	msgs := receive(t, q, url, 1, func(in *sqs.ReceiveMessageInput) { in.VisibilityTimeout = 3600 })
	require.Len(t, msgs, 1)
	clk.Advance(time.Minute)
	q.Send(t, url, "new")
	require.Equal(t, []string{"new"}, bodies(receive(t, q, url, 10)))
	out, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	require.NoError(t, err)
	require.Equal(t, "1", out.Attributes["ApproximateNumberOfMessagesNotVisible"], "only the new one")
	_, err = q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle})
	require.ErrorAs(t, err, new(*types.ReceiptHandleIsInvalid))
}
