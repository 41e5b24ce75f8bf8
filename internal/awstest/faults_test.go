package awstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
)

// fakeAWS is a loopback HTTP server answering a few Kinesis, SQS and SNS
// calls with canned bodies, recording the calls that reach it.
type fakeAWS struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string][][]byte // op -> request bodies
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{calls: map[string][][]byte{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndex(op, ".")+1:]
	if op == "" {
		form, _ := url.ParseQuery(string(body))
		op = form.Get("Action")
	}
	f.mu.Lock()
	f.calls[op] = append(f.calls[op], body)
	f.mu.Unlock()
	switch op {
	case "GetRecords":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"Records":[],"NextShardIterator":"next","MillisBehindLatest":0}`)
	case "GetShardIterator":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"ShardIterator":"it"}`)
	case "DeleteMessageBatch", "ChangeMessageVisibilityBatch":
		var in struct{ Entries []struct{ Id string } }
		_ = json.Unmarshal(body, &in)
		out := map[string]any{"Successful": []map[string]string{}}
		for _, e := range in.Entries {
			out["Successful"] = append(out["Successful"].([]map[string]string), map[string]string{"Id": e.Id})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(out)
	case "Publish":
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult>`+
			`<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`)
	case "SubscribeToShard":
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		var m eventstream.Message
		m.Headers.Set(":message-type", eventstream.StringValue("event"))
		m.Headers.Set(":event-type", eventstream.StringValue("SubscribeToShardEvent"))
		m.Payload = []byte(`{"Records":[],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}`)
		_ = eventstream.NewEncoder().Encode(w, m)
	default:
		http.Error(w, "unexpected "+op, http.StatusNotImplemented)
	}
}

// reached returns the request bodies of op that reached the server.
func (f *fakeAWS) reached(op string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("test", "test", "")
}

func kinesisAt(srv *fakeAWS, f *awstest.Faults, attempts int) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  staticCreds(),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   &http.Client{Transport: f.Transport(nil)},
		Retryer:      awstest.NewRetryer(attempts),
	})
}

func sqsAt(srv *fakeAWS, f *awstest.Faults) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		Credentials:  staticCreds(),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   &http.Client{Transport: f.Transport(nil)},
		Retryer:      awstest.NewRetryer(1),
	})
}

func getRecords(ctx context.Context, c *kinesis.Client) error {
	_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("it")})
	return err
}

func TestFaultsThrottleTwiceThenSucceed(t *testing.T) {
	srv := newFakeAWS(t)
	ft := awstest.NewFaults()
	ft.Fail("GetRecords", awstest.ProvisionedThroughputExceeded, 1, 2)
	c := kinesisAt(srv, ft, 3)

	require.NoError(t, getRecords(t.Context(), c), "the SDK retries the two throttles")
	require.Equal(t, 3, ft.Calls("GetRecords"))
	require.Equal(t, 2, ft.Injected("GetRecords"))
	require.Len(t, srv.reached("GetRecords"), 1)
}

func TestFaultsReachTheCaller(t *testing.T) {
	tests := []struct {
		name    string
		fault   awstest.Fault
		reached int // calls the server saw
		check   func(t *testing.T, err error)
	}{
		{"ProvisionedThroughputExceeded", awstest.ProvisionedThroughputExceeded, 0, func(t *testing.T, err error) {
			var e *ktypes.ProvisionedThroughputExceededException
			require.ErrorAs(t, err, &e)
		}},
		{"ExpiredIterator", awstest.ExpiredIterator, 0, func(t *testing.T, err error) {
			var e *ktypes.ExpiredIteratorException
			require.ErrorAs(t, err, &e)
		}},
		{"Throttle", awstest.Throttle, 0, func(t *testing.T, err error) {
			var e smithy.APIError
			require.ErrorAs(t, err, &e)
			require.Equal(t, "ThrottlingException", e.ErrorCode())
		}},
		{"InternalError", awstest.InternalError, 0, func(t *testing.T, err error) {
			var e *smithyhttp.ResponseError
			require.ErrorAs(t, err, &e)
			require.Equal(t, http.StatusInternalServerError, e.HTTPStatusCode())
		}},
		{"ServiceUnavailable", awstest.HTTPStatus(http.StatusServiceUnavailable), 0, func(t *testing.T, err error) {
			var e smithy.APIError
			require.ErrorAs(t, err, &e)
			require.Equal(t, "ServiceUnavailable", e.ErrorCode())
		}},
		{"ConnReset", awstest.ConnReset, 0, func(t *testing.T, err error) {
			require.True(t, awstest.IsConnReset(err), "%v", err)
			require.ErrorContains(t, err, "connection reset by peer")
		}},
		{"ConnResetAfter", awstest.ConnResetAfter, 1, func(t *testing.T, err error) {
			require.True(t, awstest.IsConnReset(err), "%v", err)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeAWS(t)
			ft := awstest.NewFaults()
			ft.Fail("GetRecords", tc.fault, 1)
			c := kinesisAt(srv, ft, 1) // no retries: the caller sees the fault

			err := getRecords(t.Context(), c)
			require.Error(t, err)
			tc.check(t, err)
			require.Len(t, srv.reached("GetRecords"), tc.reached)

			require.NoError(t, getRecords(t.Context(), c), "only call 1 was scripted")
		})
	}
}

func TestFaultsRetryableKindsAreRetriedBySDK(t *testing.T) {
	for _, fault := range []awstest.Fault{awstest.Throttle, awstest.InternalError, awstest.ConnReset} {
		srv := newFakeAWS(t)
		ft := awstest.NewFaults()
		ft.Fail("GetRecords", fault, 1)
		require.NoError(t, getRecords(t.Context(), kinesisAt(srv, ft, 2)))
		require.Equal(t, 2, ft.Calls("GetRecords"))
	}
}

func TestFaultsPerOperationAndCall(t *testing.T) {
	srv := newFakeAWS(t)
	ft := awstest.NewFaults()
	c := kinesisAt(srv, ft, 1)
	ctx := t.Context()
	ft.Fail("GetRecords", awstest.ExpiredIterator) // every call

	_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("s"), ShardId: aws.String("0"), ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err, "another operation is untouched")
	for range 3 {
		require.Error(t, getRecords(ctx, c))
	}
	require.Empty(t, srv.reached("GetRecords"))

	ft.Clear()
	require.NoError(t, getRecords(ctx, c))
	ft.FailNext("GetRecords", 2, awstest.Throttle)
	require.Error(t, getRecords(ctx, c))
	require.Error(t, getRecords(ctx, c))
	require.NoError(t, getRecords(ctx, c))
	require.Equal(t, 7, ft.Calls("GetRecords"))
	require.Equal(t, 5, ft.Injected("GetRecords"))
	require.Equal(t, 1, ft.Calls("GetShardIterator"))
}

func deleteEntries(handles ...string) []sqstypes.DeleteMessageBatchRequestEntry {
	var out []sqstypes.DeleteMessageBatchRequestEntry
	for i, h := range handles {
		out = append(out, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), ReceiptHandle: aws.String(h)})
	}
	return out
}

func TestFaultsFailedEntries(t *testing.T) {
	srv := newFakeAWS(t)
	ft := awstest.NewFaults()
	c := sqsAt(srv, ft)
	ctx := t.Context()
	q := aws.String(srv.URL + "/000000000000/q")

	ft.Fail("DeleteMessageBatch", awstest.FailedEntries("ReceiptHandleIsInvalid", "b"), 1)
	out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q, Entries: deleteEntries("h1", "h2", "h3")})
	require.NoError(t, err)
	require.Len(t, out.Successful, 2)
	require.Len(t, out.Failed, 1)
	require.Equal(t, "b", aws.ToString(out.Failed[0].Id))
	require.Equal(t, "ReceiptHandleIsInvalid", aws.ToString(out.Failed[0].Code))
	require.True(t, out.Failed[0].SenderFault)
	bodies := srv.reached("DeleteMessageBatch")
	require.Len(t, bodies, 1)
	require.NotContains(t, string(bodies[0]), "h2", "a failed entry never reaches the queue")
	require.Contains(t, string(bodies[0]), "h3")

	// Every entry fails: the emulator is not called at all.
	ft.Fail("DeleteMessageBatch", awstest.FailedEntries("InternalError"), 2)
	out, err = c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q, Entries: deleteEntries("h1", "h2")})
	require.NoError(t, err)
	require.Empty(t, out.Successful)
	require.Len(t, out.Failed, 2)
	require.False(t, out.Failed[0].SenderFault)
	require.Len(t, srv.reached("DeleteMessageBatch"), 1)

	// By receipt handle, on ChangeMessageVisibilityBatch.
	ft.Fail("ChangeMessageVisibilityBatch", awstest.FailedEntriesIf("ReceiptHandleIsInvalid",
		func(e awstest.Entry) bool { return e.ReceiptHandle == "h1" }))
	cmv, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: q,
		Entries: []sqstypes.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("x"), ReceiptHandle: aws.String("h1"), VisibilityTimeout: 5},
			{Id: aws.String("y"), ReceiptHandle: aws.String("h2"), VisibilityTimeout: 5},
		}})
	require.NoError(t, err)
	require.Len(t, cmv.Successful, 1)
	require.Equal(t, "y", aws.ToString(cmv.Successful[0].Id))
	require.Len(t, cmv.Failed, 1)
	require.Equal(t, "x", aws.ToString(cmv.Failed[0].Id))
}

func TestFaultsQueryProtocol(t *testing.T) {
	srv := newFakeAWS(t)
	ft := awstest.NewFaults()
	c := sns.New(sns.Options{
		Region: "us-east-1", Credentials: staticCreds(), BaseEndpoint: aws.String(srv.URL),
		HTTPClient: &http.Client{Transport: ft.Transport(nil)}, Retryer: awstest.NewRetryer(1),
	})
	in := &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:t"), Message: aws.String("hello")}
	ft.Fail("Publish", awstest.APIError(http.StatusBadRequest, "Throttling", "Rate exceeded"), 1)

	_, err := c.Publish(t.Context(), in)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "Throttling", apiErr.ErrorCode())
	require.Empty(t, srv.reached("Publish"))

	out, err := c.Publish(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, "m-1", aws.ToString(out.MessageId))
	require.Len(t, srv.reached("Publish"), 1)
	require.Contains(t, string(srv.reached("Publish")[0]), "Message=hello", "the body read for the Action is passed on")

	ft.Fail("Publish", awstest.FailedEntries("InternalError"))
	_, err = c.Publish(t.Context(), in)
	require.ErrorContains(t, err, "not a JSON-protocol batch call")
}

func TestFaultsRewrite(t *testing.T) {
	srv := newFakeAWS(t)
	ft := awstest.NewFaults()
	ft.Fail("GetRecords", awstest.Rewrite(func(body []byte) ([]byte, error) {
		return bytes.Replace(body, []byte(`"NextShardIterator":"next"`), []byte(`"NextShardIterator":null`), 1), nil
	}))
	out, err := kinesisAt(srv, ft, 1).GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: aws.String("it")})
	require.NoError(t, err)
	require.Nil(t, out.NextShardIterator)

	ft.Clear()
	ft.Fail("GetRecords", awstest.Rewrite(func([]byte) ([]byte, error) { return nil, errors.New("boom") }))
	require.ErrorContains(t, getRecords(t.Context(), kinesisAt(srv, ft, 1)), "boom")
}

// roundTripFunc is a base transport without a network, for synctest.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFaultsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent time.Time
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = time.Now()
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})
		ft := awstest.NewFaults()
		ft.Fail("GetRecords", awstest.Delay(time.Minute))
		rt := ft.Transport(base)
		newReq := func(ctx context.Context) *http.Request {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("{}"))
			require.NoError(t, err)
			r.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
			return r
		}

		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t.Context()))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, time.Minute, sent.Sub(start))

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = rt.RoundTrip(newReq(ctx))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 2, ft.Calls("GetRecords"))
	})
}

func TestEFOShimAddsInitialResponse(t *testing.T) {
	srv := newFakeAWS(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
	resp, err := awstest.EFOShim(nil).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	dec := eventstream.NewDecoder()
	var types []string
	for range 2 {
		m, err := dec.Decode(resp.Body, nil)
		require.NoError(t, err)
		types = append(types, m.Headers.Get(":event-type").String())
	}
	require.Equal(t, []string{"initial-response", "SubscribeToShardEvent"}, types)
}

func TestUniqueName(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := awstest.UniqueName(t, "queue")
		require.False(t, seen[n], "duplicate %s", n)
		seen[n] = true
		require.True(t, strings.HasPrefix(n, "queue-TestUniqueName-"), n)
	}
	t.Run(strings.Repeat("a very long/sub test name with spaces ", 5), func(t *testing.T) {
		n := awstest.UniqueName(t, "prefix.with/odd chars")
		require.LessOrEqual(t, len(n), 75)
		require.Regexp(t, `^[A-Za-z0-9_-]+$`, n)
	})
}

func TestIntegrationSkipsWithoutEmulators(t *testing.T) {
	t.Setenv(awstest.IntegrationEnv, "")
	var skipped bool
	t.Run("guarded", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		awstest.Integration(t)
	})
	require.True(t, skipped)
}
