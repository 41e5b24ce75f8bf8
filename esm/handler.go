package esm

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
)

// Handler is a function under a mapping: it receives one batch as the Lambda
// event E and may return the Lambda response R (for partial batch responses).
// A non-nil error fails the whole batch, exactly like an error returned from a
// Lambda function. A panic is recovered and treated as a function error.
type Handler[E, R any] interface {
	// Handle handles one event (a batch, for a mapping). ctx ends at the
	// function timeout, or when the caller stops waiting (the context of
	// Run or Shutdown ended).
	Handle(ctx context.Context, event E) (R, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc[E, R any] func(ctx context.Context, event E) (R, error)

// Handle calls f.
func (f HandlerFunc[E, R]) Handle(ctx context.Context, event E) (R, error) { return f(ctx, event) }

// Signature lists the function shapes an existing Lambda handler has, so it
// can be passed unchanged to [HandleKinesis], [HandleDynamoDB] or [HandleSQS].
type Signature[E, R any] interface {
	func(context.Context, E) error |
		func(context.Context, E) (R, error) |
		func(context.Context, E) (*R, error)
}

// HandleKinesis adapts a Kinesis Lambda handler, with or without a response,
// to a [Handler].
func HandleKinesis[F Signature[events.KinesisEvent, events.KinesisEventResponse]](f F) Handler[events.KinesisEvent, events.KinesisEventResponse] {
	return adapt[events.KinesisEvent, events.KinesisEventResponse](f)
}

// HandleDynamoDB adapts a DynamoDB Streams Lambda handler, with or without a
// response, to a [Handler].
func HandleDynamoDB[F Signature[events.DynamoDBEvent, events.DynamoDBEventResponse]](f F) Handler[events.DynamoDBEvent, events.DynamoDBEventResponse] {
	return adapt[events.DynamoDBEvent, events.DynamoDBEventResponse](f)
}

// WindowSignature lists the function shapes of a tumbling window's Lambda
// handler: it must return its response, whose state is carried to the next
// invocation of the window, so a handler that returns only an error does
// not fit.
type WindowSignature[E, R any] interface {
	func(context.Context, E) (R, error) |
		func(context.Context, E) (*R, error)
}

// HandleKinesisWindow adapts the Lambda handler of a Kinesis mapping with a
// tumbling window to a [Handler] for [NewKinesisWindowMapping]. Each event
// carries the window, its state so far (empty, not nil, in the window's
// first invocation) and whether it is the window's final invocation; the
// response must carry the state: a nil State fails the invocation, as
// Lambda fails a response without one.
func HandleKinesisWindow[F WindowSignature[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse]](f F) Handler[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse] {
	return adapt[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse](f)
}

// HandleDynamoDBWindow adapts the Lambda handler of a DynamoDB Streams
// mapping with a tumbling window to a [Handler] for
// [NewDynamoDBWindowMapping] (see [HandleKinesisWindow]).
func HandleDynamoDBWindow[F WindowSignature[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse]](f F) Handler[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse] {
	return adapt[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse](f)
}

// HandleSQS adapts an SQS Lambda handler, with or without a response, to a
// [Handler].
func HandleSQS[F Signature[events.SQSEvent, events.SQSEventResponse]](f F) Handler[events.SQSEvent, events.SQSEventResponse] {
	return adapt[events.SQSEvent, events.SQSEventResponse](f)
}

func adapt[E, R any](f any) Handler[E, R] {
	if isNil(f) {
		// A nil function: the mapping constructors refuse a nil HandlerFunc,
		// where a wrapper around it would panic at the first batch.
		return HandlerFunc[E, R](nil)
	}
	switch f := f.(type) {
	case func(context.Context, E) error:
		return HandlerFunc[E, R](func(ctx context.Context, e E) (R, error) {
			var zero R
			return zero, f(ctx, e)
		})
	case func(context.Context, E) (R, error):
		return HandlerFunc[E, R](f)
	case func(context.Context, E) (*R, error):
		return HandlerFunc[E, R](func(ctx context.Context, e E) (R, error) {
			var r R
			p, err := f(ctx, e)
			if p != nil {
				r = *p
			}
			return r, err
		})
	}
	// Unreachable: the Signature constraint admits only the cases above.
	panic(fmt.Sprintf("esm: unsupported handler type %T", f))
}

// PanicError is the function error of a handler that panicked.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the handler goroutine's stack at the panic.
	Stack []byte
}

// Error returns "handler panicked: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }

// withLambdaContext gives a handler what Lambda puts in its context: a new
// request ID for each invocation and the function's ARN, in lambdacontext
// (lambdacontext.FromContext). The deadline is the context's own:
// FunctionTimeout. lambdacontext.FunctionName, a package variable Lambda's
// runtime sets from the environment, is left alone.
func withLambdaContext(ctx context.Context, functionARN string) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: uuid.New(), InvokedFunctionArn: functionARN})
}

// functionARNOf is the mapping's function ARN: Config.FunctionArn, or one
// derived from FunctionName or the mapping's name (WithName).
func functionARNOf(cfg Config, o options) string {
	if cfg.FunctionArn != "" {
		return cfg.FunctionArn
	}
	src, _ := cfg.EventSource()
	return src.FunctionARN(o.name)
}

// invoke calls h and turns a panic into a *PanicError.
func invoke[E, R any](ctx context.Context, h Handler[E, R], e E) (r R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return h.Handle(ctx, e)
}
