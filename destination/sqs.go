package destination

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSSender sends records to a standard SQS queue, one SendMessage per
// record, with the record JSON as the message body.
type SQSSender struct {
	client  SQSAPI
	arn     string
	name    string
	account string

	mu  sync.Mutex
	url string // from GetQueueUrl; empty until resolved
}

// NewSQS returns a sender to the queue with this ARN. The queue's URL comes
// from GetQueueUrl (QueueName and QueueOwnerAWSAccountId from the ARN) on the
// first Send, and is kept; it is never built from the ARN, since endpoints
// (and emulators) issue URLs of their own form. NewSQS does no I/O.
func NewSQS(client SQSAPI, queueARN string) (*SQSSender, error) {
	a, err := parseRegional(queueARN, "sqs", "SQS queue")
	if err != nil {
		return nil, err
	}
	return &SQSSender{client: client, arn: queueARN, name: a.Resource, account: a.AccountID}, nil
}

// ARN returns the queue's ARN.
func (s *SQSSender) ARN() string { return s.arn }

// Send sends m.Record as one message, with m.Attributes as its message
// attributes. A failed GetQueueUrl is retried on the
// next Send; so is the URL lookup after the queue was reported missing.
func (s *SQSSender) Send(ctx context.Context, m Message) error {
	url, err := s.queueURL(ctx)
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	body := string(m.Record)
	in := &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}
	if len(m.Attributes) > 0 {
		in.MessageAttributes = make(map[string]sqstypes.MessageAttributeValue, len(m.Attributes))
		for k, a := range m.Attributes {
			in.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: aws.String(a.DataType), StringValue: aws.String(a.Value)}
		}
	}
	_, err = s.client.SendMessage(ctx, in)
	if err != nil {
		if _, ok := errors.AsType[*sqstypes.QueueDoesNotExist](err); ok {
			s.forget(url)
		}
		return &SendError{Destination: s.arn, Err: err}
	}
	return nil
}

func (s *SQSSender) queueURL(ctx context.Context) (string, error) {
	s.mu.Lock()
	url := s.url
	s.mu.Unlock()
	if url != "" {
		return url, nil
	}
	out, err := s.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &s.name, QueueOwnerAWSAccountId: &s.account})
	if err != nil {
		return "", err
	}
	if out.QueueUrl == nil || *out.QueueUrl == "" {
		return "", errors.New("GetQueueUrl returned no URL")
	}
	s.mu.Lock()
	s.url = *out.QueueUrl
	s.mu.Unlock()
	return *out.QueueUrl, nil
}

// forget drops the cached URL (if it is still url), so that the next Send
// looks it up again.
func (s *SQSSender) forget(url string) {
	s.mu.Lock()
	if s.url == url {
		s.url = ""
	}
	s.mu.Unlock()
}
