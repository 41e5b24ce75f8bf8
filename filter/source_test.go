package filter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustCompile(t *testing.T, source Source, patterns ...string) *Filter {
	t.Helper()
	f, err := Compile(patterns, WithSource(source))
	require.NoError(t, err)
	return f
}

func kinesisRecord(partitionKey, data string) events.KinesisEventRecord {
	return events.KinesisEventRecord{
		AwsRegion:         "us-east-2",
		EventID:           "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
		EventVersion:      "1.0",
		InvokeIdentityArn: "arn:aws:iam::123456789012:role/lambda-role",
		Kinesis: events.KinesisRecord{
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1545084650, 987000000)},
			Data:                        []byte(data),
			PartitionKey:                partitionKey,
			SequenceNumber:              "49590338271490256608559692538361571095921575989136588898",
			KinesisSchemaVersion:        "1.0",
		},
	}
}

func TestKinesisRecordShape(t *testing.T) {
	v := kinesisRecordValue(kinesisRecord("1", `{"City": "Seattle"}`))
	assert.JSONEq(t, `{
		"kinesisSchemaVersion": "1.0",
		"partitionKey": "1",
		"sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
		"data": {"City": "Seattle"},
		"approximateArrivalTimestamp": 1545084650.987
	}`, v.String())
	r := kinesisRecord("1", "hello")
	r.Kinesis.EncryptionType = "KMS"
	assert.JSONEq(t, `{
		"kinesisSchemaVersion": "1.0",
		"partitionKey": "1",
		"sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
		"data": "hello",
		"approximateArrivalTimestamp": 1545084650.987,
		"encryptionType": "KMS"
	}`, kinesisRecordValue(r).String())
}

func TestKinesisFiltering(t *testing.T) {
	seattle := kinesisRecord("1", `{"City": "Seattle", "State": "WA", "Temperature": 46, "Month": "December"}`)
	la := kinesisRecord("1", `{"City": "Los Angeles", "State": "CA", "Temperature": 55, "Month": "December"}`)
	laOther := kinesisRecord("2", `{"Location": "Los Angeles", "Temperature": 55}`)
	plain := kinesisRecord("1", `Temperature 55 in Los Angeles`)
	request := kinesisRecord("1", `{"RecordNumber": "0001", "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "AAAA"}`)

	cases := []struct {
		name    string
		pattern string
		match   []events.KinesisEventRecord
		noMatch []events.KinesisEventRecord
	}{
		// Lambda developer guide, "Filtering examples" (2022).
		{"metadata and data", `{"partitionKey": ["1"], "data": {"City": ["Los Angeles"]}}`,
			[]events.KinesisEventRecord{la}, []events.KinesisEventRecord{seattle, laOther, plain}},
		{"numeric range on data", `{"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}}`,
			[]events.KinesisEventRecord{la, laOther}, []events.KinesisEventRecord{seattle, plain}},
		// "Using event filtering with a Kinesis event source".
		{"data key", `{"data": {"RequestCode": ["AAAA"]}}`,
			[]events.KinesisEventRecord{request}, []events.KinesisEventRecord{seattle, plain}},
		// Non-JSON data with a data pattern: the record is dropped, even
		// when the pattern asks for an absent field.
		{"non-JSON data and exists false", `{"data": {"RequestCode": [{"exists": false}]}}`,
			[]events.KinesisEventRecord{seattle}, []events.KinesisEventRecord{plain, request}},
		// Without a data pattern, metadata patterns still apply to non-JSON data.
		{"metadata only", `{"partitionKey": ["1"]}`,
			[]events.KinesisEventRecord{plain, seattle}, []events.KinesisEventRecord{laOther}},
		{"arrival time is a number", `{"approximateArrivalTimestamp": [{"numeric": [">", 1545084650]}]}`,
			[]events.KinesisEventRecord{plain}, nil},
		{"the envelope is not matched", `{"eventSource": ["aws:kinesis"]}`,
			nil, []events.KinesisEventRecord{plain, seattle}},
		{"encryptionType is absent for an unencrypted stream", `{"encryptionType": [{"exists": false}]}`,
			[]events.KinesisEventRecord{plain}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustCompile(t, SourceKinesis, c.pattern)
			for _, r := range c.match {
				assert.True(t, f.matchValue(kinesisRecordValue(r)), "should match data %s", r.Kinesis.Data)
				assert.True(t, f.MatchKinesisRecord(r), "MatchKinesisRecord should match data %s", r.Kinesis.Data)
			}
			for _, r := range c.noMatch {
				assert.False(t, f.matchValue(kinesisRecordValue(r)), "should not match data %s", r.Kinesis.Data)
				assert.False(t, f.MatchKinesisRecord(r), "MatchKinesisRecord should not match data %s", r.Kinesis.Data)
			}
		})
	}
}

