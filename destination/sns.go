package destination

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// PayloadDroppedAttribute is the SNS message attribute set ("true") on a
// record whose payloads were dropped to fit SNS's size limit. The record JSON
// itself stays exactly AWS's (AWS documents no marker inside it), so the drop
// is said beside it.
const PayloadDroppedAttribute = "lambdaesm.payloadDropped"

// snsMaxMessageBytes is the largest message an SNS topic accepts (256 KiB).
const snsMaxMessageBytes = 256 * 1024

// SNSSender publishes records to a standard SNS topic, one Publish per
// record, with the record JSON as the message.
type SNSSender struct {
	client SNSAPI
	arn    string
}

// NewSNS returns a sender to the topic with this ARN. It does no I/O.
func NewSNS(client SNSAPI, topicARN string) (*SNSSender, error) {
	if _, err := parseRegional(topicARN, "sns", "SNS topic"); err != nil {
		return nil, err
	}
	return &SNSSender{client: client, arn: topicARN}, nil
}

// ARN returns the topic's ARN.
func (s *SNSSender) ARN() string { return s.arn }

// Send publishes m.Record, with m.Attributes as its message attributes. When it is over 256 KiB (the SNS limit), it publishes
// m.Reduced (the record without its payloads) instead, as Lambda drops the
// payload for SNS destinations, and says so in the message attribute
// [PayloadDroppedAttribute]; with no Reduced form small enough it fails
// without calling SNS.
func (s *SNSSender) Send(ctx context.Context, m Message) error {
	body := m.Record
	in := &sns.PublishInput{TopicArn: &s.arn}
	for k, a := range m.Attributes {
		if in.MessageAttributes == nil {
			in.MessageAttributes = make(map[string]snstypes.MessageAttributeValue, len(m.Attributes)+1)
		}
		in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: aws.String(a.DataType), StringValue: aws.String(a.Value)}
	}
	if len(body) > snsMaxMessageBytes {
		if len(m.Reduced) == 0 || len(m.Reduced) > snsMaxMessageBytes {
			return &SendError{Destination: s.arn, Err: fmt.Errorf("record of %d bytes is over SNS's limit of %d bytes", len(body), snsMaxMessageBytes)}
		}
		body = m.Reduced
		if in.MessageAttributes == nil {
			in.MessageAttributes = make(map[string]snstypes.MessageAttributeValue, 1)
		}
		in.MessageAttributes[PayloadDroppedAttribute] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("true")}
	}
	in.Message = aws.String(string(body))
	if _, err := s.client.Publish(ctx, in); err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	return nil
}
