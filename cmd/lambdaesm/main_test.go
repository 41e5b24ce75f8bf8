package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/shard"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

func TestHelpSpeaksToANewcomer(t *testing.T) {
	var out bytes.Buffer
	code, err := run(t.Context(), []string{"--help"}, &out, io.Discard)
	require.NoError(t, err)
	require.Zero(t, code)
	for _, want := range []string{
		"aws lambda create-event-source-mapping --endpoint-url http://127.0.0.1:9001",
		"--function NAME=URL", "--state-dir directory", "--drain-timeout duration", "AWS_ENDPOINT_URL_LAMBDA",
		"Usage:\n  lambdaesm [flags] [mapping.json ...]", "SIGTERM",
		"--mapping-table table", "--lease-table table", "--mapping-poll-interval duration", "Several processes",
	} {
		require.Contains(t, out.String(), want)
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"--function", "a=http://127.0.0.1:1/,b=https://example.test/x", "--function", "c=http://h/", "m1.json", "m2.json"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, functionFlag{"a": "http://127.0.0.1:1/", "b": "https://example.test/x", "c": "http://h/"}, o.functions)
	require.Equal(t, []string{"m1.json", "m2.json"}, o.files)
	require.Equal(t, "127.0.0.1:9001", o.listen)
	require.Equal(t, 20, o.sqsWait)
	require.Empty(t, o.mappingTable, "files in --state-dir by default")
	require.Empty(t, o.leaseTable)
	require.Equal(t, esm.DefaultPollInterval, o.mappingPoll)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--function", "nourl"}, `"nourl": want NAME=URL`},
		{[]string{"--function", "a=ftp://x/"}, `the URL must be http:// or https://`},
		{[]string{"--auth", "maybe"}, `--auth "maybe": want sigv4, none or auto`},
		{[]string{"--sqs-wait-time-seconds", "21"}, "must be from 1 to 20"},
		{[]string{"--drain-timeout", "0s"}, "must be positive"},
		{[]string{"--mapping-poll-interval", "0s"}, "--mapping-poll-interval 0s: must be positive"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		require.ErrorContains(t, err, tc.want, tc.args)
	}
	t.Setenv("LAMBDAESM_FUNCTIONS", "env-fn=http://127.0.0.1:2/")
	t.Setenv("LAMBDAESM_MAPPING_TABLE", "env-mappings")
	t.Setenv("LAMBDAESM_LEASE_TABLE", "env-leases")
	o, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:2/", o.functions["env-fn"])
	require.Equal(t, "env-mappings", o.mappingTable)
	require.Equal(t, "env-leases", o.leaseTable)
	o, err = parseFlags([]string{"--mapping-table", "m", "--lease-table", "l", "--mapping-poll-interval", "250ms"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, [3]any{"m", "l", 250 * time.Millisecond}, [3]any{o.mappingTable, o.leaseTable, o.mappingPoll})
}

func TestSplitFunctionName(t *testing.T) {
	for in, want := range map[string][2]string{
		"fn":                       {"fn", ""},
		"fn:live":                  {"fn", "live"},
		"123456789012:function:fn": {"fn", ""},
		"arn:aws:lambda:us-east-1:123456789012:function:fn":   {"fn", ""},
		"arn:aws:lambda:us-east-1:123456789012:function:fn:7": {"fn", "7"},
	} {
		name, qual := splitFunctionName(in)
		require.Equal(t, want, [2]string{name, qual}, in)
	}
}

// fakeLambda answers Invoke with a fixed payload.
type fakeLambda struct{ names []string }

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.names = append(f.names, aws.ToString(in.FunctionName))
	return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":"m2"}]}`)}, nil
}

