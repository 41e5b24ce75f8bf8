package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/event"
)

// LambdaAPI is the part of the Lambda API that [Function] calls.
// *lambda.Client satisfies it, for real AWS or for a function image run
// under the Runtime Interface Emulator (BaseEndpoint
// http://127.0.0.1:8080, function name "function").
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ LambdaAPI = (*lambda.Client)(nil)

// FunctionOption changes how [Function] calls the function.
type FunctionOption func(*functionOptions)

type functionOptions struct {
	qualifier               string
	ignoreInvalidResponse   bool
	onlyFunctionErrorHeader bool
}

// WithQualifier names the version or alias to invoke. Without it the
// unqualified function ($LATEST) is invoked, unless the name carries a
// qualifier.
func WithQualifier(q string) FunctionOption {
	return func(o *functionOptions) { o.qualifier = q }
}

// WithInvalidResponseIgnored makes a response that is not JSON, or does not
// decode into the response type, a success with the zero response instead
// of a [*ResponseError]. Lambda never reads the response of a mapping
// without ReportBatchItemFailures; leave it off where the response matters
// (partial batch responses), since Lambda fails the whole batch on an
// invalid response.
func WithInvalidResponseIgnored() FunctionOption {
	return func(o *functionOptions) { o.ignoreInvalidResponse = true }
}

// WithFunctionErrorHeaderOnly turns off the recognition of error objects in
// successful responses (see [Function]): only a FunctionError in the
// response is a function error.
func WithFunctionErrorHeaderOnly() FunctionOption {
	return func(o *functionOptions) { o.onlyFunctionErrorHeader = true }
}

// ResponseError is the error [Function] returns for a response that is not
// JSON or does not decode into the response type: an itemIdentifier that is
// a number ({"batchItemFailures":[{"itemIdentifier":123}]}), a
// batchItemFailures that is not a list of objects, a payload that is not an
// object. It is not a function error: the function ran and returned.
// Lambda treats such a response as an invalid partial batch response — with
// ReportBatchItemFailures, the whole batch fails and is retried, and the
// failure record has functionError null, not "Unhandled"; without it, the
// response is not read and the batch succeeds.
//
// Packages that cannot import invoke (the mapping engines) recognise it by
// its method InvalidPartialBatchResponse, through errors.As with a target
// of type interface{ InvalidPartialBatchResponse() bool }; others may use
// errors.Is(err, [lambdaesm.ErrInvalidResponse]) or errors.As with a *ResponseError.
type ResponseError struct {
	// Payload is the response as the function returned it.
	Payload []byte
	// Err is the decoding error.
	Err error
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("invoke: invalid partial batch response %.200q: %v", e.Payload, e.Err)
}

// Unwrap returns the decoding error.
func (e *ResponseError) Unwrap() error { return e.Err }

// Is reports whether target is [lambdaesm.ErrInvalidResponse].
func (e *ResponseError) Is(target error) bool { return target == lambdaesm.ErrInvalidResponse }

// InvalidPartialBatchResponse reports true: the response is an invalid
// partial batch response, not a function error. It is how the mapping
// engines, which cannot import invoke, recognise a *ResponseError.
func (e *ResponseError) InvalidPartialBatchResponse() bool { return true }

