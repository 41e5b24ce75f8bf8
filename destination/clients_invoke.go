package destination

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// LambdaAPI is the part of the Lambda API that the Lambda sender calls.
// *lambda.Client satisfies it.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// EventBridgeAPI is the part of the EventBridge API that the EventBridge
// sender calls. *eventbridge.Client satisfies it.
type EventBridgeAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var (
	_ LambdaAPI      = (*lambda.Client)(nil)
	_ EventBridgeAPI = (*eventbridge.Client)(nil)
)
