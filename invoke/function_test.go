package invoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/internal/rietest"
	"github.com/lambdaesm/lambdaesm/invoke"
)

// fakeLambda answers Invoke with a fixed response and keeps the request.
type fakeLambda struct {
	in  *lambda.InvokeInput
	out *lambda.InvokeOutput
	err error
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.in = in
	return f.out, f.err
}

func sqsEvent(bodies ...string) events.SQSEvent {
	var e events.SQSEvent
	for i, b := range bodies {
		e.Records = append(e.Records, events.SQSMessage{MessageId: string(rune('a' + i)), Body: b, EventSource: "aws:sqs"})
	}
	return e
}

func TestFunctionRequest(t *testing.T) {
	fake := &fakeLambda{out: &lambda.InvokeOutput{StatusCode: 200}}
	h := invoke.Function[events.SQSEvent, events.SQSEventResponse](fake, "my-function", invoke.WithQualifier("live"))
	_, err := h.Handle(t.Context(), sqsEvent("hello"))
	require.NoError(t, err)
	require.Equal(t, "my-function", aws.ToString(fake.in.FunctionName))
	require.Equal(t, "live", aws.ToString(fake.in.Qualifier))
	require.Equal(t, lambdatypes.InvocationTypeRequestResponse, fake.in.InvocationType)
	require.JSONEq(t, `{"Records":[{"messageId":"a","receiptHandle":"","body":"hello","attributes":null,"messageAttributes":null,`+
		`"md5OfMessageAttributes":null,"md5OfBody":"","eventSource":"aws:sqs","eventSourceARN":"","awsRegion":""}]}`,
		string(fake.in.Payload), "the event is sent as its Lambda JSON: md5OfMessageAttributes null without attributes, as AWS sends it")

	fake.err = errors.New("TooManyRequestsException")
	_, err = h.Handle(t.Context(), sqsEvent("hello"))
	require.ErrorIs(t, err, fake.err)
	require.ErrorContains(t, err, "function my-function")
}

func TestFunctionResponses(t *testing.T) {
	failures := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "b"}}}
	for _, tc := range []struct {
		name          string
		functionError string
		payload       string
		opts          []invoke.FunctionOption
		want          events.SQSEventResponse
		wantErr       any // nil, *invoke.FunctionError or *invoke.ResponseError
	}{
		{name: "no payload", payload: ""},
		{name: "null", payload: "null"},
		{name: "empty string", payload: `""`},
		{name: "empty object", payload: "{}"},
		{name: "empty list", payload: "[]"},
		{name: "null list", payload: `{"batchItemFailures":null}`},
		{name: "partial failure", payload: `{"batchItemFailures":[{"itemIdentifier":"b"}]}`, want: failures},
		{name: "bad JSON", payload: `{"batchItemFailures":`, wantErr: &invoke.ResponseError{}},
		{name: "wrong shape", payload: `"ok"`, wantErr: &invoke.ResponseError{}},
		{name: "wrong shape ignored", payload: `"ok"`, opts: []invoke.FunctionOption{invoke.WithInvalidResponseIgnored()}},
		{name: "function error header", functionError: "Unhandled", payload: `{"errorMessage":"boom","errorType":"errorString"}`, wantErr: &invoke.FunctionError{}},
		{name: "error object alone (RIE)", payload: `{"errorMessage":"boom","errorType":"errorString","stackTrace":[]}`, wantErr: &invoke.FunctionError{}},
		{name: "error object with header check only", payload: `{"errorMessage":"boom","errorType":"errorString"}`, opts: []invoke.FunctionOption{invoke.WithFunctionErrorHeaderOnly()}},
		{name: "error-like response", payload: `{"errorMessage":"boom","errorType":"x","batchItemFailures":[{"itemIdentifier":"b"}]}`, want: failures},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(tc.payload)}
			if tc.functionError != "" {
				out.FunctionError = aws.String(tc.functionError)
			}
			h := invoke.Function[events.SQSEvent, events.SQSEventResponse](&fakeLambda{out: out}, "fn", tc.opts...)
			got, err := h.Handle(t.Context(), sqsEvent("a", "b"))
			switch want := tc.wantErr.(type) {
			case nil:
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			case *invoke.FunctionError:
				require.ErrorAs(t, err, &want)
				require.Equal(t, &invoke.FunctionError{Kind: "Unhandled", Type: "errorString", Message: "boom", Payload: []byte(tc.payload)}, want)
				require.EqualError(t, err, "function error (Unhandled): errorString: boom")
			case *invoke.ResponseError:
				require.ErrorAs(t, err, &want)
				require.Equal(t, tc.payload, string(want.Payload))
			}
		})
	}
}

// TestFunctionUnderRIE runs the adapter against a real Go function binary
// (internal/rietest/testdata/fn) under the Runtime Interface Emulator.
func TestFunctionUnderRIE(t *testing.T) {
	fn := rietest.Start(t)
	sqs := invoke.Function[events.SQSEvent, events.SQSEventResponse](fn.Client, rietest.FunctionName)

	resp, err := sqs.Handle(t.Context(), sqsEvent("ok", "fail", "ok", "fail"))
	require.NoError(t, err)
	require.Equal(t, events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "b"}, {ItemIdentifier: "d"}}}, resp,
		"the partial batch response comes back as the response type")

	resp, err = sqs.Handle(t.Context(), sqsEvent("ok"))
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)

	_, err = sqs.Handle(t.Context(), sqsEvent("ok", "crash"))
	fe, ok := errors.AsType[*invoke.FunctionError](err)
	require.True(t, ok, "a returned error is a function error: %v", err)
	require.Equal(t, "Unhandled", fe.Kind)
	require.Equal(t, "errorString", fe.Type)
	require.Equal(t, "crash requested by message b", fe.Message)

	generic := invoke.Function[map[string]string, json.RawMessage](fn.Client, rietest.FunctionName)
	for action, want := range map[string]string{"null": "", "list": "[]", "echo": `{"echo":{"action":"echo"}}`} {
		got, err := generic.Handle(t.Context(), map[string]string{"action": action})
		require.NoError(t, err, action)
		require.Equal(t, want, string(got), action)
	}
}

