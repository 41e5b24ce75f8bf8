package event

import (
	"github.com/aws/aws-lambda-go/events"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// DynamoDB converts a DynamoDB Streams record of the stream streamARN into the
// record Lambda hands to a function.
func DynamoDB(r *dstypes.Record, streamARN string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		AWSRegion:      deref(r.AwsRegion),
		EventID:        deref(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1", // what AWS sends today, whatever the docs' examples say
		EventSourceArn: streamARN,
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: deref(r.UserIdentity.Type), PrincipalID: deref(r.UserIdentity.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys:           Attributes(d.Keys),
			NewImage:       Attributes(d.NewImage),
			OldImage:       Attributes(d.OldImage),
			SequenceNumber: deref(d.SequenceNumber),
			StreamViewType: string(d.StreamViewType),
		}
		if d.SizeBytes != nil {
			out.Change.SizeBytes = *d.SizeBytes
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

// Attributes converts a DynamoDB Streams item (keys or image) into Lambda's
// attribute values. A nil map stays nil.
func Attributes(m map[string]dstypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = Attribute(v)
	}
	return out
}

// Attribute converts one DynamoDB Streams attribute value.
func Attribute(v dstypes.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *dstypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *dstypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *dstypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *dstypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *dstypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *dstypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *dstypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *dstypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *dstypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = Attribute(e)
		}
		return events.NewListAttribute(l)
	case *dstypes.AttributeValueMemberM:
		return events.NewMapAttribute(Attributes(v.Value))
	}
	return events.NewNullAttribute()
}
