package esm_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// This file holds the stand-ins for what LocalStack's recorded tests ran in
// AWS: the Lambda functions (Python files of the localstack repository,
// reproduced as Go functions behind a fake Lambda Invoke API, so that the
// mapping calls them through invoke.Function exactly as it would call a
// deployed function) and an S3 bucket for on-failure records.

// arFunction describes one of the test functions of the recordings.
type arFunction struct {
	// Kind selects the function:
	//   echo                       returns the event (lambda_echo.py, lambda_echo_version_env.py…)
	//   raise                      raises ErrorType(ErrorMessage) (lambda_integration.py with raise_error, lambda_echofail.py…)
	//   respond                    returns Payload as it is (utils.create_lambda_with_response, provided_bootstrap_empty)
	//   sleep                      sleeps SleepSeconds, returns null (lambda_parallel.py, lambda_sleep.py)
	//   kinesisBatchItemFailures   lambda_report_batch_item_failures_kinesis.py
	//   dynamodbBatchItemFailures  lambda_report_batch_item_failures_dynamodb.py
	//   sqsIntegration             lambda_sqs_integration.py
	//   sqsBatchItemFailure        lambda_sqs_batch_item_failure.py (Payload: OVERWRITE_RESULT)
	Kind         string  `json:"kind"`
	File         string  `json:"file,omitempty"`
	Payload      *string `json:"payload,omitempty"`
	SleepSeconds float64 `json:"sleepSeconds,omitempty"`
	ErrorType    string  `json:"errorType,omitempty"`
	ErrorMessage string  `json:"errorMessage,omitempty"`
}

// arCall is one Invoke the fake Lambda received.
type arCall struct {
	At            time.Time
	Payload       []byte
	Response      []byte
	FunctionError string
	// Error is what lambda_sqs_integration.py reports as "error" (nil when
	// the attempt succeeded).
	Error *string
}

// arLambda is a fake of the Lambda Invoke API running one arFunction.
type arLambda struct {
	fn arFunction

	mu          sync.Mutex
	calls       []arCall
	inFlight    int
	maxInFlight int
}

func newARLambda(fn arFunction) *arLambda { return &arLambda{fn: fn} }

// Invoke runs the function on the payload, as a RequestResponse invocation.
func (l *arLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	l.mu.Lock()
	n := len(l.calls)
	l.calls = append(l.calls, arCall{At: time.Now(), Payload: bytes.Clone(in.Payload)})
	l.inFlight++
	l.maxInFlight = max(l.maxInFlight, l.inFlight)
	l.mu.Unlock()

	resp, ferr, note := l.run(ctx, in.Payload)

	l.mu.Lock()
	l.inFlight--
	l.calls[n].Response, l.calls[n].FunctionError, l.calls[n].Error = resp, ferr, note
	l.mu.Unlock()
	out := &lambda.InvokeOutput{StatusCode: 200, Payload: resp, ExecutedVersion: new("$LATEST")}
	if ferr != "" {
		out.FunctionError = new(ferr)
	}
	return out, nil
}

// Calls returns the invocations so far.
func (l *arLambda) Calls() []arCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]arCall(nil), l.calls...)
}

// MaxConcurrency is the largest number of invocations that ran at once.
func (l *arLambda) MaxConcurrency() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxInFlight
}

// arPyError is the error object of a Python function that raised.
func arPyError(typ, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"errorMessage": msg, "errorType": typ, "requestId": "", "stackTrace": []string{}})
	return b
}

