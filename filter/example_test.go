package filter_test

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm/filter"
)

// An SQS mapping keeps the messages that satisfy one of its filters; Lambda
// deletes the others.
func Example() {
	f, err := filter.Compile([]string{
		`{"body": {"RequestCode": ["BBBB"], "RecordNumber": [{"numeric": [">", 1000]}]}}`,
		`{"body": [{"prefix": "URGENT"}]}`,
	}, filter.WithSource(filter.SourceSQS))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, body := range []string{
		`{"RecordNumber": 1234, "RequestCode": "BBBB"}`,
		`{"RecordNumber": 1234, "RequestCode": "AAAA"}`,
		`URGENT: call back`,
		`{"note": "URGENT"}`,
	} {
		msg := events.SQSMessage{MessageId: "1", Body: body, EventSource: "aws:sqs"}
		fmt.Printf("%-45s %v\n", body, f.MatchSQSMessage(msg))
	}
	// Output:
	// {"RecordNumber": 1234, "RequestCode": "BBBB"} true
	// {"RecordNumber": 1234, "RequestCode": "AAAA"} false
	// URGENT: call back                             true
	// {"note": "URGENT"}                            false
}

// Compile refuses what AWS refuses, with AWS's message and a reason.
func ExampleCompile_invalid() {
	_, err := filter.Compile([]string{
		`{"eventSource": "aws:sqs"}`,
		`{"eventName": ["INSERT"]}`,
		`{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": ["<", 10, ">", 0]}]}}}}`,
	})
	fmt.Println(errors.Is(err, filter.ErrInvalidPattern))
	fmt.Println(err)
	// Output:
	// true
	// Invalid filter pattern definition.
	// 	pattern 0 at eventSource: the value of "eventSource" must be a list of values like ["a"] or an object of fields, not the string "aws:sqs"
	// 	pattern 2 at dynamodb.NewImage.n.N[0].numeric: an upper bound ("<") must come last: write the lower bound first, as [">", 0, "<=", 5]
}

// MatchJSON matches records given as JSON, decoding only the fields the
// patterns name.
func ExampleFilter_MatchJSON() {
	f, err := filter.Compile([]string{`{"detail": {"state": [{"anything-but": "initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}]}}`})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, err := f.MatchJSON([]byte(`{"source": "aws.ec2", "detail": {"state": "running", "c-count": 5}}`))
	fmt.Println(ok, err)
	ok, err = f.MatchJSON([]byte(`{"source": "aws.ec2", "detail": {"state": "initializing", "c-count": 5}}`))
	fmt.Println(ok, err)
	// Output:
	// true <nil>
	// false <nil>
}
