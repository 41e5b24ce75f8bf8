package destination

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
)

// Values Lambda writes in every record.
const (
	// recordVersion is the record's "version".
	recordVersion = "1.0"
	// LatestVersion is the function version Lambda reports as
	// responseContext.executedVersion for an unqualified function.
	LatestVersion = "$LATEST"
	// Unhandled is responseContext.functionError when the function failed.
	Unhandled = "Unhandled"
)

// Timestamp layouts, UTC. Lambda writes the record's timestamp and Kinesis
// arrival times with three fractional digits, DynamoDB arrival times with
// none; both are truncated, not rounded.
const (
	millisLayout  = "2006-01-02T15:04:05.000Z"
	secondsLayout = "2006-01-02T15:04:05Z"
)

// RequestContext is a record's requestContext.
type RequestContext struct {
	RequestID              string              `json:"requestId"`
	FunctionARN            string              `json:"functionArn"`
	Condition              lambdaesm.Condition `json:"condition"`
	ApproximateInvokeCount int                 `json:"approximateInvokeCount"`
}

// ResponseContext is the responseContext of a stream failure record.
// FunctionError is "Unhandled" after a function error and null (nil) when the
// function returned normally but its partial batch response failed the batch.
type ResponseContext struct {
	StatusCode      int     `json:"statusCode"`
	ExecutedVersion string  `json:"executedVersion"`
	FunctionError   *string `json:"functionError"`
}

// BatchInfo is a stream failure record's KinesisBatchInfo or
// DDBStreamBatchInfo: where the discarded records are in the stream. The
// arrival times are already formatted (see [NewStreamFailure]).
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// StreamFailure is the record an event source mapping sends to its on-failure
// destination when it discards stream records. Its JSON (json.Marshal or
// [StreamFailure.Message]) has the fields, order and formats of the record
// Lambda sends to SQS and SNS; see the package documentation. Exactly one of
// KinesisBatchInfo and DDBStreamBatchInfo is set.
type StreamFailure struct {
	RequestContext RequestContext `json:"requestContext"`
	// ResponseContext is nil for lambdaesm.RecordAgeExceeded: the discarded records
	// reached no invocation, and Lambda writes no responseContext.
	ResponseContext    *ResponseContext `json:"responseContext,omitempty"`
	Version            string           `json:"version"`
	Timestamp          string           `json:"timestamp"`
	KinesisBatchInfo   *BatchInfo       `json:"KinesisBatchInfo,omitempty"`
	DDBStreamBatchInfo *BatchInfo       `json:"DDBStreamBatchInfo,omitempty"`
}

// StreamFailureInput holds the facts of a discarded batch, for
// [NewStreamFailure].
type StreamFailureInput struct {
	// FunctionARN is requestContext.functionArn.
	FunctionARN string
	// Condition is lambdaesm.RetryAttemptsExhausted or lambdaesm.RecordAgeExceeded.
	Condition lambdaesm.Condition
	// ApproximateInvokeCount is the number of invocations of the batch
	// (retries + 1 when the retries ran out).
	ApproximateInvokeCount int
	// FunctionError tells that the last invocation failed with a function
	// error ("Unhandled"); false writes null, as Lambda does when the
	// function returned a partial batch response that failed the batch.
	// Ignored for lambdaesm.RecordAgeExceeded.
	FunctionError bool
	// ShardID and StreamARN locate the records. A DynamoDB stream's ARN
	// makes a DDBStreamBatchInfo with arrival times in seconds, any other
	// a KinesisBatchInfo with arrival times in milliseconds, as Lambda
	// writes them.
	ShardID   string
	StreamARN string
	// StartSequenceNumber and EndSequenceNumber are the sequence numbers of
	// the first and last discarded records.
	StartSequenceNumber string
	EndSequenceNumber   string
	// FirstArrival and LastArrival are the approximate arrival (Kinesis) or
	// creation (DynamoDB) times of the first and last discarded records.
	FirstArrival time.Time
	LastArrival  time.Time
	// BatchSize is the number of discarded records.
	BatchSize int
	// RequestID is requestContext.requestId. Empty generates a random
	// version 4 UUID, as Lambda's request IDs are.
	RequestID string
	// Now is the record's timestamp. Zero means time.Now().
	Now time.Time
}

