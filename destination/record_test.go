package destination

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/stretchr/testify/require"
)

// golden returns the compacted content of testdata/name.
func golden(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, raw))
	return b.Bytes()
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	kinesisStart = "49601189658422359378836298521827638475320189012309704722"
	kinesisEnd   = "49601189658422359378836298522902373528957594348623495186"
	testSeq      = "49631978396245932542233612436498263018565432179786629122"
)

func TestStreamFailureGolden(t *testing.T) {
	tests := []struct {
		golden string
		in     StreamFailureInput
	}{{
		golden: "kinesis_retry_attempts_exhausted.json",
		in: StreamFailureInput{
			FunctionARN:            "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
			Condition:              lambdaesm.RetryAttemptsExhausted,
			ApproximateInvokeCount: 1,
			FunctionError:          true,
			ShardID:                "shardId-000000000001",
			StreamARN:              "arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
			StartSequenceNumber:    kinesisStart,
			EndSequenceNumber:      kinesisEnd,
			// Sub-millisecond digits are truncated, not rounded.
			FirstArrival: at("2019-11-14T00:38:04.835999Z"),
			LastArrival:  at("2019-11-14T00:38:05.58Z"),
			BatchSize:    500,
			RequestID:    "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
			// Another zone: the record is in UTC.
			Now: at("2019-11-14T01:38:06.021999+01:00"),
		},
	}, {
		golden: "dynamodb_retry_attempts_exhausted.json",
		in: StreamFailureInput{
			FunctionARN:            "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
			Condition:              lambdaesm.RetryAttemptsExhausted,
			ApproximateInvokeCount: 1,
			FunctionError:          true,
			ShardID:                "shardId-00000001573689847184-864758bb",
			StreamARN:              "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388",
			StartSequenceNumber:    "800000000003126276362",
			EndSequenceNumber:      "800000000003126276362",
			// DynamoDB arrival times have whole seconds, truncated.
			FirstArrival: at("2019-11-14T00:13:19.999Z"),
			LastArrival:  at("2019-11-14T00:13:19Z"),
			BatchSize:    1,
			RequestID:    "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
			Now:          at("2019-11-14T00:13:49.717Z"),
		},
	}, {
		golden: "kinesis_record_age_exceeded.json",
		in: StreamFailureInput{
			FunctionARN:            "arn:aws:lambda:us-east-1:111111111111:function:consumer",
			Condition:              lambdaesm.RecordAgeExceeded,
			ApproximateInvokeCount: 1,
			FunctionError:          true, // ignored: no responseContext
			ShardID:                "shardId-000000000000",
			StreamARN:              "arn:aws:kinesis:us-east-1:111111111111:stream/orders",
			StartSequenceNumber:    testSeq,
			EndSequenceNumber:      testSeq,
			FirstArrival:           at("2022-07-13T13:46:59.007Z"),
			LastArrival:            at("2022-07-13T13:46:59.007Z"),
			BatchSize:              1,
			RequestID:              "0d4f1a52-3b6e-4c2f-9a1d-5e7b8c9d0a1b",
			Now:                    at("2022-07-13T13:48:01Z"),
		},
	}, {
		golden: "kinesis_invalid_partial_response.json",
		in: StreamFailureInput{
			FunctionARN:            "arn:aws:lambda:us-east-1:111111111111:function:consumer",
			Condition:              lambdaesm.RetryAttemptsExhausted,
			ApproximateInvokeCount: 3,
			FunctionError:          false, // null
			ShardID:                "shardId-000000000000",
			StreamARN:              "arn:aws:kinesis:us-east-1:111111111111:stream/orders",
			StartSequenceNumber:    testSeq,
			EndSequenceNumber:      testSeq,
			FirstArrival:           at("2022-07-13T13:48:00.123Z"),
			LastArrival:            at("2022-07-13T13:48:00.123Z"),
			BatchSize:              1,
			RequestID:              "7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
			Now:                    at("2022-07-13T13:48:01Z"),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			want := golden(t, tt.golden)
			f := NewStreamFailure(tt.in)

			got, err := json.Marshal(f)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "json.Marshal")

			m, err := f.Message("mapping-uuid", json.RawMessage(`{"Records":[]}`))
			require.NoError(t, err)
			require.Equal(t, string(want), string(m.Record), "Message.Record")
			require.Equal(t, tt.in.ShardID, m.ShardID)
			require.Equal(t, "mapping-uuid", m.MappingID)
			require.True(t, m.Time.Equal(tt.in.Now.Truncate(time.Millisecond)), "Message.Time %v", m.Time)
			require.Empty(t, m.Reduced)

			// The record reads back into the same value.
			var back StreamFailure
			require.NoError(t, json.Unmarshal(want, &back))
			require.Equal(t, f, back)
		})
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestStreamFailureDefaults(t *testing.T) {
	before := time.Now()
	a := NewStreamFailure(StreamFailureInput{Condition: lambdaesm.RetryAttemptsExhausted})
	b := NewStreamFailure(StreamFailureInput{Condition: lambdaesm.RetryAttemptsExhausted})
	require.Regexp(t, uuidV4, a.RequestContext.RequestID)
	require.NotEqual(t, a.RequestContext.RequestID, b.RequestContext.RequestID)

	ts, err := time.Parse(millisLayout, a.Timestamp)
	require.NoError(t, err)
	require.False(t, ts.Before(before.Truncate(time.Millisecond)), "timestamp %s is before the call", a.Timestamp)

	require.NotNil(t, a.KinesisBatchInfo, "Kind's zero value is Kinesis")
	require.Nil(t, a.DDBStreamBatchInfo)
	require.Nil(t, a.ResponseContext.FunctionError)
}

func TestStreamFailureMessageErrors(t *testing.T) {
	_, err := StreamFailure{Timestamp: "2019-11-14T00:38:06.021Z"}.Message("m", nil)
	require.ErrorContains(t, err, "no batch info")

	f := NewStreamFailure(StreamFailureInput{})
	f.Timestamp = "yesterday"
	_, err = f.Message("m", nil)
	require.ErrorContains(t, err, "timestamp")
}

func TestInvocationGolden(t *testing.T) {
	r := NewInvocationRecord(InvocationRecordInput{
		FunctionARN:            "arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST",
		Condition:              lambdaesm.RetriesExhausted,
		ApproximateInvokeCount: 3,
		RequestPayload:         json.RawMessage(`{"ORDER_IDS":["9e07af03-ce31-4ff3-xmpl-36dce652cb4f","637de236-e7b2-464e-xmpl-baf57f86bb53","a81ddca6-2c35-45c7-xmpl-c3a03a31ed15"]}`),
		ResponsePayload:        json.RawMessage(`{"errorMessage":"RequestId: e4b46cbf-b738-xmpl-8880-a18cdf61200e Process exited before completing request"}`),
		FunctionError:          Unhandled,
		RequestID:              "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
		Now:                    at("2019-11-14T18:16:05.568Z"),
	})
	m, err := r.Message()
	require.NoError(t, err)
	require.Equal(t, string(golden(t, "invocation_retries_exhausted.json")), string(m.Record))
	require.Equal(t, `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"}}`,
		string(m.Reduced))
	require.True(t, m.Time.Equal(at("2019-11-14T18:16:05.568Z")))
}

func TestInvocationShapes(t *testing.T) {
	now := at("2019-11-14T18:16:05.568Z")
	tests := []struct {
		name string
		in   InvocationRecordInput
		want string
	}{{
		name: "success has no functionError",
		in: InvocationRecordInput{FunctionARN: "f:$LATEST", Condition: lambdaesm.Success, ApproximateInvokeCount: 1,
			RequestPayload: json.RawMessage(`{"a":1}`), ResponsePayload: json.RawMessage(`"ok"`), RequestID: "r", Now: now},
		want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"r","functionArn":"f:$LATEST","condition":"Success","approximateInvokeCount":1},"requestPayload":{"a":1},"responseContext":{"statusCode":200,"executedVersion":"$LATEST"},"responsePayload":"ok"}`,
	}, {
		name: "nil payloads are null",
		in:   InvocationRecordInput{FunctionARN: "f", Condition: lambdaesm.Success, ApproximateInvokeCount: 1, RequestID: "r", Now: now},
		want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"r","functionArn":"f","condition":"Success","approximateInvokeCount":1},"requestPayload":null,"responseContext":{"statusCode":200,"executedVersion":"$LATEST"},"responsePayload":null}`,
	}, {
		name: "never invoked has no response",
		in:   InvocationRecordInput{FunctionARN: "f", Condition: lambdaesm.EventAgeExceeded, RequestPayload: json.RawMessage(`{}`), RequestID: "r", Now: now},
		want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"r","functionArn":"f","condition":"EventAgeExceeded","approximateInvokeCount":0},"requestPayload":{}}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(NewInvocationRecord(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestS3BodyGolden(t *testing.T) {
	payload := `{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"custom","sequenceNumber":"` + kinesisStart +
		`","data":"eyJpbnB1dCI6ICJoZWxsbyJ9","approximateArrivalTimestamp":1573691884.835},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000001:` + kinesisStart +
		`","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/lambda-role","awsRegion":"us-east-2","eventSourceARN":"arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}]}`
	f := NewStreamFailure(StreamFailureInput{
		FunctionARN:            "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
		Condition:              lambdaesm.RetryAttemptsExhausted,
		ApproximateInvokeCount: 2,
		FunctionError:          true,
		ShardID:                "shardId-000000000001",
		StreamARN:              "arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
		StartSequenceNumber:    kinesisStart,
		EndSequenceNumber:      kinesisStart,
		FirstArrival:           at("2019-11-14T00:38:04.835Z"),
		LastArrival:            at("2019-11-14T00:38:04.835Z"),
		BatchSize:              1,
		RequestID:              "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
		Now:                    at("2019-11-14T00:38:06.021Z"),
	})
	m, err := f.Message("8f5ee9d5-0a5b-4c3e-9f67-2b1d3c4e5f60", json.RawMessage(payload))
	require.NoError(t, err)
	body, err := s3Body(m.Record, m.Payload)
	require.NoError(t, err)
	require.Equal(t, string(golden(t, "kinesis_s3.json")), string(body))

	// The payload string holds the event exactly as given.
	var obj struct{ Payload string }
	require.NoError(t, json.Unmarshal(body, &obj))
	require.Equal(t, payload, obj.Payload)

	// Without a payload, the record alone (sorted).
	body, err = s3Body(json.RawMessage(`{"b":{"y":null,"x":1.50},"a":"<&>"}`), nil)
	require.NoError(t, err)
	require.Equal(t, `{"a":"<&>","b":{"x":1.50,"y":null}}`, string(body))

	_, err = s3Body(json.RawMessage(`[1]`), nil)
	require.Error(t, err)
}

func TestObjectKey(t *testing.T) {
	got := objectKey("8f5ee9d5-0a5b-4c3e-9f67-2b1d3c4e5f60", "shardId-000000000001",
		at("2019-11-14T01:38:06.021+01:00"), "c0ffee00-0000-4000-8000-000000000000")
	require.Equal(t, "aws/lambda/8f5ee9d5-0a5b-4c3e-9f67-2b1d3c4e5f60/shardId-000000000001/2019/11/14/2019-11-14T00.38.06-c0ffee00-0000-4000-8000-000000000000", got)
}
