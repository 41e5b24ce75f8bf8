package streamengine

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/retry"
)

// lane invokes the function with one batch at a time, in sequence order, for
// the records whose key hashes to it.
type lane[R any] struct {
	p    *proc[R]
	mu   sync.Mutex
	q    []ref[R]
	head int
	wake chan struct{}
	// batch holds the refs of the batch in flight; only the lane's
	// goroutine uses it, and a batch is finished before the next is taken.
	batch []ref[R]
}

func (l *lane[R]) push(refs []ref[R]) {
	l.mu.Lock()
	if l.head > 0 && l.head == len(l.q) {
		l.reset()
	}
	l.q = append(l.q, refs...)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// take removes the next batch from the queue: up to BatchSize records within
// the payload cap. It returns nil when the batch is not ready yet (fewer
// than BatchSize, under the cap, and the window has not passed).
func (l *lane[R]) take(windowOver bool) []ref[R] {
	set := &l.p.e.set
	l.mu.Lock()
	defer l.mu.Unlock()
	avail := l.q[l.head:]
	n, bytes := 0, 0
	full := false
	for n < len(avail) && n < set.BatchSize {
		sz := l.p.e.src.size(&avail[n].p.recs[avail[n].j])
		if n > 0 && bytes+sz > set.MaxPayload {
			full = true
			break
		}
		bytes += sz
		n++
	}
	if n == 0 || (n < set.BatchSize && !full && !windowOver) {
		return nil
	}
	batch := append(l.batch[:0], avail[:n]...)
	l.batch = batch
	clear(avail[:n]) // taken: the queue no longer keeps their pages alive
	l.head += n
	if l.head == len(l.q) {
		l.reset()
	}
	return batch
}

// reset empties the queue, keeping its array; l.mu is held. Its slots were
// cleared when taken, so an idle lane holds no records.
func (l *lane[R]) reset() { l.q, l.head = l.q[:0], 0 }

func (l *lane[R]) run(ctx context.Context) {
	e := l.p.e
	if e.set.TumblingWindow > 0 {
		l.runWindows(ctx)
		return
	}
	windowStart := time.Now()
	for {
		// Stopping gracefully, a lane hands on what was already read (one
		// attempt each: no retry, split or backoff starts) before it
		// returns. With several lanes a record finished in one lane can be
		// ahead of the checkpoint only while an earlier record waits in
		// another; draining them all lets the final checkpoint pass every
		// record read, so a restart (a registry update, a deploy) delivers
		// none of them again.
		draining := l.p.halted()
		if ctx.Err() != nil || draining && !l.queued() {
			return
		}
		deadline := windowStart.Add(e.set.BatchingWindow)
		batch := l.take(draining || !time.Now().Before(deadline))
		if batch == nil {
			l.idle()
			if !l.sleep(ctx, deadline) {
				return
			}
			continue
		}
		ok := l.invoke(ctx, batch)
		clear(batch) // finished: keep no page alive
		if !ok {
			return
		}
		windowStart = time.Now()
	}
}

// sleep waits for more records, or for the window deadline when records are
// queued; it reports false when the lane must stop.
func (l *lane[R]) sleep(ctx context.Context, deadline time.Time) bool {
	var timer <-chan time.Time
	if d := time.Until(deadline); d > 0 && l.queued() {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-l.wake:
	case <-timer:
	case <-l.p.halt.Done():
		return false
	case <-l.p.quit:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

// idle lets go of the lane's arrays when it has nothing queued: an idle
// shard keeps a few KB, not slots sized for its last burst. A busy lane
// rarely finds its queue empty, so it seldom allocates them again.
func (l *lane[R]) idle() {
	l.batch = nil
	l.mu.Lock()
	if l.head == len(l.q) {
		l.q, l.head = nil, 0
	}
	l.mu.Unlock()
}

func (l *lane[R]) queued() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head < len(l.q)
}

// invoke runs one batch to its end under the policy: success, retries,
// splits, discards. It returns false when the lane must stop (shutdown) with
// the rest of the batch unfinished, so the checkpoint stays before it.
func (l *lane[R]) invoke(ctx context.Context, refs []ref[R]) bool {
	p, e := l.p, l.p.e
	recs := records(refs)
	runs := []retry.Batch{{Lo: 0, Hi: len(recs)}}
	throttled := 0 // calls in a row that did not reach the function
	for first := true; len(runs) > 0; first = false {
		if !first && (p.halted() || ctx.Err() != nil) {
			return false // stopping: no new invocation (a split half, a retry)
		}
		r := runs[0]
		runs = runs[1:]
		if k := e.set.Policy.Expired(r, time.Now(), func(i int) time.Time { return e.src.arrival(&recs[r.Lo+i]) }); k > 0 {
			old := retry.Batch{Lo: r.Lo, Hi: r.Lo + k}
			// approximateInvokeCount is the invocations these records
			// had (0 when they expired before the first one).
			if !p.discard(ctx, recs[old.Lo:old.Hi:old.Hi], retry.Discard{Batch: old, Condition: lambdaesm.RecordAgeExceeded, InvokeCount: r.Attempts, FunctionError: r.FunctionError}) {
				return false
			}
			p.tr.finish(refs[old.Lo:old.Hi])
			p.checkpointSoon()
			r.Lo += k
			if r.Len() == 0 {
				continue
			}
		}
		// A full slice expression: a handler that appends to its event's
		// records must not write over the rest of the batch.
		batch := recs[r.Lo:r.Hi:r.Hi]
		e.hook.IteratorAge(p.src, time.Since(e.src.arrival(&batch[len(batch)-1])))
		var state map[string]string // the response's, with a tumbling window
		call := e.caller.Call(ctx, len(batch), func(i int) string { return e.src.seq(&batch[i]) },
			func(ictx context.Context) (error, []string) {
				if p.win == nil {
					res := e.cb.Invoke(ictx, batch)
					return res.Err, res.ItemFailures
				}
				res := e.cb.InvokeWindow(ictx, p.win.call(p.id, false, false), batch)
				state = res.State
				return windowErr(res), res.ItemFailures
			})
		out := retry.Outcome{Err: call.Err, FirstFailure: -1, InvalidResponse: call.Invalid != nil}
		if len(call.Failed) > 0 {
			out.FirstFailure = slices.Min(call.Failed)
		}
		failed := 0
		switch {
		case call.Failure() != nil:
			failed = r.Len()
		case out.FirstFailure >= 0:
			failed = r.Len() - out.FirstFailure
		}
		e.hook.BatchInvoked(lambdaesm.Invocation{Source: p.src, Records: r.Len(), Attempt: r.Attempts + 1, Duration: call.Duration, Err: call.Failure(), Failed: failed})
		if err := call.Failure(); err != nil {
			e.log.Warn("the batch failed", "shardId", p.id, "records", r.Len(), "attempt", r.Attempts+1, "err", err)
		}
		if notInvoked(out.Err) {
			// Throttled or failed before reaching the function: not an
			// attempt. Retry the same run after a backoff that grows
			// with the calls refused in a row.
			throttled++
			e.log.Warn("function not invoked (throttled or service error); retrying", "shardId", p.id, "err", out.Err)
			if !p.wait(ctx, e.backoff(throttled)) {
				return false
			}
			runs = append([]retry.Batch{r}, runs...)
			continue
		}
		throttled = 0
		if out.Err != nil && (p.halted() || ctx.Err() != nil) {
			// Stopping, not the function's fault (or no time to retry):
			// leave the records unfinished, behind the checkpoint, for
			// the next reader.
			return false
		}
		d := e.set.Policy.Decide(r, out)
		if p.win == nil {
			p.tr.finish(refs[r.Lo : r.Lo+d.Done])
		} else if !l.handled(ctx, refs[r.Lo:r.Lo+d.Done], state) {
			return false
		}
		if dis := d.Discard; dis != nil {
			if !p.discard(ctx, recs[dis.Batch.Lo:dis.Batch.Hi:dis.Batch.Hi], *dis) {
				return false
			}
			p.tr.finish(refs[dis.Batch.Lo:dis.Batch.Hi])
		}
		p.checkpointSoon()
		if len(d.Next) == 0 {
			continue
		}
		if p.halted() || ctx.Err() != nil {
			return false // shutting down: leave the rest for the next reader
		}
		switch {
		case d.Retry:
			e.hook.BatchRetried(p.src, d.Next[0].Len(), d.Next[0].Attempts+1)
			if !p.wait(ctx, e.set.Policy.Backoff.Delay(d.Next[0].Attempts, rand.Float64())) {
				return false
			}
		case len(d.Next) == 2:
			e.hook.BatchSplit(p.src, r.Len())
		}
		runs = append(d.Next, runs...)
	}
	return true
}

// notInvoked reports whether err says the function was not reached
// (throttled, or a service error before it ran); a nil err costs nothing.
func notInvoked(err error) bool {
	if err == nil {
		return false
	}
	var ni *lambdaesm.NotInvokedError
	return errors.As(err, &ni)
}

// records returns the records of a batch: the page's own records when the
// batch is a run of one page (always so but when a batch spans two reads:
// proc.dispatch groups a page's records by lane), so it copies nothing; a
// copy otherwise. The checkpoint does not read the records (see page.seqs).
func records[R any](refs []ref[R]) []R {
	pg, lo := refs[0].p, int(refs[0].j)
	hi := lo + len(refs)
	for k := range refs {
		if refs[k].p != pg || int(refs[k].j) != lo+k {
			recs := make([]R, len(refs))
			for i, r := range refs {
				recs[i] = r.p.recs[r.j]
			}
			return recs
		}
	}
	return pg.recs[lo:hi:hi]
}

// discard hands records to the failure destination, retrying until it
// accepts them; it returns false when stopped first.
func (p *proc[R]) discard(ctx context.Context, recs []R, d retry.Discard) bool {
	e := p.e
	first, last := e.src.seq(&recs[0]), e.src.seq(&recs[len(recs)-1])
	dis := Discarded[R]{
		ShardID: p.id, Records: recs, Condition: d.Condition, InvokeCount: d.InvokeCount, FunctionError: d.FunctionError,
		StartSequenceNumber: first, EndSequenceNumber: last,
		FirstArrival: e.src.arrival(&recs[0]), LastArrival: e.src.arrival(&recs[len(recs)-1]),
	}
	if e.cb.OnDiscard == nil {
		e.log.Warn("discarding records (no failure destination)", "shardId", p.id, "condition", d.Condition,
			"records", len(recs), "startSequenceNumber", first, "endSequenceNumber", last)
		e.hook.RecordsDropped(p.src, len(recs), d.Condition)
		return true
	}
	for attempt := 1; ; attempt++ {
		err := e.cb.OnDiscard(ctx, dis)
		if err == nil {
			e.hook.RecordsDropped(p.src, len(recs), d.Condition)
			return true
		}
		e.log.Warn("failure destination refused records; retrying", "shardId", p.id, "startSequenceNumber", first,
			"endSequenceNumber", last, "attempt", attempt, "err", err)
		if !p.wait(ctx, e.backoff(attempt)) {
			return false
		}
	}
}