// run executes the function: the response payload, the FunctionError and,
// for lambda_sqs_integration.py, the error it reports.
func (l *arLambda) run(ctx context.Context, payload []byte) (resp []byte, functionError string, note *string) {
	raise := func(typ, msg string) ([]byte, string, *string) { return arPyError(typ, msg), "Unhandled", &msg }
	var event struct {
		Records []map[string]any `json:"Records"`
	}
	_ = json.Unmarshal(payload, &event)
	switch l.fn.Kind {
	case "echo":
		return bytes.Clone(payload), "", nil
	case "raise":
		return raise(l.fn.ErrorType, l.fn.ErrorMessage)
	case "respond":
		if l.fn.Payload == nil {
			return nil, "", nil
		}
		return []byte(*l.fn.Payload), "", nil
	case "sleep":
		select {
		case <-time.After(time.Duration(l.fn.SleepSeconds * float64(time.Second))):
		case <-ctx.Done():
			return raise("Sandbox.Timedout", "Task timed out")
		}
		return []byte("null"), "", nil
	case "kinesisBatchItemFailures":
		failures := []map[string]string{}
		for _, r := range event.Records {
			k, _ := r["kinesis"].(map[string]any)
			data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(k["data"]))
			var body map[string]any
			_ = json.Unmarshal(data, &body)
			if fail, _ := body["should_fail"].(bool); fail {
				failures = append(failures, map[string]string{"itemIdentifier": fmt.Sprint(k["sequenceNumber"])})
			}
		}
		b, _ := json.Marshal(map[string]any{"batchItemFailures": failures})
		return b, "", nil
	case "dynamodbBatchItemFailures":
		failures := []map[string]string{}
		for _, r := range event.Records {
			d, _ := r["dynamodb"].(map[string]any)
			img, _ := d["NewImage"].(map[string]any)
			sf, _ := img["should_fail"].(map[string]any)
			if fail, _ := sf["BOOL"].(bool); fail {
				failures = append(failures, map[string]string{"itemIdentifier": fmt.Sprint(d["SequenceNumber"])})
			}
		}
		b, _ := json.Marshal(map[string]any{"batchItemFailures": failures})
		return b, "", nil
	case "sqsIntegration":
		if len(event.Records) != 1 {
			return raise("ValueError", "the payload must consist of exactly one record")
		}
		r := event.Records[0]
		var message map[string]any
		if err := json.Unmarshal([]byte(fmt.Sprint(r["body"])), &message); err != nil {
			return raise("JSONDecodeError", "Expecting property name enclosed in double quotes")
		}
		if s, _ := message["destination"].(string); s == "" {
			return raise("ValueError", "no destination for the event given")
		}
		attrs, _ := r["attributes"].(map[string]any)
		count, _ := strconv.Atoi(fmt.Sprint(attrs["ApproximateReceiveCount"]))
		if fa, _ := message["fail_attempts"].(float64); int(fa) >= count {
			return raise("ValueError", "failed attempt")
		}
		return []byte("null"), "", nil
	case "sqsBatchItemFailure":
		if len(event.Records) == 0 {
			return raise("ValueError", "no records passed to event")
		}
		failures := []map[string]string{}
		for _, r := range event.Records {
			var message map[string]any
			if err := json.Unmarshal([]byte(fmt.Sprint(r["body"])), &message); err != nil {
				return raise("JSONDecodeError", "Expecting value")
			}
			fa, ok := message["fail_attempts"].(float64)
			if !ok {
				return raise("ValueError", "no fail_attempts for the event given")
			}
			attrs, _ := r["attributes"].(map[string]any)
			count, _ := strconv.Atoi(fmt.Sprint(attrs["ApproximateReceiveCount"]))
			if int(fa) >= count {
				failures = append(failures, map[string]string{"itemIdentifier": fmt.Sprint(r["messageId"])})
			}
		}
		if l.fn.Payload != nil { // OVERWRITE_RESULT: JSON if it parses, else the string
			if json.Valid([]byte(*l.fn.Payload)) {
				return []byte(*l.fn.Payload), "", nil
			}
			b, _ := json.Marshal(*l.fn.Payload)
			return b, "", nil
		}
		b, _ := json.Marshal(map[string]any{"batchItemFailures": failures})
		return b, "", nil
	}
	return raise("Exception", "esm awsrecorded test: unknown function kind "+strconv.Quote(l.fn.Kind))
}

// arS3 is a fake S3 bucket: it keeps every object put.
type arS3 struct {
	mu      sync.Mutex
	objects []arS3Object
}

type arS3Object struct {
	Bucket, Key string
	Body        []byte
}

func (s *arS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects = append(s.objects, arS3Object{Bucket: *in.Bucket, Key: *in.Key, Body: body})
	return &s3.PutObjectOutput{}, nil
}

func (s *arS3) Objects() []arS3Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arS3Object(nil), s.objects...)
}
