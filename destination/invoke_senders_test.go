package destination_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/internal/rietest"
)

const (
	functionARN = "arn:aws:lambda:us-east-2:123456789012:function:my-function"
	targetARN   = "arn:aws:lambda:us-east-2:123456789012:function:on-failure"
	busARN      = "arn:aws:events:us-east-2:123456789012:event-bus/results"
)

// invocation returns the record of an asynchronous invocation and its
// message.
func invocation(t *testing.T, cond lambdaesm.Condition, request string) (destination.InvocationRecord, destination.Message) {
	t.Helper()
	in := destination.InvocationRecordInput{
		FunctionARN:            functionARN + ":$LATEST",
		Condition:              cond,
		ApproximateInvokeCount: 3,
		RequestPayload:         json.RawMessage(request),
		ResponsePayload:        json.RawMessage(`{"errorMessage":"boom","errorType":"errorString"}`),
		FunctionError:          destination.Unhandled,
		RequestID:              "e4b46cbf-b738-4b5c-8880-a18cdf61200e",
		Now:                    time.Date(2019, 11, 14, 18, 16, 5, 568e6, time.UTC),
	}
	if cond == lambdaesm.Success {
		in.ResponsePayload, in.FunctionError = json.RawMessage(`{"ok":true}`), ""
	}
	rec := destination.NewInvocationRecord(in)
	m, err := rec.Message()
	require.NoError(t, err)
	return rec, m
}

