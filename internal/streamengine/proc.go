package streamengine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/shard"
)

// proc reads one shard and runs its lanes and checkpoints.
type proc[R any] struct {
	e     *Engine[R]
	d     *discovery[R]
	id    string
	pos   position
	src   lambdaesm.Source
	tr    *tracker[R]
	lanes []*lane[R]
	cpReq chan struct{} // a checkpoint may have moved
	quit  chan struct{} // closed when the lanes must stop once idle
	saved string        // last checkpoint written
	// savedVer is the version of the tumbling window written with saved
	// (see tracker.winVer).
	savedVer uint64
	lost     bool // the lease is lost: never write again
	// The tumbling window (Settings.TumblingWindow; see window.go): the
	// window open now and the start of the last one, which only the lane
	// touches, and how far the reader got (readTo, unix ns: every record
	// that arrived before it has been handed to the lane).
	win       *openWindow
	lastStart time.Time
	readTo    atomic.Int64
	// failing is set while the last checkpoint write failed: the reader
	// takes no new records until a write succeeds.
	failing atomic.Bool
	// notBefore skips records that arrived before it (see position).
	notBefore time.Time
	stop      context.CancelFunc
	// halt is done when the shard must stop gracefully: the engine stops,
	// or the shard's lease goes to another process.
	halt   context.Context
	haltFn context.CancelFunc
}

func newProc[R any](e *Engine[R], id string, pos position, d *discovery[R]) *proc[R] {
	p := &proc[R]{
		e: e, d: d, id: id, pos: pos,
		src:   lambdaesm.Source{EventSourceARN: e.arn, ShardID: id},
		tr:    newTracker[R](),
		cpReq: make(chan struct{}, 1),
		quit:  make(chan struct{}),
	}
	p.halt, p.haltFn = context.WithCancel(e.lc.StopContext())
	p.lanes = make([]*lane[R], e.set.ParallelizationFactor)
	for i := range p.lanes {
		p.lanes[i] = &lane[R]{p: p, wake: make(chan struct{}, 1)}
	}
	return p
}

// run reads the shard until it ends or the engine stops; lanes and the
// checkpoint writer live as long as run.
func (p *proc[R]) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.stop = cancel
	p.e.hook.ShardStarted(p.src, p.pos.Type)
	lanesDone := make(chan struct{})
	cpDone := make(chan struct{})
	go func() {
		defer close(cpDone)
		p.checkpointer(ctx, lanesDone)
	}()
	laneWG := make(chan struct{}, len(p.lanes))
	for _, l := range p.lanes {
		go func() {
			defer func() { laneWG <- struct{}{} }()
			l.run(ctx)
		}()
	}
	ended := p.readShard(ctx)
	if ended {
		// Read to the end: wait until every record is finished, then
		// record the shard end before children may start.
		ended = p.drain(ctx)
	}
	close(p.quit)
	for range p.lanes {
		<-laneWG
	}
	close(lanesDone)
	<-cpDone
	if p.lost {
		ended = false // the shard end was not recorded: whoever holds the lease finishes it
	}
	if ended {
		fctx, fcancel := finalCtx(ctx)
		err := p.e.set.Store.Save(fctx, p.e.set.Mapping, p.id, shard.Checkpoint{ShardEnd: true})
		fcancel()
		if err != nil {
			p.e.log.Error("writing the shard-end checkpoint failed; the shard will be read again", "shardId", p.id, "err", err)
			if !errors.Is(err, shard.ErrLeaseLost) {
				p.e.hook.CheckpointFailed(p.src, err)
				p.e.health.Failed(p.id, err)
			}
			ended = false
		} else {
			p.e.hook.CheckpointWritten(p.src, "SHARD_END")
			p.e.hook.ShardEnded(p.src)
		}
	}
	p.haltFn()
	// Release before discovery may start the shard again, or the release
	// could give away the lease of the new reader.
	if !p.lost {
		p.d.release(p.id)
	}
	p.d.ended(p.id, ended)
}

// stopGracefully halts the shard: the in-flight batch finishes and the
// checkpoint is written.
func (p *proc[R]) stopGracefully() { p.haltFn() }

func (p *proc[R]) halted() bool { return p.halt.Err() != nil }

// wait sleeps d unless the shard halts or ctx ends first; it reports whether
// the full wait happened.
func (p *proc[R]) wait(ctx context.Context, d time.Duration) bool {
	return core.Sleep(ctx, p.halt.Done(), d)
}

