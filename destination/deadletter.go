package destination

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Attribute is a message attribute of a [Message]. The SQS and SNS senders
// send it as a message attribute (MessageAttributes of SendMessage and
// Publish); the S3, Lambda and EventBridge senders have no place for it.
type Attribute struct {
	// DataType is the attribute's data type: "String" or "Number".
	DataType string
	// Value is the attribute's value, as text ("200" for a Number).
	Value string
}

// The message attributes Lambda sets on an event it sends to a dead-letter
// queue or topic ([NewDeadLetter]).
const (
	// RequestIDAttribute (String) is the invocation's request ID.
	RequestIDAttribute = "RequestID"
	// ErrorCodeAttribute (Number) is the HTTP status code of the last
	// attempt: "200" after a function error.
	ErrorCodeAttribute = "ErrorCode"
	// ErrorMessageAttribute (String) is the error's message, at most
	// [DeadLetterErrorMessageBytes].
	ErrorMessageAttribute = "ErrorMessage"
)

// deadLetterErrorMessageBytes is the longest ErrorMessage attribute: Lambda
// truncates the message to 1 KB.
const deadLetterErrorMessageBytes = 1024

// DeadLetterInput holds the facts of an event sent to a dead-letter queue,
// for [NewDeadLetter].
type DeadLetterInput struct {
	// Payload is the event, as the function was invoked with it.
	Payload json.RawMessage
	// RequestID is the invocation's request ID.
	RequestID string
	// StatusCode is the HTTP status code of the last attempt: 200 when the
	// function returned an error, the Invoke call's status when the call
	// itself failed. Zero means no attempt failed (the event expired
	// first): the message then has RequestID alone.
	StatusCode int
	// ErrorMessage is the last error's message (errorMessage of the
	// function's error object). Empty leaves the attribute out, as an
	// empty RequestID does (SQS refuses empty attribute values).
	ErrorMessage string
	// Now is the message's Time. Zero means time.Now().
	Now time.Time
}

// NewDeadLetter builds the message Lambda sends to a function's dead-letter
// queue or topic for an event it gave up on: the event itself as the body,
// unchanged, and the message attributes RequestID (String), ErrorCode
// (Number, the HTTP status code, "200" after a function error) and
// ErrorMessage (String, truncated to 1 KB), as AWS recorded them
// (LocalStack's test_lambda_destinations snapshot, TestLambdaDLQ; the
// developer guide's dead-letter queue page). Characters that SQS refuses in
// an attribute (control characters other than tab and newlines, invalid
// UTF-8) become U+FFFD, and the cut never splits a character.
func NewDeadLetter(in DeadLetterInput) Message {
	attrs := map[string]Attribute{}
	if in.RequestID != "" {
		attrs[RequestIDAttribute] = Attribute{DataType: "String", Value: in.RequestID}
	}
	if in.StatusCode != 0 {
		attrs[ErrorCodeAttribute] = Attribute{DataType: "Number", Value: strconv.Itoa(in.StatusCode)}
		if msg := attributeText(in.ErrorMessage, deadLetterErrorMessageBytes); msg != "" {
			attrs[ErrorMessageAttribute] = Attribute{DataType: "String", Value: msg}
		}
	}
	return Message{Record: in.Payload, Attributes: attrs, Time: orNow(in.Now)}
}

// attributeText returns s with the characters SQS refuses in a message
// attribute replaced by U+FFFD, cut to at most limit bytes on a character
// boundary.
func attributeText(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError, r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
