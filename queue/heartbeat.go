package queue

import (
	"context"
	"time"
)

// startHeartbeat extends the visibility of b's messages while the function
// handles them, and returns the function that stops the heartbeat and waits
// for it. If an extension fails, cancel is called with a [*HeartbeatError].
func (e *Engine) startHeartbeat(ctx context.Context, cancel context.CancelCauseFunc, b *batch) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.heartbeat(ctx, cancel, b, quit)
	}()
	return func() {
		close(quit)
		<-done
	}
}

// heartbeat extends visibility whenever the message closest to becoming
// visible has only visibility − interval left (so every interval once the
// batch is in the handler): each extension sets the remaining visibility of
// every message to the queue's visibility timeout, but never past SQS's
// 12-hour limit from the receive.
func (e *Engine) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, b *batch, quit <-chan struct{}) {
	ext := e.q.visibility
	lead := ext - e.q.heartbeat
	ents := make([]visEntry, 0, len(b.meta))
	for {
		var next time.Time
		for i := range b.meta {
			if m := &b.meta[i]; !m.capped && (next.IsZero() || m.deadline.Before(next)) {
				next = m.deadline
			}
		}
		if next.IsZero() {
			return // every message is at the 12-hour limit
		}
		t := time.NewTimer(time.Until(next.Add(-lead)))
		select {
		case <-quit:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := time.Now()
		ents = ents[:0]
		for i := range b.meta {
			m := &b.meta[i]
			if m.capped {
				continue
			}
			vt := min(ext, maxVisibility-limitMargin-now.Sub(m.receivedAt))
			if vt < time.Second {
				m.capped = true
				e.log.Warn("visibility heartbeat: the message reached SQS's 12-hour visibility limit and may be delivered again", "messageId", m.id)
				continue
			}
			ents = append(ents, visEntry{m: m, vt: int32(vt / time.Second)})
		}
		if len(ents) == 0 {
			continue
		}
		if err := e.changeVisibility(ctx, ents); err != nil {
			if ctx.Err() != nil {
				return // the batch is over
			}
			e.log.Warn("visibility heartbeat failed: cancelling the handler's context", "err", err)
			cancel(&HeartbeatError{Err: err})
			return
		}
		for _, v := range ents {
			v.m.deadline = now.Add(time.Duration(v.vt) * time.Second)
		}
	}
}
