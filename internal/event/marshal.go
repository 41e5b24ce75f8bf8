package event

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// Marshal returns the JSON of an event as Lambda sends it to a function. For
// an events.SQSEvent (or a pointer to one) that differs from json.Marshal: a
// record without message attributes has "md5OfMessageAttributes": null, as
// AWS sends it, where events.SQSMessage (a string field) writes "", and the
// record's keys are in AWS's order. Any other value is json.Marshal's.
func Marshal(v any) ([]byte, error) {
	switch e := v.(type) {
	case events.SQSEvent:
		return marshalSQS(&e)
	case *events.SQSEvent:
		if e != nil {
			return marshalSQS(e)
		}
	}
	return json.Marshal(v)
}

// sqsRecord is an events.SQSMessage as AWS writes it: its keys in AWS's
// order (a record captured from a function in AWS, 2024) and a null
// md5OfMessageAttributes when the message has no attributes.
type sqsRecord struct {
	MessageID              string                                `json:"messageId"`
	ReceiptHandle          string                                `json:"receiptHandle"`
	Body                   string                                `json:"body"`
	Attributes             map[string]string                     `json:"attributes"`
	MessageAttributes      map[string]events.SQSMessageAttribute `json:"messageAttributes"`
	Md5OfMessageAttributes *string                               `json:"md5OfMessageAttributes"`
	Md5OfBody              string                                `json:"md5OfBody"`
	EventSource            string                                `json:"eventSource"`
	EventSourceARN         string                                `json:"eventSourceARN"`
	AWSRegion              string                                `json:"awsRegion"`
}

func marshalSQS(e *events.SQSEvent) ([]byte, error) {
	var out struct {
		Records []sqsRecord `json:"Records"`
	}
	if e.Records != nil {
		out.Records = make([]sqsRecord, len(e.Records))
	}
	for i := range e.Records {
		m := &e.Records[i]
		r := sqsRecord{
			MessageID:         m.MessageId,
			ReceiptHandle:     m.ReceiptHandle,
			Body:              m.Body,
			Attributes:        m.Attributes,
			MessageAttributes: m.MessageAttributes,
			Md5OfBody:         m.Md5OfBody,
			EventSource:       m.EventSource,
			EventSourceARN:    m.EventSourceARN,
			AWSRegion:         m.AWSRegion,
		}
		if m.Md5OfMessageAttributes != "" {
			r.Md5OfMessageAttributes = &m.Md5OfMessageAttributes
		}
		out.Records[i] = r
	}
	return json.Marshal(out)
}