// NewStreamFailure builds the failure record of a discarded batch.
func NewStreamFailure(in StreamFailureInput) StreamFailure {
	f := StreamFailure{
		RequestContext: newRequestContext(in.RequestID, in.FunctionARN, in.Condition, in.ApproximateInvokeCount),
		Version:        recordVersion,
		Timestamp:      formatMillis(orNow(in.Now)),
	}
	if in.Condition != lambdaesm.RecordAgeExceeded {
		rc := &ResponseContext{StatusCode: 200, ExecutedVersion: LatestVersion}
		if in.FunctionError {
			rc.FunctionError = new(Unhandled)
		}
		f.ResponseContext = rc
	}
	ddb := isDynamoDBStream(in.StreamARN)
	arrival := formatMillis
	if ddb {
		arrival = formatSeconds
	}
	info := &BatchInfo{
		ShardID:                         in.ShardID,
		StartSequenceNumber:             in.StartSequenceNumber,
		EndSequenceNumber:               in.EndSequenceNumber,
		ApproximateArrivalOfFirstRecord: arrival(in.FirstArrival),
		ApproximateArrivalOfLastRecord:  arrival(in.LastArrival),
		BatchSize:                       in.BatchSize,
		StreamARN:                       in.StreamARN,
	}
	if ddb {
		f.DDBStreamBatchInfo = info
	} else {
		f.KinesisBatchInfo = info
	}
	return f
}

// isDynamoDBStream tells whether streamARN is a DynamoDB stream's.
func isDynamoDBStream(streamARN string) bool {
	a, err := arn.Parse(streamARN)
	return err == nil && a.Service == "dynamodb"
}

// BatchInfo returns the record's KinesisBatchInfo or DDBStreamBatchInfo,
// whichever is set, or nil.
func (f StreamFailure) BatchInfo() *BatchInfo {
	if f.KinesisBatchInfo != nil {
		return f.KinesisBatchInfo
	}
	return f.DDBStreamBatchInfo
}

// Message returns the record as a [Message] for a [Sender]. mappingID (the
// event source mapping's UUID) and payload (the invocation event,
// {"Records":[...]}) are used by the S3 destination only: the object key
// holds the mapping ID, and the object holds the payload, as Lambda writes
// them. SQS and SNS receive the record alone.
func (f StreamFailure) Message(mappingID string, payload json.RawMessage) (Message, error) {
	info := f.BatchInfo()
	if info == nil {
		return Message{}, fmt.Errorf("destination: stream failure record has no batch info")
	}
	at, err := time.Parse(millisLayout, f.Timestamp)
	if err != nil {
		return Message{}, fmt.Errorf("destination: stream failure record timestamp: %w", err)
	}
	rec, err := marshal(f)
	if err != nil {
		return Message{}, err
	}
	return Message{Record: rec, Payload: payload, MappingID: mappingID, ShardID: info.ShardID, Time: at}, nil
}

// InvocationRecord is the record of an asynchronous invocation that Lambda sends to
// an OnSuccess or OnFailure destination. Its JSON has the fields and order of
// Lambda's record (see the package documentation).
type InvocationRecord struct {
	Version        string         `json:"version"`
	Timestamp      string         `json:"timestamp"`
	RequestContext RequestContext `json:"requestContext"`
	// RequestPayload is the event. It is absent only from a record whose
	// payloads were dropped ([InvocationRecord.WithoutPayloads]).
	RequestPayload json.RawMessage `json:"requestPayload,omitempty"`
	// ResponseContext is nil when the function was never invoked.
	ResponseContext *InvocationResponseContext `json:"responseContext,omitempty"`
	// ResponsePayload is the function's response or error object.
	ResponsePayload json.RawMessage `json:"responsePayload,omitempty"`
}

