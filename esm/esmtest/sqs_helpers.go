package esmtest

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// The helpers below set up and inspect the fake for a test. They bypass
// Faults (a scripted failure is meant for the code under test, not for the
// test's own setup) and are not counted by [Faults.Calls]. Wherever they take
// a queue, it may be given by URL, ARN or name.

// MustCreateQueue creates a queue like CreateQueue and returns its URL and
// ARN, failing the test on error. A FIFO queue is one whose name ends in
// ".fifo"; FifoQueue=true is then implied.
func (s *SQS) MustCreateQueue(t testing.TB, name string, attrs map[string]string) (url, arn string) {
	t.Helper()
	if len(name) > 5 && name[len(name)-5:] == ".fifo" {
		with := map[string]string{"FifoQueue": "true"}
		for k, v := range attrs {
			with[k] = v
		}
		attrs = with
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.createQueue(name, attrs)
	if err != nil {
		t.Fatalf("esmtest: create queue %q: %v", name, err)
	}
	return q.url, q.arn
}

// Send sends one message with this body to a standard queue and returns its
// message ID, failing the test on error.
func (s *SQS) Send(t testing.TB, queue, body string) string {
	t.Helper()
	return s.mustSend(t, queue, sqsSend{body: &body})
}

// SendFIFO sends one message to a FIFO queue in message group group and
// returns its message ID, failing the test on error. The deduplication ID is
// the body's SHA-256 on a queue with ContentBasedDeduplication, and unique
// otherwise.
func (s *SQS) SendFIFO(t testing.TB, queue, group, body string) string {
	t.Helper()
	return s.mustSend(t, queue, sqsSend{body: &body, group: &group})
}

// SendAttributes sends one message with message attributes to a standard
// queue and returns its message ID, failing the test on error.
func (s *SQS) SendAttributes(t testing.TB, queue, body string, attrs map[string]types.MessageAttributeValue) string {
	t.Helper()
	return s.mustSend(t, queue, sqsSend{body: &body, attrs: attrs})
}

func (s *SQS) mustSend(t testing.TB, queue string, in sqsSend) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.lookup(queue)
	if q == nil {
		t.Fatalf("esmtest: send to %q: %v", queue, sqsNoQueue())
		return ""
	}
	if q.cfg.fifo && !q.cfg.contentDedup && in.dedup == nil {
		in.dedup = new("esmtest-" + strconv.FormatUint(s.ids+1, 10))
	}
	r, err := s.send(q, in, s.clock.Now())
	if err != nil {
		t.Fatalf("esmtest: send to %q: %v", queue, err)
		return ""
	}
	return *r.id
}

// Messages returns every message stored in a queue, in send order, without
// receiving them: visible, delayed and in-flight ones alike, with all system
// and message attributes and no receipt handle. It returns nil for an
// unknown queue.
func (s *SQS) Messages(queue string) []types.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.lookup(queue)
	if q == nil {
		return nil
	}
	now := s.clock.Now()
	var out []types.Message
	q.msgs.each(func(m *sqsMessage) bool {
		if now.Sub(m.sentAt) < q.cfg.retention {
			out = append(out, s.sdkMessage(m, nil, &sqsViewAll))
		}
		return true
	})
	return out
}

// Bodies returns the bodies of [SQS.Messages].
func (s *SQS) Bodies(queue string) []string {
	msgs := s.Messages(queue)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = *m.Body
	}
	return out
}

// Redriven returns how many messages the queue has moved to its dead-letter
// queue (RedrivePolicy, after maxReceiveCount receives); 0 for an unknown
// queue. SQS moves a message when a receive finds it visible again with its
// receives used up, not when the last attempt fails.
func (s *SQS) Redriven(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.lookup(queue)
	if q == nil {
		return 0
	}
	return q.moved
}
