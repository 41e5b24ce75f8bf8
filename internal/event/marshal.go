package event

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Marshal returns the JSON of an event as Lambda sends it to a function. For
// an events.SQSEvent (or a pointer to one) that differs from json.Marshal: a
// record without message attributes has "md5OfMessageAttributes": null, as
// AWS sends it, where events.SQSMessage (a string field) writes "", and the
// record's keys are in AWS's order. For an events.DynamoDBEvent,
// ApproximateCreationDateTime is a Java double (1.578648338E9), as AWS
// writes it, not an integer. Any other value is json.Marshal's.
func Marshal(v any) ([]byte, error) {
	switch e := v.(type) {
	case events.SQSEvent:
		return marshalSQS(&e)
	case *events.SQSEvent:
		if e != nil {
			return marshalSQS(e)
		}
	case events.DynamoDBEvent:
		return marshalDynamoDB(&e)
	case *events.DynamoDBEvent:
		if e != nil {
			return marshalDynamoDB(e)
		}
	case events.DynamoDBTimeWindowEvent:
		return marshalDynamoDBWindow(&e)
	case *events.DynamoDBTimeWindowEvent:
		if e != nil {
			return marshalDynamoDBWindow(e)
		}
	}
	return json.Marshal(v)
}

// ddbRecord is an events.DynamoDBEventRecord whose dynamodb.
// ApproximateCreationDateTime is written as AWS writes it: a Java double,
// 1.578648338E9 (AWS's recordings check that it is a float), where
// events.SecondsEpochTime writes an integer.
type ddbRecord struct {
	*events.DynamoDBEventRecord
	Change ddbChange `json:"dynamodb"`
}

type ddbChange struct {
	*events.DynamoDBStreamRecord
	ApproximateCreationDateTime javaSeconds `json:"ApproximateCreationDateTime,omitzero"`
}

// javaSeconds is a time as seconds in Java's Double.toString form.
type javaSeconds struct{ t time.Time }

func (j javaSeconds) IsZero() bool { return j.t.IsZero() }

func (j javaSeconds) MarshalJSON() ([]byte, error) {
	return []byte(javaDouble(float64(j.t.UnixMilli()) / 1000)), nil
}

// javaDouble formats f as Java's Double.toString does for magnitudes of 10^7
// and more: "1.578648338E9", "1.0E9".
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'E', -1, 64) // 1.578648338E+09
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	exp = strings.TrimPrefix(exp, "+")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
	if exp == "" {
		exp = "0"
	}
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

func marshalDynamoDB(e *events.DynamoDBEvent) ([]byte, error) {
	var out struct {
		Records []ddbRecord `json:"Records"`
	}
	out.Records = ddbRecords(e.Records)
	return json.Marshal(out)
}

// marshalDynamoDBWindow is marshalDynamoDB for a tumbling window's event:
// the records, then the window's fields.
func marshalDynamoDBWindow(e *events.DynamoDBTimeWindowEvent) ([]byte, error) {
	var out struct {
		Records []ddbRecord `json:"Records"`
		events.TimeWindowProperties
	}
	out.Records = ddbRecords(e.Records)
	out.TimeWindowProperties = e.TimeWindowProperties
	return json.Marshal(out)
}

func ddbRecords(recs []events.DynamoDBEventRecord) []ddbRecord {
	if recs == nil {
		return nil
	}
	out := make([]ddbRecord, len(recs))
	for i := range recs {
		r := &recs[i]
		out[i] = ddbRecord{DynamoDBEventRecord: r, Change: ddbChange{
			DynamoDBStreamRecord:        &r.Change,
			ApproximateCreationDateTime: javaSeconds{r.Change.ApproximateCreationDateTime.Time},
		}}
	}
	return out
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
