package destination

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/lambdaesm/lambdaesm"
	"github.com/stretchr/testify/require"
)

// fakeAWS records the calls of the three clients and fails them as scripted
// (one error per call, in order, per operation).
type fakeAWS struct {
	mu    sync.Mutex
	calls []string
	fail  map[string][]error

	urlLookups []sqs.GetQueueUrlInput
	sent       []sqs.SendMessageInput
	published  []sns.PublishInput
	objects    map[string]string // bucket/key → body
}

var (
	_ SQSAPI = (*fakeAWS)(nil)
	_ SNSAPI = (*fakeAWS)(nil)
	_ S3API  = (*fakeAWS)(nil)
)

func newFakeAWS() *fakeAWS {
	return &fakeAWS{fail: map[string][]error{}, objects: map[string]string{}}
}

func (f *fakeAWS) failNext(op string, err error) {
	f.mu.Lock()
	f.fail[op] = append(f.fail[op], err)
	f.mu.Unlock()
}

// call records op and returns its next scripted error. Callers hold f.mu.
func (f *fakeAWS) call(ctx context.Context, op string) error {
	f.calls = append(f.calls, op)
	if err := ctx.Err(); err != nil {
		return err
	}
	if errs := f.fail[op]; len(errs) > 0 {
		f.fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeAWS) GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "GetQueueUrl"); err != nil {
		return nil, err
	}
	f.urlLookups = append(f.urlLookups, *in)
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("http://sqs.local/" + *in.QueueOwnerAWSAccountId + "/" + *in.QueueName)}, nil
}

func (f *fakeAWS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "SendMessage"); err != nil {
		return nil, err
	}
	f.sent = append(f.sent, *in)
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (f *fakeAWS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "Publish"); err != nil {
		return nil, err
	}
	f.published = append(f.published, *in)
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

func (f *fakeAWS) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(ctx, "PutObject"); err != nil {
		return nil, err
	}
	f.objects[*in.Bucket+"/"+*in.Key] = string(body)
	return &s3.PutObjectOutput{}, nil
}

const (
	queueARN  = "arn:aws:sqs:us-east-1:123456789012:failures"
	topicARN  = "arn:aws:sns:us-east-1:123456789012:failures"
	bucketARN = "arn:aws:s3:::failure-bucket"
)

// testMessage is a stream failure record as a Message.
func testMessage(t *testing.T) Message {
	t.Helper()
	m, err := NewStreamFailure(StreamFailureInput{
		FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:f", Condition: lambdaesm.RetryAttemptsExhausted,
		ApproximateInvokeCount: 3, FunctionError: true, ShardID: "shardId-000000000000",
		StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/s", StartSequenceNumber: "1", EndSequenceNumber: "2",
		FirstArrival: at("2024-01-02T03:04:05Z"), LastArrival: at("2024-01-02T03:04:06Z"), BatchSize: 2,
		Now: at("2024-01-02T03:05:00.5Z"),
	}).Message("esm-uuid", json.RawMessage(`{"Records":[{"n":1},{"n":2}]}`))
	require.NoError(t, err)
	return m
}

// requireSendError checks that err is a *SendError naming arn, caused by cause.
func requireSendError(t *testing.T, err error, arn string, cause error) {
	t.Helper()
	se, ok := errors.AsType[*SendError](err)
	require.True(t, ok, "want a *SendError, got %T: %v", err, err)
	require.Equal(t, arn, se.Destination)
	require.ErrorContains(t, err, arn)
	if cause != nil {
		require.ErrorIs(t, err, cause)
	}
}

func TestSQSSender(t *testing.T) {
	ctx := t.Context()
	f := newFakeAWS()
	s, err := NewSQS(f, queueARN)
	require.NoError(t, err)
	require.Equal(t, queueARN, s.ARN())
	require.Empty(t, f.calls, "NewSQS does no I/O")

	m := testMessage(t)
	require.NoError(t, s.Send(ctx, m))
	require.NoError(t, s.Send(ctx, m))

	require.Equal(t, []string{"GetQueueUrl", "SendMessage", "SendMessage"}, f.calls, "the URL is looked up once")
	require.Equal(t, "failures", aws.ToString(f.urlLookups[0].QueueName))
	require.Equal(t, "123456789012", aws.ToString(f.urlLookups[0].QueueOwnerAWSAccountId))
	for _, in := range f.sent {
		require.Equal(t, "http://sqs.local/123456789012/failures", aws.ToString(in.QueueUrl))
		require.Equal(t, string(m.Record), aws.ToString(in.MessageBody), "SQS gets the record without the payload")
	}
}