type fakeLambda struct {
	in  []*lambda.InvokeInput
	err error
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

func TestLambdaSender(t *testing.T) {
	fake := &fakeLambda{}
	s, err := destination.NewLambda(fake, targetARN)
	require.NoError(t, err)
	require.Equal(t, targetARN, s.ARN())
	_, m := invocation(t, lambdaesm.RetriesExhausted, `{"id":1}`)
	require.NoError(t, s.Send(t.Context(), m))
	require.Len(t, fake.in, 1)
	require.Equal(t, targetARN, aws.ToString(fake.in[0].FunctionName))
	require.Equal(t, lambdatypes.InvocationTypeEvent, fake.in[0].InvocationType, "a function destination is invoked asynchronously")
	require.Equal(t, string(m.Record), string(fake.in[0].Payload))

	// Over the asynchronous payload limit, the payloads are dropped.
	_, big := invocation(t, lambdaesm.RetriesExhausted, `"`+strings.Repeat("x", 256<<10)+`"`)
	require.NoError(t, s.Send(t.Context(), big))
	require.Equal(t, string(big.Reduced), string(fake.in[1].Payload))
	require.NotContains(t, string(fake.in[1].Payload), "requestPayload")

	fake.err = errors.New("ResourceNotFoundException")
	err = s.Send(t.Context(), m)
	se, ok := errors.AsType[*destination.SendError](err)
	require.True(t, ok)
	require.Equal(t, targetARN, se.Destination)
	require.ErrorIs(t, err, fake.err)

	// A record with no reduced form that is too large is refused locally.
	err = s.Send(t.Context(), destination.Message{Record: make([]byte, 256<<10+1)})
	require.ErrorContains(t, err, "over the limit")
	require.Len(t, fake.in, 3)
}

func TestNewLambdaAndEventBridgeRejectBadARNs(t *testing.T) {
	for _, bad := range []string{
		"not an arn",
		"arn:aws:sqs:us-east-1:123456789012:queue",
		"arn:aws:lambda:us-east-1:123456789012:layer:x",
		"arn:aws:lambda:us-east-1::function:x",
		"arn:aws:lambda:us-east-1:123456789012:function:",
		"arn:aws:lambda:us-east-1:123456789012:function:x:1:2",
	} {
		_, err := destination.NewLambda(&fakeLambda{}, bad)
		require.Error(t, err, bad)
	}
	_, err := destination.NewLambda(&fakeLambda{}, targetARN+":live")
	require.NoError(t, err, "a qualified function ARN is a valid destination")

	for _, bad := range []string{
		"arn:aws:events:us-east-1:123456789012:rule/x",
		"arn:aws:events:us-east-1:123456789012:event-bus/",
		"arn:aws:events:us-east-1::event-bus/default",
		"arn:aws:sns:us-east-1:123456789012:event-bus/x",
	} {
		_, err := destination.NewEventBridge(nil, bad)
		require.Error(t, err, bad)
	}
}

// putEventsServer is an EventBridge endpoint that keeps the PutEvents
// requests it gets and answers with reply.
func putEventsServer(t *testing.T, reply func(w http.ResponseWriter)) (*eventbridge.Client, *[]map[string]any) {
	t.Helper()
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
			http.Error(w, "unexpected operation "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, req)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		reply(w)
	}))
	t.Cleanup(srv.Close)
	client := eventbridge.New(eventbridge.Options{
		Region:           "us-east-2",
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
	return client, &got
}

func TestEventBridgeSender(t *testing.T) {
	client, got := putEventsServer(t, func(w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"11710aed-b79e-4468-a20b-bb3c0c3b4860"}]}`)
	})
	s, err := destination.NewEventBridge(client, busARN)
	require.NoError(t, err)
	require.Equal(t, busARN, s.ARN())

	for _, tc := range []struct {
		cond       lambdaesm.Condition
		detailType string
	}{
		{lambdaesm.Success, "Lambda Function Invocation Result - Success"},
		{lambdaesm.RetriesExhausted, "Lambda Function Invocation Result - Failure"},
		{lambdaesm.EventAgeExceeded, "Lambda Function Invocation Result - Failure"},
	} {
		_, m := invocation(t, tc.cond, `{"id":1}`)
		require.NoError(t, s.Send(t.Context(), m))
		req := (*got)[len(*got)-1]
		entries := req["Entries"].([]any)
		require.Len(t, entries, 1)
		entry := entries[0].(map[string]any)
		require.Equal(t, map[string]any{
			"EventBusName": busARN,
			"Source":       "lambda",
			"DetailType":   tc.detailType,
			"Detail":       string(m.Record),
			"Resources":    []any{busARN, functionARN + ":$LATEST"},
		}, entry, "condition %s", tc.cond)
	}
}

func TestEventBridgeSenderFailures(t *testing.T) {
	refused, _ := putEventsServer(t, func(w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"FailedEntryCount":1,"Entries":[{"ErrorCode":"InternalFailure","ErrorMessage":"try again"}]}`)
	})
	s, err := destination.NewEventBridge(refused, busARN)
	require.NoError(t, err)
	_, m := invocation(t, lambdaesm.RetriesExhausted, `{"id":1}`)
	err = s.Send(t.Context(), m)
	require.ErrorContains(t, err, "InternalFailure: try again")
	_, ok := errors.AsType[*destination.SendError](err)
	require.True(t, ok)

	down, _ := putEventsServer(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"__type":"InternalException","message":"down"}`)
	})
	s, err = destination.NewEventBridge(down, busARN)
	require.NoError(t, err)
	require.ErrorContains(t, s.Send(t.Context(), m), "InternalException")

	require.ErrorContains(t, s.Send(t.Context(), destination.Message{Record: []byte("not json")}), "not an invocation record")
}

// TestIntegrationLambdaSenderUnderRIE delivers a record to a real Go function
// (internal/rietest/testdata/fn) under the Runtime Interface Emulator, which
// writes the event it received to a file.
func TestIntegrationLambdaSenderUnderRIE(t *testing.T) {
	out := filepath.Join(t.TempDir(), "records")
	fn := rietest.Start(t, "FN_RECORD_FILE="+out)
	// The sender addresses the function by its ARN; the emulator answers
	// only to "function".
	s, err := destination.NewLambda(fn.AnyName(), targetARN)
	require.NoError(t, err)
	want, m := invocation(t, lambdaesm.RetriesExhausted, `{"ORDER_IDS":["9e07af03"]}`)
	require.NoError(t, s.Send(t.Context(), m))

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var got destination.InvocationRecord
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, want.Version, got.Version)
	require.Equal(t, want.Timestamp, got.Timestamp)
	require.Equal(t, want.RequestContext, got.RequestContext)
	require.JSONEq(t, string(want.RequestPayload), string(got.RequestPayload))
	require.Equal(t, want.ResponseContext, got.ResponseContext)
	require.JSONEq(t, string(want.ResponsePayload), string(got.ResponsePayload))
}