// read hands the shard's records to the lanes until the shard ends (true)
// or reading stops (false). It never skips a record because of a service
// error: it retries with backoff, and after an expired iterator it resumes
// after the last record it read.
func (p *proc[R]) read(ctx context.Context) bool {
	e := p.e
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Cancel an in-flight read when reading must stop, without a goroutine
	// per shard.
	defer context.AfterFunc(p.halt, cancel)()
	pos := p.pos
	iter := ""
	failures := 0
	lastSeq := ""
	capacity := e.set.BatchSize * e.set.ParallelizationFactor
	perLane := make([][]ref[R], len(p.lanes))
	// spare is the array of the previous response when dispatch copied
	// its records out (see dispatch): the next read converts into it.
	var spare []R
	var next time.Time
	for {
		if iter == "" {
			p.notBefore = pos.NotBefore
			it, err := e.src.iterator(rctx, p.id, pos)
			if err != nil {
				if rctx.Err() != nil || p.halted() {
					return false
				}
				if classify(err) == errTrimmed && pos.Type != "TRIM_HORIZON" {
					// The position is past the stream's retention (or, on
					// DynamoDB Local, LATEST on an empty shard): start
					// from the oldest record there is.
					e.log.Warn("shard position no longer readable; resuming at TRIM_HORIZON", "shardId", p.id, "position", pos.Type, "err", err)
					pos = position{Type: "TRIM_HORIZON"}
					continue
				}
				failures++
				e.log.Warn("getting a shard iterator failed; retrying", "shardId", p.id, "err", err)
				if !p.wait(rctx, e.backoff(failures)) {
					return false
				}
				continue
			}
			iter = it
		}
		// Bounded memory: wait while the lanes hold a full load, and
		// take nothing new while checkpoints cannot be written.
		for {
			_, inflight, changed := p.tr.state()
			if inflight <= capacity && !p.failing.Load() {
				break
			}
			select {
			case <-changed:
			case <-rctx.Done():
				return false
			}
		}
		if !p.wait(rctx, time.Until(next)) {
			return false
		}
		// Reads are spaced from their start, as a rate limit (at most
		// 1/MinPollInterval per second), so a slow read does not stretch
		// the cadence.
		started := time.Now()
		next = started.Add(e.set.MinPollInterval)
		recs, nextIter, ended, err := e.src.read(rctx, p.id, iter, e.set.ReadLimit, spare)
		if spare != nil && len(recs) > 0 && &recs[:1][0] == &spare[:1][0] {
			// What the last response left past this one's end.
			clear(recs[len(recs):cap(recs)])
		}
		spare = nil
		if err != nil {
			if rctx.Err() != nil || p.halted() {
				return false
			}
			failures++
			switch classify(err) {
			case errExpiredIterator:
				iter = ""
				switch {
				case lastSeq != "":
					pos = position{Type: "AFTER_SEQUENCE_NUMBER", Seq: lastSeq, NotBefore: p.notBefore}
				case pos.Type == "LATEST":
					// A new LATEST would skip what arrived meanwhile:
					// resume from the time LATEST was fixed.
					pos = e.resume(pos.Time)
				}
				continue
			case errTrimmed:
				e.log.Error("records expired from the stream before they were read; resuming at TRIM_HORIZON", "shardId", p.id, "err", err)
				iter, pos = "", position{Type: "TRIM_HORIZON"}
				continue
			case errThrottled:
				e.hook.Throttled(p.src, "GetRecords")
				e.log.Debug("read throttled; backing off", "shardId", p.id, "err", err)
			default:
				e.log.Warn("reading the shard failed; retrying", "shardId", p.id, "err", err)
			}
			if !p.wait(rctx, e.backoff(failures)) {
				return false
			}
			continue
		}
		failures = 0
		e.health.Polled()
		e.hook.RecordsPolled(p.src, len(recs))
		if len(recs) > 0 {
			lastSeq = e.src.seq(&recs[len(recs)-1])
			last := e.src.arrival(&recs[len(recs)-1])
			if free := p.dispatch(recs, perLane); free != nil {
				spare = free[:0]
			}
			p.readUpTo(last)
		} else {
			// Caught up: what arrived a little before this read was in it.
			p.readUpTo(started.Add(-windowCloseDelay))
			next = time.Now().Add(e.set.PollInterval)
			// Idle: keep no scratch sized for a full response.
			clear(perLane)
		}
		if ended {
			p.readUpTo(endOfTime)
			return true
		}
		iter = nextIter
	}
}

// dispatch filters a response and hands each record to its key's lane.
// When the lanes' records are not the whole response in order (records
// filtered out or skipped, or several lanes), it copies them into a page
// array grouped by lane, so that every batch is a run of it that the handler
// gets uncopied, and returns recs, which nothing references any more, for
// the next read to convert into.
func (p *proc[R]) dispatch(recs []R, perLane [][]ref[R]) (free []R) {
	e := p.e
	pg := &page[R]{recs: recs, seqs: make([]string, len(recs)), done: make([]bool, len(recs))}
	for i := range recs {
		pg.seqs[i] = e.src.seq(&recs[i])
	}
	// Records from before a resumed start marker were never the mapping's.
	skipped := 0
	if !p.notBefore.IsZero() {
		for skipped < len(recs) && e.src.arrival(&recs[skipped]).Before(p.notBefore) {
			pg.done[skipped] = true
			skipped++
		}
		if skipped < len(recs) {
			p.notBefore = time.Time{}
		}
	}
	filtered := 0
	nl := uint32(len(p.lanes))
	for i := skipped; i < len(recs); i++ {
		if e.cb.Filter != nil && !e.cb.Filter(&recs[i]) {
			pg.done[i] = true
			filtered++
			continue
		}
		l := 0
		if nl > 1 {
			l = int(e.src.laneKey(&recs[i]) % nl)
		}
		perLane[l] = append(perLane[l], ref[R]{p: pg, i: int32(i), j: int32(i)})
	}
	pg.ndone = filtered + skipped
	if kept := len(recs) - pg.ndone; nl > 1 || kept < len(recs) {
		grouped := make([]R, kept)
		j := 0
		for _, refs := range perLane {
			for k := range refs {
				grouped[j] = recs[refs[k].i]
				refs[k].j = int32(j)
				j++
			}
		}
		pg.recs, free = grouped, recs
	}
	if filtered > 0 {
		e.hook.RecordsFilteredOut(p.src, filtered)
	}
	p.tr.add(pg)
	if pg.ndone > 0 {
		p.checkpointSoon()
	}
	for l, refs := range perLane {
		if len(refs) > 0 {
			p.lanes[l].push(refs)
			clear(refs) // the scratch must not keep the page alive
			perLane[l] = refs[:0]
		}
	}
	return free
}

