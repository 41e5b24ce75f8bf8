package filter

import (
	"encoding/base64"
	"sort"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
)

// payloadValue returns the value of a record's data key (an SQS body, Kinesis
// data) for matching: the decoded JSON when data is a JSON object or array,
// and the plain string otherwise. It carries Lambda's format rules: a JSON
// payload matches only an object pattern (like {"body": {"k": ["v"]}}), a
// plain-string payload only a list of values (like {"body": ["v"]}); in the
// other two cases the pattern does not match, even with exists:false.
func payloadValue(data []byte) value {
	return payload(string(data), nil, nil)
}

// payload decodes s as a data key: everything with d nil, or with the
// pooled decoder d only what n names.
func payload(s string, n *need, d *decoder) value {
	if i := firstNonSpace(s); i < len(s) && (s[i] == '{' || s[i] == '[') {
		var v value
		var err error
		if d == nil {
			var fresh decoder
			v, err = fresh.decode(s, nil)
		} else {
			v, err = d.decode(s, n)
		}
		if err == nil {
			v.flags |= flagPayload
			return v
		}
	}
	return value{kind: kindString, str: s, flags: flagPayload}
}

func firstNonSpace(s string) int {
	i := 0
	for i < len(s) && space[s[i]] {
		i++
	}
	return i
}

// builder makes the value of a record: all of it (n nil), or the fields n
// names, decoding payloads with the pooled decoder d.
type builder struct {
	n *need
	d *decoder
}

// want reports whether key is to be built, and what of it.
func (b builder) want(key string) (*need, bool) {
	if b.n == nil {
		return nil, true
	}
	c := b.n.child(key)
	return c, c != nil
}

// fields returns an empty slice for the fields of an object of at most
// max keys: from the pooled decoder's arena, when there is one.
func (b builder) fields(max int) []field {
	if b.n != nil && len(b.n.names) < max {
		max = len(b.n.names)
	}
	if b.d != nil {
		return b.d.reserveFields(max)
	}
	return make([]field, 0, max)
}

// in returns the builder for the value of key (want returned c).
func (b builder) in(c *need) builder { return builder{n: c, d: b.d} }

func (b builder) add(fields []field, key string, v func() value) []field {
	if _, ok := b.want(key); ok {
		fields = append(fields, field{Key: key, Value: v()})
	}
	return fields
}

func (b builder) str(fields []field, key, s string) []field {
	if _, ok := b.want(key); ok {
		fields = append(fields, field{Key: key, Value: stringValue(s)})
	}
	return fields
}

// match builds a record with the filter's needs and matches it.
func (f *Filter) matchBuilt(build func(builder) value) bool {
	if f.Len() == 0 {
		return true
	}
	d := decoders.Get().(*decoder)
	v := build(builder{n: f.needs, d: d})
	ok := f.match(&v)
	d.release()
	return ok
}

// MatchSQSMessage is Match(SQSMessage(m)), but it builds only the fields
// the patterns name and decodes only the parts of the body they read.
func (f *Filter) MatchSQSMessage(m events.SQSMessage) bool {
	return f.matchBuilt(func(b builder) value { return sqsValue(&m, b) })
}

// MatchKinesisRecord is Match(KinesisRecord(r)), building only what the
// patterns read.
func (f *Filter) MatchKinesisRecord(r events.KinesisEventRecord) bool {
	return f.matchBuilt(func(b builder) value { return kinesisValue(&r, b) })
}

// MatchDynamoDBRecord is Match(DynamoDBRecord(r)), building only what the
// patterns read.
func (f *Filter) MatchDynamoDBRecord(r events.DynamoDBEventRecord) bool {
	return f.matchBuilt(func(b builder) value { return dynamoDBValue(&r, b) })
}

// epochSeconds is a time as Lambda writes it in records: a number of
// seconds, with a fraction.
func epochSeconds(t time.Time) value {
	return floatValue(float64(t.UnixNano()) / 1e9)
}

// kinesisRecordValue returns the value Lambda matches a Kinesis record against:
// the fields of its "kinesis" object at the top level —
// kinesisSchemaVersion, partitionKey, sequenceNumber, approximateArrivalTimestamp
// (a number of seconds), encryptionType when the stream is encrypted, and
// data, base64-decoded and matched as a payloadValue. This is the shape
// EventBridge Pipes documents for Kinesis filtering; the event envelope
// (eventSource, eventID, awsRegion, …) is added after filtering and cannot
// be matched.
func kinesisRecordValue(r events.KinesisEventRecord) value {
	return kinesisValue(&r, builder{})
}

