package conformance

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"
)

// SQSAPI is the part of the SQS API the suite calls. *sqs.Client and
// *esmtest.SQS satisfy it.
type SQSAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) //nolint:revive // SDK name
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// SQSHarness is an SQS target for [RunSQS].
type SQSHarness interface {
	Target
	// SQS returns the client under test.
	SQS() SQSAPI
	// NewQueue creates a queue, new and named after t, with these
	// attributes (FifoQueue "true" makes a FIFO queue, whose name ends in
	// ".fifo"), and returns its URL, exactly as the target issued it, and
	// its ARN. It fails t on error, and may delete the queue when t ends.
	NewQueue(t *testing.T, attrs map[string]string) (url, arn string)
}

// RunSQS runs the SQS conformance suite against h: long polls wait and
// return early when a message arrives, visibility expiry redelivers and
// increments ApproximateReceiveCount, ChangeMessageVisibility(Batch),
// deletes remove, a RedrivePolicy moves a message to its dead-letter queue
// after maxReceiveCount receives, FIFO order within a group, group locking,
// deduplication, and the system and message attributes a receive returns.
// Visibility timeouts are 1 second, so the suite takes a few seconds of real
// time.
func RunSQS(t *testing.T, h SQSHarness) {
	t.Helper()
	runSuite(t, "SQS", h, []suiteTest[SQSHarness]{
		{name: "QueueURLAndAttributes", run: sqsQueueAttributes},
		{name: "LongPoll", run: sqsLongPoll},
		{name: "VisibilityExpiryRedelivers", run: sqsRedelivery},
		{name: "ChangeMessageVisibility", run: sqsChangeVisibility},
		{name: "DeleteRemoves", run: sqsDelete},
		{name: "DeleteBatchFailedEntries", needs: []Capability{SQSDeleteBatchFailures}, run: sqsDeleteFailures},
		{name: "RedriveToDeadLetterQueue", run: sqsRedrive},
		{name: "FIFOOrderAndGroupLocking", run: sqsFIFOOrder},
		{name: "FIFORedeliveryKeepsOrder", run: sqsFIFORedelivery},
		{name: "FIFOSeveralPerGroup", needs: []Capability{SQSFIFOBatchPerGroup}, run: sqsFIFOBatch},
		{name: "FIFODeduplication", run: sqsFIFODedup},
		{name: "FIFOReceiveRequestAttemptId", needs: []Capability{SQSReceiveAttemptID}, run: sqsAttemptID},
		{name: "RequestedMessageAttributesOnly", needs: []Capability{SQSRequestedAttributesOnly}, run: sqsRequestedAttributes},
	})
}

// fifoAttrs are the attributes of the suite's FIFO queues.
var fifoAttrs = map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}

func sqsQueueAttributes(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, arn := h.NewQueue(t, map[string]string{"VisibilityTimeout": "7"})
	name := arn[strings.LastIndex(arn, ":")+1:]
	require.True(t, strings.HasSuffix(url, "/"+name), "the queue URL %s ends with its name %s", url, name)
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
	require.NoError(t, err)
	require.Equal(t, url, deref(got.QueueUrl), "GetQueueUrl returns the URL CreateQueue returned")
	attrs := sqsAttributes(ctx, t, c, url, sqstypes.QueueAttributeNameQueueArn, sqstypes.QueueAttributeNameVisibilityTimeout)
	require.Equal(t, arn, attrs["QueueArn"])
	require.Equal(t, "7", attrs["VisibilityTimeout"])
}

func sqsLongPoll(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, nil)
	start := time.Now()
	require.Empty(t, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 1}), "an empty queue answers nothing")
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "a long poll on an empty queue waits WaitTimeSeconds")

	const sendAfter = 500 * time.Millisecond
	sent := make(chan error, 1)
	go func() {
		time.Sleep(sendAfter)
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: new("late")})
		sent <- err
	}()
	start = time.Now()
	msgs := sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 10})
	took := time.Since(start)
	require.NoError(t, <-sent)
	require.Equal(t, []string{"late"}, sqsBodies(msgs), "the long poll returns the message sent while it waited")
	require.GreaterOrEqual(t, took, sendAfter-100*time.Millisecond, "the long poll waited for the message")
	require.Less(t, took, 5*time.Second, "the long poll returned as soon as the message arrived, not after WaitTimeSeconds")
}

