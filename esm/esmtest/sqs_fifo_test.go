package esmtest_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

func TestSQSFIFOGroupsReceiveSeveralConsecutiveMessages(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "orders.fifo", nil)
	// Interleaved: A1 B1 A2 B2 … A5 B5, then C1.
	for i := range 5 {
		q.SendFIFO(t, url, "A", "A"+string(rune('1'+i)))
		q.SendFIFO(t, url, "B", "B"+string(rune('1'+i)))
	}
	q.SendFIFO(t, url, "C", "C1")

	// One receive: as many consecutive messages of the oldest group as fit,
	// then the next group's.
	first := receive(t, q, url, 7)
	require.Equal(t, []string{"A1", "A2", "A3", "A4", "A5", "B1", "B2"}, bodies(first))
	require.Equal(t, "A", first[0].Attributes["MessageGroupId"])
	require.NotEmpty(t, first[0].Attributes["SequenceNumber"])
	require.Less(t, first[0].Attributes["SequenceNumber"], first[1].Attributes["SequenceNumber"])
	require.NotEmpty(t, first[0].Attributes["MessageDeduplicationId"])

	// Groups A and B are locked while any of their messages is in flight.
	require.Equal(t, []string{"C1"}, bodies(receive(t, q, url, 10)))
	require.Empty(t, receive(t, q, url, 10))

	// Deleting all of A's in-flight messages unlocks A (which is empty);
	// deleting only B1 keeps B locked by B2.
	deleteAll(t, q, url, first[:6])
	require.Empty(t, receive(t, q, url, 10))
	deleteAll(t, q, url, first[6:])
	require.Equal(t, []string{"B3", "B4", "B5"}, bodies(receive(t, q, url, 10)))
}

func TestSQSFIFOOrderKeptAfterVisibilityExpiry(t *testing.T) {
	clk, q, url := fifoWith123(t, "10")
	got := receive(t, q, url, 2)
	require.Equal(t, []string{"1", "2"}, bodies(got))
	deleteAll(t, q, url, got[:1])
	// 2 is still in flight: 3 must wait, even past other receives.
	require.Empty(t, receive(t, q, url, 10))
	clk.Advance(10 * time.Second)
	again := receive(t, q, url, 10)
	require.Equal(t, []string{"2", "3"}, bodies(again))
	require.Equal(t, "2", again[0].Attributes["ApproximateReceiveCount"])
	require.Equal(t, "1", again[1].Attributes["ApproximateReceiveCount"])

	// Making one message visible again does not unlock the group while the
	// other is in flight.
	_, err := q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: again[0].ReceiptHandle})
	require.NoError(t, err)
	require.Empty(t, receive(t, q, url, 10))
	_, err = q.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: again[1].ReceiptHandle})
	require.NoError(t, err)
	require.Equal(t, []string{"2", "3"}, bodies(receive(t, q, url, 10)))
}

func TestSQSFIFODeduplication(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "q.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	send := func(body string, dedup *string) *sqs.SendMessageOutput {
		out, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, MessageGroupId: aws.String("g"), MessageDeduplicationId: dedup})
		require.NoError(t, err)
		return out
	}
	a := send("same", nil)
	b := send("same", nil)
	require.Equal(t, *a.MessageId, *b.MessageId, "a duplicate answers with the original")
	require.Equal(t, *a.SequenceNumber, *b.SequenceNumber)
	c := send("other", aws.String("explicit"))
	d := send("different body", aws.String("explicit"))
	require.Equal(t, *c.MessageId, *d.MessageId)
	require.Equal(t, []string{"same", "other"}, q.Bodies(url))
	msgs := q.Messages(url)
	require.Equal(t, "0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5", msgs[0].Attributes["MessageDeduplicationId"], "sha256 of the body")
	require.Equal(t, "explicit", msgs[1].Attributes["MessageDeduplicationId"])

	// After the 5-minute interval the same content is a new message.
	clk.Advance(5 * time.Minute)
	e := send("same", nil)
	require.NotEqual(t, *a.MessageId, *e.MessageId)
	require.Len(t, q.Messages(url), 3)

	// Without content-based deduplication an explicit ID is required.
	plain, _ := q.MustCreateQueue(t, "plain.fifo", nil)
	_, err := q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &plain, MessageBody: aws.String("x"), MessageGroupId: aws.String("g")})
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, "InvalidParameterValue", api.ErrorCode())
	_, err = q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &plain, MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("d")})
	require.ErrorAs(t, err, &api)
	require.Equal(t, "MissingParameter", api.ErrorCode(), "MessageGroupId is required")
}

