package invoke_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/invoke"
)

type payment struct {
	ID    string `json:"id"`
	Cents int    `json:"cents"`
}

// ledger stands for a store with conditional writes (a DynamoDB PutItem with
// attribute_not_exists, a unique key in SQL).
type ledger struct {
	mu      sync.Mutex
	claimed map[string]bool
}

// claim records id and reports whether it was new.
func (l *ledger) claim(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claimed[id] {
		return false
	}
	l.claimed[id] = true
	return true
}

// The first attempt charges the payment and then fails on its way out; the
// retry finds the payment claimed and succeeds without charging it again.
func Example_idempotency() {
	l := &ledger{claimed: map[string]bool{}}
	h := esm.HandlerFunc[payment, struct{}](func(ctx context.Context, p payment) (struct{}, error) {
		if !l.claim(p.ID) {
			fmt.Printf("attempt %d: %s already charged, nothing to do\n", invoke.Attempt(ctx), p.ID)
			return struct{}{}, nil
		}
		fmt.Printf("attempt %d: charging %s: %d cents\n", invoke.Attempt(ctx), p.ID, p.Cents)
		if invoke.Attempt(ctx) == 1 {
			return struct{}{}, errors.New("connection reset while acknowledging")
		}
		return struct{}{}, nil
	})
	onSuccess := &destination.Memory{}
	inv, err := invoke.New(h, invoke.Config{ // Lambda waits a minute
		OnSuccess: onSuccess}, invoke.WithRetryDelays(10*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()

	if _, err := inv.Invoke(ctx, payment{ID: "pay-1", Cents: 500}); err != nil {
		fmt.Println(err)
	}
	if err := inv.Shutdown(ctx); err != nil { // waits for the retry
		fmt.Println(err)
	}
	<-done
	fmt.Println("success records:", len(onSuccess.Messages()))
	// Output:
	// attempt 1: charging pay-1: 500 cents
	// attempt 2: pay-1 already charged, nothing to do
	// success records: 1
}

// Call is a synchronous invocation: the handler's error comes back to the
// caller, with no retry and no destination.
func ExampleInvoker_Call() {
	h := esm.HandlerFunc[payment, string](func(_ context.Context, p payment) (string, error) {
		if p.Cents <= 0 {
			return "", fmt.Errorf("payment %s: amount must be positive", p.ID)
		}
		return "accepted " + p.ID, nil
	})
	inv, err := invoke.New(h, invoke.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inv.Call(context.Background(), payment{ID: "pay-1", Cents: 500}))
	fmt.Println(inv.Call(context.Background(), payment{ID: "pay-2"}))
	// Output:
	// accepted pay-1 <nil>
	//  payment pay-2: amount must be positive
}

// rawLambda is a fake Lambda client that answers every Invoke with the same
// raw response payload, as a function returning exactly those bytes would.
type rawLambda string

func (r rawLambda) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(r)}, nil
}

// A malformed response is tested by returning its raw JSON through Function
// over a fake Lambda client: a Go handler cannot return an itemIdentifier
// that is a number, a function in another language can. The response is an
// invalid partial batch response, not a function error.
func ExampleFunction_malformedResponse() {
	for _, payload := range []string{
		`{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692538361571095921575989136588898"}]}`,
		`{"batchItemFailures":[{"itemIdentifier":123}]}`,
	} {
		h := invoke.Function[events.KinesisEvent, events.KinesisEventResponse](rawLambda(payload), "my-function")
		resp, err := h.Handle(context.Background(), events.KinesisEvent{})
		_, functionError := errors.AsType[*invoke.FunctionError](err)
		fmt.Println(len(resp.BatchItemFailures), errors.Is(err, lambdaesm.ErrInvalidResponse), functionError)
	}
	// Output:
	// 1 false false
	// 0 true false
}
