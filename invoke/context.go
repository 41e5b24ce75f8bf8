package invoke

import (
	"context"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

type infoKey struct{}

type info struct {
	attempt   int
	requestID string
}

// Attempt returns the attempt number of the invocation whose context ctx is:
// 1 for the first attempt, 2 and 3 for Lambda's retries. It returns 0 for a
// context that no invoker made.
func Attempt(ctx context.Context) int {
	in, _ := ctx.Value(infoKey{}).(info)
	return in.attempt
}

// RequestID returns the request ID of the invocation whose context ctx is,
// or "" for a context that no invoker made. Retries of an event keep its
// request ID, as in Lambda; it is also lambdacontext.FromContext(ctx).AwsRequestID.
func RequestID(ctx context.Context) string {
	in, _ := ctx.Value(infoKey{}).(info)
	return in.requestID
}

// attemptContext carries the attempt's facts: for [Attempt] and [RequestID],
// and for handlers written for Lambda, in lambdacontext.
func attemptContext(ctx context.Context, requestID string, attempt int, functionARN string) context.Context {
	ctx = context.WithValue(ctx, infoKey{}, info{attempt: attempt, requestID: requestID})
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: functionARN})
}