func kinesisValue(r *events.KinesisEventRecord, b builder) value {
	k := &r.Kinesis
	fields := b.fields(6)
	fields = b.str(fields, "kinesisSchemaVersion", k.KinesisSchemaVersion)
	fields = b.str(fields, "partitionKey", k.PartitionKey)
	fields = b.str(fields, "sequenceNumber", k.SequenceNumber)
	if c, ok := b.want("data"); ok {
		var data string
		if b.d != nil && len(k.Data) > 0 {
			// Shares k.Data, which is not written while the record is
			// matched; the value does not outlive matchBuilt.
			data = unsafe.String(&k.Data[0], len(k.Data))
		} else {
			data = string(k.Data)
		}
		fields = append(fields, field{Key: "data", Value: payload(data, c, b.d)})
	}
	fields = b.add(fields, "approximateArrivalTimestamp", func() value { return epochSeconds(k.ApproximateArrivalTimestamp.Time) })
	if k.EncryptionType != "" {
		fields = b.str(fields, "encryptionType", k.EncryptionType)
	}
	return objectValue(fields...)
}

// dynamodbValue returns the value Lambda matches a DynamoDB Streams record
// against: the record as Lambda delivers it (eventID, eventName,
// eventVersion, eventSource, awsRegion, eventSourceARN, userIdentity for TTL
// deletions, and dynamodb). In dynamodb, Keys, NewImage and OldImage are in
// DynamoDB JSON — {"N": "101"} holds the number as a string, so a numeric
// pattern never matches it — and ApproximateCreationDateTime is a number of
// seconds. dynamodb is a JSON [Payload]: a list of values for it never
// matches.
func dynamodbValue(r events.DynamoDBEventRecord) value {
	return dynamoDBValue(&r, builder{})
}

func dynamoDBValue(r *events.DynamoDBEventRecord, b builder) value {
	fields := b.fields(8)
	fields = b.str(fields, "eventID", r.EventID)
	fields = b.str(fields, "eventName", r.EventName)
	fields = b.str(fields, "eventVersion", r.EventVersion)
	fields = b.str(fields, "eventSource", r.EventSource)
	fields = b.str(fields, "awsRegion", r.AWSRegion)
	if c, ok := b.want("dynamodb"); ok {
		fields = append(fields, field{Key: "dynamodb", Value: streamRecord(&r.Change, b.in(c))})
	}
	fields = b.str(fields, "eventSourceARN", r.EventSourceArn)
	if u := r.UserIdentity; u != nil {
		fields = b.add(fields, "userIdentity", func() value {
			return objectValue(
				field{Key: "type", Value: stringValue(u.Type)},
				field{Key: "principalId", Value: stringValue(u.PrincipalID)},
			)
		})
	}
	return objectValue(fields...)
}

func streamRecord(c *events.DynamoDBStreamRecord, b builder) value {
	fields := b.fields(7)
	if !c.ApproximateCreationDateTime.IsZero() {
		fields = b.add(fields, "ApproximateCreationDateTime", func() value { return epochSeconds(c.ApproximateCreationDateTime.Time) })
	}
	for _, img := range []struct {
		key string
		m   map[string]events.DynamoDBAttributeValue
	}{{"Keys", c.Keys}, {"NewImage", c.NewImage}, {"OldImage", c.OldImage}} {
		if n, ok := b.want(img.key); ok && len(img.m) > 0 {
			fields = append(fields, field{Key: img.key, Value: attributeMap(img.m, b.in(n))})
		}
	}
	fields = b.str(fields, "SequenceNumber", c.SequenceNumber)
	fields = b.add(fields, "SizeBytes", func() value { return intValue(c.SizeBytes) })
	fields = b.str(fields, "StreamViewType", c.StreamViewType)
	v := objectValue(fields...)
	v.flags |= flagPayload
	return v
}

// attributeMap writes an item in DynamoDB JSON: all its attributes (b.n
// nil, in sorted order) or those b.n names.
func attributeMap(m map[string]events.DynamoDBAttributeValue, b builder) value {
	if n := b.n; n != nil {
		fields := b.fields(len(m))
		for _, k := range n.names {
			if a, ok := m[k]; ok {
				fields = append(fields, field{Key: k, Value: attributeIn(a, b)})
			}
		}
		return objectValue(fields...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]field, len(keys))
	for i, k := range keys {
		fields[i] = field{Key: k, Value: attribute(m[k], builder{})}
	}
	return objectValue(fields...)
}

// attributeIn writes an attribute value of an item that b builds: its
// object comes from b's arena; what is inside a list or a map is built
// whole.
func attributeIn(a events.DynamoDBAttributeValue, b builder) value {
	return attribute(a, builder{d: b.d})
}

