package esmapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmapi"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
}

const (
	accessKey = "AKIDLAMBDAESMTEST"
	secretKey = "lambdaesm-test-secret"
)

// fixture is a registry over the fakes, served by the API on 127.0.0.1.
type fixture struct {
	k       *esmtest.Kinesis
	q       *esmtest.SQS
	reg     *esm.Registry
	srv     *httptest.Server
	client  *lambda.Client
	mu      sync.Mutex
	records int
}

func newFixture(t *testing.T, opts ...esmapi.Option) *fixture {
	t.Helper()
	f := &fixture{k: esmtest.NewKinesis(), q: esmtest.NewSQS()}
	kin := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
		f.mu.Lock()
		f.records += len(ev.Records)
		f.mu.Unlock()
		return nil
	})
	sqsH := esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })
	reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
		Resolver: func(_ context.Context, name string) (esm.Function, error) {
			if strings.Contains(name, "missing") {
				return esm.Function{}, esm.ErrFunctionNotFound
			}
			return esm.Function{Kinesis: kin, SQS: sqsH}, nil
		},
		Clients:       esm.SourceClients{Kinesis: f.k, SQS: f.q},
		Store:         esm.NewMemoryMappingStore(),
		Checkpoints:   shard.NewMemoryStore(),
		StreamOptions: []esm.StreamOption{esm.WithPolling(esm.Polling{Idle: 10 * time.Millisecond, Busy: 10 * time.Millisecond})},
		SQSOptions:    []esm.SQSOption{esm.WithLongPoll(time.Second)},
	})
	require.NoError(t, err)
	f.reg = reg
	errc := make(chan error, 1)
	go func() { errc <- reg.Run(context.Background()) }()
	t.Cleanup(func() {
		require.NoError(t, reg.Shutdown(context.Background()))
		if err := <-errc; !errors.Is(err, lambdaesm.ErrClosed) { // ErrClosed: shut down before Run began
			require.NoError(t, err)
		}
	})
	if len(opts) == 0 {
		opts = []esmapi.Option{esmapi.WithCredentials(credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""))}
	}
	h, err := esmapi.NewHandler(reg, opts...)
	require.NoError(t, err)
	f.srv = httptest.NewServer(h) // 127.0.0.1
	t.Cleanup(f.srv.Close)
	f.client = newClient(f.srv.URL, accessKey, secretKey)
	return f
}

func newClient(url, key, secret string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func (f *fixture) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.records
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) waitState(t *testing.T, uuid, state string) *lambda.GetEventSourceMappingOutput {
	t.Helper()
	var out *lambda.GetEventSourceMappingOutput
	eventually(t, "state "+state, func() bool {
		var err error
		out, err = f.client.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: &uuid})
		require.NoError(t, err)
		return aws.ToString(out.State) == state
	})
	return out
}

// apiError returns the error's code, message and HTTP status.
func apiError(t *testing.T, err error) (code, msg string, status int) {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	var re *smithyhttp.ResponseError
	require.ErrorAs(t, err, &re)
	return ae.ErrorCode(), ae.ErrorMessage(), re.HTTPStatusCode()
}

