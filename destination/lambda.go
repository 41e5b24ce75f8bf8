package destination

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambdaesm/lambdaesm/internal/limits"
)

// LambdaSender sends records to a Lambda function: one asynchronous Invoke
// (InvocationType Event) per record, with the record JSON as the event, as
// Lambda does for a function destination.
type LambdaSender struct {
	client LambdaAPI
	arn    string
}

// NewLambda returns a sender to the function with this ARN
// (arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]).
// It does no I/O.
func NewLambda(client LambdaAPI, functionARN string) (*LambdaSender, error) {
	a, err := parseARN(functionARN)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(a.Resource, ":")
	if a.Service != "lambda" || a.AccountID == "" || len(parts) < 2 || len(parts) > 3 || parts[0] != "function" || parts[1] == "" {
		return nil, fmt.Errorf("destination %s: not a Lambda function ARN (want arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>])", functionARN)
	}
	return &LambdaSender{client: client, arn: functionARN}, nil
}

// ARN returns the function's ARN.
func (s *LambdaSender) ARN() string { return s.arn }

// Send invokes the function asynchronously with m.Record as the event, or
// m.Reduced when m.Record is over 256 KB, Lambda's limit for an asynchronous event.
func (s *LambdaSender) Send(ctx context.Context, m Message) error {
	body, err := fitRecord(m, limits.MaxAsyncPayload)
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	_, err = s.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(s.arn),
		InvocationType: lambdatypes.InvocationTypeEvent,
		Payload:        body,
	})
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	return nil
}

// fitRecord returns m.Record, or m.Reduced when the record is over limit
// bytes, or an error when neither fits.
func fitRecord(m Message, limit int) ([]byte, error) {
	if len(m.Record) <= limit {
		return m.Record, nil
	}
	if len(m.Reduced) == 0 || len(m.Reduced) > limit {
		return nil, fmt.Errorf("record of %d bytes is over the limit of %d bytes", len(m.Record), limit)
	}
	return m.Reduced, nil
}
