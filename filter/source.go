package filter

import (
	"encoding/base64"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Payload returns the value of a record's data key (an SQS body, Kinesis
// data) for matching: the decoded JSON when data is a JSON object or array,
// and the plain string otherwise. It carries Lambda's format rules: a JSON
// payload matches only an object pattern (like {"body": {"k": ["v"]}}), a
// plain-string payload only a list of values (like {"body": ["v"]}); in the
// other two cases the pattern does not match, even with exists:false.
func Payload(data []byte) Value {
	return payload(string(data))
}

func payload(s string) Value {
	if i := firstNonSpace(s); i < len(s) && (s[i] == '{' || s[i] == '[') {
		var d decoder
		if v, err := d.decode(s, nil); err == nil {
			v.flags |= flagPayload
			return v
		}
	}
	return Value{kind: KindString, str: s, flags: flagPayload}
}

func firstNonSpace(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// epochSeconds is a time as Lambda writes it in records: a number of
// seconds, with a fraction.
func epochSeconds(t time.Time) Value {
	return FloatValue(float64(t.UnixNano()) / 1e9)
}

// KinesisRecord returns the value Lambda matches a Kinesis record against:
// the fields of its "kinesis" object at the top level —
// kinesisSchemaVersion, partitionKey, sequenceNumber, approximateArrivalTimestamp
// (a number of seconds), encryptionType when the stream is encrypted, and
// data, base64-decoded and matched as a [Payload]. This is the shape
// EventBridge Pipes documents for Kinesis filtering; the event envelope
// (eventSource, eventID, awsRegion, …) is added after filtering and cannot
// be matched.
func KinesisRecord(r events.KinesisEventRecord) Value {
	k := &r.Kinesis
	fields := []Field{
		{Key: "kinesisSchemaVersion", Value: StringValue(k.KinesisSchemaVersion)},
		{Key: "partitionKey", Value: StringValue(k.PartitionKey)},
		{Key: "sequenceNumber", Value: StringValue(k.SequenceNumber)},
		{Key: "data", Value: Payload(k.Data)},
		{Key: "approximateArrivalTimestamp", Value: epochSeconds(k.ApproximateArrivalTimestamp.Time)},
	}
	if k.EncryptionType != "" {
		fields = append(fields, Field{Key: "encryptionType", Value: StringValue(k.EncryptionType)})
	}
	return ObjectValue(fields...)
}

// DynamoDBRecord returns the value Lambda matches a DynamoDB Streams record
// against: the record as Lambda delivers it (eventID, eventName,
// eventVersion, eventSource, awsRegion, eventSourceARN, userIdentity for TTL
// deletions, and dynamodb). In dynamodb, Keys, NewImage and OldImage are in
// DynamoDB JSON — {"N": "101"} holds the number as a string, so a numeric
// pattern never matches it — and ApproximateCreationDateTime is a number of
// seconds. dynamodb is a JSON [Payload]: a list of values for it never
// matches.
func DynamoDBRecord(r events.DynamoDBEventRecord) Value {
	c := &r.Change
	var ch []Field
	if !c.ApproximateCreationDateTime.IsZero() {
		ch = append(ch, Field{Key: "ApproximateCreationDateTime", Value: epochSeconds(c.ApproximateCreationDateTime.Time)})
	}
	for _, img := range []struct {
		key string
		m   map[string]events.DynamoDBAttributeValue
	}{{"Keys", c.Keys}, {"NewImage", c.NewImage}, {"OldImage", c.OldImage}} {
		if len(img.m) > 0 {
			ch = append(ch, Field{Key: img.key, Value: attributeMap(img.m)})
		}
	}
	ch = append(ch,
		Field{Key: "SequenceNumber", Value: StringValue(c.SequenceNumber)},
		Field{Key: "SizeBytes", Value: IntValue(c.SizeBytes)},
		Field{Key: "StreamViewType", Value: StringValue(c.StreamViewType)},
	)
	change := ObjectValue(ch...)
	change.flags |= flagPayload
	fields := []Field{
		{Key: "eventID", Value: StringValue(r.EventID)},
		{Key: "eventName", Value: StringValue(r.EventName)},
		{Key: "eventVersion", Value: StringValue(r.EventVersion)},
		{Key: "eventSource", Value: StringValue(r.EventSource)},
		{Key: "awsRegion", Value: StringValue(r.AWSRegion)},
		{Key: "dynamodb", Value: change},
		{Key: "eventSourceARN", Value: StringValue(r.EventSourceArn)},
	}
	if u := r.UserIdentity; u != nil {
		fields = append(fields, Field{Key: "userIdentity", Value: ObjectValue(
			Field{Key: "type", Value: StringValue(u.Type)},
			Field{Key: "principalId", Value: StringValue(u.PrincipalID)},
		)})
	}
	return ObjectValue(fields...)
}

func attributeMap(m map[string]events.DynamoDBAttributeValue) Value {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]Field, len(keys))
	for i, k := range keys {
		fields[i] = Field{Key: k, Value: attribute(m[k])}
	}
	return ObjectValue(fields...)
}