// ddbRecord is the record of the Lambda guide's "Using event filtering with
// a DynamoDB event source".
func ddbRecord(name string, newImage, oldImage map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{
		AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Unix(1678831218, 0)},
			Keys:                        map[string]events.DynamoDBAttributeValue{"CustomerName": events.NewStringAttribute("AnyCompany Industries")},
			NewImage:                    newImage,
			OldImage:                    oldImage,
			SequenceNumber:              "111",
			SizeBytes:                   26,
			StreamViewType:              "NEW_IMAGE",
		},
		EventID:        "1",
		EventName:      name,
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2023-03-14T00:00:00.000",
	}
}

func customer(manager, terms string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{
		"AccountManager": events.NewStringAttribute(manager),
		"PaymentTerms":   events.NewStringAttribute(terms),
		"CustomerName":   events.NewStringAttribute("AnyCompany Industries"),
	}
}

func TestDynamoDBRecordShape(t *testing.T) {
	r := ddbRecord("MODIFY", map[string]events.DynamoDBAttributeValue{
		"id":     events.NewStringAttribute("k1"),
		"v":      events.NewNumberAttribute("2"),
		"tags":   events.NewStringSetAttribute([]string{"a"}),
		"nums":   events.NewNumberSetAttribute([]string{"1", "2"}),
		"blob":   events.NewBinaryAttribute([]byte{1, 2}),
		"blobs":  events.NewBinarySetAttribute([][]byte{{1}}),
		"ok":     events.NewBooleanAttribute(true),
		"nested": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"l": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewNumberAttribute("1"), events.NewNullAttribute()})}),
	}, nil)
	r.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	assert.JSONEq(t, `{
		"eventID": "1",
		"eventName": "MODIFY",
		"eventVersion": "1.1",
		"eventSource": "aws:dynamodb",
		"awsRegion": "us-east-1",
		"dynamodb": {
			"ApproximateCreationDateTime": 1678831218,
			"Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
			"NewImage": {"id": {"S": "k1"}, "v": {"N": "2"}, "tags": {"SS": ["a"]}, "nums": {"NS": ["1", "2"]},
				"blob": {"B": "AQI="}, "blobs": {"BS": ["AQ=="]}, "ok": {"BOOL": true},
				"nested": {"M": {"l": {"L": [{"N": "1"}, {"NULL": true}]}}}},
			"SequenceNumber": "111",
			"SizeBytes": 26,
			"StreamViewType": "NEW_IMAGE"
		},
		"eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2023-03-14T00:00:00.000",
		"userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
	}`, dynamodbValue(r).String())
}

