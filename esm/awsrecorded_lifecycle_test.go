package esm_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmapi"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/shard"
)

// arOp is one operation of a lifecycle scenario: a call of Lambda's
// event-source-mapping API, served by esmapi over a Registry, or something
// done to the source or the clock.
type arOp struct {
	// Op is create, update, get, list or delete (the API), waitState,
	// put (stream records), send (SQS messages), deleteSource, sleep or
	// waitInvocations.
	Op string `json:"op"`
	// Name records the API's answer as the observation of that name, in
	// the shape the recording has (botocore's: the body, or Error, Type
	// and message, and ResponseMetadata.HTTPStatusCode). An operation
	// without a name must succeed.
	Name string `json:"name,omitempty"`
	// Request is the body of create and update, the query of list
	// ("<source-arn>" and "<function-arn>" filled in).
	Request json.RawMessage `json:"request,omitempty"`
	// State is what waitState waits for (of the first mapping created).
	State string `json:"state,omitempty"`
	// Put and Send write to the source.
	Put  []arRecord `json:"put,omitempty"`
	Send []string   `json:"send,omitempty"`
	// Seconds is a sleep's length (fake time).
	Seconds float64 `json:"seconds,omitempty"`
	// Invocations is what waitInvocations waits for, over every function.
	Invocations int `json:"invocations,omitempty"`
}

// arLifecycle runs a lifecycle scenario: a Registry over the fakes behind
// esmapi's handler, the functions behind a fake Lambda Invoke API.
type arLifecycle struct {
	t       *testing.T
	sc      *arScenario
	h       http.Handler
	reg     *esm.Registry
	k       *esmtest.Kinesis
	d       *esmtest.DynamoDBStreams
	q       *esmtest.SQS
	arn     string // the source's
	url     string // the queue's
	fnARN   string // the unqualified ARN of a function named lambda_func
	label   string // the DynamoDB stream's label
	mu      sync.Mutex
	fns     map[string]*arLambda // by FunctionName as given, ARN prefix removed
	order   []string
	uuids   []string // the mappings created, in order
	uuidPHs map[string]string
}

const arTable = "test-table"

func arRunLifecycle(t *testing.T, sc *arScenario) (map[string]any, error) {
	obs := map[string]any{}
	var err error
	synctest.Test(t, func(t *testing.T) {
		arAdvanceClock()
		err = arLifecycleRun(t, sc, obs)
	})
	return obs, err
}

func arLifecycleRun(t *testing.T, sc *arScenario, obs map[string]any) error {
	lc := &arLifecycle{t: t, sc: sc, fns: map[string]*arLambda{}, uuidPHs: map[string]string{}}
	var clients esm.SourceClients
	switch sc.Source {
	case "kinesis":
		lc.k = esmtest.NewKinesis()
		lc.arn = lc.k.MustCreateStream(t, "test-stream", 1)
		clients.Kinesis = lc.k
	case "dynamodb":
		lc.d = esmtest.NewDynamoDBStreams()
		lc.arn = lc.d.MustCreateStream(t, arTable, dstypes.StreamViewType(cmp.Or(sc.StreamView, "NEW_IMAGE")), cmp.Or(sc.KeyAttribute, "my_partition_key"))
		lc.label = lc.arn[strings.LastIndex(lc.arn, "/")+1:]
		clients.DynamoDBStreams = lc.d
	case "sqs":
		lc.q = esmtest.NewSQS()
		lc.url, lc.arn = lc.q.MustCreateQueue(t, "test-queue", nil)
		clients.SQS = lc.q
	default:
		return fmt.Errorf("unknown source %q", sc.Source)
	}
	src, err := esm.ParseEventSourceARN(lc.arn)
	if err != nil {
		return err
	}
	lc.fnARN = src.FunctionARN("lambda_func")
	var streamOpts []esm.StreamOption
	if lc.k != nil {
		streamOpts = append(streamOpts, esm.WithInvokeIdentityARN(arRoleARN)) // Kinesis records carry it
	}
	lc.reg, err = esm.NewRegistry(t.Context(), esm.RegistryConfig{
		Resolver: lc.resolve, Clients: clients, Store: esm.NewMemoryMappingStore(), Checkpoints: shard.NewMemoryStore(),
		StreamOptions: streamOpts,
		SQSOptions:    []esm.SQSOption{esm.WithLongPoll(time.Second)},
	})
	if err != nil {
		return err
	}
	if lc.h, err = esmapi.NewHandler(lc.reg, esmapi.WithUnauthenticated()); err != nil {
		return err
	}
	runRegistry(t, lc.reg)
	for i, op := range sc.Ops {
		if err := lc.do(op, obs); err != nil {
			return fmt.Errorf("op %d (%s): %w", i+1, op.Op, err)
		}
	}
	total := 0
	bodies := map[string][]string{}
	for _, name := range lc.order {
		calls := lc.fns[name].Calls()
		total += len(calls)
		for _, c := range calls {
			var ev events.SQSEvent
			if json.Unmarshal(c.Payload, &ev) == nil {
				for _, r := range ev.Records {
					if r.EventSource == "aws:sqs" {
						bodies[name] = append(bodies[name], r.Body)
					}
				}
			}
		}
	}
	obs["invocations"] = total
	obs["invocationBodies"] = bodies
	return nil
}

