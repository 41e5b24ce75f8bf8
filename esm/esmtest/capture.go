package esmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Capture stands in for the SQS and SNS clients of a mapping's destinations
// and records every payload sent, with its message attributes, so a test can
// assert on failure records and dead-letter messages:
//
//	c := esmtest.NewCapture()
//	// … run a mapping whose on-failure destination client is c …
//	require.Equal(t, []string{"RetryAttemptsExhausted"}, c.Values("requestContext.condition"))
//
// Any queue name resolves (GetQueueUrl never fails unless scripted) and any
// topic accepts. It is safe for concurrent use; the zero value is ready.
type Capture struct {
	// Faults scripts failures and delays for GetQueueUrl, SendMessage and
	// Publish, so a test can make a destination unavailable.
	Faults Faults

	mu   sync.Mutex
	sent []Captured
	ids  uint64
}

// Captured is one payload sent through a [Capture].
type Captured struct {
	Service string // "sqs" or "sns"
	Target  string // the queue URL or topic ARN
	Body    string // the message as sent
	Subject string // SNS only
	// Attributes are the message attributes sent with it (SendMessage's
	// or Publish's MessageAttributes, by name); nil when none.
	Attributes map[string]MessageAttribute
	Time       time.Time
}

// MessageAttribute is a captured message attribute.
type MessageAttribute struct {
	DataType    string // "String", "Number", "Binary" (with an optional ".custom" suffix)
	StringValue string
	BinaryValue []byte
}

// NewCapture returns an empty capture.
func NewCapture() *Capture { return &Capture{} }

// GetQueueUrl returns a URL for any queue name, in the owner account if one
// is given.
func (c *Capture) GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	if err := c.Faults.Before(ctx, "GetQueueUrl"); err != nil {
		return nil, err
	}
	if in == nil || in.QueueName == nil || *in.QueueName == "" {
		return nil, sqsMissing("QueueName")
	}
	account := DefaultAccount
	if in.QueueOwnerAWSAccountId != nil {
		account = *in.QueueOwnerAWSAccountId
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: new("http://sqs." + DefaultRegion + ".localhost/" + account + "/" + *in.QueueName)}, nil
}

// SendMessage records the message body.
func (c *Capture) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if err := c.Faults.Before(ctx, "SendMessage"); err != nil {
		return nil, err
	}
	if in == nil || in.QueueUrl == nil {
		return nil, sqsMissing("QueueUrl")
	}
	if in.MessageBody == nil || *in.MessageBody == "" {
		return nil, sqsMissing("MessageBody")
	}
	if err := sqsCheckAttributes(in.MessageAttributes); err != nil {
		return nil, err
	}
	e := Captured{Service: "sqs", Target: *in.QueueUrl, Body: *in.MessageBody}
	for k, v := range in.MessageAttributes {
		e.attribute(k, v.DataType, v.StringValue, v.BinaryValue)
	}
	out := &sqs.SendMessageOutput{MessageId: new(c.record(e)), MD5OfMessageBody: new(sqsMD5(*in.MessageBody))}
	if len(in.MessageAttributes) > 0 {
		out.MD5OfMessageAttributes = new(sqsMD5OfAttributes(sqsCopyAttributes(in.MessageAttributes)))
	}
	return out, nil
}

// attribute keeps one message attribute.
func (e *Captured) attribute(name string, dataType, value *string, binary []byte) {
	if e.Attributes == nil {
		e.Attributes = map[string]MessageAttribute{}
	}
	a := MessageAttribute{BinaryValue: bytes.Clone(binary)}
	if dataType != nil {
		a.DataType = *dataType
	}
	if value != nil {
		a.StringValue = *value
	}
	e.Attributes[name] = a
}

// Publish records the message (and subject).
func (c *Capture) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	if err := c.Faults.Before(ctx, "Publish"); err != nil {
		return nil, err
	}
	if in == nil || in.Message == nil || *in.Message == "" {
		return nil, snsInvalid("Empty message")
	}
	e := Captured{Service: "sns", Body: *in.Message}
	switch {
	case in.TopicArn != nil:
		e.Target = *in.TopicArn
	case in.TargetArn != nil:
		e.Target = *in.TargetArn
	default:
		return nil, snsInvalid("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if in.Subject != nil {
		e.Subject = *in.Subject
	}
	for k, v := range in.MessageAttributes {
		e.attribute(k, v.DataType, v.StringValue, v.BinaryValue)
	}
	return &sns.PublishOutput{MessageId: new(c.record(e))}, nil
}

func (c *Capture) record(e Captured) string {
	e.Time = time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	c.sent = append(c.sent, e)
	return sqsUUID(c.ids)
}

// Sent returns every captured payload, in the order sent.
func (c *Capture) Sent() []Captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Captured(nil), c.sent...)
}

// Records returns the captured bodies, in the order sent, as JSON (a
// destination record is a JSON document; a body that is not JSON is returned
// as a JSON string, so the result always marshals).
func (c *Capture) Records() []json.RawMessage {
	sent := c.Sent()
	out := make([]json.RawMessage, len(sent))
	for i, e := range sent {
		if json.Valid([]byte(e.Body)) {
			out[i] = json.RawMessage(e.Body)
		} else {
			out[i], _ = json.Marshal(e.Body)
		}
	}
	return out
}

// Len reports how many payloads were captured.
func (c *Capture) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// Reset forgets every captured payload.
func (c *Capture) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = nil
}

// Values extracts one field from every captured record, by a dotted path
// ("requestContext.condition", "KinesisBatchInfo.batchSize"; a numeric
// segment indexes an array). A string field gives its value, any other field
// its JSON text ("3", "true", `{"a":1}`), and a record without the field "".
// It makes a one-line assertion:
//
//	require.Equal(t, []string{"RetryAttemptsExhausted", "RecordAgeExceeded"}, c.Values("requestContext.condition"))
func (c *Capture) Values(path string) []string {
	recs := c.Records()
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = captureField(r, strings.Split(path, "."))
	}
	return out
}

func captureField(doc json.RawMessage, path []string) string {
	for _, seg := range path {
		var next json.RawMessage
		switch t := bytes.TrimSpace(doc); {
		case len(t) > 0 && t[0] == '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(t, &m) != nil {
				return ""
			}
			next = m[seg]
		case len(t) > 0 && t[0] == '[':
			var a []json.RawMessage
			n, err := strconv.Atoi(seg)
			if json.Unmarshal(t, &a) != nil || err != nil || n < 0 || n >= len(a) {
				return ""
			}
			next = a[n]
		}
		if next == nil {
			return ""
		}
		doc = next
	}
	var s string
	if json.Unmarshal(doc, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(doc))
}

// AttributeValues returns the string value of the message attribute name
// of every captured payload, in the order sent; "" for a payload without
// it. It makes a one-line assertion on dead-letter messages:
//
//	require.Equal(t, []string{"200"}, c.AttributeValues("ErrorCode"))
func (c *Capture) AttributeValues(name string) []string {
	sent := c.Sent()
	out := make([]string, len(sent))
	for i, e := range sent {
		out[i] = e.Attributes[name].StringValue
	}
	return out
}

// DecodeRecords unmarshals each record into a T, failing the test on error:
//
//	recs := esmtest.DecodeRecords[map[string]any](t, c.Records())
func DecodeRecords[T any](t testing.TB, recs []json.RawMessage) []T {
	t.Helper()
	out := make([]T, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("esmtest: decode record %d: %v", i, err)
		}
	}
	return out
}