func TestDynamoDBFiltering(t *testing.T) {
	pat := ddbRecord("INSERT", customer("Pat Candella", "60 days"), nil)
	pat2 := ddbRecord("MODIFY", customer("Pat Candella", "30 days"), customer("Pat Candella", "60 days"))
	other := ddbRecord("INSERT", customer("Shirley Rodriguez", "60 days"), nil)
	removed := ddbRecord("REMOVE", nil, customer("Pat Candella", "60 days"))
	removed.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	n42 := ddbRecord("INSERT", map[string]events.DynamoDBAttributeValue{"numericFilter": events.NewNumberAttribute("42")}, nil)
	n101 := ddbRecord("INSERT", map[string]events.DynamoDBAttributeValue{"numericFilter": events.NewNumberAttribute("101")}, nil)
	us1 := ddbRecord("INSERT", map[string]events.DynamoDBAttributeValue{"prefix": events.NewStringAttribute("us-1-other-suffix")}, nil)
	otherPrefix := ddbRecord("INSERT", map[string]events.DynamoDBAttributeValue{"prefix": events.NewStringAttribute("other-suffix")}, nil)

	cases := []struct {
		name    string
		pattern string
		match   []events.DynamoDBEventRecord
		noMatch []events.DynamoDBEventRecord
	}{
		// Lambda guide, "Using event filtering with a DynamoDB event source".
		{"table key", `{"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}`,
			[]events.DynamoDBEventRecord{pat, other, removed}, nil},
		{"table attribute", `{"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}}`,
			[]events.DynamoDBEventRecord{pat, pat2}, []events.DynamoDBEventRecord{other, removed}},
		{"boolean AND", `{"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}, "PaymentTerms": {"S": ["60 days"]}}}}`,
			[]events.DynamoDBEventRecord{pat}, []events.DynamoDBEventRecord{pat2, other}},
		{"exists on the typed value", `{"dynamodb": {"NewImage": {"AccountManager": {"S": [{"exists": true}]}}}}`,
			[]events.DynamoDBEventRecord{pat, other}, []events.DynamoDBEventRecord{removed}},
		// LocalStack test_dynamodb_event_filter, recorded against AWS.
		{"insert only", `{"eventName": ["INSERT"]}`,
			[]events.DynamoDBEventRecord{pat, other}, []events.DynamoDBEventRecord{pat2, removed}},
		{"insert or modify", `{"eventName": ["INSERT", "MODIFY"]}`,
			[]events.DynamoDBEventRecord{pat, pat2}, []events.DynamoDBEventRecord{removed}},
		{"eventName and eventSource", `{"eventName": ["INSERT"], "eventSource": ["aws:dynamodb"]}`,
			[]events.DynamoDBEventRecord{pat}, []events.DynamoDBEventRecord{pat2}},
		{"omitting the type does not match", `{"dynamodb": {"NewImage": {"AccountManager": ["Pat Candella"]}}}`,
			nil, []events.DynamoDBEventRecord{pat}},
		{"exists true on the attribute object does not match", `{"dynamodb": {"NewImage": {"AccountManager": [{"exists": true}]}}}`,
			nil, []events.DynamoDBEventRecord{pat}},
		{"exists false on the attribute object matches", `{"dynamodb": {"NewImage": {"AccountManager": [{"exists": false}]}}}`,
			[]events.DynamoDBEventRecord{pat, removed}, nil},
		{"numbers are strings in DynamoDB JSON", `{"dynamodb": {"NewImage": {"numericFilter": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}}`,
			[]events.DynamoDBEventRecord{n42}, []events.DynamoDBEventRecord{n101}},
		{"prefix", `{"dynamodb": {"NewImage": {"prefix": {"S": [{"prefix": "us-1"}]}}}}`,
			[]events.DynamoDBEventRecord{us1}, []events.DynamoDBEventRecord{otherPrefix}},
		{"ApproximateCreationDateTime is a number", `{"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}`,
			[]events.DynamoDBEventRecord{pat, removed}, nil},
		// Several attributes of an image, one absent, and what lies in a map.
		{"attributes built from the arena", `{"dynamodb": {"NewImage": {"AccountManager": {"S": [{"prefix": "Pat"}]}, "Missing": [{"exists": false}], "PaymentTerms": {"S": ["60 days"]}}, "Keys": {"CustomerName": {"S": [{"exists": true}]}}}}`,
			[]events.DynamoDBEventRecord{pat}, []events.DynamoDBEventRecord{pat2, other, removed}},
		// DynamoDB developer guide: items deleted by Time to Live.
		{"TTL deletions", `{"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}`,
			[]events.DynamoDBEventRecord{removed}, []events.DynamoDBEventRecord{pat}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustCompile(t, SourceDynamoDB, c.pattern)
			for _, r := range c.match {
				assert.True(t, f.matchValue(dynamodbValue(r)), "should match %s", r.EventName)
				assert.True(t, f.MatchDynamoDBRecord(r), "MatchDynamoDBRecord should match %s", r.EventName)
			}
			for _, r := range c.noMatch {
				assert.False(t, f.matchValue(dynamodbValue(r)), "should not match %s", r.EventName)
				assert.False(t, f.MatchDynamoDBRecord(r), "MatchDynamoDBRecord should not match %s", r.EventName)
			}
		})
	}

	// Without WithSource, a value list for dynamodb compiles but never
	// matches: dynamodb is JSON.
	f := mustCompile(t, AnySource, `{"dynamodb": [{"exists": false}]}`)
	assert.False(t, f.matchValue(dynamodbValue(pat)))
	assert.False(t, f.MatchDynamoDBRecord(pat))

	var none *Filter
	assert.True(t, none.MatchDynamoDBRecord(pat))
	assert.True(t, none.MatchSQSMessage(events.SQSMessage{}))
	assert.True(t, none.MatchKinesisRecord(events.KinesisEventRecord{}))
}

