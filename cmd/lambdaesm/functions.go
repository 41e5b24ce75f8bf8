package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/invoke"
)

// maxResponse bounds a function's response: Lambda's synchronous payload
// quota.
const maxResponse = 6 << 20

// functions resolves a mapping's FunctionName: to an HTTP endpoint named
// with --function, else to a Lambda function through the Invoke API (unless
// --lambda=false).
type functions struct {
	urls   map[string]string // function name (as given to --function) → URL
	lambda invoke.LambdaAPI  // nil: no Lambda fallback
	client *http.Client
	// limit bounds the calls in flight per function (0: no bound).
	limit int
	mu    sync.Mutex
	sems  map[string]chan struct{}
}

// functionFlag collects --function NAME=URL.
type functionFlag map[string]string

func (f functionFlag) String() string {
	var parts []string
	for k, v := range f {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f functionFlag) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, raw, ok := strings.Cut(item, "=")
		if !ok || name == "" || raw == "" {
			return fmt.Errorf("%q: want NAME=URL, e.g. my-function=http://127.0.0.1:3000/", item)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q: the URL must be http:// or https:// with a host", item)
		}
		f[name] = raw
	}
	return nil
}

// splitFunctionName returns the function's name and qualifier from a name,
// a name with a qualifier, a partial ARN or an ARN.
func splitFunctionName(s string) (name, qualifier string) {
	if i := strings.LastIndex(s, ":function:"); i >= 0 {
		s = s[i+len(":function:"):]
	}
	name, qualifier, _ = strings.Cut(s, ":")
	return name, qualifier
}

// resolve implements esm.Resolver.
func (fs *functions) resolve(_ context.Context, functionName string) (esm.Function, error) {
	name, qual := splitFunctionName(functionName)
	keys := []string{functionName}
	if qual != "" {
		keys = append(keys, name+":"+qual)
	}
	keys = append(keys, name)
	for _, k := range keys {
		if u, ok := fs.urls[k]; ok {
			return handlersFor(fs.limited("url:"+u, httpFunction{url: u, name: functionName, client: fs.client}), functionName), nil
		}
	}
	if fs.lambda != nil {
		return handlersFor(fs.limited("lambda:"+name+":"+qual, fs.lambda), functionName), nil
	}
	return esm.Function{}, fmt.Errorf("%w: %s is not among the --function endpoints, and --lambda=false", esm.ErrFunctionNotFound, functionName)
}

// limited bounds api's calls in flight to fs.limit, shared by every mapping
// of the same function (key).
func (fs *functions) limited(key string, api invoke.LambdaAPI) invoke.LambdaAPI {
	if fs.limit <= 0 {
		return api
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.sems == nil {
		fs.sems = map[string]chan struct{}{}
	}
	sem, ok := fs.sems[key]
	if !ok {
		sem = make(chan struct{}, fs.limit)
		fs.sems[key] = sem
	}
	return limitedAPI{api: api, sem: sem}
}

// limitedAPI waits for a place in sem before each call.
type limitedAPI struct {
	api invoke.LambdaAPI
	sem chan struct{}
}

func (l limitedAPI) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.sem }()
	return l.api.Invoke(ctx, in, opts...)
}

// handlersFor runs the function through api for every kind of source, with
// Lambda's event and response bytes (invoke.Function).
func handlersFor(api invoke.LambdaAPI, functionName string) esm.Function {
	return esm.Function{
		Kinesis:  invoke.Function[events.KinesisEvent, events.KinesisEventResponse](api, functionName),
		DynamoDB: invoke.Function[events.DynamoDBEvent, events.DynamoDBEventResponse](api, functionName),
		SQS:      invoke.Function[events.SQSEvent, events.SQSEventResponse](api, functionName),

		KinesisWindow:  invoke.Function[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse](api, functionName),
		DynamoDBWindow: invoke.Function[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse](api, functionName),
	}
}

// httpFunction is a function behind an HTTP endpoint: it takes the event
// JSON as a POST body and answers the response JSON. Any 2xx answer is the
// function's response; any other status is a function error (the body is
// its error object when it is one, as Lambda's runtimes write them:
// {"errorMessage": …, "errorType": …}). It implements invoke.LambdaAPI, so
// that invoke.Function treats its answers exactly as a Lambda function's.
type httpFunction struct {
	url    string
	name   string
	client *http.Client
}

// Invoke posts the payload to the endpoint.
func (h httpFunction) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(in.Payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lambdaesm")
	req.Header.Set("X-Lambdaesm-Function-Name", h.name)
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set("X-Lambdaesm-Deadline-Ms", fmt.Sprint(dl.UnixMilli()))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("POST %s: reading the response: %w", h.url, err)
	}
	if len(body) > maxResponse {
		return functionError("Function.ResponseSizeTooLarge", fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponse)), nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if isErrorObject(body) {
			return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: body}, nil
		}
		msg := strings.TrimSpace(string(body))
		if len(msg) > 1024 {
			msg = msg[:1024]
		}
		return functionError("HTTPError", fmt.Sprintf("POST %s: %s: %s", h.url, resp.Status, msg)), nil
	}
	return &lambda.InvokeOutput{StatusCode: int32(resp.StatusCode), Payload: body}, nil
}

func functionError(typ, msg string) *lambda.InvokeOutput {
	payload, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": typ})
	return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: payload}
}

func isErrorObject(b []byte) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return false
	}
	_, msg := obj["errorMessage"]
	return msg
}

// newHTTPClient is the client of the HTTP functions: no overall timeout
// (each call's context carries FunctionTimeout), connections kept alive.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
}