func TestResolverPrefersHTTPEndpoints(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path+" "+r.Header.Get("X-Lambdaesm-Function-Name"))
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	lam := &fakeLambda{}
	fs := &functions{urls: map[string]string{"fn:live": srv.URL + "/live", "fn": srv.URL + "/bare"}, lambda: lam, client: srv.Client()}
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "x"}, {MessageId: "m2", Body: "y"}}}
	for _, tc := range []struct{ name, path string }{
		{"fn:live", "/live"},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn:live", "/live"},
		{"fn", "/bare"},
		{"fn:other", "/bare"},
	} {
		fn, err := fs.resolve(t.Context(), tc.name)
		require.NoError(t, err)
		_, err = fn.SQS.Handle(t.Context(), ev)
		require.NoError(t, err)
		require.Equal(t, tc.path+" "+tc.name, paths[len(paths)-1])
	}
	fn, err := fs.resolve(t.Context(), "elsewhere")
	require.NoError(t, err)
	resp, err := fn.SQS.Handle(t.Context(), ev)
	require.NoError(t, err)
	require.Equal(t, "m2", resp.BatchItemFailures[0].ItemIdentifier, "through the Lambda Invoke API")
	require.Equal(t, []string{"elsewhere"}, lam.names)

	fs.lambda = nil
	_, err = fs.resolve(t.Context(), "elsewhere")
	require.ErrorIs(t, err, esm.ErrFunctionNotFound)
}

func TestHTTPFunctionAnswers(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.Contains(t, string(got), `"eventSource":"aws:sqs"`)
		require.Contains(t, string(got), `"md5OfMessageAttributes":null`, "Lambda's event bytes")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	h := invoke.Function[events.SQSEvent, events.SQSEventResponse](httpFunction{url: srv.URL, name: "fn", client: srv.Client()}, "fn")
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "x", EventSource: "aws:sqs"}}}

	status, body = 200, `{"batchItemFailures":[{"itemIdentifier":"m1"}]}`
	resp, err := h.Handle(t.Context(), ev)
	require.NoError(t, err)
	require.Equal(t, "m1", resp.BatchItemFailures[0].ItemIdentifier)

	status, body = 204, ``
	_, err = h.Handle(t.Context(), ev)
	require.NoError(t, err, "an empty answer is a success")

	status, body = 500, `{"errorMessage":"boom","errorType":"Error"}`
	_, err = h.Handle(t.Context(), ev)
	var fe *invoke.FunctionError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "boom", fe.Message)

	status, body = 502, `bad gateway`
	_, err = h.Handle(t.Context(), ev)
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "HTTPError", fe.Type)
	require.Contains(t, fe.Message, "502 Bad Gateway: bad gateway")

	status, body = 200, `{"batchItemFailures":[{"itemIdentifier":7}]}`
	_, err = h.Handle(t.Context(), ev)
	var re *invoke.ResponseError
	require.ErrorAs(t, err, &re, "an invalid partial batch response, as Lambda judges it")

	srv.Close()
	_, err = h.Handle(t.Context(), ev)
	require.Error(t, err)
	require.False(t, errors.As(err, &fe), "an unreachable endpoint is no function error object")
}

func TestAPIAuthChoice(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	withCreds := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	for _, tc := range []struct {
		name   string
		o      options
		cfg    aws.Config
		unauth bool
		err    string
	}{
		{"auto with credentials", options{auth: "auto", listen: "0.0.0.0:9001"}, withCreds, false, ""},
		{"auto without, loopback", options{auth: "auto", listen: "127.0.0.1:9001"}, aws.Config{}, true, ""},
		{"auto without, ::1", options{auth: "auto", listen: "[::1]:9001"}, aws.Config{}, true, ""},
		{"auto without, open", options{auth: "auto", listen: ":9001"}, aws.Config{}, false, "is not a loopback address"},
		{"none, open", options{auth: "none", listen: "10.0.0.1:9001"}, withCreds, false, "is not a loopback address"},
		{"none, localhost", options{auth: "none", listen: "localhost:9001"}, withCreds, true, ""},
		{"sigv4 without", options{auth: "sigv4", listen: "127.0.0.1:9001"}, aws.Config{}, false, "no AWS credentials"},
	} {
		got, err := apiAuth(t.Context(), tc.o, tc.cfg, log)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.unauth, got, tc.name)
	}
}

