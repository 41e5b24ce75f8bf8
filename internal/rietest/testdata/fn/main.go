//go:build ignore

// Command fn is the Lambda function of the tests that run a real function
// under the Runtime Interface Emulator (internal/rietest builds it). It
// answers by the shape of its event:
//
//   - An SQS event: every message whose body is "fail" is reported in
//     batchItemFailures; a body "crash" makes the function return an error.
//   - {"action": "error"}: returns an error (a function error, "Unhandled").
//   - {"action": "null"}: returns nothing (payload null).
//   - {"action": "list"}: returns [].
//   - An invocation record (it has requestContext): appends the event, one
//     line, to the file named by FN_RECORD_FILE, and returns nothing.
//   - Anything else: returns {"echo": <event>}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type probe struct {
	Records        []events.SQSMessage `json:"Records"`
	Action         string              `json:"action"`
	RequestContext json.RawMessage     `json:"requestContext"`
}

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	switch {
	case len(p.Records) > 0:
		var resp events.SQSEventResponse
		for _, m := range p.Records {
			switch m.Body {
			case "crash":
				return nil, errors.New("crash requested by message " + m.MessageId)
			case "fail":
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return resp, nil
	case len(p.RequestContext) > 0:
		f, err := os.OpenFile(os.Getenv("FN_RECORD_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		_, err = f.Write(append(raw, '\n'))
		return nil, err
	}
	switch p.Action {
	case "error":
		return nil, errors.New("error requested")
	case "null":
		return nil, nil
	case "list":
		return []int{}, nil
	}
	return map[string]json.RawMessage{"echo": raw}, nil
}

func main() { lambda.Start(handle) }
