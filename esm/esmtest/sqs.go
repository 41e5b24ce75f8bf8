package esmtest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Defaults of the fakes' identity: the region and account that appear in
// queue URLs, ARNs and topic ARNs unless an option says otherwise.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "000000000000"
)

// SQS is an in-memory Amazon SQS. It implements the SDK client's methods
// with the SDK's types and the service's semantics: standard and FIFO queues,
// visibility timeouts and redelivery, long polling, dead-letter redrive,
// FIFO group locking and deduplication, and the system and message attributes
// the service returns. It is safe for concurrent use; the zero value is not
// usable, call [NewSQS].
//
// # Time
//
// Every time stamp and deadline (visibility, delay, retention, deduplication)
// is read from the [Clock] given with [WithSQSClock]. A long poll waits on
// real timers: with the default [RealClock], under testing/synctest, the wait
// and the wake-up when an in-flight message's visibility expires or a delay
// ends happen in the bubble's fake time. With a [ManualClock] the poll still
// returns as soon as a message is sent or made visible by an SQS call, but
// advancing the clock does not wake it; such tests should poll with
// WaitTimeSeconds 0 (or a context deadline).
//
// # Differences from the service
//
// Receives are deterministic: a receive returns the oldest visible messages
// first (SQS standard queues only approximate that), and returns as many as
// are available, up to MaxNumberOfMessages. Deleting or changing the
// visibility with a receipt handle that is not the message's latest one fails
// with ReceiptHandleIsInvalid. Queue URLs must be the exact strings returned by
// CreateQueue or GetQueueUrl, as with the fauxqs emulator. Permissions, tags,
// encryption and throughput quotas are not modelled.
type SQS struct {
	// Faults scripts failures and delays for each operation, by its SDK name
	// ("ReceiveMessage", "DeleteMessageBatch", …). Batch operations honour
	// [Faults.FailEntries] by entry Id.
	Faults Faults

	clock   Clock
	region  string
	account string

	mu      sync.Mutex
	byURL   map[string]*sqsQueue
	byName  map[string]*sqsQueue
	byARN   map[string]*sqsQueue
	handles map[string]*sqsMessage // receipt handle -> message
	ids     uint64                 // message ID counter
	rhs     uint64                 // receipt handle counter
}

// SQSOption configures [NewSQS].
type SQSOption func(*SQS)

// WithSQSClock makes the fake read time from c. The default is [RealClock].
func WithSQSClock(c Clock) SQSOption { return func(s *SQS) { s.clock = c } }

// WithSQSRegion sets the region that appears in queue URLs and ARNs. The
// default is [DefaultRegion].
func WithSQSRegion(region string) SQSOption { return func(s *SQS) { s.region = region } }

// WithSQSAccount sets the account ID that appears in queue URLs and ARNs and
// as SenderId. The default is [DefaultAccount].
func WithSQSAccount(account string) SQSOption { return func(s *SQS) { s.account = account } }