// Function returns a handler that runs the Lambda function functionName
// through client: each event is sent as JSON with a synchronous
// (RequestResponse) Invoke, and the response payload is decoded into R. The
// JSON is the one Lambda sends: an events.SQSEvent's message without message
// attributes has "md5OfMessageAttributes": null, as in AWS, where
// json.Marshal would write "". It serves every mapping (Kinesis, DynamoDB
// Streams, SQS), so that Lambda's pollers drive an existing function, in AWS
// or in a function image running locally under the Runtime Interface
// Emulator; and the asynchronous invoker.
//
// The response follows Lambda's rules for partial batch responses:
//
//   - A FunctionError in the response (an error returned or thrown by the
//     function, a timeout, a crash) is a function error, a [*FunctionError]
//     carrying the payload. So is a payload that is an error object of
//     Lambda's runtimes and nothing else (errorMessage and errorType, with
//     at most stackTrace, trace, cause and requestId besides), with Kind
//     "Unhandled": the Runtime Interface Emulator drops the FunctionError
//     header and answers a failed invocation with that object alone.
//   - An empty payload, null, "", {} or [] is a success with the zero R:
//     Lambda treats an empty or null response as a complete success.
//   - Any other payload is decoded into R (batchItemFailures and all). A
//     payload that is not JSON or does not fit R is a [*ResponseError]: an
//     invalid partial batch response, which fails the whole batch but is
//     not a function error (see [WithInvalidResponseIgnored]). An empty,
//     null or missing itemIdentifier decodes as "", which the mappings
//     reject the same way.
//   - An error of the Invoke call itself (throttling, network, a missing
//     function) is returned as it is, wrapped with the function's name.
//
// The handler's context bounds the call; the function's own timeout is the
// function's configuration.
func Function[E, R any](client LambdaAPI, functionName string, opts ...FunctionOption) esm.Handler[E, R] {
	var o functionOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return esm.HandlerFunc[E, R](func(ctx context.Context, ev E) (R, error) {
		var zero R
		payload, err := event.Marshal(ev)
		if err != nil {
			return zero, fmt.Errorf("invoke: encode event for function %s: %w", functionName, err)
		}
		in := &lambda.InvokeInput{
			FunctionName:   aws.String(functionName),
			InvocationType: lambdatypes.InvocationTypeRequestResponse,
			Payload:        payload,
		}
		if o.qualifier != "" {
			in.Qualifier = aws.String(o.qualifier)
		}
		out, err := client.Invoke(ctx, in)
		if err != nil {
			err = fmt.Errorf("invoke: function %s: %w", functionName, err)
			if notInvoked(err) {
				err = &lambdaesm.NotInvokedError{Err: err}
			}
			return zero, err
		}
		if out.FunctionError != nil {
			return zero, newFunctionError(*out.FunctionError, out.Payload)
		}
		if !o.onlyFunctionErrorHeader && isErrorObject(out.Payload) {
			return zero, newFunctionError(destination.Unhandled, out.Payload)
		}
		r, err := decodeResponse[R](out.Payload)
		if err != nil && o.ignoreInvalidResponse {
			return zero, nil
		}
		return r, err
	})
}

// newFunctionError reads the error object of a failed invocation's payload.
func newFunctionError(kind string, payload []byte) *FunctionError {
	fe := &FunctionError{Kind: kind, Payload: bytes.Clone(payload)}
	var obj errorObject
	if json.Unmarshal(payload, &obj) == nil {
		fe.Type, fe.Message = obj.Type, obj.Message
	}
	return fe
}

// errorObjectKeys are the members of the runtimes' error objects: Go's
// (errorMessage, errorType, stackTrace), Node's (trace), Python's
// (requestId), Java's (cause).
var errorObjectKeys = map[string]bool{
	"errorMessage": true, "errorType": true, "stackTrace": true, "trace": true, "cause": true, "requestId": true,
}

// isErrorObject reports whether payload is a runtime's error object: a JSON
// object with errorMessage and errorType and no member outside
// errorObjectKeys.
func isErrorObject(payload []byte) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(payload, &obj) != nil {
		return false
	}
	for k := range obj {
		if !errorObjectKeys[k] {
			return false
		}
	}
	_, msg := obj["errorMessage"]
	_, typ := obj["errorType"]
	return msg && typ
}

// decodeResponse decodes a function's response payload into R, after
// Lambda's rules (see [Function]).
func decodeResponse[R any](payload []byte) (R, error) {
	var r R
	body := bytes.TrimSpace(payload)
	switch string(body) {
	case "", "null":
		return r, nil
	}
	if err := json.Unmarshal(body, &r); err != nil {
		switch string(body) {
		case `""`, "{}", "[]":
			var zero R
			return zero, nil
		}
		var zero R
		return zero, &ResponseError{Payload: bytes.Clone(payload), Err: err}
	}
	return r, nil
}

// notInvoked tells whether the Lambda service refused or failed the call
// before the function ran: throttling (429, TooManyRequestsException and its
// kin) or a service error (5xx).
func notInvoked(err error) bool {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusTooManyRequests || re.HTTPStatusCode() >= 500) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "TooManyRequestsException", "ThrottlingException", "ServiceException", "EC2ThrottledException",
			"ResourceNotReadyException", "ResourceConflictException":
			return true
		}
	}
	return false
}