// drain waits until every record read is finished, and a tumbling window
// open at the end of the shard is closed (its final invocation succeeded);
// false when stopped first.
func (p *proc[R]) drain(ctx context.Context) bool {
	for {
		win, inflight, changed := p.tr.window()
		if inflight == 0 && win == nil {
			return true
		}
		select {
		case <-changed:
		case <-p.halt.Done():
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// checkpointSoon asks the checkpoint writer to save the current checkpoint.
func (p *proc[R]) checkpointSoon() {
	select {
	case p.cpReq <- struct{}{}:
	default:
	}
}

// checkpointer writes checkpoints as they move, at most one per
// CheckpointInterval (what finished meanwhile is coalesced), retries failed
// writes with backoff, and writes a final one at once when the lanes have
// stopped.
func (p *proc[R]) checkpointer(ctx context.Context, lanesDone <-chan struct{}) {
	interval := p.e.set.CheckpointInterval
	// next is the least wait before the following write.
	next := func() time.Duration { return interval }
	_, ticks := p.e.set.Store.(*shard.FileStore)
	if ticks {
		next = func() time.Duration { return untilTick(time.Now(), interval) }
	}
	var due <-chan time.Time // the next write may not happen before
	pending := false
	failures := 0
	for {
		select {
		case <-p.cpReq:
			if ticks && !pending && due == nil && interval > 0 {
				// Wait for the next tick, which the other shards
				// share (see untilTick).
				due = time.After(next())
			}
			pending = true
		case <-due:
			due = nil
		case <-lanesDone:
			fctx, cancel := finalCtx(ctx)
			p.save(fctx)
			cancel()
			return
		}
		if !pending || due != nil {
			continue
		}
		pending = false
		if err := p.save(ctx); err != nil {
			failures++
			pending = true
			due = time.After(p.e.backoff(failures))
			continue
		}
		failures = 0
		if interval > 0 {
			due = time.After(next())
		}
	}
}

// untilTick is the time from now to the next multiple of interval since
// the Unix epoch. With a [shard.FileStore], which writes together the
// checkpoints saved together, every shard's checkpointer writes on these
// shared ticks, so the shards of a busy mapping save together and cost one
// file write per interval, rather than one per shard at phases of their
// own. Other stores write an item per shard (a lease table): there the
// shards keep their own phases, so their writes stay spread over the
// interval instead of arriving at once.
func untilTick(now time.Time, interval time.Duration) time.Duration {
	return interval - time.Duration(now.UnixNano()%int64(interval))
}

// save writes the current checkpoint. It returns an error only for a write
// worth retrying; a lost lease stops the shard and an unusable store stops
// the mapping.
func (p *proc[R]) save(ctx context.Context) error {
	cp, win, ver := p.tr.mark()
	if cp == "" || (cp == p.saved && ver == p.savedVer) || p.lost {
		return nil
	}
	e := p.e
	err := e.set.Store.Save(ctx, e.set.Mapping, p.id, shard.Checkpoint{SequenceNumber: cp, Window: win})
	switch {
	case err == nil:
		p.saved, p.savedVer = cp, ver
		if p.failing.Swap(false) {
			p.tr.wake() // the reader waits for this
		}
		e.health.Checkpointed(p.id)
		e.hook.CheckpointWritten(p.src, cp)
		return nil
	case errors.Is(err, shard.ErrLeaseLost):
		p.lost = true
		e.log.Warn("lease lost; stopping the shard", "shardId", p.id, "err", err)
		p.haltFn() // no new invocation
		p.stop()   // and cancel the ones in flight
		return nil
	}
	e.hook.CheckpointFailed(p.src, err)
	e.health.Failed(p.id, err)
	if errors.Is(err, shard.ErrStoreUnusable) {
		e.fail(fmt.Errorf("shard %s: %w", p.id, err))
		return nil
	}
	p.failing.Store(true)
	e.log.Warn("writing a checkpoint failed; retrying, and reading no new records of the shard meanwhile", "shardId", p.id, "err", err)
	return err
}