func sqsRedelivery(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, nil)
	body := `{"n":1}`
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body})
	require.NoError(t, err)
	sum := md5.Sum([]byte(body))
	require.Equal(t, hex.EncodeToString(sum[:]), deref(sent.MD5OfMessageBody))

	first := sqsReceiveOne(ctx, t, c, url, 1)
	require.Equal(t, deref(sent.MessageId), deref(first.MessageId))
	require.Equal(t, body, deref(first.Body))
	require.Equal(t, hex.EncodeToString(sum[:]), deref(first.MD5OfBody))
	require.Equal(t, "1", first.Attributes["ApproximateReceiveCount"], "the first receive counts 1")
	for _, a := range []string{"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} {
		require.NotEmpty(t, first.Attributes[a], "MessageSystemAttributeNames All returns %s", a)
	}
	require.NotEmpty(t, deref(first.ReceiptHandle))
	require.Empty(t, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10}),
		"a message is invisible during its visibility timeout")

	second := sqsReceiveOne(ctx, t, c, url, 1) // long-polls past the 1 s timeout
	require.Equal(t, deref(sent.MessageId), deref(second.MessageId), "the same message comes back after its visibility timeout")
	require.Equal(t, "2", second.Attributes["ApproximateReceiveCount"], "each receive counts")
	require.Equal(t, first.Attributes["ApproximateFirstReceiveTimestamp"], second.Attributes["ApproximateFirstReceiveTimestamp"])
	require.NotEqual(t, deref(first.ReceiptHandle), deref(second.ReceiptHandle), "each receive issues a new receipt handle")
}

func sqsChangeVisibility(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, nil)
	sqsSend(ctx, t, c, url, "", "a", "b")
	msgs := sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 1})
	for len(msgs) < 2 { // a standard queue may answer with fewer messages
		msgs = append(msgs, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 1})...)
	}
	_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0})
	require.NoError(t, err)
	again := sqsReceiveOne(ctx, t, c, url, 30)
	require.Equal(t, deref(msgs[0].MessageId), deref(again.MessageId), "ChangeMessageVisibility 0 makes the message visible at once")
	require.Equal(t, "2", again.Attributes["ApproximateReceiveCount"])

	out, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url, Entries: []sqstypes.ChangeMessageVisibilityBatchRequestEntry{
		{Id: new("ok"), ReceiptHandle: msgs[1].ReceiptHandle, VisibilityTimeout: 0},
		{Id: new("bad"), ReceiptHandle: new("bogus-receipt-handle"), VisibilityTimeout: 0},
	}})
	require.NoError(t, err)
	var ok []string
	for _, e := range out.Successful {
		ok = append(ok, deref(e.Id))
	}
	sqsRequireBadEntry(t, ok, out.Failed)
	again = sqsReceiveOne(ctx, t, c, url, 30)
	require.Equal(t, deref(msgs[1].MessageId), deref(again.MessageId), "the successful entry took effect")
}

func sqsDelete(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, map[string]string{"VisibilityTimeout": "1"})
	sqsSend(ctx, t, c, url, "", "a", "b", "c")
	var msgs []sqstypes.Message
	for len(msgs) < 3 {
		msgs = append(msgs, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})...)
	}
	require.ElementsMatch(t, []string{"a", "b", "c"}, sqsBodies(msgs))
	_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle})
	require.NoError(t, err)
	out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: new("m1"), ReceiptHandle: msgs[1].ReceiptHandle},
		{Id: new("m2"), ReceiptHandle: msgs[2].ReceiptHandle},
	}})
	require.NoError(t, err)
	require.Empty(t, out.Failed)
	require.ElementsMatch(t, []string{"m1", "m2"}, []string{deref(out.Successful[0].Id), deref(out.Successful[1].Id)})
	time.Sleep(1200 * time.Millisecond) // past the visibility timeout
	require.Empty(t, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1}),
		"deleted messages never come back")
	attrs := sqsAttributes(ctx, t, c, url, sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
	require.Equal(t, "0", attrs["ApproximateNumberOfMessages"])
	require.Equal(t, "0", attrs["ApproximateNumberOfMessagesNotVisible"])
}

func sqsDeleteFailures(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, nil)
	sqsSend(ctx, t, c, url, "", "a")
	m := sqsReceiveOne(ctx, t, c, url, 30)
	out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: new("ok"), ReceiptHandle: m.ReceiptHandle},
		{Id: new("bad"), ReceiptHandle: new("bogus-receipt-handle")},
	}})
	require.NoError(t, err)
	var ok []string
	for _, e := range out.Successful {
		ok = append(ok, deref(e.Id))
	}
	sqsRequireBadEntry(t, ok, out.Failed)
}

