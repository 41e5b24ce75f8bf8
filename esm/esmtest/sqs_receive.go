package esmtest

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SendMessage stores one message.
func (s *SQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "SendMessage", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	r, err := s.send(q, sqsSend{
		body: in.MessageBody, delay: in.DelaySeconds, attrs: in.MessageAttributes,
		sys: in.MessageSystemAttributes, group: in.MessageGroupId, dedup: in.MessageDeduplicationId,
	}, s.clock.Now())
	if err != nil {
		return nil, err
	}
	return &sqs.SendMessageOutput{
		MessageId: r.id, SequenceNumber: r.seq, MD5OfMessageBody: r.md5Body,
		MD5OfMessageAttributes: r.md5Attrs, MD5OfMessageSystemAttributes: r.md5Sys,
	}, nil
}

// SendMessageBatch stores up to 10 messages, reporting each entry's result.
// Entries named in Faults.FailEntries("SendMessageBatch", …) fail unsent.
func (s *SQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "SendMessageBatch", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := make([]*string, len(in.Entries))
	size := 0
	for i, e := range in.Entries {
		ids[i] = e.Id
		if e.MessageBody != nil {
			size += len(*e.MessageBody)
		}
	}
	if err := sqsCheckBatch(ids); err != nil {
		return nil, err
	}
	if size > 1048576 {
		return nil, &types.BatchRequestTooLong{
			Message:           new("Batch requests cannot be longer than 1048576 bytes. You have sent " + strconv.Itoa(size) + " bytes."),
			ErrorCodeOverride: new("AWS.SimpleQueueService.BatchRequestTooLong"),
		}
	}
	now := s.clock.Now()
	out := &sqs.SendMessageBatchOutput{Successful: make([]types.SendMessageBatchResultEntry, 0, len(in.Entries))}
	for _, e := range in.Entries {
		if err := s.Faults.EntryError("SendMessageBatch", *e.Id); err != nil {
			out.Failed = append(out.Failed, sqsEntryFailure(e.Id, err))
			continue
		}
		r, err := s.send(q, sqsSend{
			body: e.MessageBody, delay: e.DelaySeconds, attrs: e.MessageAttributes,
			sys: e.MessageSystemAttributes, group: e.MessageGroupId, dedup: e.MessageDeduplicationId,
		}, now)
		if err != nil {
			out.Failed = append(out.Failed, sqsEntryFailure(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{
			Id: e.Id, MessageId: r.id, SequenceNumber: r.seq, MD5OfMessageBody: r.md5Body,
			MD5OfMessageAttributes: r.md5Attrs, MD5OfMessageSystemAttributes: r.md5Sys,
		})
	}
	return out, nil
}

// ReceiveMessage receives up to MaxNumberOfMessages (1–10, default 1)
// visible messages, oldest first, making them invisible for the visibility
// timeout (the request's, or the queue's). With WaitTimeSeconds (or the
// queue's ReceiveMessageWaitTimeSeconds) it long-polls: it returns as soon as
// a message is available, or empty when the wait ends; see [SQS] for how
// waiting meets the clock. A message whose receive count would exceed its
// queue's maxReceiveCount moves to the dead-letter queue instead.
//
// On a FIFO queue it returns consecutive messages of the group with the
// oldest message first, then of the next group, and skips groups with a
// message in flight. A retry with the same ReceiveRequestAttemptId within 5
// minutes, before any of its messages was deleted or changed, returns the same
// messages and receipt handles and restarts their visibility timeout.
func (s *SQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if err := s.Faults.Before(ctx, "ReceiveMessage"); err != nil {
		return nil, err
	}
	in = sqsInput(in)
	max := int(in.MaxNumberOfMessages)
	if max == 0 {
		max = 1
	}
	if max < 1 || max > 10 {
		return nil, sqsInvalidParameter("Value " + strconv.Itoa(max) + " for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
	}
	if in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > 20 {
		return nil, sqsInvalidParameter("Value " + strconv.Itoa(int(in.WaitTimeSeconds)) + " for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")
	}
	if in.VisibilityTimeout < 0 || in.VisibilityTimeout > 43200 {
		return nil, sqsInvalidParameter("Value " + strconv.Itoa(int(in.VisibilityTimeout)) + " for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.")
	}
	view := sqsViewOf(in)
	var deadline *time.Timer
	last := false
	for {
		s.mu.Lock()
		q, err := s.queueByURL(in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		now := s.clock.Now()
		msgs, wake := s.receive(q, in, max, &view, now)
		wait := time.Duration(in.WaitTimeSeconds) * time.Second
		if in.WaitTimeSeconds == 0 {
			wait = q.cfg.wait
		}
		if len(msgs) > 0 || last || wait == 0 {
			s.mu.Unlock()
			if deadline != nil {
				deadline.Stop()
			}
			return &sqs.ReceiveMessageOutput{Messages: msgs}, nil
		}
		changed := q.wait()
		s.mu.Unlock()
		if deadline == nil {
			deadline = time.NewTimer(wait)
		}
		var expiry <-chan time.Time
		var t *time.Timer
		if !wake.IsZero() && s.clock == RealClock {
			t = time.NewTimer(wake.Sub(now))
			expiry = t.C
		}
		select {
		case <-changed:
		case <-expiry:
		case <-deadline.C:
			last = true
		case <-ctx.Done():
			deadline.Stop()
			if t != nil {
				t.Stop()
			}
			return nil, ctx.Err()
		}
		if t != nil {
			t.Stop()
		}
	}
}

// sqsViewOf reads which attributes a receive asks for.
func sqsViewOf(in *sqs.ReceiveMessageInput) sqsView {
	var v sqsView
	for _, n := range in.AttributeNames {
		v.sys |= sqsSysBits[string(n)]
	}
	for _, n := range in.MessageSystemAttributeNames {
		v.sys |= sqsSysBits[string(n)]
	}
	for _, n := range in.MessageAttributeNames {
		switch {
		case n == "All" || n == ".*":
			v.allAttrs = true
		case strings.HasSuffix(n, ".*"):
			v.prefixes = append(v.prefixes, strings.TrimSuffix(n, "*"))
		default:
			v.names = append(v.names, n)
		}
	}
	return v
}

// receive is one receive attempt without waiting. It returns the messages,
// or none and the earliest time one may become available (zero if unknown).
// The caller holds s.mu.
func (s *SQS) receive(q *sqsQueue, in *sqs.ReceiveMessageInput, max int, v *sqsView, now time.Time) ([]types.Message, time.Time) {
	vt := q.cfg.visibility
	if in.VisibilityTimeout > 0 {
		vt = time.Duration(in.VisibilityTimeout) * time.Second
	}
	var attemptID string
	if q.cfg.fifo && in.ReceiveRequestAttemptId != nil && *in.ReceiveRequestAttemptId != "" {
		attemptID = *in.ReceiveRequestAttemptId
		if a := q.attempts[attemptID]; a != nil && !a.spoiled && now.Sub(a.at) < sqsAttemptWindow {
			out := make([]types.Message, len(a.msgs))
			for i, m := range a.msgs {
				m.visibleAt = now.Add(vt)
				if m.visibleAt.After(m.g.lockUntil) {
					m.g.lockUntil = m.visibleAt
				}
				out[i] = s.sdkMessage(m, new(m.handle), v)
			}
			return out, time.Time{}
		}
	}
	var buf [10]*sqsMessage
	picked := buf[:0]
	var wake time.Time
	if q.cfg.fifo {
		q.msgs.tidy()
		picked, wake = s.pickFIFO(q, picked, max, now)
	} else {
		picked, wake = s.pickStandard(q, picked, max, now)
	}
	if len(picked) == 0 {
		return nil, wake
	}
	out := make([]types.Message, len(picked))
	for i, m := range picked {
		out[i] = s.sdkMessage(m, s.deliver(m, vt, now), v)
	}
	if attemptID != "" {
		a := &sqsAttempt{msgs: append([]*sqsMessage(nil), picked...), at: now}
		for _, m := range picked {
			m.attempt = a
		}
		if len(q.attempts) >= 64 {
			for id, old := range q.attempts {
				if old.spoiled || now.Sub(old.at) >= sqsAttemptWindow {
					delete(q.attempts, id)
				}
			}
		}
		q.attempts[attemptID] = a
	}
	return out, time.Time{}
}

// pickFIFO chooses consecutive messages of unlocked groups, the group with
// the oldest message first.
func (s *SQS) pickFIFO(q *sqsQueue, picked []*sqsMessage, max int, now time.Time) ([]*sqsMessage, time.Time) {
	var wake time.Time
	q.epoch++
	for _, head := range q.msgs.s[q.msgs.head:] {
		if len(picked) == max {
			break
		}
		g := head.g
		if head.deleted || g.epoch == q.epoch {
			continue
		}
		g.epoch = q.epoch
		if g.lockUntil.After(now) {
			wake = sqsEarlier(wake, g.lockUntil)
			continue
		}
		g.msgs.tidy()
		picked = s.take(g.msgs.s[g.msgs.head:], picked, max, now, &wake)
	}
	return picked, wake
}

// take appends to picked the visible messages of list (a FIFO group), in
// order and up to max. It stops at an invisible message and lowers wake to
// when that message becomes visible. It drops expired messages and redrives
// those past maxReceiveCount on the way.
func (s *SQS) take(list, picked []*sqsMessage, max int, now time.Time, wake *time.Time) []*sqsMessage {
	for _, m := range list {
		if len(picked) == max {
			break
		}
		if m.deleted || s.expired(m, now) {
			continue
		}
		if m.visibleAt.After(now) {
			*wake = sqsEarlier(*wake, m.visibleAt)
			break
		}
		if s.redriven(m, now) {
			continue
		}
		picked = append(picked, m)
	}
	return picked
}

func sqsEarlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// expired drops m if it outlived its queue's retention period.
func (s *SQS) expired(m *sqsMessage, now time.Time) bool {
	if now.Sub(m.sentAt) < m.q.cfg.retention {
		return false
	}
	s.drop(m)
	return true
}

// redriven moves m to its queue's dead-letter queue if this receive would
// exceed maxReceiveCount. The move counts as a receive, and the message keeps
// its ID, body, attributes, receive count and sent time.
func (s *SQS) redriven(m *sqsMessage, now time.Time) bool {
	rp := m.q.cfg.redrive
	if rp == nil || m.receiveCount < rp.maxReceive {
		return false
	}
	dlq := s.byARN[rp.target]
	if dlq == nil || dlq == m.q {
		return false
	}
	m.q.moved++
	c := *m
	s.drop(m)
	c.q, c.g, c.handle, c.attempt, c.deleted, c.heap = nil, nil, "", nil, false, nil
	c.receiveCount++
	c.dlqSource = m.q.arn
	c.visibleAt = now
	dlq.add(&c, now)
	return true
}

// deliver makes m in flight for vt and returns its new receipt handle.
func (s *SQS) deliver(m *sqsMessage, vt time.Duration, now time.Time) *string {
	m.receiveCount++
	if m.firstTS == "" {
		m.firstTS = strconv.FormatInt(now.UnixMilli(), 10)
	}
	if m.handle != "" {
		delete(s.handles, m.handle)
	}
	if m.attempt != nil {
		m.attempt.spoiled = true
		m.attempt = nil
	}
	s.rhs++
	m.handle = "AQEB" + *m.id + "/" + strconv.FormatUint(s.rhs, 36)
	s.handles[m.handle] = m
	m.receivedAt = now
	m.visibleAt = now.Add(vt)
	m.q.park(m)
	if g := m.g; g != nil && m.visibleAt.After(g.lockUntil) {
		g.lockUntil = m.visibleAt
	}
	return new(m.handle)
}

// message finds the message of a receipt handle in q. The caller holds s.mu.
func (s *SQS) message(q *sqsQueue, handle *string) (*sqsMessage, error) {
	if handle == nil || *handle == "" {
		return nil, sqsMissing("ReceiptHandle")
	}
	m := s.handles[*handle]
	if m == nil || m.q != q || m.deleted {
		return nil, sqsBadHandle(*handle)
	}
	return m, nil
}

// deleteMessage deletes by receipt handle. The caller holds s.mu.
func (s *SQS) deleteMessage(q *sqsQueue, handle *string) error {
	m, err := s.message(q, handle)
	if err != nil {
		return err
	}
	s.drop(m)
	if m.g != nil {
		q.notify() // the group may be unlocked now
	}
	return nil
}

// changeVisibility sets a message's remaining visibility timeout. The caller
// holds s.mu.
func (s *SQS) changeVisibility(q *sqsQueue, handle *string, secs int32, now time.Time) error {
	m, err := s.message(q, handle)
	if err != nil {
		return err
	}
	if !m.inflight(now) {
		return sqsNotInflight()
	}
	vt := time.Duration(secs) * time.Second
	if secs < 0 || secs > 43200 || now.Add(vt).Sub(m.receivedAt) > 12*time.Hour {
		return sqsInvalidParameter("Value " + strconv.Itoa(int(secs)) + " for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]")
	}
	m.visibleAt = now.Add(vt)
	q.park(m)
	if m.attempt != nil {
		m.attempt.spoiled = true
		m.attempt = nil
	}
	if m.g != nil {
		m.g.relock()
	}
	q.notify()
	return nil
}

// DeleteMessage deletes the message of a receipt handle. A handle that is not
// the message's latest, or of a deleted message, fails with
// *types.ReceiptHandleIsInvalid.
func (s *SQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "DeleteMessage", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if err := s.deleteMessage(q, in.ReceiptHandle); err != nil {
		return nil, err
	}
	return &sqs.DeleteMessageOutput{}, nil
}

// DeleteMessageBatch deletes up to 10 messages, reporting each entry's
// result (ReceiptHandleIsInvalid for a stale handle). Entries named in
// Faults.FailEntries("DeleteMessageBatch", …) fail and stay undeleted.
func (s *SQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	in = sqsInput(in)
	out := &sqs.DeleteMessageBatchOutput{Successful: make([]types.DeleteMessageBatchResultEntry, 0, len(in.Entries))}
	err := s.batch(ctx, "DeleteMessageBatch", in.QueueUrl, len(in.Entries),
		func(i int) *string { return in.Entries[i].Id },
		func(q *sqsQueue, i int, _ time.Time) error { return s.deleteMessage(q, in.Entries[i].ReceiptHandle) },
		func(id *string) { out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: id}) },
		func(f types.BatchResultErrorEntry) { out.Failed = append(out.Failed, f) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangeMessageVisibility sets the visibility timeout of an in-flight
// message; 0 makes it visible at once. A message not in flight fails with
// *types.MessageNotInflight.
func (s *SQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	in = sqsInput(in)
	q, err := s.open(ctx, "ChangeMessageVisibility", in.QueueUrl)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if err := s.changeVisibility(q, in.ReceiptHandle, in.VisibilityTimeout, s.clock.Now()); err != nil {
		return nil, err
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// ChangeMessageVisibilityBatch changes the visibility of up to 10 messages,
// reporting each entry's result. Entries named in
// Faults.FailEntries("ChangeMessageVisibilityBatch", …) fail unchanged.
func (s *SQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	in = sqsInput(in)
	out := &sqs.ChangeMessageVisibilityBatchOutput{Successful: make([]types.ChangeMessageVisibilityBatchResultEntry, 0, len(in.Entries))}
	err := s.batch(ctx, "ChangeMessageVisibilityBatch", in.QueueUrl, len(in.Entries),
		func(i int) *string { return in.Entries[i].Id },
		func(q *sqsQueue, i int, now time.Time) error {
			e := in.Entries[i]
			return s.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout, now)
		},
		func(id *string) {
			out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: id})
		},
		func(f types.BatchResultErrorEntry) { out.Failed = append(out.Failed, f) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batch runs a handle-based batch operation: it validates the entry Ids,
// applies do to each entry not failed by Faults, and reports each result.
func (s *SQS) batch(ctx context.Context, op string, url *string, n int, id func(int) *string,
	do func(q *sqsQueue, i int, now time.Time) error, ok func(*string), failed func(types.BatchResultErrorEntry),
) error {
	q, err := s.open(ctx, op, url)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	ids := make([]*string, n)
	for i := range n {
		ids[i] = id(i)
	}
	if err := sqsCheckBatch(ids); err != nil {
		return err
	}
	now := s.clock.Now()
	for i, id := range ids {
		err := s.Faults.EntryError(op, *id)
		if err == nil {
			err = do(q, i, now)
		}
		if err != nil {
			failed(sqsEntryFailure(id, err))
			continue
		}
		ok(id)
	}
	return nil
}