// resolve gives each FunctionName its own fake function, of the
// scenario's kind.
func (lc *arLifecycle) resolve(_ context.Context, name string) (esm.Function, error) {
	if i := strings.Index(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	lc.mu.Lock()
	fn := lc.fns[name]
	if fn == nil {
		fn = newARLambda(lc.sc.Function)
		lc.fns[name] = fn
		lc.order = append(lc.order, name)
	}
	lc.mu.Unlock()
	return esm.Function{
		Kinesis:  invoke.Function[events.KinesisEvent, events.KinesisEventResponse](fn, name),
		DynamoDB: invoke.Function[events.DynamoDBEvent, events.DynamoDBEventResponse](fn, name),
		SQS:      invoke.Function[events.SQSEvent, events.SQSEventResponse](fn, name),
	}, nil
}

func (lc *arLifecycle) do(op arOp, obs map[string]any) error {
	t := lc.t
	const root = "/2015-03-31/event-source-mappings/"
	switch op.Op {
	case "create":
		return lc.call(op, obs, "POST", root, lc.fill(op.Request))
	case "update":
		return lc.call(op, obs, "PUT", root+lc.first(), lc.fill(op.Request))
	case "get":
		return lc.call(op, obs, "GET", root+lc.first(), "")
	case "delete":
		return lc.call(op, obs, "DELETE", root+lc.first(), "")
	case "list":
		var query map[string]string
		if len(op.Request) > 0 {
			if err := json.Unmarshal([]byte(lc.fill(op.Request)), &query); err != nil {
				return err
			}
		}
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		return lc.call(op, obs, "GET", root+"?"+q.Encode(), "")
	case "waitState":
		id := lc.first()
		esmtest.WaitUntil(t, time.Hour, "state "+op.State, func() bool {
			info, err := lc.reg.Get(id)
			return err == nil && string(info.State) == op.State
		})
	case "put":
		arPutStream(t, lc.k, lc.d, lc.arn, arTable, cmp.Or(lc.sc.KeyAttribute, "my_partition_key"), arStep{Put: op.Put})
	case "send":
		for _, body := range op.Send {
			lc.q.Send(t, lc.url, body)
		}
	case "deleteSource":
		if lc.d == nil {
			return fmt.Errorf("deleteSource: only a DynamoDB stream can be deleted here")
		}
		return lc.d.DisableStream(lc.arn)
	case "sleep":
		time.Sleep(arSeconds(op.Seconds))
	case "waitInvocations":
		esmtest.WaitUntil(t, time.Hour, fmt.Sprintf("%d invocations", op.Invocations), func() bool {
			lc.mu.Lock()
			defer lc.mu.Unlock()
			n := 0
			for _, fn := range lc.fns {
				n += len(fn.Calls())
			}
			return n >= op.Invocations
		})
		// The calls are counted when they start: let the mappings take
		// the responses in (LastProcessingResult, checkpoints) before the
		// next operation looks.
		synctest.Wait()
	default:
		return fmt.Errorf("unknown op %q", op.Op)
	}
	return nil
}

func (lc *arLifecycle) first() string {
	if len(lc.uuids) == 0 {
		lc.t.Fatal("no mapping created yet")
	}
	return lc.uuids[0]
}

// fill puts the source's and the function's ARNs in a request.
func (lc *arLifecycle) fill(raw json.RawMessage) string {
	s := strings.ReplaceAll(string(raw), "<source-arn>", lc.arn)
	return strings.ReplaceAll(s, "<function-arn>", lc.fnARN)
}

// call sends one request to the API and records its answer.
func (lc *arLifecycle) call(op arOp, obs map[string]any, method, path, body string) error {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	lc.h.ServeHTTP(rec, req)
	var answer map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		return fmt.Errorf("%s %s: the answer is not JSON: %w: %s", method, path, err, rec.Body)
	}
	failed := rec.Code >= 300
	if !failed && op.Op == "create" {
		id, _ := answer["UUID"].(string)
		lc.uuids = append(lc.uuids, id)
		lc.uuidPHs[id] = lc.sc.Placeholders[fmt.Sprintf("$uuid%d", len(lc.uuids))]
	}
	if op.Name == "" {
		if failed {
			return fmt.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return nil
	}
	if failed { // as botocore reports an error
		msg, _ := answer["message"].(string)
		answer = map[string]any{
			"Error": map[string]any{"Code": rec.Header().Get("X-Amzn-ErrorType"), "Message": msg},
			"Type":  answer["Type"], "message": msg,
		}
	}
	answer["ResponseMetadata"] = map[string]any{"HTTPStatusCode": rec.Code}
	obs[op.Name] = lc.placehold(answer)
	return nil
}

// arARN finds ARNs in text.
var arARN = regexp.MustCompile(`arn:aws[a-z-]*:[^\s"]+`)

// placehold writes an answer with the recording's placeholders:
// arn:<partition>:<service>:<region>:111111111111:…, the resource names and
// UUIDs of the scenario's placeholders, LastModified <datetime>.
func (lc *arLifecycle) placehold(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "LastModified" {
				out[k] = "<datetime>"
				continue
			}
			out[k] = lc.placehold(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = lc.placehold(e)
		}
		return out
	case string:
		s := arARN.ReplaceAllStringFunc(x, lc.placeholdARN)
		for id, ph := range lc.uuidPHs {
			if ph != "" {
				s = strings.ReplaceAll(s, id, ph)
			}
		}
		for name, ph := range lc.sc.Placeholders {
			if !strings.HasPrefix(name, "$") {
				s = strings.ReplaceAll(s, `(" `+name+` ")`, `(" `+ph+` ")`) // a function in a conflict message
			}
		}
		return s
	}
	return v
}

func (lc *arLifecycle) placeholdARN(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return s
	}
	name := func(n string) string { return cmp.Or(lc.sc.Placeholders[n], n) }
	res := a.Resource
	switch a.Service {
	case "sqs":
		res = name(res)
	case "kinesis":
		res = "stream/" + name(strings.TrimPrefix(res, "stream/"))
	case "dynamodb":
		parts := strings.Split(res, "/")
		if len(parts) == 4 {
			res = "table/" + name(parts[1]) + "/stream/" + cmp.Or(lc.sc.Placeholders["$streamLabel"], parts[3])
		}
	case "lambda":
		switch kind, rest, _ := strings.Cut(res, ":"); kind {
		case "function":
			res = "function:" + name(rest)
		case "event-source-mapping":
			res = "event-source-mapping:" + cmp.Or(lc.uuidPHs[rest], rest)
		}
	}
	region := a.Region
	if region != "" {
		region = "<region>"
	}
	return "arn:<partition>:" + a.Service + ":" + region + ":111111111111:" + res
}