// InvocationResponseContext is the responseContext of an invocation record.
// Unlike a stream failure record's, functionError is absent after a
// successful invocation.
type InvocationResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// InvocationRecordInput holds the facts of an asynchronous invocation, for
// [NewInvocationRecord].
type InvocationRecordInput struct {
	// FunctionARN is requestContext.functionArn; Lambda reports the
	// qualified ARN (…:function:name:$LATEST).
	FunctionARN string
	// Condition is lambdaesm.Success, lambdaesm.RetriesExhausted or lambdaesm.EventAgeExceeded.
	Condition lambdaesm.Condition
	// ApproximateInvokeCount is the number of attempts. Zero means the
	// function was never invoked: the record then has no responseContext
	// and no responsePayload.
	ApproximateInvokeCount int
	// RequestPayload is the event (nil writes null).
	RequestPayload json.RawMessage
	// ResponsePayload is the response, or the error object after a function
	// error (nil writes null).
	ResponsePayload json.RawMessage
	// FunctionError is "Unhandled" (or "Handled") after a function error,
	// empty after a success.
	FunctionError string
	// RequestID and Now are as in [StreamFailureInput]: empty and zero
	// mean a new UUID and time.Now().
	RequestID string
	Now       time.Time
}

// NewInvocationRecord builds the record of an asynchronous invocation.
func NewInvocationRecord(in InvocationRecordInput) InvocationRecord {
	r := InvocationRecord{
		Version:        recordVersion,
		Timestamp:      formatMillis(orNow(in.Now)),
		RequestContext: newRequestContext(in.RequestID, in.FunctionARN, in.Condition, in.ApproximateInvokeCount),
		RequestPayload: orNull(in.RequestPayload),
	}
	if in.ApproximateInvokeCount > 0 {
		r.ResponseContext = &InvocationResponseContext{
			StatusCode:      200,
			ExecutedVersion: LatestVersion,
			FunctionError:   in.FunctionError,
		}
		r.ResponsePayload = orNull(in.ResponsePayload)
	}
	return r
}

// WithoutPayloads returns the record without requestPayload and
// responsePayload, as Lambda sends it when the whole record is over an SNS
// topic's size limit.
func (r InvocationRecord) WithoutPayloads() InvocationRecord {
	r.RequestPayload, r.ResponsePayload = nil, nil
	return r
}

// Message returns the record as a [Message] for a [Sender]. Its Reduced form
// is the record without payloads (used by the SNS sender above SNS's size
// limit).
func (r InvocationRecord) Message() (Message, error) {
	at, err := time.Parse(millisLayout, r.Timestamp)
	if err != nil {
		return Message{}, fmt.Errorf("destination: invocation record timestamp: %w", err)
	}
	rec, err := marshal(r)
	if err != nil {
		return Message{}, err
	}
	reduced, err := marshal(r.WithoutPayloads())
	if err != nil {
		return Message{}, err
	}
	return Message{Record: rec, Reduced: reduced, Time: at}, nil
}

// marshal encodes v as compact JSON without escaping <, > and &, as Lambda
// writes records.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("destination: encode record: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func formatMillis(t time.Time) string  { return t.UTC().Format(millisLayout) }
func formatSeconds(t time.Time) string { return t.UTC().Format(secondsLayout) }

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func orNull(p json.RawMessage) json.RawMessage {
	if len(p) == 0 {
		return json.RawMessage("null")
	}
	return p
}

// newRequestContext builds a requestContext; an empty id gets a new UUID.
func newRequestContext(id, functionARN string, c lambdaesm.Condition, invokeCount int) RequestContext {
	if id == "" {
		id = uuid.New()
	}
	return RequestContext{RequestID: id, FunctionARN: functionARN, Condition: c, ApproximateInvokeCount: invokeCount}
}