func sqsMessage(body string) events.SQSMessage {
	red := "red"
	return events.SQSMessage{
		MessageId:     "059f36b4-87a3-44ab-83d2-661975830a7d",
		ReceiptHandle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
		Body:          body,
		Md5OfBody:     "098f6bcd4621d373cade4e832627b4f6",
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    "1545082649183",
			"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1545082649185",
			"MessageGroupId":                   "g1",
		},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"Color": {StringValue: &red, DataType: "String"},
		},
		Md5OfMessageAttributes: "3b6e4b4e9d0c6f2b2f8e5c4a1a7e9d10",
		EventSourceARN:         "arn:aws:sqs:us-east-2:123456789012:my-queue.fifo",
		EventSource:            "aws:sqs",
		AWSRegion:              "us-east-2",
	}
}

func TestSQSMessageShape(t *testing.T) {
	m := sqsMessage(`{"RecordNumber": 1234}`)
	m.MessageAttributes["Bin"] = events.SQSMessageAttribute{BinaryValue: []byte{1, 2}, DataType: "Binary"}
	assert.JSONEq(t, `{
		"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
		"receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
		"body": {"RecordNumber": 1234},
		"attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183", "SenderId": "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1545082649185", "MessageGroupId": "g1"},
		"messageAttributes": {
			"Bin": {"binaryValue": "AQI=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
			"Color": {"stringValue": "red", "stringListValues": [], "binaryListValues": [], "dataType": "String"}},
		"md5OfMessageAttributes": "3b6e4b4e9d0c6f2b2f8e5c4a1a7e9d10",
		"md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
		"eventSource": "aws:sqs",
		"eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue.fifo",
		"awsRegion": "us-east-2"
	}`, sqsMessageValue(m).String())

	bare := events.SQSMessage{Body: "x"}
	v := sqsMessageValue(bare)
	assert.Contains(t, v.String(), `"md5OfMessageAttributes":null`)
	assert.Contains(t, v.String(), `"attributes":{},"messageAttributes":{}`)
}

