package destination

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/limits"
)

// What Lambda writes in the events it puts on an EventBridge destination.
const (
	// eventBridgeSource is the events' source.
	eventBridgeSource = "lambda"
	// detailTypeSuccess is the detail-type of a Success record.
	detailTypeSuccess = "Lambda Function Invocation Result - Success"
	// detailTypeFailure is the detail-type of every other record
	// (RetriesExhausted, EventAgeExceeded).
	detailTypeFailure = "Lambda Function Invocation Result - Failure"
)

// EventBridgeSender puts records on an EventBridge event bus, one PutEvents
// entry per record, as Lambda does for an event bus destination: source
// "lambda", detail-type "Lambda Function Invocation Result - Success" or
// "- Failure" after the record's condition, the record as the detail, and
// the bus and the function as the resources.
type EventBridgeSender struct {
	client EventBridgeAPI
	arn    string
}

// NewEventBridge returns a sender to the event bus with this ARN
// (arn:<partition>:events:<region>:<account>:event-bus/<name>). It does no
// I/O.
func NewEventBridge(client EventBridgeAPI, busARN string) (*EventBridgeSender, error) {
	a, err := parseARN(busARN)
	if err != nil {
		return nil, err
	}
	name, ok := strings.CutPrefix(a.Resource, "event-bus/")
	if a.Service != "events" || a.AccountID == "" || !ok || name == "" {
		return nil, fmt.Errorf("destination %s: not an EventBridge event bus ARN (want arn:<partition>:events:<region>:<account>:event-bus/<name>)", busARN)
	}
	return &EventBridgeSender{client: client, arn: busARN}, nil
}

// ARN returns the event bus's ARN.
func (s *EventBridgeSender) ARN() string { return s.arn }

// Send puts m.Record on the bus as one event's detail (m.Reduced when the
// record is over 256 KB, Lambda's limit for an asynchronous event). An entry that EventBridge refuses
// (FailedEntryCount) is an error.
func (s *EventBridgeSender) Send(ctx context.Context, m Message) error {
	body, err := fitRecord(m, limits.MaxAsyncPayload)
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	var rec struct {
		RequestContext RequestContext `json:"requestContext"`
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		return &SendError{Destination: s.arn, Err: fmt.Errorf("record is not an invocation record: %w", err)}
	}
	detailType := detailTypeFailure
	if rec.RequestContext.Condition == lambdaesm.Success {
		detailType = detailTypeSuccess
	}
	resources := []string{s.arn}
	if fn := rec.RequestContext.FunctionARN; fn != "" {
		resources = append(resources, fn)
	}
	out, err := s.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(s.arn),
		Source:       aws.String(eventBridgeSource),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(body)),
		Resources:    resources,
	}}})
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	if out.FailedEntryCount > 0 {
		cause := "entry refused"
		if len(out.Entries) > 0 && out.Entries[0].ErrorCode != nil {
			cause = aws.ToString(out.Entries[0].ErrorCode) + ": " + aws.ToString(out.Entries[0].ErrorMessage)
		}
		return &SendError{Destination: s.arn, Err: fmt.Errorf("PutEvents: %s", cause)}
	}
	return nil
}