// Mapping files create mappings, keep Lambda's UUID and State, and update
// the mapping they describe when run again.
func TestApplyFiles(t *testing.T) {
	q := esmtest.NewSQS()
	_, arn := q.MustCreateQueue(t, "jobs", nil)
	reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
		Resolver: func(context.Context, string) (esm.Function, error) {
			return esm.Function{SQS: esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })}, nil
		},
		Clients: esm.SourceClients{SQS: q}, Store: esm.NewMemoryMappingStore(),
	})
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	log := slog.New(slog.DiscardHandler)
	const id = "0d1f6a3c-2b4e-4f5a-8c7d-9e0f1a2b3c4d"
	file := write("m.json", `{"UUID": "`+id+`", "EventSourceArn": "`+arn+`", "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
		"BatchSize": 5, "State": "Disabled", "StateTransitionReason": "USER_INITIATED", "LastModified": 1733457600.5}`)
	require.NoError(t, applyFiles(t.Context(), reg, []string{file}, log))
	info, err := reg.Get(id)
	require.NoError(t, err)
	require.Equal(t, 5, info.Config.BatchSize)
	require.False(t, info.Config.IsEnabled(), "State Disabled in the file")
	before := info.LastModified

	require.NoError(t, applyFiles(t.Context(), reg, []string{file}, log))
	info, _ = reg.Get(id)
	require.Equal(t, before, info.LastModified, "the same file again changes nothing")

	time.Sleep(time.Millisecond)
	changed := write("m2.json", `{"EventSourceArn": "`+arn+`", "FunctionName": "fn", "BatchSize": 8, "Enabled": false}`)
	require.NoError(t, applyFiles(t.Context(), reg, []string{changed}, log))
	info, _ = reg.Get(id)
	require.Equal(t, 8, info.Config.BatchSize, "the mapping of the same function and queue is updated")
	require.Len(t, reg.List(esm.ListFilter{}), 1)

	bad := write("bad.json", `{"EventSourceArn": "`+arn+`", "FunctionName": "fn", "BatchSize": 0}`)
	err = applyFiles(t.Context(), reg, []string{bad}, log)
	require.ErrorContains(t, err, "bad.json")
	require.True(t, strings.Contains(err.Error(), "BatchSize"))
}

// slowLambda counts the calls in flight.
type slowLambda struct {
	mu        sync.Mutex
	now, most int
}

func (s *slowLambda) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	s.mu.Lock()
	s.now++
	s.most = max(s.most, s.now)
	s.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	return &lambda.InvokeOutput{StatusCode: 200}, nil
}

func TestFunctionConcurrency(t *testing.T) {
	for _, limit := range []int{1, 2} {
		lam := &slowLambda{}
		fs := &functions{lambda: lam, limit: limit}
		var wg sync.WaitGroup
		for i := range 6 {
			name := "fn"
			if i%2 == 1 {
				name = "arn:aws:lambda:us-east-1:000000000000:function:fn" // the same function
			}
			fn, err := fs.resolve(t.Context(), name)
			require.NoError(t, err)
			wg.Go(func() {
				_, err := fn.SQS.Handle(t.Context(), events.SQSEvent{})
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, limit, lam.most)
	}
}

// The tables, when named, replace the files of --state-dir; a mapping table
// without a lease table is a warning (each process reads whole streams).
func TestStoresFollowTheTableFlags(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	store, cps, err := stores(options{stateDir: dir, mappingPoll: time.Second}, aws.Config{}, log)
	require.NoError(t, err)
	require.IsType(t, &esm.FileMappingStore{}, store)
	require.IsType(t, &shard.FileStore{}, cps)

	store, cps, err = stores(options{stateDir: dir, mappingTable: "m", leaseTable: "l", mappingPoll: time.Second}, aws.Config{}, log)
	require.NoError(t, err)
	require.Equal(t, "m", store.(*esm.DynamoDBMappingStore).Table())
	require.IsType(t, &dynamolease.Store{}, cps)
	require.NotContains(t, logs.String(), "without --lease-table")

	store, cps, err = stores(options{stateDir: dir, mappingTable: "m", mappingPoll: time.Second}, aws.Config{}, log)
	require.NoError(t, err)
	require.IsType(t, &esm.DynamoDBMappingStore{}, store)
	require.IsType(t, &shard.FileStore{}, cps)
	require.Contains(t, logs.String(), "--mapping-table without --lease-table")

	_, cps, err = stores(options{stateDir: dir, leaseTable: "l", mappingPoll: time.Second}, aws.Config{}, log)
	require.NoError(t, err)
	require.IsType(t, &dynamolease.Store{}, cps, "several processes may share leases over the same mapping files")
}