// attribute writes an attribute value in DynamoDB JSON: {"S": "a"},
// {"N": "1"}, {"B": "base64"}, {"BOOL": true}, {"NULL": true}, {"SS": […]},
// {"NS": […]}, {"BS": […]}, {"L": […]}, {"M": {…}}.
func attribute(a events.DynamoDBAttributeValue) Value {
	var key string
	var v Value
	switch a.DataType() {
	case events.DataTypeString:
		key, v = "S", StringValue(a.String())
	case events.DataTypeNumber:
		key, v = "N", StringValue(a.Number())
	case events.DataTypeBinary:
		key, v = "B", StringValue(base64.StdEncoding.EncodeToString(a.Binary()))
	case events.DataTypeBoolean:
		key, v = "BOOL", BoolValue(a.Boolean())
	case events.DataTypeNull:
		key, v = "NULL", BoolValue(true)
	case events.DataTypeStringSet:
		key, v = "SS", stringArray(a.StringSet())
	case events.DataTypeNumberSet:
		key, v = "NS", stringArray(a.NumberSet())
	case events.DataTypeBinarySet:
		bs := a.BinarySet()
		elems := make([]Value, len(bs))
		for i, b := range bs {
			elems[i] = StringValue(base64.StdEncoding.EncodeToString(b))
		}
		key, v = "BS", ArrayValue(elems...)
	case events.DataTypeList:
		l := a.List()
		elems := make([]Value, len(l))
		for i, e := range l {
			elems[i] = attribute(e)
		}
		key, v = "L", ArrayValue(elems...)
	case events.DataTypeMap:
		key, v = "M", attributeMap(a.Map())
	default:
		return ObjectValue()
	}
	return ObjectValue(Field{Key: key, Value: v})
}

func stringArray(ss []string) Value {
	elems := make([]Value, len(ss))
	for i, s := range ss {
		elems[i] = StringValue(s)
	}
	return ArrayValue(elems...)
}

// SQSMessage returns the value Lambda matches an SQS message against: the
// record as Lambda delivers it — messageId, receiptHandle, body (a
// [Payload]: JSON objects and arrays are matched as JSON, anything else as a
// plain string), attributes, messageAttributes (with Lambda's lower-case
// keys stringValue, binaryValue (base64), stringListValues,
// binaryListValues, dataType), md5OfBody, md5OfMessageAttributes (null
// without message attributes), eventSource, eventSourceARN and awsRegion.
func SQSMessage(m events.SQSMessage) Value {
	attrs := make([]Field, 0, len(m.Attributes))
	for _, k := range sortedKeys(m.Attributes) {
		attrs = append(attrs, Field{Key: k, Value: StringValue(m.Attributes[k])})
	}
	mattrs := make([]Field, 0, len(m.MessageAttributes))
	for _, k := range sortedKeys(m.MessageAttributes) {
		mattrs = append(mattrs, Field{Key: k, Value: messageAttribute(m.MessageAttributes[k])})
	}
	md5Attrs := NullValue()
	if m.Md5OfMessageAttributes != "" {
		md5Attrs = StringValue(m.Md5OfMessageAttributes)
	}
	return ObjectValue(
		Field{Key: "messageId", Value: StringValue(m.MessageId)},
		Field{Key: "receiptHandle", Value: StringValue(m.ReceiptHandle)},
		Field{Key: "body", Value: payload(m.Body)},
		Field{Key: "attributes", Value: ObjectValue(attrs...)},
		Field{Key: "messageAttributes", Value: ObjectValue(mattrs...)},
		Field{Key: "md5OfMessageAttributes", Value: md5Attrs},
		Field{Key: "md5OfBody", Value: StringValue(m.Md5OfBody)},
		Field{Key: "eventSource", Value: StringValue(m.EventSource)},
		Field{Key: "eventSourceARN", Value: StringValue(m.EventSourceARN)},
		Field{Key: "awsRegion", Value: StringValue(m.AWSRegion)},
	)
}

func messageAttribute(a events.SQSMessageAttribute) Value {
	var fields []Field
	if a.StringValue != nil {
		fields = append(fields, Field{Key: "stringValue", Value: StringValue(*a.StringValue)})
	}
	if a.BinaryValue != nil {
		fields = append(fields, Field{Key: "binaryValue", Value: StringValue(base64.StdEncoding.EncodeToString(a.BinaryValue))})
	}
	bl := make([]Value, len(a.BinaryListValues))
	for i, b := range a.BinaryListValues {
		bl[i] = StringValue(base64.StdEncoding.EncodeToString(b))
	}
	return ObjectValue(append(fields,
		Field{Key: "stringListValues", Value: stringArray(a.StringListValues)},
		Field{Key: "binaryListValues", Value: ArrayValue(bl...)},
		Field{Key: "dataType", Value: StringValue(a.DataType)},
	)...)
}
