package streamengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Tumbling windows (Settings.TumblingWindow, Lambda's
// TumblingWindowInSeconds).
//
// A shard's records fall in windows of the configured length, aligned on
// the Unix epoch by record arrival time (Kinesis ApproximateArrivalTimestamp,
// DynamoDB ApproximateCreationDateTime), as the developer guide's example
// shows: a record that arrived at 07:04:35 is in the 120-second window
// 07:04:00-07:06:00. Windows never go back: a record that arrives late, after
// its window closed, goes to the last window (which then continues with a
// fresh state, as after an early termination).
//
// The one lane of the shard (a window needs ParallelizationFactor 1) invokes
// batches of one window each, passing the state the previous invocation of
// the window returned ({} in the first), and closes a window with a final
// invocation (no records, isFinalInvokeForWindow) once every record of the
// window is read: when the next record belongs to a later window, when a
// read that started windowCloseDelay after the window's end came back empty
// (an idle shard), or when the shard ends. A final invocation is retried
// until it succeeds ("your Lambda function suspends further processing until
// a successful invocation"). A state larger than the limit (1 MB, or what
// the store holds) ends the window early: a final invocation with that state
// and isWindowTerminatedEarly, after which the window continues with a fresh
// state.
//
// The checkpoint carries the window and its state (shard.Checkpoint.Window),
// changed together with the records an invocation finished, so a restart or
// a lease hand-off resumes the aggregate; the window is dropped from it only
// when its final invocation succeeded.

// windowCloseDelay is how long after a window's end an empty read must
// start for the window to close on an idle shard: records become readable a
// little after they arrive, and this process's clock may run ahead of the
// service's.
const windowCloseDelay = 5 * time.Second

// endOfTime is the read position of a shard read to its end.
var endOfTime = time.Unix(0, math.MaxInt64)

// errNoState is the failure of a tumbling-window invocation whose response
// has no state.
var errNoState = errors.New("the response has no state: with a tumbling window, " +
	"\"If the response does not contain a state property, Lambda considers this a failed invocation\"")

// openWindow is the tumbling window a shard's lane is in.
type openWindow struct {
	start, end time.Time
	state      map[string]string
	size       int // the state's JSON size
}

// call is the WindowCall of an invocation of w: a copy of the state, which
// the handler may change without touching the window's.
func (w *openWindow) call(shardID string, final, early bool) WindowCall {
	st := maps.Clone(w.state)
	if st == nil {
		st = map[string]string{}
	}
	return WindowCall{ShardID: shardID, Start: w.start, End: w.end, State: st, Final: final, TerminatedEarly: early}
}

// windowErr is the error of a window invocation: the function's, or
// errNoState for a response without a state or one that does not decode
// (which has no state to read either). The latter fails the invocation
// whether or not ReportBatchItemFailures is set: read as a response
// without failures, it would finish the records and reset the window's
// state.
func windowErr(res WindowResult) error {
	switch {
	case res.Err == nil && res.State == nil:
		return errNoState
	case core.InvalidPartialBatchResponse(res.Err):
		return fmt.Errorf("%w (%s)", errNoState, res.Err.Error())
	}
	return res.Err
}

// stateSize is the length of a state's JSON.
func stateSize(st map[string]string) int {
	b, err := json.Marshal(st)
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}

// windowOf is the start of the window a record that arrived at t is in:
// the last multiple of the window length since the epoch, but never before
// the shard's current or last window.
func (p *proc[R]) windowOf(t time.Time) time.Time {
	d := int64(p.e.set.TumblingWindow)
	ns := t.UnixNano()
	start := time.Unix(0, ns-((ns%d)+d)%d).UTC()
	switch {
	case p.win != nil && start.Before(p.win.start):
		return p.win.start
	case start.Before(p.lastStart):
		return p.lastStart
	}
	return start
}

// open makes the window starting at start the lane's, with an empty state.
func (p *proc[R]) open(start time.Time) {
	p.win = &openWindow{start: start, end: start.Add(p.e.set.TumblingWindow), state: map[string]string{}, size: 2}
	p.lastStart = start
	// The checkpoint says the window is open (with the next write), so a
	// restart closes it even if none of its records succeeds.
	p.tr.setWindow(&shard.Window{Start: start, State: p.win.state})
}

// restoreWindow resumes the window a checkpoint read from the store was in.
func (p *proc[R]) restoreWindow(cp shard.Checkpoint) {
	if p.e.set.TumblingWindow <= 0 || cp.Window == nil || cp.SequenceNumber == "" {
		return
	}
	st := cp.Window.State
	if st == nil {
		st = map[string]string{}
	}
	p.win = &openWindow{start: cp.Window.Start, end: cp.Window.Start.Add(p.e.set.TumblingWindow), state: st, size: stateSize(st)}
	p.lastStart = cp.Window.Start
	p.tr.restore(cp.SequenceNumber, cp.Window)
	p.saved = cp.SequenceNumber
}

// readUpTo records that every record that arrived before t was read and
// handed to the lane, and wakes the lane to see whether its window closes.
func (p *proc[R]) readUpTo(t time.Time) {
	if p.e.set.TumblingWindow <= 0 {
		return
	}
	for {
		old := p.readTo.Load()
		if t.UnixNano() <= old || p.readTo.CompareAndSwap(old, t.UnixNano()) {
			break
		}
	}
	for _, l := range p.lanes {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// runWindows is the lane's loop with a tumbling window: batches of one
// window at a time, and the window's final invocation when it closes.
func (l *lane[R]) runWindows(ctx context.Context) {
	p, e := l.p, l.p.e
	if w := p.win; w != nil && w.size > e.maxState {
		// Saved by a store that holds more than this one (the store
		// changed): end the window first.
		if !l.final(ctx, w.state, true) {
			return
		}
		l.fresh()
	}
	batchStart := time.Now()
	for {
		if p.halted() || ctx.Err() != nil {
			return // stopping: no new invocation
		}
		// How far the reader got, before looking at the queue: every
		// record that arrived before it is queued by now.
		read := time.Unix(0, p.readTo.Load())
		if w := p.win; w != nil {
			more, queued := l.queuedIn(w.start)
			if !more && (queued || !read.Before(w.end)) {
				if !l.final(ctx, w.state, false) {
					return
				}
				p.win = nil
				p.tr.setWindow(nil)
				p.checkpointSoon()
				continue
			}
		}
		deadline := batchStart.Add(e.set.BatchingWindow)
		batch := l.takeWindow(!time.Now().Before(deadline), read)
		if batch == nil {
			l.idle()
			if !l.sleep(ctx, deadline) {
				return
			}
			continue
		}
		ok := l.invoke(ctx, batch)
		clear(batch)
		if !ok {
			return
		}
		batchStart = time.Now()
	}
}

// queuedIn tells whether the next queued record is in the window starting
// at start (more), and whether any record is queued.
func (l *lane[R]) queuedIn(start time.Time) (more, queued bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head == len(l.q) {
		return false, false
	}
	r := l.q[l.head]
	return l.p.windowOf(l.p.e.src.arrival(&r.p.recs[r.j])).Equal(start), true
}

// takeWindow is take for a tumbling window: the next batch holds records of
// the window open now (opening one for the next record if none is), up to
// BatchSize and within the payload cap less the state. It is ready when
// full, when the batching window passed, when the next record is in a later
// window, or when every record of the window is read (read is past its end).
func (l *lane[R]) takeWindow(windowOver bool, read time.Time) []ref[R] {
	p, set := l.p, &l.p.e.set
	l.mu.Lock()
	defer l.mu.Unlock()
	avail := l.q[l.head:]
	if len(avail) == 0 {
		return nil
	}
	if p.win == nil {
		p.open(p.windowOf(p.e.src.arrival(&avail[0].p.recs[avail[0].j])))
	}
	w := p.win
	room := set.MaxPayload - w.size - windowEventOverhead
	n, bytes := 0, 0
	ready := windowOver || !read.Before(w.end)
	for n < len(avail) && n < set.BatchSize {
		rec := &avail[n].p.recs[avail[n].j]
		if !p.windowOf(p.e.src.arrival(rec)).Equal(w.start) {
			ready = true // the rest is in a later window
			break
		}
		sz := p.e.src.size(rec)
		if n > 0 && bytes+sz > room {
			ready = true
			break
		}
		bytes += sz
		n++
	}
	if n == 0 || (n < set.BatchSize && !ready) {
		return nil
	}
	batch := append(l.batch[:0], avail[:n]...)
	l.batch = batch
	clear(avail[:n])
	l.head += n
	if l.head == len(l.q) {
		l.reset()
	}
	return batch
}

// windowEventOverhead bounds the JSON of a time-window event's fields other
// than its records and state (window, shardId, eventSourceARN, flags).
const windowEventOverhead = 1024

// handled finishes the records an invocation of the window handled,
// with the state it returned, in one step; a state beyond the limit first
// ends the window early (the records stay unfinished until that final
// invocation succeeded, so no checkpoint holds such a state). It returns
// false when the lane must stop.
func (l *lane[R]) handled(ctx context.Context, refs []ref[R], state map[string]string) bool {
	p := l.p
	if len(refs) == 0 {
		return true
	}
	w := p.win
	state = maps.Clone(state) // the handler's map may change later
	size := stateSize(state)
	if size > p.e.maxState {
		p.e.log.Warn("the window state is larger than the limit; terminating the window early", "shardId", p.id,
			"stateBytes", size, "limit", p.e.maxState, "windowStart", w.start)
		if !l.final(ctx, state, true) {
			return false
		}
		state, size = map[string]string{}, 2
	}
	w.state, w.size = state, size
	p.tr.finishWindow(refs, &shard.Window{Start: w.start, State: state})
	p.checkpointSoon()
	return true
}

// fresh continues the open window with an empty state, after an early
// termination.
func (l *lane[R]) fresh() {
	p := l.p
	p.win.state, p.win.size = map[string]string{}, 2
	p.tr.setWindow(&shard.Window{Start: p.win.start, State: p.win.state})
	p.checkpointSoon()
}

// final makes the window's final invocation, with state, until it succeeds
// ("If invocation is unsuccessful, your Lambda function suspends further
// processing until a successful invocation"): MaximumRetryAttempts and
// MaximumRecordAge do not apply, as it has no records. early marks a window
// terminated early. It returns false when the lane must stop first.
func (l *lane[R]) final(ctx context.Context, state map[string]string, early bool) bool {
	p, e := l.p, l.p.e
	w := *p.win
	w.state = state
	for attempt := 1; ; attempt++ {
		if p.halted() || ctx.Err() != nil {
			return false
		}
		call := e.caller.Call(ctx, 0, func(int) string { return "" }, func(ictx context.Context) (error, []string) {
			res := e.cb.InvokeWindow(ictx, w.call(p.id, true, early), nil)
			return windowErr(res), res.ItemFailures
		})
		err := call.Failure()
		e.hook.BatchInvoked(lambdaesm.Invocation{Source: p.src, Records: 0, Attempt: attempt, Duration: call.Duration, Err: err})
		if err == nil {
			return true
		}
		e.log.Warn("the final invocation of a window failed; retrying until it succeeds", "shardId", p.id,
			"windowStart", w.start, "attempt", attempt, "err", err)
		if p.halted() || ctx.Err() != nil {
			return false
		}
		delay := e.set.Policy.Backoff.Delay(attempt, rand.Float64())
		if notInvoked(err) {
			delay = e.backoff(attempt)
		} else {
			e.hook.BatchRetried(p.src, 0, attempt+1)
		}
		if !p.wait(ctx, delay) {
			return false
		}
	}
}
