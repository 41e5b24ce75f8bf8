package queueengine

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/core"
)

// state is what became of one message of a batch.
type state uint8

const (
	pending   state = iota // not handed to the function: made visible again
	succeeded              // handled: deleted
	failed                 // the function failed it: left for redelivery
)

// batch is one received batch on its way through the function.
type batch struct {
	evs   []events.SQSMessage // handed to the function
	meta  []meta              // parallel to evs
	state []state             // parallel to evs
	// held are the messages the worker keeps for its next batch (cut by
	// the payload cap): the heartbeat extends them too, best effort.
	held []meta
}

// process invokes the function with b (one invocation per message group on
// a FIFO queue), then deletes what succeeded and makes visible again what
// was never handed over.
func (e *Engine) process(ctx context.Context, b *batch) {
	var groups [][2]int
	if e.q.fifo {
		groups = groupRanges(b)
	}
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var stopHB func()
	if e.q.heartbeat > 0 {
		stopHB = e.startHeartbeat(bctx, cancel, b)
	}
	if e.q.fifo {
		e.fanOut(bctx, b, groups)
	} else {
		e.invoke(bctx, b, 0, len(b.evs))
	}
	if stopHB != nil {
		stopHB()
	}
	e.settle(ctx, b)
}

// fanOut invokes the function once per message group of a FIFO batch, the
// groups concurrently (each invocation takes a slot, so the concurrency cap
// holds), each group's messages in their order.
func (e *Engine) fanOut(ctx context.Context, b *batch, groups [][2]int) {
	if len(groups) == 1 {
		e.invoke(ctx, b, 0, len(b.evs))
		return
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { e.invoke(ctx, b, g[0], g[1]) })
	}
	wg.Wait()
}

// groupRanges reorders b so that each message group's messages are
// contiguous, keeping their order and the groups' order of first
// appearance, and returns the groups as [lo, hi) ranges.
func groupRanges(b *batch) [][2]int {
	n := len(b.meta)
	sorted := true
	for i := 1; i < n && sorted; i++ {
		if b.meta[i].group != b.meta[i-1].group {
			for j := i + 1; j < n; j++ {
				if b.meta[j].group == b.meta[i-1].group {
					sorted = false
					break
				}
			}
		}
	}
	if !sorted {
		order := make([]int, 0, n)
		seen := make(map[string]bool, n)
		for i := range n {
			g := b.meta[i].group
			if seen[g] {
				continue
			}
			seen[g] = true
			for j := i; j < n; j++ {
				if b.meta[j].group == g {
					order = append(order, j)
				}
			}
		}
		evs, ms := make([]events.SQSMessage, n), make([]meta, n)
		for k, j := range order {
			evs[k], ms[k] = b.evs[j], b.meta[j]
		}
		b.evs, b.meta = evs, ms
	}
	var out [][2]int
	lo := 0
	for i := 1; i <= n; i++ {
		if i == n || b.meta[i].group != b.meta[lo].group {
			out = append(out, [2]int{lo, i})
			lo = i
		}
	}
	return out
}

// invoke runs the function once with b's messages [lo, hi), bounded by
// FunctionTimeout, and records each message's state. The messages stay
// pending when receiving stopped or ctx ended before a slot was free.
func (e *Engine) invoke(ctx context.Context, b *batch, lo, hi int) {
	if e.stopped() {
		return
	}
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return
	case <-e.lc.Stopping():
		return
	}
	defer func() { <-e.slots }()
	ms := b.meta[lo:hi]
	evs := b.evs[lo:hi]
	call := e.caller.Call(ctx, len(ms), func(i int) string { return ms[i].id }, func(ictx context.Context) (error, []string) {
		res := e.cb.Invoke(ictx, evs)
		return res.Err, res.ItemFailures
	})
	nFailed := resolve(call, b.state[lo:hi], ms, e.q.fifo)
	e.hook.BatchInvoked(lambdaesm.Invocation{Source: e.q.src, Records: hi - lo, Attempt: max(ms[0].receives, 1), Duration: call.Duration, Err: call.Failure(), Failed: nFailed})
	switch {
	case call.Err != nil:
		e.log.Warn("function error: the messages will be delivered again after their visibility timeout",
			"messages", hi-lo, "firstMessageId", ms[0].id, "err", call.Err)
	case call.Invalid != nil:
		e.log.Warn("invalid partial batch response: the whole batch fails, as in Lambda", "messages", hi-lo, "err", call.Invalid)
	}
}