// The Go SDK's lambda client drives every operation.
func TestEveryOperationThroughTheGoSDK(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	stream := f.k.MustCreateStream(t, "orders", 2)
	_, queue := f.q.MustCreateQueue(t, "jobs", nil)

	// CreateEventSourceMapping
	kin, err := f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("fn"), EventSourceArn: &stream, StartingPosition: types.EventSourcePositionTrimHorizon,
		BatchSize: aws.Int32(10),
	})
	require.NoError(t, err)
	require.Len(t, aws.ToString(kin.UUID), 36)
	require.Equal(t, "Creating", aws.ToString(kin.State))
	require.Equal(t, "User action", aws.ToString(kin.StateTransitionReason))
	require.Equal(t, "No records processed", aws.ToString(kin.LastProcessingResult))
	require.Equal(t, int32(10), aws.ToInt32(kin.BatchSize))
	require.Equal(t, types.EventSourcePositionTrimHorizon, kin.StartingPosition)
	require.Equal(t, int32(1), aws.ToInt32(kin.ParallelizationFactor))
	require.Equal(t, int32(-1), aws.ToInt32(kin.MaximumRetryAttempts))
	require.Equal(t, int32(-1), aws.ToInt32(kin.MaximumRecordAgeInSeconds))
	require.False(t, aws.ToBool(kin.BisectBatchOnFunctionError))
	require.NotNil(t, kin.DestinationConfig)
	require.NotNil(t, kin.DestinationConfig.OnFailure)
	require.Nil(t, kin.DestinationConfig.OnFailure.Destination)
	require.Empty(t, kin.FunctionResponseTypes)
	require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:fn", aws.ToString(kin.FunctionArn))
	require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:"+aws.ToString(kin.UUID), aws.ToString(kin.EventSourceMappingArn))
	require.WithinDuration(t, time.Now(), aws.ToTime(kin.LastModified), time.Minute)

	sq, err := f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("fn"), EventSourceArn: &queue, ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(5)},
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
	})
	require.NoError(t, err)
	require.Equal(t, "USER_INITIATED", aws.ToString(sq.StateTransitionReason))
	require.Nil(t, sq.LastProcessingResult, "Lambda leaves it null for SQS")
	require.Equal(t, int32(5), aws.ToInt32(sq.ScalingConfig.MaximumConcurrency))
	require.Equal(t, []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures}, sq.FunctionResponseTypes)
	require.Nil(t, sq.ParallelizationFactor)

	// Lambda's errors, typed by the SDK.
	_, err = f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("fn"), EventSourceArn: &queue})
	var conflict *types.ResourceConflictException
	require.ErrorAs(t, err, &conflict)
	code, msg, status := apiError(t, err)
	require.Equal(t, "ResourceConflictException", code)
	require.Equal(t, 409, status)
	require.Equal(t, `An event source mapping with SQS arn (" `+queue+` ") and function (" fn ") already exists. Please update or delete the existing mapping with UUID `+aws.ToString(sq.UUID), msg)
	require.Equal(t, "User", aws.ToString(conflict.Type))

	_, err = f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("missing"), EventSourceArn: &queue})
	var notFound *types.ResourceNotFoundException
	require.ErrorAs(t, err, &notFound)
	require.Equal(t, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing", aws.ToString(notFound.Message))

	_, err = f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("other"), EventSourceArn: &stream, StartingPosition: "0"})
	code, msg, status = apiError(t, err)
	require.Equal(t, "ValidationException", code)
	require.Equal(t, 400, status)
	require.Equal(t, "1 validation error detected: Value '0' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]", msg)

	_, err = f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("other"), EventSourceArn: &queue, BatchSize: aws.Int32(50)})
	var invalid *types.InvalidParameterValueException
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10", aws.ToString(invalid.Message))

	// GetEventSourceMapping
	got := f.waitState(t, aws.ToString(kin.UUID), "Enabled")
	require.Equal(t, aws.ToString(kin.EventSourceArn), aws.ToString(got.EventSourceArn))
	_, err = f.client.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String("00000000-0000-4000-8000-000000000000")})
	require.ErrorAs(t, err, &notFound)
	require.Equal(t, "The resource you requested does not exist.", aws.ToString(notFound.Message))
	f.waitState(t, aws.ToString(sq.UUID), "Enabled")

	// Records flow and the result shows.
	for i := range 25 {
		f.k.Put(t, stream, fmt.Sprintf("k%d", i%3), []byte("x"))
	}
	eventually(t, "the records", func() bool { return f.count() == 25 })
	got, err = f.client.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: kin.UUID})
	require.NoError(t, err)
	require.Equal(t, "OK", aws.ToString(got.LastProcessingResult))

	// ListEventSourceMappings, with its filters and pages.
	list, err := f.client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	require.NoError(t, err)
	require.Len(t, list.EventSourceMappings, 2)
	require.Nil(t, list.NextMarker)
	list, err = f.client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{EventSourceArn: &queue})
	require.NoError(t, err)
	require.Len(t, list.EventSourceMappings, 1)
	require.Equal(t, aws.ToString(sq.UUID), aws.ToString(list.EventSourceMappings[0].UUID))
	list, err = f.client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn")})
	require.NoError(t, err)
	require.Len(t, list.EventSourceMappings, 2)
	list, err = f.client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("fn:live")})
	require.NoError(t, err)
	require.Empty(t, list.EventSourceMappings)
	var pages, items int
	for p := lambda.NewListEventSourceMappingsPaginator(f.client, &lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(1)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		items += len(page.EventSourceMappings)
	}
	require.Equal(t, 2, pages)
	require.Equal(t, 2, items)
	_, err = f.client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(0)})
	code, msg, _ = apiError(t, err)
	require.Equal(t, "ValidationException", code)
	require.Equal(t, "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1", msg)

	// UpdateEventSourceMapping: settings, disable, enable, removals.
	up, err := f.client.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: kin.UUID,
		BatchSize: aws.Int32(50), MaximumBatchingWindowInSeconds: aws.Int32(1), ParallelizationFactor: aws.Int32(3),
		MaximumRetryAttempts: aws.Int32(2), BisectBatchOnFunctionError: aws.Bool(true),
		FilterCriteria:    &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"partitionKey": ["k1"]}`)}}},
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:sqs:us-east-1:000000000000:dlq")}},
	})
	require.NoError(t, err)
	require.Equal(t, "Updating", aws.ToString(up.State))
	require.Equal(t, int32(50), aws.ToInt32(up.BatchSize))
	require.Equal(t, "arn:aws:sqs:us-east-1:000000000000:dlq", aws.ToString(up.DestinationConfig.OnFailure.Destination))
	require.Len(t, up.FilterCriteria.Filters, 1)
	got = f.waitState(t, aws.ToString(kin.UUID), "Enabled")
	require.Equal(t, int32(3), aws.ToInt32(got.ParallelizationFactor))

	up, err = f.client.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: kin.UUID,
		Enabled: aws.Bool(false), FilterCriteria: &types.FilterCriteria{}, DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{}}})
	require.NoError(t, err)
	require.Equal(t, "Disabling", aws.ToString(up.State))
	require.Nil(t, up.FilterCriteria, "FilterCriteria {} removes the filters")
	require.Nil(t, up.DestinationConfig.OnFailure.Destination)
	f.waitState(t, aws.ToString(kin.UUID), "Disabled")
	up, err = f.client.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: kin.UUID, Enabled: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "Enabling", aws.ToString(up.State))
	f.waitState(t, aws.ToString(kin.UUID), "Enabled")

	_, err = f.client.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: sq.UUID, ParallelizationFactor: aws.Int32(2)})
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "Unsupported 'parallelizationFactor' parameter for given event source mapping type. (Kinesis and DynamoDB Streams only)", aws.ToString(invalid.Message))
	_, err = f.client.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String("nope"), BatchSize: aws.Int32(1)})
	require.ErrorAs(t, err, &notFound)

	// DeleteEventSourceMapping
	del, err := f.client.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: kin.UUID})
	require.NoError(t, err)
	require.Equal(t, "Deleting", aws.ToString(del.State))
	eventually(t, "the mapping to go", func() bool {
		_, err := f.client.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: kin.UUID})
		return errors.As(err, &notFound)
	})
	_, err = f.client.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: kin.UUID})
	require.ErrorAs(t, err, &notFound)
}

// The JSON of a mapping has AWS's fields in AWS's order.
func TestMappingJSONIsLambdas(t *testing.T) {
	f := newFixture(t, esmapi.WithUnauthenticated())
	stream := f.k.MustCreateStream(t, "orders", 1)
	_, queue := f.q.MustCreateQueue(t, "jobs", nil)
	uuidRE := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	timeRE := regexp.MustCompile(`"LastModified":\d{10}\.\d{3}`)
	for _, tc := range []struct {
		body, want string
	}{
		{`{"FunctionName": "fn", "EventSourceArn": "` + stream + `", "StartingPosition": "LATEST", "BatchSize": 3}`,
			`{"UUID":"<uuid>","StartingPosition":"LATEST","BatchSize":3,"MaximumBatchingWindowInSeconds":0,"ParallelizationFactor":1,` +
				`"EventSourceArn":"` + stream + `","FunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:fn","LastModified":<time>,` +
				`"LastProcessingResult":"No records processed","State":"Creating","StateTransitionReason":"User action",` +
				`"DestinationConfig":{"OnFailure":{}},"MaximumRecordAgeInSeconds":-1,"BisectBatchOnFunctionError":false,"MaximumRetryAttempts":-1,` +
				`"TumblingWindowInSeconds":0,"FunctionResponseTypes":[],"EventSourceMappingArn":"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:<uuid>"}`},
		{`{"FunctionName": "fn", "EventSourceArn": "` + queue + `", "BatchSize": 5}`,
			`{"UUID":"<uuid>","BatchSize":5,"MaximumBatchingWindowInSeconds":0,"EventSourceArn":"` + queue + `",` +
				`"FunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:fn","LastModified":<time>,"State":"Creating",` +
				`"StateTransitionReason":"USER_INITIATED","FunctionResponseTypes":[],"EventSourceMappingArn":"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:<uuid>"}`},
	} {
		resp, err := http.Post(f.srv.URL+"/2015-03-31/event-source-mappings/", "application/json", strings.NewReader(tc.body))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.NotEmpty(t, resp.Header.Get("X-Amzn-RequestId"))
		got := timeRE.ReplaceAllString(uuidRE.ReplaceAllString(string(body), "<uuid>"), `"LastModified":<time>`)
		require.Equal(t, tc.want, got)
	}
}

// Errors are Lambda's: the type in X-Amzn-ErrorType, {"Type", "message"}
// in the body.
func TestErrorsAreLambdas(t *testing.T) {
	f := newFixture(t, esmapi.WithUnauthenticated())
	for _, tc := range []struct {
		method, path, body string
		status             int
		typ, want          string
	}{
		{"GET", "/2015-03-31/event-source-mappings/abc", "", 404, "ResourceNotFoundException",
			`{"Type":"User","message":"The resource you requested does not exist."}`},
		{"POST", "/2015-03-31/event-source-mappings", `{"FunctionName": "fn"}`, 400, "InvalidParameterValueException",
			`{"Type":"User","message":"Unrecognized event source. (EventSourceArn is required, or QueueURL for an SQS queue.)"}`},
		{"POST", "/2015-03-31/event-source-mappings", `{"FunctionName": "fn", "EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q", "StartingPosition": "X"}`, 400, "ValidationException",
			`{"message":"1 validation error detected: Value 'X' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"}`},
		{"POST", "/2015-03-31/event-source-mappings", `{`, 400, "InvalidParameterValueException", ""},
		{"PUT", "/2015-03-31/event-source-mappings/abc", `{}`, 404, "ResourceNotFoundException",
			`{"Type":"User","message":"The resource you requested does not exist."}`},
		{"GET", "/2015-03-31/event-source-mappings?Marker=%25%25", "", 400, "InvalidParameterValueException",
			`{"Type":"User","message":"Invalid Marker: %%"}`},
		{"GET", "/2015-03-31/functions", "", 404, "UnknownOperationException",
			`{"Type":"User","message":"lambdaesm serves Lambda's event-source-mapping operations only, not GET /2015-03-31/functions."}`},
	} {
		req, err := http.NewRequest(tc.method, f.srv.URL+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, tc.path)
		require.Equal(t, tc.typ, resp.Header.Get("X-Amzn-ErrorType"), tc.path)
		if tc.want != "" {
			require.JSONEq(t, tc.want, string(body), tc.path)
		}
	}
}

func TestSignatures(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	list := func(c *lambda.Client, in *lambda.ListEventSourceMappingsInput) error {
		_, err := c.ListEventSourceMappings(ctx, in)
		return err
	}
	require.NoError(t, list(f.client, &lambda.ListEventSourceMappingsInput{}))
	require.NoError(t, list(f.client, &lambda.ListEventSourceMappingsInput{
		FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn:live"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:a b~c")}),
		"a signed query string with characters to escape")
	_, err := f.client.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("missing"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:q")})
	var notFound *types.ResourceNotFoundException
	require.ErrorAs(t, err, &notFound, "a signed body")

	code, msg, status := apiError(t, list(newClient(f.srv.URL, accessKey, "wrong"), &lambda.ListEventSourceMappingsInput{}))
	require.Equal(t, "InvalidSignatureException", code)
	require.Equal(t, 403, status)
	require.Contains(t, msg, "The request signature we calculated does not match the signature you provided.")

	code, msg, status = apiError(t, list(newClient(f.srv.URL, "AKIDUNKNOWN", secretKey), &lambda.ListEventSourceMappingsInput{}))
	require.Equal(t, "UnrecognizedClientException", code)
	require.Equal(t, 403, status)
	require.Equal(t, "The security token included in the request is invalid.", msg)

	resp, err := http.Get(f.srv.URL + "/2015-03-31/event-source-mappings")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)
	require.Equal(t, "MissingAuthenticationTokenException", resp.Header.Get("X-Amzn-ErrorType"))

	// A clock far from the client's.
	late := newFixture(t, esmapi.WithCredentials(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")),
		esmapi.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	code, msg, _ = apiError(t, list(late.client, &lambda.ListEventSourceMappingsInput{}))
	require.Equal(t, "InvalidSignatureException", code)
	require.Contains(t, msg, "Signature expired: ")

	// Session credentials need their token.
	tok := newFixture(t, esmapi.WithCredentials(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "the-token")))
	code, _, _ = apiError(t, list(tok.client, &lambda.ListEventSourceMappingsInput{}))
	require.Equal(t, "UnrecognizedClientException", code)
	withToken := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(tok.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "the-token")})
	require.NoError(t, list(withToken, &lambda.ListEventSourceMappingsInput{}))
}

func TestUnauthenticatedOnlyFromLoopback(t *testing.T) {
	f := newFixture(t, esmapi.WithUnauthenticated())
	h, err := esmapi.NewHandler(f.reg, esmapi.WithUnauthenticated())
	require.NoError(t, err)
	for _, tc := range []struct {
		remote string
		status int
	}{{"127.0.0.1:5000", 200}, {"[::1]:5000", 200}, {"10.1.2.3:5000", 403}, {"192.168.0.2:80", 403}} {
		req := httptest.NewRequest("GET", "/2015-03-31/event-source-mappings", nil)
		req.RemoteAddr = tc.remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, tc.status, w.Code, tc.remote)
		if tc.status == 403 {
			require.Equal(t, "AccessDeniedException", w.Header().Get("X-Amzn-ErrorType"))
		}
	}
	_, err = esmapi.NewHandler(f.reg)
	require.ErrorContains(t, err, "no credentials")
}

// What Mapping writes loads back with esm.LoadConfig, as the output of `aws
// lambda get-event-source-mapping` does.
func TestMappingJSONLoadsBack(t *testing.T) {
	f := newFixture(t, esmapi.WithUnauthenticated())
	stream := f.k.MustCreateStream(t, "orders", 1)
	info, err := f.reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.Latest, BatchSize: 7,
		MaximumRetryAttempts: new(3), FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures}})
	require.NoError(t, err)
	b, err := esmapi.Mapping(info)
	require.NoError(t, err)
	cfg, err := esm.ParseConfig(b)
	require.NoError(t, err, string(b))
	require.Equal(t, 7, cfg.BatchSize)
	require.Equal(t, 3, cfg.RetryAttempts())
	require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:fn", cfg.FunctionArn)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, info.UUID, m["UUID"])
}