func sqsRedrive(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	dlq, dlqARN := h.NewQueue(t, nil)
	policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": 2})
	require.NoError(t, err)
	url, _ := h.NewQueue(t, map[string]string{"VisibilityTimeout": "1", "RedrivePolicy": string(policy)})
	got := sqsAttributes(ctx, t, c, url, sqstypes.QueueAttributeNameRedrivePolicy)["RedrivePolicy"]
	require.JSONEq(t, string(policy), got, "the RedrivePolicy round-trips")

	sent := sqsSend(ctx, t, c, url, "", "poison")[0]
	for i := 1; i <= 2; i++ {
		m := sqsReceiveOne(ctx, t, c, url, 0)
		require.Equal(t, sent, deref(m.MessageId))
		require.Equal(t, fmt.Sprint(i), m.Attributes["ApproximateReceiveCount"], "receive %d", i)
	}
	require.Empty(t, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2}),
		"after maxReceiveCount receives the message leaves the source queue")
	moved := sqsReceiveOne(ctx, t, c, dlq, 30)
	require.Equal(t, "poison", deref(moved.Body), "the message is in the dead-letter queue")
	require.Equal(t, sent, deref(moved.MessageId), "it keeps its MessageId")
}

// sqsFIFOSend sends bodies to a FIFO queue in this order; a body's group is
// its first letter.
func sqsFIFOSend(ctx context.Context, t *testing.T, c SQSAPI, url string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		sqsSend(ctx, t, c, url, b[:1], b)
	}
}

func sqsFIFOOrder(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, fifoAttrs)
	sqsFIFOSend(ctx, t, c, url, "A1", "B1", "A2", "B2", "A3")
	want := map[string][]string{"A": {"A1", "A2", "A3"}, "B": {"B1", "B2"}}
	inflight := map[string][]sqstypes.Message{}
	// take checks the messages of one receive: none of a group with
	// messages in flight, and each group's in send order.
	take := func(msgs []sqstypes.Message) {
		t.Helper()
		locked := map[string]bool{}
		for g, m := range inflight {
			locked[g] = len(m) > 0
		}
		for _, m := range msgs {
			g := m.Attributes["MessageGroupId"]
			require.False(t, locked[g], "group %s is locked while %v are in flight, got %s", g, sqsBodies(inflight[g]), deref(m.Body))
			require.NotEmpty(t, want[g], "unexpected message %s", deref(m.Body))
			require.Equal(t, want[g][0], deref(m.Body), "group %s is delivered in send order", g)
			require.NotEmpty(t, m.Attributes["SequenceNumber"])
			want[g] = want[g][1:]
			inflight[g] = append(inflight[g], m)
		}
	}
	in := &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, VisibilityTimeout: 30,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}}
	for round := 0; len(want["A"])+len(want["B"]) > 0; round++ {
		require.Less(t, round, 20, "the FIFO queue did not drain")
		served := false
		for g, rest := range want {
			served = served || (len(inflight[g]) == 0 && len(rest) > 0)
		}
		in.WaitTimeSeconds = 1
		msgs := sqsReceive(ctx, t, c, in)
		require.True(t, len(msgs) > 0 || !served, "a group without messages in flight is served")
		take(msgs)
		in.WaitTimeSeconds = 0
		take(sqsReceive(ctx, t, c, in)) // groups in flight stay locked
		// Finish one group per round, so that the other stays locked.
		g := []string{"A", "B"}[round%2]
		if len(inflight[g]) == 0 {
			g = []string{"B", "A"}[round%2]
		}
		for _, m := range inflight[g] {
			_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
			require.NoError(t, err)
		}
		inflight[g] = nil
	}
}

func sqsFIFORedelivery(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, fifoAttrs)
	sqsFIFOSend(ctx, t, c, url, "A1", "A2")
	first := sqsReceiveOne(ctx, t, c, url, 1)
	require.Equal(t, "A1", deref(first.Body))
	again := sqsReceiveOne(ctx, t, c, url, 30) // long-polls past the 1 s timeout
	require.Equal(t, "A1", deref(again.Body), "after a visibility expiry the group restarts at its oldest message")
	require.Equal(t, "2", again.Attributes["ApproximateReceiveCount"])
	_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: again.ReceiptHandle})
	require.NoError(t, err)
	require.Equal(t, "A2", deref(sqsReceiveOne(ctx, t, c, url, 30).Body))
}

func sqsFIFOBatch(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, fifoAttrs)
	sqsFIFOSend(ctx, t, c, url, "A1", "A2", "A3", "B1")
	msgs := sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	var a []string
	for _, b := range sqsBodies(msgs) {
		if b[0] == 'A' {
			a = append(a, b)
		}
	}
	require.Equal(t, []string{"A1", "A2", "A3"}, a, "one receive returns consecutive messages of a group, in order")
}

func sqsFIFODedup(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, map[string]string{"FifoQueue": "true"})
	var ids []string
	for _, body := range []string{"first", "duplicate"} {
		out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: new(body), MessageGroupId: new("g"), MessageDeduplicationId: new("d1")})
		require.NoError(t, err, "a duplicate send is accepted")
		require.NotEmpty(t, deref(out.SequenceNumber))
		ids = append(ids, deref(out.MessageId))
	}
	m := sqsReceiveOne(ctx, t, c, url, 30)
	require.Equal(t, "first", deref(m.Body))
	require.Equal(t, ids[0], deref(m.MessageId))
	require.Equal(t, "g", m.Attributes["MessageGroupId"])
	require.Equal(t, "d1", m.Attributes["MessageDeduplicationId"])
	_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
	require.NoError(t, err)
	require.Empty(t, sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1}),
		"a message with a deduplication ID already sent is not delivered")
}

