package esmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SNS is an in-memory Amazon SNS with topics whose sqs subscriptions deliver
// to the queues of a fake [SQS], in the standard JSON envelope or raw, like
// the service. It keeps every published message for assertions (see
// [SNS.Published]). It is safe for concurrent use; call [NewSNS].
//
// Only the sqs protocol is supported. Filter policies, delivery retries and
// permissions are not modelled; a subscription whose queue no longer exists
// drops messages silently, as SNS does.
type SNS struct {
	// Faults scripts failures and delays for CreateTopic, Subscribe and
	// Publish.
	Faults Faults

	queues  *SQS
	clock   Clock
	region  string
	account string

	mu        sync.Mutex
	topics    map[string]*snsTopic // by ARN
	published []Published
	ids       uint64
}

type snsTopic struct {
	name, arn    string
	fifo         bool
	contentDedup bool
	attrs        map[string]string
	subs         []snsSubscription
}

type snsSubscription struct {
	arn, queueARN string
	raw           bool
}

// Published is one message accepted by [SNS.Publish].
type Published struct {
	TopicArn               string
	MessageId              string
	Message                string // as published (for MessageStructure json, the whole JSON)
	Subject                string
	MessageAttributes      map[string]snstypes.MessageAttributeValue
	MessageGroupId         string
	MessageDeduplicationId string
	Timestamp              time.Time
}

// SNSOption configures [NewSNS].
type SNSOption func(*SNS)

// WithSNSClock makes the fake read time from c. The default is the clock of
// the SQS fake given to NewSNS, or [RealClock].
func WithSNSClock(c Clock) SNSOption { return func(s *SNS) { s.clock = c } }

// WithSNSRegion sets the region of topic ARNs. The default is the SQS fake's,
// or [DefaultRegion].
func WithSNSRegion(region string) SNSOption { return func(s *SNS) { s.region = region } }

// WithSNSAccount sets the account of topic ARNs. The default is the SQS
// fake's, or [DefaultAccount].
func WithSNSAccount(account string) SNSOption { return func(s *SNS) { s.account = account } }