// TestFunctionUnderRIEAsync runs the function behind the asynchronous
// invoker: its error object becomes the failure record's responsePayload.
func TestFunctionUnderRIEAsync(t *testing.T) {
	fn := rietest.Start(t)
	onFailure := &destination.Memory{}
	done := make(chan lambdaesm.AsyncResult, 1)
	inv, err := invoke.New(invoke.Function[map[string]string, json.RawMessage](fn.Client, rietest.FunctionName),
		invoke.Config{MaximumRetryAttempts: new(0), OnFailure: onFailure}, invoke.WithHooks(onResult(func(r lambdaesm.AsyncResult) { done <- r })))
	require.NoError(t, err)
	stop := run(t, inv)
	defer stop()
	_, err = inv.Invoke(t.Context(), map[string]string{"action": "error"})
	require.NoError(t, err)
	res := <-done
	require.Equal(t, lambdaesm.RetriesExhausted, res.Condition)
	rec := record(t, onFailure.Messages()[0])
	require.Equal(t, map[string]any{"errorMessage": "error requested", "errorType": "errorString"}, rec["responsePayload"],
		"the function's own error object")
	require.Equal(t, "Unhandled", rec["responseContext"].(map[string]any)["functionError"])
}

// A Function whose Invoke call kept failing (throttled) sends its event to
// the dead-letter queue with the call's HTTP status as ErrorCode.
func TestFunctionDeadLetterErrorCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		throttled := &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusTooManyRequests}},
			Err:      errors.New("TooManyRequestsException: Rate Exceeded."),
		}
		fn := invoke.Function[order, receipt](&fakeLambda{err: throttled}, "fn")
		dlq := &destination.Memory{}
		inv := launch(t, fn, invoke.Config{MaximumRetryAttempts: new(0), DeadLetter: dlq})
		id := send(t, inv, "o-1")
		time.Sleep(time.Minute)
		require.Len(t, dlq.Messages(), 1)
		attrs := dlq.Messages()[0].Attributes
		require.Equal(t, destination.Attribute{DataType: "String", Value: id}, attrs[destination.RequestIDAttribute])
		require.Equal(t, destination.Attribute{DataType: "Number", Value: "429"}, attrs[destination.ErrorCodeAttribute])
		require.Contains(t, attrs[destination.ErrorMessageAttribute].Value, "Rate Exceeded.")
	})
}

// The invalid partial batch responses AWS recorded (LocalStack,
// test_kinesis_report_batch_item_failure_scenarios): each fails the whole
// batch without being a function error (functionError null). Through
// Function, an identifier that is not a string is a *ResponseError, which
// is no *FunctionError and says it is an invalid partial batch response; an
// empty, null or missing identifier comes back as an empty identifier, which
// the engines reject as invalid.
func TestFunctionInvalidPartialBatchResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		decodes bool // into a response with one empty itemIdentifier
	}{
		{name: "item_identifier_not_present_failure", payload: `{"batchItemFailures":[{"itemIdentifier":123}]}`},
		{name: "empty_string_item_identifier_failure", payload: `{"batchItemFailures":[{"itemIdentifier":""}]}`, decodes: true},
		{name: "null_item_identifier_failure", payload: `{"batchItemFailures":[{"itemIdentifier":null}]}`, decodes: true},
		{name: "invalid_key_foo_failure", payload: `{"batchItemFailures":[{"foo":123}]}`, decodes: true},
		{name: "invalid_key_foo_null_value_failure", payload: `{"batchItemFailures":[{"foo":null}]}`, decodes: true},
		{name: "not JSON", payload: `{"batchItemFailures":[`},
		{name: "a list of strings", payload: `{"batchItemFailures":["1"]}`},
		{name: "a number", payload: `123`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(tc.payload)}
			h := invoke.Function[events.KinesisEvent, events.KinesisEventResponse](&fakeLambda{out: out}, "fn")
			resp, err := h.Handle(t.Context(), events.KinesisEvent{})
			if tc.decodes {
				require.NoError(t, err)
				require.Equal(t, []events.KinesisBatchItemFailure{{ItemIdentifier: ""}}, resp.BatchItemFailures)
				return
			}
			require.Error(t, err)
			_, isFunctionError := errors.AsType[*invoke.FunctionError](err)
			require.False(t, isFunctionError, "not a function error: %v", err)
			re, ok := errors.AsType[*invoke.ResponseError](err)
			require.True(t, ok, "a *ResponseError: %v", err)
			require.Equal(t, tc.payload, string(re.Payload))
			require.Error(t, re.Err, "it wraps the decoding problem")
			require.ErrorIs(t, err, lambdaesm.ErrInvalidResponse)

			// What the engines, which cannot import invoke, look for.
			var invalid interface{ InvalidPartialBatchResponse() bool }
			require.True(t, errors.As(err, &invalid))
			require.True(t, invalid.InvalidPartialBatchResponse())
		})
	}
}
