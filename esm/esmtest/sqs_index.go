package esmtest

import (
	"container/heap"
	"time"
)

// A standard queue files each of its messages in one of three places, so
// that a receive touches only the messages it returns (or drops, or
// redrives), not the ones in flight:
//
//   - fresh: the messages visible since they were sent, in send order (each
//     send appends the newest);
//   - again: the messages visible again after a delay, a visibility timeout
//     or a visibility change, oldest (first sent) first;
//   - parked: the invisible ones, delayed or in flight, earliest visibleAt
//     first.
//
// A receive first moves the parked messages whose visibleAt has come to
// again, then takes the oldest of fresh and again. Receiving a message, or
// changing its visibility (even to 0), parks it. Deleting a message takes it out of its heap; a message dropped
// while in fresh (never received, so only by retention or a purge) stays
// there, marked deleted, until a receive skips it. FIFO queues use none of
// this: their receives walk the message groups.

// sqsHeap is a binary min-heap of messages that records each message's
// position in it, so that a message can leave it from anywhere. It
// implements heap.Interface.
type sqsHeap struct {
	s      []*sqsMessage
	before func(a, b *sqsMessage) bool
}

func (h *sqsHeap) Len() int           { return len(h.s) }
func (h *sqsHeap) Less(i, j int) bool { return h.before(h.s[i], h.s[j]) }

func (h *sqsHeap) Swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.s[i].hi, h.s[j].hi = i, j
}

func (h *sqsHeap) Push(x any) {
	m := x.(*sqsMessage)
	m.heap, m.hi = h, len(h.s)
	h.s = append(h.s, m)
}

func (h *sqsHeap) Pop() any {
	n := len(h.s) - 1
	m := h.s[n]
	h.s[n] = nil
	h.s = h.s[:n]
	m.heap = nil
	return m
}

// min returns the heap's first message, or nil when it is empty.
func (h *sqsHeap) min() *sqsMessage {
	if len(h.s) == 0 {
		return nil
	}
	return h.s[0]
}

func sqsSentBefore(a, b *sqsMessage) bool    { return a.pos < b.pos }
func sqsVisibleBefore(a, b *sqsMessage) bool { return a.visibleAt.Before(b.visibleAt) }

// unindex takes m out of the heap it is in, if any.
func (m *sqsMessage) unindex() {
	if m.heap != nil {
		heap.Remove(m.heap, m.hi)
	}
}

// file files m, just added to q: in fresh if it is visible at now, parked
// otherwise. The caller holds the fake's lock.
func (q *sqsQueue) file(m *sqsMessage, now time.Time) {
	if !q.cfg.fifo && !m.visibleAt.After(now) {
		q.fresh = append(q.fresh, m) // the newest message: fresh stays in send order
		return
	}
	q.park(m)
}

// park files m, a message of q, in parked, to be found by the first receive
// at or after its visibleAt. It does nothing on a FIFO queue. The caller
// holds the fake's lock.
func (q *sqsQueue) park(m *sqsMessage) {
	if q.cfg.fifo {
		return
	}
	m.unindex()
	heap.Push(&q.parked, m)
}

// next removes and returns the oldest message of fresh and again, or nil if
// both are empty.
func (q *sqsQueue) next() *sqsMessage {
	for len(q.fresh) > 0 && q.fresh[0].deleted {
		q.fresh[0] = nil
		q.fresh = q.fresh[1:]
	}
	if m := q.again.min(); m != nil && (len(q.fresh) == 0 || m.pos < q.fresh[0].pos) {
		return heap.Pop(&q.again).(*sqsMessage)
	}
	if len(q.fresh) == 0 {
		return nil
	}
	m := q.fresh[0]
	q.fresh[0] = nil
	q.fresh = q.fresh[1:]
	return m
}

// pickStandard chooses the oldest visible messages of a standard queue. It
// drops expired messages and redrives those past maxReceiveCount on the way.
// When it finds none, wake is when the first parked message becomes visible
// (zero if none is parked).
func (s *SQS) pickStandard(q *sqsQueue, picked []*sqsMessage, max int, now time.Time) ([]*sqsMessage, time.Time) {
	s.expireOldest(q, now)
	for m := q.parked.min(); m != nil && !m.visibleAt.After(now); m = q.parked.min() {
		heap.Push(&q.again, heap.Pop(&q.parked))
	}
	for len(picked) < max {
		m := q.next()
		if m == nil {
			break
		}
		switch {
		case s.expired(m, now):
		case m.visibleAt.After(now): // the clock was set back
			heap.Push(&q.parked, m)
		case s.redriven(m, now):
		default:
			picked = append(picked, m)
		}
	}
	var wake time.Time
	if m := q.parked.min(); m != nil {
		wake = m.visibleAt
	}
	return picked, wake
}

// expireOldest drops the messages at the front of q (in send order) that
// outlived the retention period, in flight or not, and tidies the list.
func (s *SQS) expireOldest(q *sqsQueue, now time.Time) {
	for _, m := range q.msgs.s[q.msgs.head:] {
		if !m.deleted && !s.expired(m, now) {
			break
		}
	}
	q.msgs.tidy()
}
