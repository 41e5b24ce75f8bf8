package destination

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Message is one record to deliver. Build it with [StreamFailure.Message] or
// [InvocationRecord.Message].
type Message struct {
	// Record is the record's JSON, exactly as SQS and SNS receive it.
	Record json.RawMessage
	// Reduced, when set, is the record with its payloads dropped. The SNS
	// sender sends it instead of Record when Record is over SNS's size
	// limit, as Lambda does.
	Reduced json.RawMessage
	// Payload is the invocation event ({"Records":[...]}) of a stream
	// failure, set for a sender that wants it ([PayloadReceiver]). Only
	// the S3 sender writes it (as the record's "payload").
	Payload json.RawMessage
	// Attributes are message attributes sent beside the record (those of
	// a dead-letter message, [NewDeadLetter]). The SQS and SNS senders send
	// them as message attributes; the others ignore them.
	Attributes map[string]Attribute
	// MappingID (the event source mapping's UUID), ShardID and Time (the
	// record's timestamp) name the S3 object:
	// aws/lambda/<MappingID>/<ShardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>.
	MappingID string
	ShardID   string
	Time      time.Time
}

// Sender delivers records to one destination.
//
// Send makes one attempt and returns its error as a [*SendError] naming the
// destination; it does not retry (beyond what the AWS client's own retryer
// does). The caller owns retries: the stream engine retries with backoff
// and holds the shard's checkpoint until the record is accepted, so nothing
// is lost while a destination is down. Senders are safe for concurrent use.
type Sender interface {
	// Send delivers m once: nil when the destination accepted it, else a
	// *SendError.
	Send(ctx context.Context, m Message) error
}

// PayloadReceiver is the optional interface of a [Sender] that wants the
// invocation event of a stream failure in [Message.Payload], as an S3
// destination does: a mapping builds the event ({"Records":[...]}) only for
// a sender whose WantsPayload reports true ([WantsPayload]). [S3Sender] and
// [Memory] implement it. A sender that wraps another should implement it
// by asking the wrapped one, or the payload is lost:
//
//	func (w logging) WantsPayload() bool { return destination.WantsPayload(w.next) }
type PayloadReceiver interface {
	Sender
	// WantsPayload reports whether Send wants Message.Payload.
	WantsPayload() bool
}

// WantsPayload reports whether s wants [Message.Payload]: whether it is a
// [PayloadReceiver] whose WantsPayload reports true. It is false for nil.
func WantsPayload(s Sender) bool {
	p, ok := s.(PayloadReceiver)
	return ok && p.WantsPayload()
}

// SendError is the error of a failed [Sender.Send].
type SendError struct {
	// Destination is the destination's ARN.
	Destination string
	// Err is the cause (the AWS client's error, or the context's).
	Err error
}

// Error returns "destination <ARN>: " and the cause.
func (e *SendError) Error() string { return "destination " + e.Destination + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *SendError) Unwrap() error { return e.Err }

// Clients holds the AWS clients [ForARN] may need. Each is needed only for
// destinations of its service.
type Clients struct {
	SQS         SQSAPI
	SNS         SNSAPI
	S3          S3API
	Lambda      LambdaAPI
	EventBridge EventBridgeAPI
}

// ForARN returns the sender for a destination ARN, chosen by the ARN's
// service: an SQS queue ([NewSQS]), an SNS topic ([NewSNS]), an S3 bucket
// ([NewS3]), a Lambda function ([NewLambda]) or an EventBridge bus
// ([NewEventBridge]). It fails when the ARN is malformed, names another service, or
// the client for its service is missing from c.
func ForARN(destinationARN string, c Clients) (Sender, error) {
	a, err := parseARN(destinationARN)
	if err != nil {
		return nil, err
	}
	missing := func(name string) error {
		return fmt.Errorf("destination %s: no %s client (Clients.%s is nil)", destinationARN, name, name)
	}
	switch a.Service {
	case "sqs":
		if c.SQS == nil {
			return nil, missing("SQS")
		}
		return NewSQS(c.SQS, destinationARN)
	case "sns":
		if c.SNS == nil {
			return nil, missing("SNS")
		}
		return NewSNS(c.SNS, destinationARN)
	case "s3":
		if c.S3 == nil {
			return nil, missing("S3")
		}
		return NewS3(c.S3, destinationARN)
	case "lambda":
		if c.Lambda == nil {
			return nil, missing("Lambda")
		}
		return NewLambda(c.Lambda, destinationARN)
	case "events":
		if c.EventBridge == nil {
			return nil, missing("EventBridge")
		}
		return NewEventBridge(c.EventBridge, destinationARN)
	}
	return nil, fmt.Errorf("destination %s: unsupported service %q (want an SQS queue, SNS topic, S3 bucket, Lambda function or EventBridge bus)", destinationARN, a.Service)
}

// parseARN parses a destination ARN.
func parseARN(s string) (arn.ARN, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return arn.ARN{}, fmt.Errorf("destination %q: %w", s, err)
	}
	return a, nil
}

// parseRegional parses the ARN of an SQS queue or SNS topic
// (arn:<partition>:<service>:<region>:<account>:<name>).
func parseRegional(s, service, what string) (arn.ARN, error) {
	a, err := parseARN(s)
	if err != nil {
		return arn.ARN{}, err
	}
	switch {
	case a.Service != service:
		return arn.ARN{}, fmt.Errorf("destination %s: not an %s ARN", s, what)
	case a.AccountID == "" || a.Resource == "" || strings.ContainsAny(a.Resource, ":/"):
		return arn.ARN{}, fmt.Errorf("destination %s: want arn:<partition>:%s:<region>:<account>:<name>", s, service)
	case strings.HasSuffix(a.Resource, ".fifo"):
		// Lambda fails every delivery to a FIFO queue or topic
		// (DestinationDeliveryFailures); refusing it here says so early.
		return arn.ARN{}, fmt.Errorf("destination %s: FIFO %ss are not supported as destinations (Lambda cannot deliver to them either)", s, what)
	}
	return a, nil
}