// attribute writes an attribute value in DynamoDB JSON: {"S": "a"},
// {"N": "1"}, {"B": "base64"}, {"BOOL": true}, {"NULL": true}, {"SS": […]},
// {"NS": […]}, {"BS": […]}, {"L": […]}, {"M": {…}}. Its one-field object
// comes from b's arena when b has a decoder.
func attribute(a events.DynamoDBAttributeValue, b builder) value {
	var key string
	var v value
	switch a.DataType() {
	case events.DataTypeString:
		key, v = "S", stringValue(a.String())
	case events.DataTypeNumber:
		key, v = "N", stringValue(a.Number())
	case events.DataTypeBinary:
		key, v = "B", stringValue(base64.StdEncoding.EncodeToString(a.Binary()))
	case events.DataTypeBoolean:
		key, v = "BOOL", boolValue(a.Boolean())
	case events.DataTypeNull:
		key, v = "NULL", boolValue(true)
	case events.DataTypeStringSet:
		key, v = "SS", stringArray(a.StringSet())
	case events.DataTypeNumberSet:
		key, v = "NS", stringArray(a.NumberSet())
	case events.DataTypeBinarySet:
		bs := a.BinarySet()
		elems := make([]value, len(bs))
		for i, b := range bs {
			elems[i] = stringValue(base64.StdEncoding.EncodeToString(b))
		}
		key, v = "BS", arrayValue(elems...)
	case events.DataTypeList:
		l := a.List()
		elems := make([]value, len(l))
		for i, e := range l {
			elems[i] = attribute(e, builder{})
		}
		key, v = "L", arrayValue(elems...)
	case events.DataTypeMap:
		key, v = "M", attributeMap(a.Map(), builder{})
	default:
		return objectValue()
	}
	if b.d != nil {
		return objectValue(append(b.d.reserveFields(1), field{Key: key, Value: v})...)
	}
	return objectValue(field{Key: key, Value: v})
}

func stringArray(ss []string) value {
	elems := make([]value, len(ss))
	for i, s := range ss {
		elems[i] = stringValue(s)
	}
	return arrayValue(elems...)
}

// sqsMessageValue returns the value Lambda matches an SQS message against: the
// record as Lambda delivers it — messageId, receiptHandle, body (a
// [Payload]: JSON objects and arrays are matched as JSON, anything else as a
// plain string), attributes, messageAttributes (with Lambda's lower-case
// keys stringValue, binaryValue (base64), stringListValues,
// binaryListValues, dataType), md5OfBody, md5OfMessageAttributes (null
// without message attributes), eventSource, eventSourceARN and awsRegion.
func sqsMessageValue(m events.SQSMessage) value {
	return sqsValue(&m, builder{})
}

func sqsValue(m *events.SQSMessage, b builder) value {
	fields := b.fields(10)
	fields = b.str(fields, "messageId", m.MessageId)
	fields = b.str(fields, "receiptHandle", m.ReceiptHandle)
	if c, ok := b.want("body"); ok {
		fields = append(fields, field{Key: "body", Value: payload(m.Body, c, b.d)})
	}
	if c, ok := b.want("attributes"); ok {
		fields = append(fields, field{Key: "attributes", Value: stringMap(m.Attributes, b.in(c))})
	}
	fields = b.add(fields, "messageAttributes", func() value {
		mattrs := make([]field, 0, len(m.MessageAttributes))
		for _, k := range sortedKeys(m.MessageAttributes) {
			mattrs = append(mattrs, field{Key: k, Value: messageAttribute(m.MessageAttributes[k])})
		}
		return objectValue(mattrs...)
	})
	fields = b.add(fields, "md5OfMessageAttributes", func() value {
		if m.Md5OfMessageAttributes == "" {
			return nullValue()
		}
		return stringValue(m.Md5OfMessageAttributes)
	})
	fields = b.str(fields, "md5OfBody", m.Md5OfBody)
	fields = b.str(fields, "eventSource", m.EventSource)
	fields = b.str(fields, "eventSourceARN", m.EventSourceARN)
	fields = b.str(fields, "awsRegion", m.AWSRegion)
	return objectValue(fields...)
}

// stringMap writes a map of strings as an object: all its keys (b.n nil,
// in sorted order) or those b.n names.
func stringMap(m map[string]string, b builder) value {
	if n := b.n; n != nil {
		fields := b.fields(len(m))
		for _, k := range n.names {
			if s, ok := m[k]; ok {
				fields = append(fields, field{Key: k, Value: stringValue(s)})
			}
		}
		return objectValue(fields...)
	}
	fields := make([]field, 0, len(m))
	for _, k := range sortedKeys(m) {
		fields = append(fields, field{Key: k, Value: stringValue(m[k])})
	}
	return objectValue(fields...)
}

func messageAttribute(a events.SQSMessageAttribute) value {
	var fields []field
	if a.StringValue != nil {
		fields = append(fields, field{Key: "stringValue", Value: stringValue(*a.StringValue)})
	}
	if a.BinaryValue != nil {
		fields = append(fields, field{Key: "binaryValue", Value: stringValue(base64.StdEncoding.EncodeToString(a.BinaryValue))})
	}
	bl := make([]value, len(a.BinaryListValues))
	for i, b := range a.BinaryListValues {
		bl[i] = stringValue(base64.StdEncoding.EncodeToString(b))
	}
	return objectValue(append(fields,
		field{Key: "stringListValues", Value: stringArray(a.StringListValues)},
		field{Key: "binaryListValues", Value: arrayValue(bl...)},
		field{Key: "dataType", Value: stringValue(a.DataType)},
	)...)
}