// NewSNS returns a fake SNS whose sqs subscriptions deliver to queues of
// queues (which may be nil when nothing subscribes).
func NewSNS(queues *SQS, opts ...SNSOption) *SNS {
	s := &SNS{queues: queues, clock: RealClock, region: DefaultRegion, account: DefaultAccount, topics: map[string]*snsTopic{}}
	if queues != nil {
		s.clock, s.region, s.account = queues.clock, queues.region, queues.account
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// snsSenderID is the SenderId SQS reports for messages SNS delivered.
const snsSenderID = "AIDAIT2UOQQY3AUEKVGXU"

func snsInvalid(msg string) error {
	return &snstypes.InvalidParameterException{Message: new("Invalid parameter: " + msg)}
}

// CreateTopic creates a topic, or returns the ARN of the existing one of that
// name. A name ending in ".fifo" makes a FIFO topic (FifoTopic=true is
// required, as in SNS); ContentBasedDeduplication is honoured.
func (s *SNS) CreateTopic(ctx context.Context, in *sns.CreateTopicInput, _ ...func(*sns.Options)) (*sns.CreateTopicOutput, error) {
	if err := s.Faults.Before(ctx, "CreateTopic"); err != nil {
		return nil, err
	}
	if in == nil || in.Name == nil {
		return nil, snsInvalid("Name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.createTopic(*in.Name, in.Attributes)
	if err != nil {
		return nil, err
	}
	return &sns.CreateTopicOutput{TopicArn: new(t.arn)}, nil
}

func (s *SNS) createTopic(name string, attrs map[string]string) (*snsTopic, error) {
	fifo := strings.HasSuffix(name, ".fifo")
	if !sqsValidName(strings.TrimSuffix(name, ".fifo")) || len(name) > 256 {
		return nil, snsInvalid("Topic Name")
	}
	if fifo != (attrs["FifoTopic"] == "true") {
		return nil, snsInvalid("Fifo Topic names must end with .fifo and Standard Topic cannot end with .fifo")
	}
	arn := "arn:aws:sns:" + s.region + ":" + s.account + ":" + name
	if t := s.topics[arn]; t != nil {
		for k, v := range attrs {
			if t.attrs[k] != v {
				return nil, snsInvalid("Topic already exists with different attributes")
			}
		}
		return t, nil
	}
	t := &snsTopic{name: name, arn: arn, fifo: fifo, contentDedup: attrs["ContentBasedDeduplication"] == "true", attrs: maps.Clone(attrs)}
	s.topics[arn] = t
	return t, nil
}

// Subscribe subscribes a queue of the SQS fake (Protocol "sqs", Endpoint the
// queue ARN) to a topic. Attribute RawMessageDelivery "true" delivers the
// bare message with its attributes as SQS message attributes.
func (s *SNS) Subscribe(ctx context.Context, in *sns.SubscribeInput, _ ...func(*sns.Options)) (*sns.SubscribeOutput, error) {
	if err := s.Faults.Before(ctx, "Subscribe"); err != nil {
		return nil, err
	}
	if in == nil || in.TopicArn == nil || in.Protocol == nil || in.Endpoint == nil {
		return nil, snsInvalid("TopicArn, Protocol and Endpoint are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arn, err := s.subscribe(*in.TopicArn, *in.Protocol, *in.Endpoint, in.Attributes)
	if err != nil {
		return nil, err
	}
	return &sns.SubscribeOutput{SubscriptionArn: new(arn)}, nil
}

func (s *SNS) subscribe(topicARN, protocol, endpoint string, attrs map[string]string) (string, error) {
	t := s.topics[topicARN]
	if t == nil {
		return "", &snstypes.NotFoundException{Message: new("Topic does not exist")}
	}
	if protocol != "sqs" {
		return "", snsInvalid("the esmtest fake supports only the sqs protocol")
	}
	if s.queues == nil {
		return "", snsInvalid("SQS endpoint ARN (the fake SNS has no fake SQS)")
	}
	s.queues.mu.Lock()
	q := s.queues.byARN[endpoint]
	fifo := q != nil && q.cfg.fifo
	s.queues.mu.Unlock()
	if q == nil {
		return "", snsInvalid("SQS endpoint ARN")
	}
	if fifo != t.fifo {
		return "", snsInvalid("Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics")
	}
	for _, sub := range t.subs {
		if sub.queueARN == endpoint {
			return sub.arn, nil
		}
	}
	s.ids++
	sub := snsSubscription{arn: t.arn + ":" + sqsUUID(s.ids), queueARN: endpoint, raw: attrs["RawMessageDelivery"] == "true"}
	t.subs = append(t.subs, sub)
	return sub.arn, nil
}

// Publish publishes a message to a topic, delivering it to every subscribed
// queue. FIFO topics need MessageGroupId and a deduplication ID (or
// ContentBasedDeduplication), which pass through to the queues.
// MessageStructure "json" selects the "sqs" (or "default") key.
func (s *SNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	if err := s.Faults.Before(ctx, "Publish"); err != nil {
		return nil, err
	}
	if in == nil || in.TopicArn == nil {
		return nil, snsInvalid("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if in.Message == nil || *in.Message == "" {
		return nil, snsInvalid("Empty message")
	}
	if len(*in.Message) > 262144 {
		return nil, snsInvalid("Message too long")
	}
	if in.Subject != nil && (*in.Subject == "" || len(*in.Subject) > 100 || strings.ContainsAny(*in.Subject, "\r\n")) {
		return nil, snsInvalid("Subject")
	}
	for name, v := range in.MessageAttributes {
		if v.DataType == nil || (v.StringValue == nil && v.BinaryValue == nil) {
			return nil, snsInvalid("The message attribute '" + name + "' must contain non-empty message attribute value.")
		}
	}
	body := *in.Message
	if in.MessageStructure != nil && *in.MessageStructure == "json" {
		var byProto map[string]string
		if err := json.Unmarshal([]byte(body), &byProto); err != nil || byProto["default"] == "" {
			return nil, snsInvalid("Message Structure - JSON message body failed to parse")
		}
		body = byProto["default"]
		if v, ok := byProto["sqs"]; ok {
			body = v
		}
	}

	s.mu.Lock()
	t := s.topics[*in.TopicArn]
	if t == nil {
		s.mu.Unlock()
		return nil, &snstypes.NotFoundException{Message: new("Topic does not exist")}
	}
	p := Published{
		TopicArn: t.arn, Message: *in.Message, MessageAttributes: maps.Clone(in.MessageAttributes),
		Timestamp: s.clock.Now(),
	}
	if in.Subject != nil {
		p.Subject = *in.Subject
	}
	if t.fifo {
		if in.MessageGroupId == nil || *in.MessageGroupId == "" {
			s.mu.Unlock()
			return nil, snsInvalid("The MessageGroupId parameter is required for FIFO topics")
		}
		p.MessageGroupId = *in.MessageGroupId
		switch {
		case in.MessageDeduplicationId != nil && *in.MessageDeduplicationId != "":
			p.MessageDeduplicationId = *in.MessageDeduplicationId
		case t.contentDedup:
			sum := sha256.Sum256([]byte(*in.Message))
			p.MessageDeduplicationId = hex.EncodeToString(sum[:])
		default:
			s.mu.Unlock()
			return nil, snsInvalid("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
	} else if in.MessageGroupId != nil {
		p.MessageGroupId = *in.MessageGroupId // fair queues
	}
	s.ids++
	p.MessageId = sqsUUID(s.ids)
	s.published = append(s.published, p)
	subs := append([]snsSubscription(nil), t.subs...)
	s.mu.Unlock()

	var seq *string
	for _, sub := range subs {
		if r, ok := s.deliver(sub, &p, body); ok && seq == nil {
			seq = r
		}
	}
	out := &sns.PublishOutput{MessageId: new(p.MessageId)}
	if t.fifo {
		out.SequenceNumber = seq
	}
	return out, nil
}

// deliver sends p to one subscribed queue, enveloped or raw. It reports the
// queue's sequence number for FIFO queues.
func (s *SNS) deliver(sub snsSubscription, p *Published, body string) (*string, bool) {
	in := sqsSend{sender: snsSenderID}
	if p.MessageGroupId != "" {
		in.group = new(p.MessageGroupId)
	}
	if p.MessageDeduplicationId != "" {
		in.dedup = new(p.MessageDeduplicationId)
	}
	if sub.raw {
		in.body = &body
		if len(p.MessageAttributes) > 0 {
			in.attrs = make(map[string]sqstypes.MessageAttributeValue, len(p.MessageAttributes))
			for k, v := range p.MessageAttributes {
				in.attrs[k] = sqstypes.MessageAttributeValue{DataType: v.DataType, StringValue: v.StringValue, BinaryValue: v.BinaryValue}
			}
		}
	} else {
		in.body = new(s.envelope(sub, p, body))
	}
	qs := s.queues
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.byARN[sub.queueARN]
	if q == nil {
		return nil, false
	}
	r, err := qs.send(q, in, p.Timestamp)
	if err != nil {
		return nil, false
	}
	return r.seq, true
}

// snsEnvelope is the JSON document SNS delivers to an SQS subscription
// without raw message delivery, with the service's field order.
type snsEnvelope struct {
	Type              string
	MessageId         string
	SequenceNumber    string `json:",omitempty"`
	TopicArn          string
	Subject           string `json:",omitempty"`
	Message           string
	Timestamp         string
	SignatureVersion  string
	Signature         string
	SigningCertURL    string
	UnsubscribeURL    string
	MessageAttributes map[string]snsEnvelopeAttribute `json:",omitempty"`
}

type snsEnvelopeAttribute struct {
	Type  string
	Value string
}

func (s *SNS) envelope(sub snsSubscription, p *Published, body string) string {
	sig := sha256.Sum256([]byte(p.MessageId + "\n" + body))
	env := snsEnvelope{
		Type:             "Notification",
		MessageId:        p.MessageId,
		TopicArn:         p.TopicArn,
		Subject:          p.Subject,
		Message:          body,
		Timestamp:        p.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"),
		SignatureVersion: "1",
		Signature:        base64.StdEncoding.EncodeToString(sig[:]),
		SigningCertURL:   "https://sns." + s.region + ".amazonaws.com/SimpleNotificationService-0000000000000000000000000000000000.pem",
		UnsubscribeURL:   "https://sns." + s.region + ".amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + sub.arn,
	}
	if len(p.MessageAttributes) > 0 {
		env.MessageAttributes = make(map[string]snsEnvelopeAttribute, len(p.MessageAttributes))
		for k, v := range p.MessageAttributes {
			a := snsEnvelopeAttribute{Type: *v.DataType}
			if v.StringValue != nil {
				a.Value = *v.StringValue
			} else {
				a.Value = base64.StdEncoding.EncodeToString(v.BinaryValue)
			}
			env.MessageAttributes[k] = a
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(env) // cannot fail: strings and maps of strings only
	return strings.TrimSuffix(b.String(), "\n")
}

// Published returns the messages published to a topic (by ARN), or to every
// topic when topicARN is "", in publish order.
func (s *SNS) Published(topicARN string) []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Published
	for _, p := range s.published {
		if topicARN == "" || p.TopicArn == topicARN {
			out = append(out, p)
		}
	}
	return out
}

// MustCreateTopic creates a topic like CreateTopic (FifoTopic=true is implied
// by a ".fifo" name) and returns its ARN, failing the test on error. It
// bypasses Faults.
func (s *SNS) MustCreateTopic(t testing.TB, name string, attrs map[string]string) string {
	t.Helper()
	if strings.HasSuffix(name, ".fifo") {
		attrs = maps.Clone(attrs)
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs["FifoTopic"] = "true"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tp, err := s.createTopic(name, attrs)
	if err != nil {
		t.Fatalf("esmtest: create topic %q: %v", name, err)
		return ""
	}
	return tp.arn
}

// MustSubscribe subscribes the queue with this ARN to a topic, raw or
// enveloped, and returns the subscription ARN, failing the test on error. It
// bypasses Faults.
func (s *SNS) MustSubscribe(t testing.TB, topicARN, queueARN string, raw bool) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	attrs := map[string]string{}
	if raw {
		attrs["RawMessageDelivery"] = "true"
	}
	arn, err := s.subscribe(topicARN, "sqs", queueARN, attrs)
	if err != nil {
		t.Fatalf("esmtest: subscribe %q to %q: %v", queueARN, topicARN, err)
	}
	return arn
}
