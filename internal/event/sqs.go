package event

import (
	"github.com/aws/aws-lambda-go/events"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS converts a received SQS message of the queue queueARN into the record
// Lambda hands to a function: the system attributes as received, and the
// message attributes with Lambda's lower-cased keys and empty (not null) list
// fields.
func SQS(m *sqstypes.Message, queueARN, region string) events.SQSMessage {
	out := events.SQSMessage{
		MessageId:              deref(m.MessageId),
		ReceiptHandle:          deref(m.ReceiptHandle),
		Body:                   deref(m.Body),
		Md5OfBody:              deref(m.MD5OfBody),
		Md5OfMessageAttributes: deref(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes,
		MessageAttributes:      make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
		EventSourceARN:         queueARN,
		EventSource:            "aws:sqs",
		AWSRegion:              region,
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	for k, v := range m.MessageAttributes {
		a := events.SQSMessageAttribute{
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: v.StringListValues,
			BinaryListValues: v.BinaryListValues,
			DataType:         deref(v.DataType),
		}
		if a.StringListValues == nil {
			a.StringListValues = []string{}
		}
		if a.BinaryListValues == nil {
			a.BinaryListValues = [][]byte{}
		}
		out.MessageAttributes[k] = a
	}
	return out
}
