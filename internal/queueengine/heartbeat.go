package queueengine

import (
	"context"
	"time"

	"github.com/lambdaesm/lambdaesm/queue"
)

// startHeartbeat extends the visibility of b's messages while the function
// handles them, and returns the function that stops the heartbeat and waits
// for it. If an extension fails, cancel is called with a [*queue.HeartbeatError].
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
	// The batch's messages first, then the held-over ones (whose extension
	// is best effort: a failure there does not fail the handler).
	all := make([]*meta, 0, len(b.meta)+len(b.held))
	for i := range b.meta {
		all = append(all, &b.meta[i])
	}
	nb := len(all)
	for i := range b.held {
		all = append(all, &b.held[i])
	}
	ents := make([]visEntry, 0, len(all))
	for {
		var next time.Time
		for _, m := range all {
			if !m.capped && (next.IsZero() || m.deadline.Before(next)) {
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
		split := 0 // ents[:split] are the batch's
		for i, m := range all {
			if i == nb {
				split = len(ents)
			}
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
		if nb == len(all) {
			split = len(ents)
		}
		if split > 0 {
			if err := e.changeVisibility(ctx, ents[:split]); err != nil {
				if ctx.Err() != nil {
					return // the batch is over
				}
				e.log.Warn("visibility heartbeat failed: cancelling the handler's context", "err", err)
				cancel(&queue.HeartbeatError{Err: err})
				return
			}
		}
		if held := ents[split:]; len(held) > 0 {
			if err := e.changeVisibility(ctx, held); err != nil {
				if ctx.Err() != nil {
					return
				}
				e.log.Warn("visibility heartbeat failed for messages held for the next batch; they may be delivered again", "err", err)
				ents = ents[:split]
			}
		}
		for _, v := range ents {
			v.m.deadline = now.Add(time.Duration(v.vt) * time.Second)
		}
	}
}