func sqsAttemptID(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, fifoAttrs)
	sqsFIFOSend(ctx, t, c, url, "A1", "A2")
	in := &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 1, VisibilityTimeout: 30, WaitTimeSeconds: 1, ReceiveRequestAttemptId: new("attempt-1")}
	first := sqsReceive(ctx, t, c, in)
	require.Len(t, first, 1)
	retry := sqsReceive(ctx, t, c, in)
	require.Len(t, retry, 1, "a retried receive with the same ReceiveRequestAttemptId returns its messages again")
	require.Equal(t, deref(first[0].MessageId), deref(retry[0].MessageId))
	require.Equal(t, deref(first[0].ReceiptHandle), deref(retry[0].ReceiptHandle))
}

func sqsRequestedAttributes(ctx context.Context, t *testing.T, h SQSHarness) {
	c := h.SQS()
	url, _ := h.NewQueue(t, nil)
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: new("a"), MessageAttributes: map[string]sqstypes.MessageAttributeValue{
		"color": {DataType: new("String"), StringValue: new("red")},
	}})
	require.NoError(t, err)
	m := sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, VisibilityTimeout: 30, WaitTimeSeconds: 1})
	require.Len(t, m, 1)
	require.Empty(t, m[0].MessageAttributes, "message attributes come only when asked for")
	require.Nil(t, m[0].MD5OfMessageAttributes)
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: m[0].ReceiptHandle})
	require.NoError(t, err)
	m = sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{QueueUrl: &url, VisibilityTimeout: 30, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
	require.Len(t, m, 1)
	require.Equal(t, "red", deref(m[0].MessageAttributes["color"].StringValue))
	require.NotEmpty(t, deref(m[0].MD5OfMessageAttributes))
}

// ---------------------------------------------------------------- helpers

// sqsSend sends bodies in this order with one SendMessageBatch (in message
// group group on a FIFO queue) and returns their message IDs.
func sqsSend(ctx context.Context, t *testing.T, c SQSAPI, url, group string, bodies ...string) []string {
	t.Helper()
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: new(fmt.Sprint(i)), MessageBody: new(b), MessageGroupId: optional(group)}
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
	require.NoError(t, err)
	require.Empty(t, out.Failed)
	ids := make([]string, len(bodies))
	for _, r := range out.Successful {
		var i int
		_, err := fmt.Sscan(deref(r.Id), &i)
		require.NoError(t, err)
		ids[i] = deref(r.MessageId)
	}
	return ids
}

// sqsRequireBadEntry checks the answer of a batch call with the entries
// "ok" (a valid receipt handle) and "bad" (an invalid one): only "bad"
// failed, with ReceiptHandleIsInvalid.
func sqsRequireBadEntry(t *testing.T, successful []string, failed []sqstypes.BatchResultErrorEntry) {
	t.Helper()
	require.Equal(t, []string{"ok"}, successful, "the entry with a valid receipt handle succeeds")
	require.Len(t, failed, 1, "an invalid receipt handle fails its entry only")
	require.Equal(t, "bad", deref(failed[0].Id))
	require.Equal(t, "ReceiptHandleIsInvalid", deref(failed[0].Code))
	require.True(t, failed[0].SenderFault)
}

// sqsReceive makes one ReceiveMessage call.
func sqsReceive(ctx context.Context, t *testing.T, c SQSAPI, in *sqs.ReceiveMessageInput) []sqstypes.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctx, in)
	require.NoError(t, err)
	return out.Messages
}

// sqsReceiveOne long-polls (up to 5 s) for one message with every system
// attribute, and takes it in flight for vt seconds (0: the queue's
// visibility timeout).
func sqsReceiveOne(ctx context.Context, t *testing.T, c SQSAPI, url string, vt int32) sqstypes.Message {
	t.Helper()
	msgs := sqsReceive(ctx, t, c, &sqs.ReceiveMessageInput{
		QueueUrl: &url, WaitTimeSeconds: 5, VisibilityTimeout: vt,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	require.Len(t, msgs, 1, "one message within 5 s")
	return msgs[0]
}

func sqsAttributes(ctx context.Context, t *testing.T, c SQSAPI, url string, names ...sqstypes.QueueAttributeName) map[string]string {
	t.Helper()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: names})
	require.NoError(t, err)
	return out.Attributes
}

func sqsBodies(msgs []sqstypes.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = deref(m.Body)
	}
	return out
}