func TestSQSFiltering(t *testing.T) {
	js := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	cases := []struct {
		name    string
		pattern string
		match   []string // bodies
		noMatch []string
	}{
		// LocalStack test_sqs_event_filter, recorded against AWS.
		{"single", `{"body": {"my-key": ["my-value"]}}`,
			[]string{js(map[string]any{"my-key": "my-value"})}, []string{js(map[string]any{"my-key": "other-value"})}},
		{"or", `{"body": {"my-key": ["my-value-one", "my-value-two"]}}`,
			[]string{js(map[string]any{"my-key": "my-value-two"})}, []string{js(map[string]any{"my-key": "other-value"})}},
		{"and", `{"body": {"my-key-one": ["other-filter", "my-value-one"], "my-key-two": ["my-value-two"]}}`,
			[]string{js(map[string]any{"my-key-one": "my-value-one", "my-key-two": "my-value-two"})},
			[]string{js(map[string]any{"my-key-one": "other-value-", "my-key-two": "my-value-two"})}},
		{"exists", `{"body": {"my-key": [{"exists": true}]}}`,
			[]string{js(map[string]any{"my-key": "any-value-one"})}, []string{js(map[string]any{"other-key": "any-value-two"})}},
		{"numeric bigger", `{"body": {"my-number": [{"numeric": [">", 100]}]}}`,
			[]string{js(map[string]any{"my-number": 101})}, []string{js(map[string]any{"my-number": 100})}},
		{"numeric smaller", `{"body": {"my-number": [{"numeric": ["<", 100]}]}}`,
			[]string{js(map[string]any{"my-number": 99})}, []string{js(map[string]any{"my-number": 100})}},
		{"numeric range", `{"body": {"my-number": [{"numeric": [">=", 100, "<", 200]}]}}`,
			[]string{js(map[string]any{"my-number": 100})}, []string{js(map[string]any{"my-number": 200})}},
		{"prefix", `{"body": {"my-key": [{"prefix": "yes"}]}}`,
			[]string{js(map[string]any{"my-key": "yes-value"})}, []string{js(map[string]any{"my-key": "no-value"})}},
		{"valid JSON filter drops a plain-string body", `{"body": {"my-key": ["my-value"]}}`,
			[]string{js(map[string]any{"my-key": "my-value"})}, []string{"plain-string"}},
		// Lambda guide, "Using event filtering with an Amazon SQS event source".
		{"RequestCode", `{"body": {"RequestCode": ["BBBB"]}}`,
			[]string{"{\n \"RecordNumber\": 1234,\n \"TimeStamp\": \"yyyy-mm-ddThh:mm:ss\",\n \"RequestCode\": \"BBBB\"\n}"},
			[]string{"{\n \"RecordNumber\": 1234,\n \"TimeStamp\": \"yyyy-mm-ddThh:mm:ss\",\n \"RequestCode\": \"AAAA\"\n}"}},
		// The body-format matrix ("Properly filtering Amazon SQS messages").
		{"plain body, plain pattern: filtered", `{"body": ["plain-string"]}`,
			[]string{"plain-string"}, []string{"plain-string-not-matching"}},
		{"plain body, plain pattern with an operator", `{"body": [{"prefix": "ERROR"}]}`,
			[]string{"ERROR: disk full"}, []string{"INFO: ok"}},
		{"JSON body, plain pattern: dropped", `{"body": ["plain-string"]}`,
			nil, []string{js(map[string]any{"valid-json-key": "plain-string"}), `["plain-string"]`}},
		{"JSON body, plain exists-false pattern: dropped", `{"body": [{"exists": false}]}`,
			nil, []string{`{"a": 1}`, "plain"}},
		{"plain body, JSON exists-false pattern: dropped", `{"body": {"a": [{"exists": false}]}}`,
			[]string{`{"b": 1}`}, []string{"plain"}},
		{"no body pattern: metadata only", `{"attributes": {"MessageGroupId": ["g1"]}}`,
			[]string{"plain", `{"a": 1}`}, nil},
		{"JSON scalars are plain strings", `{"body": ["123"]}`,
			[]string{"123"}, []string{`"123"`}},
		{"message attributes", `{"messageAttributes": {"Color": {"stringValue": ["red"], "dataType": ["String"]}}}`,
			[]string{"x"}, nil},
		{"attributes as strings", `{"attributes": {"ApproximateReceiveCount": [{"numeric": [">", 0]}]}}`,
			nil, []string{"x"}},
		{"several attributes, one absent", `{"attributes": {"SenderId": [{"prefix": "AIDA"}], "MessageGroupId": ["g1"], "Missing": [{"exists": false}]}}`,
			[]string{"x"}, nil},
		{"an absent attribute", `{"attributes": {"Missing": [{"exists": true}]}}`,
			nil, []string{"x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustCompile(t, SourceSQS, c.pattern)
			for _, body := range c.match {
				assert.True(t, f.matchValue(sqsMessageValue(sqsMessage(body))), "should match body %q", body)
				assert.True(t, f.MatchSQSMessage(sqsMessage(body)), "MatchSQSMessage should match body %q", body)
			}
			for _, body := range c.noMatch {
				assert.False(t, f.matchValue(sqsMessageValue(sqsMessage(body))), "should not match body %q", body)
				assert.False(t, f.MatchSQSMessage(sqsMessage(body)), "MatchSQSMessage should not match body %q", body)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	v := payloadValue([]byte(` {"a": 1} `))
	assert.True(t, v.isPayload())
	assert.Equal(t, kindObject, v.kindOf())
	v = payloadValue([]byte(`{"a": `))
	assert.Equal(t, kindString, v.kindOf(), "broken JSON is a plain string")
	v = payloadValue([]byte(`[1, 2]`))
	assert.Equal(t, kindArray, v.kindOf())
	v = payloadValue([]byte(`true`))
	assert.Equal(t, kindString, v.kindOf())

	// A JSON array payload is JSON: object patterns see its elements.
	f := mustCompile(t, SourceSQS, `{"body": {"id": [2]}}`)
	assert.True(t, f.matchValue(objectValue(field{Key: "body", Value: payloadValue([]byte(`[{"id": 1}, {"id": 2}]`))})))
}