func TestSQSSenderFailures(t *testing.T) {
	ctx := t.Context()
	f := newFakeAWS()
	s, err := NewSQS(f, queueARN)
	require.NoError(t, err)
	m := testMessage(t)

	// A failed lookup is not cached: the next Send looks up again.
	boom := errors.New("boom")
	f.failNext("GetQueueUrl", boom)
	requireSendError(t, s.Send(ctx, m), queueARN, boom)
	require.NoError(t, s.Send(ctx, m))

	// A failed send keeps the URL.
	f.failNext("SendMessage", boom)
	requireSendError(t, s.Send(ctx, m), queueARN, boom)
	require.NoError(t, s.Send(ctx, m))
	require.Equal(t, []string{"GetQueueUrl", "GetQueueUrl", "SendMessage", "SendMessage", "SendMessage"}, f.calls)

	// A queue reported missing is looked up again on the next Send.
	f.calls = nil
	gone := &sqstypes.QueueDoesNotExist{Message: aws.String("gone")}
	f.failNext("SendMessage", gone)
	requireSendError(t, s.Send(ctx, m), queueARN, gone)
	require.NoError(t, s.Send(ctx, m))
	require.Equal(t, []string{"SendMessage", "GetQueueUrl", "SendMessage"}, f.calls)

	// The context reaches the client.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	requireSendError(t, s.Send(cctx, m), queueARN, context.Canceled)
}

func TestSNSSender(t *testing.T) {
	ctx := t.Context()
	f := newFakeAWS()
	s, err := NewSNS(f, topicARN)
	require.NoError(t, err)
	require.Equal(t, topicARN, s.ARN())

	m := testMessage(t)
	require.NoError(t, s.Send(ctx, m))
	require.Len(t, f.published, 1)
	require.Equal(t, topicARN, aws.ToString(f.published[0].TopicArn))
	require.Equal(t, string(m.Record), aws.ToString(f.published[0].Message))

	boom := errors.New("boom")
	f.failNext("Publish", boom)
	requireSendError(t, s.Send(ctx, m), topicARN, boom)
}

func TestSNSSenderSizeLimit(t *testing.T) {
	ctx := t.Context()
	f := newFakeAWS()
	s, err := NewSNS(f, topicARN)
	require.NoError(t, err)

	big := json.RawMessage(`"` + strings.Repeat("x", snsMaxMessageBytes) + `"`)
	r := NewInvocationRecord(InvocationRecordInput{FunctionARN: "f", Condition: lambdaesm.Success, ApproximateInvokeCount: 1,
		RequestPayload: big, ResponsePayload: json.RawMessage(`{}`), Now: at("2024-01-02T03:04:05Z")})
	m, err := r.Message()
	require.NoError(t, err)
	require.Greater(t, len(m.Record), snsMaxMessageBytes)

	// Over the limit: the record goes without its payloads.
	require.NoError(t, s.Send(ctx, m))
	require.Equal(t, string(m.Reduced), aws.ToString(f.published[0].Message))
	require.NotContains(t, aws.ToString(f.published[0].Message), "Payload")
	require.Equal(t, "true", aws.ToString(f.published[0].MessageAttributes[PayloadDroppedAttribute].StringValue), "the drop is said beside the record")

	// Exactly at the limit: sent whole.
	exact := Message{Record: json.RawMessage(`"` + strings.Repeat("y", snsMaxMessageBytes-2) + `"`)}
	require.NoError(t, s.Send(ctx, exact))
	require.Equal(t, string(exact.Record), aws.ToString(f.published[1].Message))
	require.Empty(t, f.published[1].MessageAttributes)

	// Over the limit with no smaller form: refused without calling SNS.
	m.Reduced = nil
	f.calls = nil
	err = s.Send(ctx, m)
	requireSendError(t, err, topicARN, nil)
	require.ErrorContains(t, err, "over SNS's limit")
	require.Empty(t, f.calls)
}