func TestSQSFIFOReceiveRequestAttemptID(t *testing.T) {
	clk, q, url := fifoWith123(t, "30")
	withAttempt := func(id string) func(*sqs.ReceiveMessageInput) {
		return func(in *sqs.ReceiveMessageInput) { in.ReceiveRequestAttemptId = &id }
	}
	first := receive(t, q, url, 2, withAttempt("try-1"))
	require.Equal(t, []string{"1", "2"}, bodies(first))

	// The answer was lost; the retry gets the same messages and handles, and
	// a fresh visibility timeout, without counting another receive.
	clk.Advance(20 * time.Second)
	retry := receive(t, q, url, 2, withAttempt("try-1"))
	require.Equal(t, []string{"1", "2"}, bodies(retry))
	require.Equal(t, *first[0].ReceiptHandle, *retry[0].ReceiptHandle)
	require.Equal(t, "1", retry[0].Attributes["ApproximateReceiveCount"])
	clk.Advance(20 * time.Second)
	require.Empty(t, receive(t, q, url, 10), "the retry restarted the visibility timeout")

	// Once a message of the batch is deleted, the attempt ID is spent.
	deleteAll(t, q, url, retry[:1])
	require.Empty(t, receive(t, q, url, 2, withAttempt("try-1")), "group still locked by 2")
	clk.Advance(30 * time.Second)
	require.Equal(t, []string{"2", "3"}, bodies(receive(t, q, url, 10, withAttempt("try-1"))))

	// Standard queues ignore the attempt ID.
	std, _ := q.MustCreateQueue(t, "std", nil)
	q.Send(t, std, "x")
	require.Len(t, receive(t, q, std, 1, withAttempt("a")), 1)
	require.Empty(t, receive(t, q, std, 1, withAttempt("a")))
}

func TestSQSFIFORedriveAndErrors(t *testing.T) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	_, stdDLQ := q.MustCreateQueue(t, "std-dlq", nil)
	_, err := q.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("x.fifo"), Attributes: map[string]string{
		"FifoQueue": "true", "RedrivePolicy": `{"deadLetterTargetArn":"` + stdDLQ + `","maxReceiveCount":1}`,
	}})
	require.Error(t, err, "a FIFO queue needs a FIFO dead-letter queue")

	dlqURL, dlqARN := q.MustCreateQueue(t, "dlq.fifo", nil)
	url, _ := q.MustCreateQueue(t, "src.fifo", map[string]string{
		"VisibilityTimeout": "5",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":1}`,
	})
	q.SendFIFO(t, url, "g", "poison")
	q.SendFIFO(t, url, "g", "next")
	require.Equal(t, []string{"poison"}, bodies(receive(t, q, url, 1)))
	clk.Advance(5 * time.Second)
	// poison moves; the group continues with the next message.
	require.Equal(t, []string{"next"}, bodies(receive(t, q, url, 10)))
	moved := receive(t, q, dlqURL, 10)
	require.Equal(t, []string{"poison"}, bodies(moved))
	require.Equal(t, "g", moved[0].Attributes["MessageGroupId"])

	_, err = q.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageGroupId: aws.String("g"),
		MessageDeduplicationId: aws.String("d"), DelaySeconds: 3})
	var api smithy.APIError
	require.ErrorAs(t, err, &api, "per-message delay is not allowed on FIFO queues")

	batch, err := q.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("ok"), MessageBody: aws.String("a"), MessageGroupId: aws.String("h"), MessageDeduplicationId: aws.String("1")},
		{Id: aws.String("nogroup"), MessageBody: aws.String("b"), MessageDeduplicationId: aws.String("2")},
	}})
	require.NoError(t, err)
	require.Len(t, batch.Successful, 1)
	require.NotNil(t, batch.Successful[0].SequenceNumber)
	require.Equal(t, "MissingParameter", *batch.Failed[0].Code)
}

// fifoWith123 makes a FIFO queue with this visibility timeout holding
// messages 1, 2 and 3 of group g.
func fifoWith123(t *testing.T, visibility string) (*esmtest.ManualClock, *esmtest.SQS, string) {
	clk := esmtest.NewManualClock(sqsT0)
	q := esmtest.NewSQS(esmtest.WithSQSClock(clk))
	url, _ := q.MustCreateQueue(t, "q.fifo", map[string]string{"VisibilityTimeout": visibility})
	for _, b := range []string{"1", "2", "3"} {
		q.SendFIFO(t, url, "g", b)
	}
	return clk, q, url
}
