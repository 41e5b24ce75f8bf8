package destination

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"
)

const requestID = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"

// The attributes Lambda set on a dead-letter message, recorded from AWS
// (LocalStack, test_lambda_destinations.py::TestLambdaDLQ::test_dead_letter_queue):
// ErrorCode a Number "200", ErrorMessage and RequestID Strings.
func TestNewDeadLetter(t *testing.T) {
	payload := json.RawMessage(`{"raise_error":1}`)
	m := NewDeadLetter(DeadLetterInput{Payload: payload, RequestID: requestID, StatusCode: 200,
		ErrorMessage: "Test exception (this is intentional)", Now: at("2024-01-02T03:04:05Z")})
	require.Equal(t, string(payload), string(m.Record), "the body is the event, unchanged")
	require.Equal(t, map[string]Attribute{
		"RequestID":    {DataType: "String", Value: requestID},
		"ErrorCode":    {DataType: "Number", Value: "200"},
		"ErrorMessage": {DataType: "String", Value: "Test exception (this is intentional)"},
	}, m.Attributes)
	require.Equal(t, at("2024-01-02T03:04:05Z"), m.Time)
	require.Empty(t, m.Payload)
	require.Empty(t, m.Reduced)

	// No attempt failed (the event expired first): the request ID alone.
	m = NewDeadLetter(DeadLetterInput{Payload: payload, RequestID: requestID})
	require.Equal(t, map[string]Attribute{"RequestID": {DataType: "String", Value: requestID}}, m.Attributes)
	require.False(t, m.Time.IsZero())

	// Empty values are left out (SQS refuses empty attribute values).
	m = NewDeadLetter(DeadLetterInput{Payload: payload})
	require.Empty(t, m.Attributes)

	m = NewDeadLetter(DeadLetterInput{Payload: payload, RequestID: requestID, StatusCode: 429})
	require.Equal(t, map[string]Attribute{
		"RequestID": {DataType: "String", Value: requestID},
		"ErrorCode": {DataType: "Number", Value: "429"},
	}, m.Attributes)
}

// Lambda truncates ErrorMessage to 1 KB (developer guide, dlq). The cut
// keeps whole characters, and characters SQS refuses in an attribute are
// replaced.
func TestNewDeadLetterErrorMessage(t *testing.T) {
	msg := func(s string) string {
		return NewDeadLetter(DeadLetterInput{Payload: json.RawMessage(`{}`), RequestID: requestID, StatusCode: 200, ErrorMessage: s}).Attributes[ErrorMessageAttribute].Value
	}
	exact := strings.Repeat("x", deadLetterErrorMessageBytes)
	require.Equal(t, exact, msg(exact))
	require.Equal(t, exact, msg(exact+"y"))
	long := strings.Repeat("é", deadLetterErrorMessageBytes) // 2 bytes each
	got := msg(long)
	require.Len(t, got, deadLetterErrorMessageBytes)
	require.True(t, utf8.ValidString(got))
	odd := "x" + long
	got = msg(odd)
	require.Len(t, got, deadLetterErrorMessageBytes-1, "a character is not cut in two")
	require.True(t, utf8.ValidString(got))
	require.Equal(t, "a\ufffdb\ufffdc\td\ne", msg("a\x00b\xffc\td\ne"))
}

func TestSQSSenderSendsAttributes(t *testing.T) {
	f := newFakeAWS()
	s, err := NewSQS(f, queueARN)
	require.NoError(t, err)
	m := NewDeadLetter(DeadLetterInput{Payload: json.RawMessage(`{"a":1}`), RequestID: requestID, StatusCode: 200, ErrorMessage: "boom"})
	require.NoError(t, s.Send(t.Context(), m))
	require.Equal(t, `{"a":1}`, aws.ToString(f.sent[0].MessageBody))
	require.Equal(t, map[string]sqstypes.MessageAttributeValue{
		"RequestID":    {DataType: aws.String("String"), StringValue: aws.String(requestID)},
		"ErrorCode":    {DataType: aws.String("Number"), StringValue: aws.String("200")},
		"ErrorMessage": {DataType: aws.String("String"), StringValue: aws.String("boom")},
	}, f.sent[0].MessageAttributes)

	require.NoError(t, s.Send(t.Context(), testMessage(t)))
	require.Nil(t, f.sent[1].MessageAttributes, "a record without attributes is sent without")
}

func TestSNSSenderSendsAttributes(t *testing.T) {
	f := newFakeAWS()
	s, err := NewSNS(f, topicARN)
	require.NoError(t, err)
	m := NewDeadLetter(DeadLetterInput{Payload: json.RawMessage(`{"a":1}`), RequestID: requestID, StatusCode: 200, ErrorMessage: "boom"})
	require.NoError(t, s.Send(t.Context(), m))
	require.Equal(t, `{"a":1}`, aws.ToString(f.published[0].Message))
	require.Equal(t, map[string]snstypes.MessageAttributeValue{
		"RequestID":    {DataType: aws.String("String"), StringValue: aws.String(requestID)},
		"ErrorCode":    {DataType: aws.String("Number"), StringValue: aws.String("200")},
		"ErrorMessage": {DataType: aws.String("String"), StringValue: aws.String("boom")},
	}, f.published[0].MessageAttributes)

	// Beside the payload-dropped marker.
	big := Message{Record: json.RawMessage(`"` + strings.Repeat("x", snsMaxMessageBytes) + `"`), Reduced: json.RawMessage(`{}`),
		Attributes: map[string]Attribute{"K": {DataType: "String", Value: "v"}}}
	require.NoError(t, s.Send(t.Context(), big))
	require.Equal(t, map[string]snstypes.MessageAttributeValue{
		"K":                     {DataType: aws.String("String"), StringValue: aws.String("v")},
		PayloadDroppedAttribute: {DataType: aws.String("String"), StringValue: aws.String("true")},
	}, f.published[1].MessageAttributes)
}

func TestMemoryKeepsAttributes(t *testing.T) {
	var d Memory
	m := NewDeadLetter(DeadLetterInput{Payload: json.RawMessage(`{"a":1}`), RequestID: requestID, StatusCode: 200, ErrorMessage: "boom"})
	require.NoError(t, d.Send(t.Context(), m))
	m.Attributes[RequestIDAttribute] = Attribute{DataType: "String", Value: "changed"}
	require.Equal(t, requestID, d.Messages()[0].Attributes[RequestIDAttribute].Value, "messages are copies")
	require.Equal(t, "200", d.Messages()[0].Attributes[ErrorCodeAttribute].Value)
}
