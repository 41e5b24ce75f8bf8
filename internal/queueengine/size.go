package queueengine

import (
	"encoding/base64"

	"github.com/aws/aws-lambda-go/events"
)

// recordOverhead is the JSON of an SQS event record without its values:
// {"messageId":"","receiptHandle":"","body":"","attributes":{},
// "messageAttributes":{},"md5OfBody":"","md5OfMessageAttributes":"",
// "eventSource":"aws:sqs","eventSourceARN":"","awsRegion":""}.
const recordOverhead = 180

// attributeOverhead is the JSON of one message attribute without its values:
// "":{"stringValue":"","stringListValues":[],"binaryListValues":[],"dataType":""},
const attributeOverhead = 80

// eventSize returns the size of m's JSON in an invocation's event, which
// counts toward Lambda's 6 MB payload cap. Strings are measured with their
// JSON escapes.
func eventSize(m *events.SQSMessage) int {
	n := recordOverhead + jsonLen(m.MessageId) + jsonLen(m.ReceiptHandle) + jsonLen(m.Body) +
		jsonLen(m.Md5OfBody) + jsonLen(m.Md5OfMessageAttributes) + jsonLen(m.EventSourceARN) + jsonLen(m.AWSRegion)
	for k, v := range m.Attributes {
		n += jsonLen(k) + jsonLen(v) + 6
	}
	for k, a := range m.MessageAttributes {
		n += attributeOverhead + jsonLen(k) + jsonLen(a.DataType)
		if a.StringValue != nil {
			n += jsonLen(*a.StringValue)
		}
		if a.BinaryValue != nil {
			n += base64.StdEncoding.EncodedLen(len(a.BinaryValue)) + 16
		}
		for _, s := range a.StringListValues {
			n += jsonLen(s) + 3
		}
		for _, b := range a.BinaryListValues {
			n += base64.StdEncoding.EncodedLen(len(b)) + 3
		}
	}
	return n
}

// jsonLen is the length of s as a JSON string body: quotes and backslashes
// take two bytes, other control characters up to six.
func jsonLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			n++
		case c < 0x20:
			n += 5
		}
	}
	return n
}
