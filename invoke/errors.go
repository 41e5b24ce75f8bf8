package invoke

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
)

// ErrQueueFull is returned by Invoke when the invoker already holds
// WithQueueCapacity events. The event was not queued; the caller may
// retry later (Lambda answers 429 to an invocation it cannot take).
var ErrQueueFull = errors.New("invoke: queue full")

// ErrPayloadTooLarge is returned (wrapped) by Invoke for an event whose JSON
// is larger than WithMaxPayloadBytes.
var ErrPayloadTooLarge = errors.New("invoke: payload too large")

// FunctionError is the function error of a Lambda function: the
// FunctionError field of an Invoke response and the error object the
// function returned as its payload. [Function] returns it; a handler may
// return one too. The asynchronous invoker writes Kind as
// responseContext.functionError and Payload as responsePayload of the
// failure record.
type FunctionError struct {
	// Kind is the response's FunctionError: "Unhandled" (Lambda reports
	// every runtime error so) or "Handled".
	Kind string
	// Type and Message are errorType and errorMessage of the payload,
	// when it has them.
	Type    string
	Message string
	// Payload is the response payload, as the function returned it.
	Payload json.RawMessage
}

func (e *FunctionError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Payload)
	}
	if e.Type != "" {
		msg = e.Type + ": " + msg
	}
	return fmt.Sprintf("function error (%s): %s", e.Kind, msg)
}

// errorObject is the error object of Lambda's runtimes, as aws-lambda-go
// writes it.
type errorObject struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType,omitempty"`
}

// errorPayload turns a function error into responseContext.functionError and
// responsePayload: a [*FunctionError]'s own, or the error object the Go
// runtime (aws-lambda-go) would have written.
func errorPayload(err error) (kind string, payload json.RawMessage) {
	if fe, ok := errors.AsType[*FunctionError](err); ok && len(fe.Payload) > 0 {
		kind = fe.Kind
		if kind == "" {
			kind = destination.Unhandled
		}
		return kind, fe.Payload
	}
	obj := errorObject{Message: err.Error(), Type: typeName(err)}
	if pe, ok := errors.AsType[*esm.PanicError](err); ok {
		obj = errorObject{Message: fmt.Sprint(pe.Value), Type: typeName(pe.Value)}
	}
	b, mErr := json.Marshal(obj)
	if mErr != nil { // unreachable: two strings always encode
		b = []byte("null")
	}
	return destination.Unhandled, b
}

// errorMessage is the message of a function error, as a dead-letter
// message's ErrorMessage: errorMessage of its error object, or the whole
// payload when it has none.
func errorMessage(err error) string {
	_, payload := errorPayload(err)
	var obj errorObject
	if json.Unmarshal(payload, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	var s string
	if json.Unmarshal(payload, &s) == nil {
		return s
	}
	return string(payload)
}

// statusCode is the HTTP status code of an attempt that failed with err, as
// a dead-letter message's ErrorCode: the status of a failed Invoke call
// ([Function]) when it has one, else 200, the status of an invocation whose
// function returned an error.
func statusCode(err error) int {
	if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok && re.HTTPStatusCode() != 0 {
		return re.HTTPStatusCode()
	}
	return http.StatusOK
}

// typeName names v's type as aws-lambda-go does for errorType: the type's
// name, without the pointer.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
