package streamengine

import (
	"sync"

	"github.com/lambdaesm/lambdaesm/shard"
)

// page is the records of one GetRecords response, in sequence order, and
// which of them are finished (handled, filtered out or discarded by policy).
type page[R any] struct {
	// recs are the records the lanes invoke: the response itself, or
	// (see proc.dispatch) those not filtered out, grouped by lane.
	recs []R
	// seqs are the records' sequence numbers, taken when the page was
	// read: a handler may be given recs itself (see lane.records), and
	// whatever it does to them must not move the checkpoint.
	seqs   []string
	done   []bool // by position in the response, as seqs
	ndone  int
	prefix int // records [0, prefix) are all done
}

// ref names one record of a page: i is its position in the response (done,
// seqs), j in the page's recs.
type ref[R any] struct {
	p    *page[R]
	i, j int32
}

// tracker orders a shard's pages and computes the checkpoint: the sequence
// number of the last record before which every record is finished, however
// the lanes interleave.
type tracker[R any] struct {
	mu       sync.Mutex
	pages    []*page[R] // unfinished pages, oldest first
	inflight int        // records read and not finished
	cp       string     // checkpoint sequence number; "" for none yet
	changed  chan struct{}
	// watched is set when changed was handed out by state: only then is
	// it closed (and replaced) at the next change, so batches that finish
	// while nobody waits cost no channel.
	watched bool
	// win is the tumbling window open at cp with its state (nil for none),
	// changed with the records it covers so a checkpoint never pairs a
	// position with another position's state; winVer counts its changes.
	win    *shard.Window
	winVer uint64
}

func newTracker[R any]() *tracker[R] {
	return &tracker[R]{changed: make(chan struct{})}
}

// add appends a page whose done flags may already be set (filtered records).
func (t *tracker[R]) add(p *page[R]) {
	t.mu.Lock()
	before := t.inflight
	t.inflight += len(p.done) - p.ndone
	t.pages = append(t.pages, p)
	t.advance(before)
	t.mu.Unlock()
}

// finish marks records finished and advances the checkpoint.
func (t *tracker[R]) finish(refs []ref[R]) {
	if len(refs) == 0 {
		return
	}
	t.mu.Lock()
	before := t.inflight
	for _, r := range refs {
		if !r.p.done[r.i] {
			r.p.done[r.i] = true
			r.p.ndone++
			t.inflight--
		}
	}
	t.advance(before)
	t.mu.Unlock()
}

// finishWindow marks records finished, as finish does, and makes w the
// window open at the checkpoint, in one step.
func (t *tracker[R]) finishWindow(refs []ref[R], w *shard.Window) {
	t.mu.Lock()
	before := t.inflight
	for _, r := range refs {
		if !r.p.done[r.i] {
			r.p.done[r.i] = true
			r.p.ndone++
			t.inflight--
		}
	}
	t.win, t.winVer = w, t.winVer+1
	t.advance(before)
	t.notify()
	t.mu.Unlock()
}

// setWindow makes w the window open at the checkpoint (nil: none).
func (t *tracker[R]) setWindow(w *shard.Window) { t.finishWindow(nil, w) }

// restore starts the tracker at a checkpoint read from the store, with the
// window open there.
func (t *tracker[R]) restore(cp string, w *shard.Window) {
	t.mu.Lock()
	t.cp, t.win = cp, w
	t.mu.Unlock()
}

// mark returns the checkpoint with the window open there and the window's
// version.
func (t *tracker[R]) mark() (cp string, w *shard.Window, ver uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cp, t.win, t.winVer
}

// window returns the window open at the checkpoint, and a channel closed at
// the next change.
func (t *tracker[R]) window() (w *shard.Window, inflight int, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watched = true
	return t.win, t.inflight, t.changed
}

// advance moves the checkpoint over finished records and wakes waiters when
// the checkpoint moved or records finished since before (the in-flight count
// then); t.mu is held.
func (t *tracker[R]) advance(before int) {
	moved := false
	for len(t.pages) > 0 {
		p := t.pages[0]
		for p.prefix < len(p.done) && p.done[p.prefix] {
			p.prefix++
		}
		if p.prefix > 0 {
			if s := p.seqs[p.prefix-1]; s != t.cp {
				t.cp, moved = s, true
			}
		}
		if p.prefix < len(p.done) {
			break
		}
		t.pages[0] = nil
		t.pages = t.pages[1:]
	}
	if len(t.pages) == 0 {
		t.pages = nil // an idle shard keeps no array of finished pages
	}
	if moved || t.inflight < before {
		// Wake the reader too when records finished without moving the
		// checkpoint: it waits for the lanes' load to drop, not only for
		// the checkpoint.
		t.notify()
	}
}

// notify wakes the waiters of state; t.mu is held.
func (t *tracker[R]) notify() {
	if !t.watched {
		return
	}
	close(t.changed)
	t.changed = make(chan struct{})
	t.watched = false
}

// wake wakes the waiters of state without a change of the checkpoint.
func (t *tracker[R]) wake() {
	t.mu.Lock()
	t.notify()
	t.mu.Unlock()
}

// state returns the checkpoint, the records in flight, and a channel closed
// at the next change.
func (t *tracker[R]) state() (cp string, inflight int, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watched = true
	return t.cp, t.inflight, t.changed
}

// checkpoint returns the checkpoint: the sequence number of the last record
// before which every record is finished, "" for none yet.
func (t *tracker[R]) checkpoint() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cp
}