// resolve applies an outcome to the messages ms of one invocation, writing
// each one's state, and returns how many failed. A function error or an
// invalid partial batch response fails them all; a partial batch response
// fails those it names (every copy of a message received twice), and on a
// FIFO queue every later message of the invocation too, so that a group's
// order holds.
func resolve(call core.Outcome, st []state, ms []meta, fifo bool) int {
	if call.Failure() != nil {
		for i := range st {
			st[i] = failed
		}
		return len(st)
	}
	for i := range st {
		st[i] = succeeded
	}
	if len(call.Failed) == 0 {
		return 0
	}
	// A message received again while held (its visibility lapsed) is in
	// the batch twice, under two receipt handles: the identifier names
	// both, and deleting either would delete the message.
	named := make(map[string]bool, len(call.Failed))
	for _, i := range call.Failed {
		named[ms[i].id] = true
	}
	for i := range ms {
		if named[ms[i].id] {
			st[i] = failed
		}
	}
	if fifo {
		for i := slices.Min(call.Failed); i < len(st); i++ {
			st[i] = failed
		}
	}
	n := 0
	for _, s := range st {
		if s == failed {
			n++
		}
	}
	return n
}

// settle deletes the messages that succeeded, applies the failure backoff to
// those that failed, and makes visible again those never handed over.
func (e *Engine) settle(ctx context.Context, b *batch) {
	var done, bad, unsent []meta
	for i, s := range b.state {
		switch s {
		case succeeded:
			done = append(done, b.meta[i])
		case failed:
			bad = append(bad, b.meta[i])
		default:
			unsent = append(unsent, b.meta[i])
		}
	}
	if len(done) == 0 && len(unsent) == 0 && (len(bad) == 0 || e.set.FailureBackoff == nil) {
		return
	}
	ctx, cancel := callCtx(ctx)
	defer cancel()
	if len(done) > 0 {
		e.deleteMessages(ctx, done)
	}
	if len(bad) > 0 && e.set.FailureBackoff != nil {
		e.backOff(ctx, bad)
	}
	if len(unsent) > 0 {
		e.makeVisible(ctx, unsent)
	}
}

// backOff makes failed messages visible again after the failure backoff for
// their receive count, instead of after their visibility timeout.
func (e *Engine) backOff(ctx context.Context, ms []meta) {
	now := time.Now()
	ents := make([]visEntry, len(ms))
	for i := range ms {
		d := e.set.FailureBackoff.Delay(max(ms[i].receives, 1), rand.Float64())
		sec := math.Ceil(d.Seconds())
		left := (maxVisibility - limitMargin - now.Sub(ms[i].receivedAt)).Seconds()
		ents[i] = visEntry{m: &ms[i], vt: int32(max(min(sec, left), 0))}
	}
	if err := e.changeVisibility(ctx, ents); err != nil {
		e.log.Warn("setting the failure backoff failed: the messages come back after their visibility timeout", "messages", len(ms), "err", err)
	}
}

// makeVisible makes messages visible again at once.
func (e *Engine) makeVisible(ctx context.Context, ms []meta) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	ents := make([]visEntry, len(ms))
	for i := range ms {
		ents[i] = visEntry{m: &ms[i]}
	}
	if err := e.changeVisibility(ctx, ents); err != nil {
		e.log.Warn("making unhandled messages visible again failed: they come back after their visibility timeout", "messages", len(ms), "err", err)
		return
	}
	e.log.Info("made received messages that were not handled visible again", "messages", len(ms))
}