var keyPattern = regexp.MustCompile(`^aws/lambda/esm-uuid/shardId-000000000000/2024/01/02/2024-01-02T03\.05\.00-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestS3Sender(t *testing.T) {
	ctx := t.Context()
	f := newFakeAWS()
	s, err := NewS3(f, bucketARN)
	require.NoError(t, err)
	require.Equal(t, bucketARN, s.ARN())

	m := testMessage(t)
	require.NoError(t, s.Send(ctx, m))
	require.NoError(t, s.Send(ctx, m))
	require.Len(t, f.objects, 2, "every record gets its own object")
	for name, body := range f.objects {
		bucket, key, _ := strings.Cut(name, "/")
		require.Equal(t, "failure-bucket", bucket)
		require.Regexp(t, keyPattern, key)
		want, err := s3Body(m.Record, m.Payload)
		require.NoError(t, err)
		require.Equal(t, string(want), body)
		require.Contains(t, body, `"payload":"{\"Records\":[{\"n\":1},{\"n\":2}]}"`)
	}

	boom := errors.New("boom")
	f.failNext("PutObject", boom)
	requireSendError(t, s.Send(ctx, m), bucketARN, boom)

	// The key needs the mapping, the shard and the time.
	for _, bad := range []func(*Message){
		func(m *Message) { m.MappingID = "" },
		func(m *Message) { m.ShardID = "" },
		func(m *Message) { m.Time = time.Time{} },
	} {
		m := testMessage(t)
		bad(&m)
		err := s.Send(ctx, m)
		requireSendError(t, err, bucketARN, nil)
		require.ErrorContains(t, err, "MappingID, ShardID and Time")
	}

	// A record that is not a JSON object cannot be written.
	m.Record = json.RawMessage(`nope`)
	requireSendError(t, s.Send(ctx, m), bucketARN, nil)
}

func TestConstructorsRejectBadARNs(t *testing.T) {
	f := newFakeAWS()
	tests := []struct {
		name string
		new  func(string) error
		arn  string
		want string
	}{
		{"sqs: not an ARN", sqsCtor(f), "failures", "arn: invalid prefix"},
		{"sqs: other service", sqsCtor(f), topicARN, "not an SQS queue ARN"},
		{"sqs: no account", sqsCtor(f), "arn:aws:sqs:us-east-1::q", "want arn:<partition>:sqs"},
		{"sqs: path", sqsCtor(f), "arn:aws:sqs:us-east-1:123456789012:a/b", "want arn:<partition>:sqs"},
		{"sqs: FIFO", sqsCtor(f), "arn:aws:sqs:us-east-1:123456789012:q.fifo", "FIFO SQS queues are not supported"},
		{"sns: other service", snsCtor(f), queueARN, "not an SNS topic ARN"},
		{"sns: FIFO", snsCtor(f), "arn:aws:sns:us-east-1:123456789012:t.fifo", "FIFO SNS topics are not supported"},
		{"s3: object ARN", s3Ctor(f), "arn:aws:s3:::bucket/key", "not an S3 bucket ARN"},
		{"s3: other service", s3Ctor(f), queueARN, "not an S3 bucket ARN"},
		{"s3: not an ARN", s3Ctor(f), "s3://bucket", "arn: invalid prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, tt.new(tt.arn), tt.want)
		})
	}
}

func sqsCtor(f *fakeAWS) func(string) error {
	return func(a string) error { _, err := NewSQS(f, a); return err }
}

func snsCtor(f *fakeAWS) func(string) error {
	return func(a string) error { _, err := NewSNS(f, a); return err }
}

func s3Ctor(f *fakeAWS) func(string) error {
	return func(a string) error { _, err := NewS3(f, a); return err }
}

func TestForARN(t *testing.T) {
	f := newFakeAWS()
	all := Clients{SQS: f, SNS: f, S3: f}

	s, err := ForARN(queueARN, all)
	require.NoError(t, err)
	require.IsType(t, &SQSSender{}, s)
	s, err = ForARN(topicARN, all)
	require.NoError(t, err)
	require.IsType(t, &SNSSender{}, s)
	s, err = ForARN(bucketARN, all)
	require.NoError(t, err)
	require.IsType(t, &S3Sender{}, s)

	_, err = ForARN(queueARN, Clients{SNS: f, S3: f})
	require.ErrorContains(t, err, "no SQS client (Clients.SQS is nil)")
	_, err = ForARN(topicARN, Clients{SQS: f})
	require.ErrorContains(t, err, "no SNS client")
	_, err = ForARN(bucketARN, Clients{SQS: f})
	require.ErrorContains(t, err, "no S3 client")

	_, err = ForARN("arn:aws:lambda:us-east-1:123456789012:function:f", all)
	require.ErrorContains(t, err, "no Lambda client")
	_, err = ForARN("arn:aws:events:us-east-1:123456789012:event-bus/default", all)
	require.ErrorContains(t, err, "no EventBridge client")
	_, err = ForARN("arn:aws:kinesis:us-east-1:123456789012:stream/s", all)
	require.ErrorContains(t, err, `unsupported service "kinesis"`)
	_, err = ForARN("not-an-arn", all)
	require.ErrorContains(t, err, "not-an-arn")
	_, err = ForARN("arn:aws:sqs:us-east-1:123456789012:q.fifo", all)
	require.ErrorContains(t, err, "FIFO")
}

func TestMemory(t *testing.T) {
	ctx := t.Context()
	var d Memory
	m := testMessage(t)
	require.NoError(t, d.Send(ctx, m))

	// Messages are copies.
	m.Record[0] = 'X'
	require.Equal(t, byte('{'), d.Messages()[0].Record[0])

	a, b := errors.New("a"), errors.New("b")
	d.FailNext(a, b)
	requireSendError(t, d.Send(ctx, m), "memory", a)
	requireSendError(t, d.Send(ctx, m), "memory", b)
	require.NoError(t, d.Send(ctx, m))

	d.ARN = queueARN
	down := errors.New("down")
	d.FailAlways(down)
	requireSendError(t, d.Send(ctx, m), queueARN, down)
	requireSendError(t, d.Send(ctx, m), queueARN, down)
	d.FailAlways(nil)
	require.NoError(t, d.Send(ctx, m))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	requireSendError(t, d.Send(cctx, m), queueARN, context.Canceled)

	require.Len(t, d.Messages(), 3)
	require.Equal(t, 8, d.Attempts())
}

func TestMemoryConcurrent(t *testing.T) {
	var d Memory
	m := testMessage(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				_ = d.Send(t.Context(), m)
			}
		})
	}
	wg.Wait()
	require.Len(t, d.Messages(), 400)
	require.Equal(t, 400, d.Attempts())
}

// wrapped is a sender that wraps another, as a user's decorator would.
type wrapped struct{ Sender }

// forwarding is a wrapper that passes the question on.
type forwarding struct{ Sender }

func (f forwarding) WantsPayload() bool { return WantsPayload(f.Sender) }

// The S3 sender and Memory want the invocation event; the others do not,
// and a wrapper says what it is told to.
func TestWantsPayload(t *testing.T) {
	f := newFakeAWS()
	s3s, err := NewS3(f, bucketARN)
	require.NoError(t, err)
	sqss, err := NewSQS(f, queueARN)
	require.NoError(t, err)
	snss, err := NewSNS(f, topicARN)
	require.NoError(t, err)
	var _ PayloadReceiver = s3s
	var _ PayloadReceiver = &Memory{}

	require.True(t, WantsPayload(s3s))
	require.True(t, WantsPayload(&Memory{}))
	require.False(t, WantsPayload(sqss))
	require.False(t, WantsPayload(snss))
	require.False(t, WantsPayload(nil))
	require.False(t, WantsPayload(wrapped{s3s}), "a wrapper that does not forward the question hides it")
	require.True(t, WantsPayload(forwarding{s3s}))
	require.False(t, WantsPayload(forwarding{sqss}))
}