// NewSQS returns an empty fake SQS.
func NewSQS(opts ...SQSOption) *SQS {
	s := &SQS{
		clock:   RealClock,
		region:  DefaultRegion,
		account: DefaultAccount,
		byURL:   map[string]*sqsQueue{},
		byName:  map[string]*sqsQueue{},
		byARN:   map[string]*sqsQueue{},
		handles: map[string]*sqsMessage{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Region reports the region of the fake's queues.
func (s *SQS) Region() string { return s.region }

// Account reports the account ID of the fake's queues.
func (s *SQS) Account() string { return s.account }

// sqsQueue is one queue. Every field is guarded by SQS.mu.
type sqsQueue struct {
	name, url, arn string
	cfg            sqsQueueConfig
	created        time.Time
	modified       time.Time

	msgs   sqsList              // every stored message, in send order
	fresh  []*sqsMessage        // standard only: see sqs_index.go
	again  sqsHeap              // standard only
	parked sqsHeap              // standard only
	groups map[string]*sqsGroup // FIFO only
	epoch  uint64               // receive counter, marks groups visited by one receive
	seq    uint64               // send counter (SequenceNumber of FIFO queues)
	moved  int                  // messages moved to the dead-letter queue

	dedup      map[string]sqsDedup // FIFO deduplication window
	dedupOrder []sqsDedupKey       // dedup keys in insertion order, for expiry
	attempts   map[string]*sqsAttempt

	changed chan struct{} // closed when a waiting receive may now find a message
}

// sqsGroup is one FIFO message group: its messages in order, and the time
// until which the group is locked by its in-flight messages.
type sqsGroup struct {
	id        string
	msgs      sqsList
	lockUntil time.Time
	epoch     uint64
}

type sqsDedup struct {
	id, seq string
	until   time.Time
}

type sqsDedupKey struct {
	key   string
	until time.Time
}

// sqsAttempt remembers the answer to a FIFO receive made with a
// ReceiveRequestAttemptId, so that a retry gets the same messages.
type sqsAttempt struct {
	msgs    []*sqsMessage
	at      time.Time
	spoiled bool // a message was deleted, changed or received again
}

// sqsAttemptWindow is how long SQS remembers a ReceiveRequestAttemptId, and
// the FIFO deduplication interval.
const sqsAttemptWindow = 5 * time.Minute

// notify wakes every receive waiting on q.
func (q *sqsQueue) notify() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// wait returns a channel closed at the next notify.
func (q *sqsQueue) wait() <-chan struct{} {
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}

// sqsInput returns in, or an empty input for nil, as the SDK client does.
func sqsInput[T any](in *T) *T {
	if in == nil {
		return new(T)
	}
	return in
}

// open starts an operation on one queue: it runs the scripted faults, takes
// the lock and finds the queue. On success the caller holds s.mu.
func (s *SQS) open(ctx context.Context, op string, url *string) (*sqsQueue, error) {
	if err := s.Faults.Before(ctx, op); err != nil {
		return nil, err
	}
	s.mu.Lock()
	q, err := s.queueByURL(url)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return q, nil
}

// queueByURL finds a queue by its exact URL. The caller holds s.mu.
func (s *SQS) queueByURL(url *string) (*sqsQueue, error) {
	if url == nil || *url == "" {
		return nil, sqsMissing("QueueUrl")
	}
	if q := s.byURL[*url]; q != nil {
		return q, nil
	}
	return nil, sqsNoQueue()
}

// lookup finds a queue by URL, ARN or name. The caller holds s.mu.
func (s *SQS) lookup(queue string) *sqsQueue {
	if q := s.byURL[queue]; q != nil {
		return q
	}
	if q := s.byARN[queue]; q != nil {
		return q
	}
	return s.byName[queue]
}

// QueueURL returns the URL a queue of this name has (or would have) in the
// fake.
func (s *SQS) QueueURL(name string) string {
	return "http://sqs." + s.region + ".localhost/" + s.account + "/" + name
}

// QueueARN returns the ARN a queue of this name has (or would have) in the
// fake.
func (s *SQS) QueueARN(name string) string {
	return "arn:aws:sqs:" + s.region + ":" + s.account + ":" + name
}

// CreateQueue creates a queue, or returns the URL of an existing one whose
// attributes match. Supported attributes: VisibilityTimeout, DelaySeconds,
// MessageRetentionPeriod, MaximumMessageSize, ReceiveMessageWaitTimeSeconds,
// RedrivePolicy, FifoQueue, ContentBasedDeduplication, DeduplicationScope and
// FifoThroughputLimit; Policy, RedriveAllowPolicy and the encryption
// attributes are stored and echoed only.
func (s *SQS) CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	if err := s.Faults.Before(ctx, "CreateQueue"); err != nil {
		return nil, err
	}
	if in = sqsInput(in); in.QueueName == nil {
		return nil, sqsMissing("QueueName")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.createQueue(*in.QueueName, in.Attributes)
	if err != nil {
		return nil, err
	}
	return &sqs.CreateQueueOutput{QueueUrl: new(q.url)}, nil
}

// createQueue is CreateQueue without faults. The caller holds s.mu.
func (s *SQS) createQueue(name string, attrs map[string]string) (*sqsQueue, error) {
	fifo := strings.HasSuffix(name, ".fifo")
	if !sqsValidName(strings.TrimSuffix(name, ".fifo")) {
		return nil, sqsInvalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if fifo != (attrs["FifoQueue"] == "true") {
		return nil, sqsInvalidParameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length")
	}
	cfg := sqsDefaultConfig(fifo)
	if err := s.applyAttributes(&cfg, attrs); err != nil {
		return nil, err
	}
	if q := s.byName[name]; q != nil {
		for k := range attrs {
			if q.cfg.values[k] != cfg.values[k] {
				return nil, &types.QueueNameExists{
					Message:           new("A queue already exists with the same name and a different value for attribute " + k),
					ErrorCodeOverride: new("QueueAlreadyExists"),
				}
			}
		}
		return q, nil
	}
	now := s.clock.Now()
	q := &sqsQueue{
		name:     name,
		url:      s.QueueURL(name),
		arn:      s.QueueARN(name),
		cfg:      cfg,
		created:  now,
		modified: now,
		again:    sqsHeap{before: sqsSentBefore},
		parked:   sqsHeap{before: sqsVisibleBefore},
	}
	if fifo {
		q.groups = map[string]*sqsGroup{}
		q.dedup = map[string]sqsDedup{}
		q.attempts = map[string]*sqsAttempt{}
	}
	s.byURL[q.url] = q
	s.byName[name] = q
	s.byARN[q.arn] = q
	return q, nil
}

func sqsValidName(n string) bool {
	if n == "" || len(n) > 80 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// GetQueueUrl returns the URL of the queue with this name. A
// QueueOwnerAWSAccountId other than the fake's account finds nothing.
func (s *SQS) GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	if err := s.Faults.Before(ctx, "GetQueueUrl"); err != nil {
		return nil, err
	}
	if in = sqsInput(in); in.QueueName == nil {
		return nil, sqsMissing("QueueName")
	}
	if in.QueueOwnerAWSAccountId != nil && *in.QueueOwnerAWSAccountId != s.account {
		return nil, sqsNoQueue()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byName[*in.QueueName]
	if q == nil {
		return nil, sqsNoQueue()
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: new(q.url)}, nil
}

// GetQueueAttributes returns the requested attributes ("All" or names),
// including the approximate message counts.
func (s *SQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "GetQueueAttributes", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	all := q.attributes(s.clock.Now())
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == types.QueueAttributeNameAll {
			return &sqs.GetQueueAttributesOutput{Attributes: all}, nil
		}
		if !sqsKnownAttribute(string(n)) {
			return nil, &types.InvalidAttributeName{Message: new("Unknown Attribute " + string(n) + ".")}
		}
		if v, ok := all[string(n)]; ok {
			out[string(n)] = v
		}
	}
	return &sqs.GetQueueAttributesOutput{Attributes: out}, nil
}

// SetQueueAttributes changes queue attributes (the same ones CreateQueue
// accepts, except FifoQueue).
func (s *SQS) SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "SetQueueAttributes", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if v, ok := in.Attributes["FifoQueue"]; ok && v != q.cfg.values["FifoQueue"] {
		return nil, &types.InvalidAttributeName{Message: new("Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")}
	}
	cfg := q.cfg.clone()
	if err := s.applyAttributes(&cfg, in.Attributes); err != nil {
		return nil, err
	}
	q.cfg = cfg
	q.modified = s.clock.Now()
	q.notify()
	return &sqs.SetQueueAttributesOutput{}, nil
}

// PurgeQueue deletes every message of the queue.
func (s *SQS) PurgeQueue(ctx context.Context, in *sqs.PurgeQueueInput, _ ...func(*sqs.Options)) (*sqs.PurgeQueueOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "PurgeQueue", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	q.msgs.each(func(m *sqsMessage) bool { s.drop(m); return true })
	q.notify() // unlocked FIFO groups cannot matter, but waiters re-check cheaply
	return &sqs.PurgeQueueOutput{}, nil
}

// attributes returns every attribute of q, counts included. The caller holds
// the fake's lock.
func (q *sqsQueue) attributes(now time.Time) map[string]string {
	out := make(map[string]string, len(q.cfg.values)+6)
	for k, v := range q.cfg.values {
		out[k] = v
	}
	var visible, inflight, delayed int
	q.msgs.each(func(m *sqsMessage) bool {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receiveCount > 0:
			inflight++
		default:
			delayed++
		}
		return true
	})
	out["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
	out["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inflight)
	out["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
	out["QueueArn"] = q.arn
	out["CreatedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
	out["LastModifiedTimestamp"] = strconv.FormatInt(q.modified.Unix(), 10)
	return out
}
