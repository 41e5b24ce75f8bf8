package streamengine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/shard"
)

// clockSkew is how far this process's clock may run ahead of the stream
// service's: a LATEST position is kept as the time the shard was first read
// less this much, so no record written after that read is missed when
// reading resumes from the time.
const clockSkew = time.Second

// shardState is what discovery knows of one shard.
type shardState struct {
	info      shard.Info
	running   bool
	finished  bool // read to its end and handled, or skipped
	processed bool // finished by reading it (its children start at TRIM_HORIZON)
	proc      interface{ stopGracefully() }
}

// discovery lists shards and starts a reader for each shard whose parents are
// finished, on a timer and whenever a shard ends.
type discovery[R any] struct {
	e      *Engine[R]
	runCtx context.Context
	wg     *sync.WaitGroup
	mu     sync.Mutex
	state  map[string]*shardState
	shards []shard.Info // as last listed
	// With a shard.LeaseStore: the shards this process holds. Nil reads all.
	leases shard.LeaseStore
	held   map[string]bool
	leased time.Time // the last successful lease round
}

func (d *discovery[R]) loop() error {
	e := d.e
	d.leases, _ = e.set.Store.(shard.LeaseStore)
	t := time.NewTimer(0)
	defer t.Stop()
	var leaseTick <-chan time.Time
	if d.leases != nil {
		lt := time.NewTicker(e.set.LeaseInterval)
		defer lt.Stop()
		leaseTick = lt.C
	}
	first := true
	failures := 0
	for {
		list := true
		select {
		case <-t.C:
		case <-e.kick:
		case <-leaseTick:
			list = false
		case <-e.lc.Stopping():
			return nil
		}
		select {
		case <-e.lc.Stopping():
			// A timer that fired with the stop: no lease is taken
			// while stopping.
			return nil
		default:
		}
		err := d.discover(list)
		switch {
		case err == nil:
			failures = 0
			if list {
				t.Reset(e.set.DiscoveryInterval)
			}
		case first && permanent(err), errors.Is(err, shard.ErrStoreUnusable), errors.Is(err, shard.ErrLeaseLost):
			e.fail(err)
			return nil // Run returns the error once every shard stopped
		default:
			failures++
			e.health.Failed("", err)
			e.log.Warn("discovering shards failed; retrying", "err", err)
			if list {
				t.Reset(min(e.backoff(failures), e.set.DiscoveryInterval))
			}
		}
		first = false
	}
}

// discover lists the shards (when list is set, else it uses the last
// listing), renews leases, stops shards whose lease went elsewhere, and starts
// what may start.
func (d *discovery[R]) discover(list bool) error {
	shards := d.shards
	if list || shards == nil {
		var err error
		if shards, err = d.e.src.shards(d.runCtx); err != nil {
			return err
		}
		d.shards = shards
	}
	if d.leases != nil {
		held, err := d.leases.Leases(d.runCtx, d.e.set.Mapping, shards)
		if errors.Is(err, shard.ErrLeaseLost) {
			// This process's identity was taken over (a newer process
			// with its owner name): it will never hold a lease again.
			d.hold(nil)
			return err
		}
		if err != nil {
			if d.leased.IsZero() {
				d.leased = time.Now()
			}
			if time.Since(d.leased) > d.e.set.LeaseTimeout {
				// The leases may have lapsed and been taken: stop
				// every shard rather than read one another owns.
				d.e.log.Warn("no lease round succeeded within the lease timeout; stopping every shard", "err", err)
				d.hold(nil)
			}
			return err
		}
		d.leased = time.Now()
		d.hold(held)
	}
	listed := make(map[string]bool, len(shards))
	d.mu.Lock()
	for _, s := range shards {
		listed[s.ID] = true
		if st, ok := d.state[s.ID]; ok {
			st.info = s
		} else {
			d.state[s.ID] = &shardState{info: s}
		}
	}
	d.mu.Unlock()
	// Parents come before children: repeat until nothing changes, so a
	// chain of finished ancestors resolves in one discovery.
	for changed := true; changed; {
		changed = false
		for _, s := range shards {
			c, err := d.consider(s.ID, listed)
			if err != nil {
				return err
			}
			changed = changed || c
		}
	}
	return nil
}

// consider decides about one shard; it reports whether its state changed.
func (d *discovery[R]) consider(id string, listed map[string]bool) (bool, error) {
	e := d.e
	d.mu.Lock()
	st := d.state[id]
	if st.running || st.finished || (d.held != nil && !d.held[id]) {
		d.mu.Unlock()
		return false, nil
	}
	parents := st.info.Parents
	d.mu.Unlock()
	anyProcessed := false
	for _, p := range parents {
		done, processed, err := d.parentDone(p, listed)
		if err != nil || !done {
			return false, err
		}
		anyProcessed = anyProcessed || processed
	}

	cp, ok, err := e.set.Store.Load(d.runCtx, e.set.Mapping, id)
	if err != nil {
		return false, err
	}
	var pos position
	switch {
	case ok && cp.ShardEnd:
		d.finish(id, true)
		return true, nil
	case ok && cp.SequenceNumber != "":
		pos = position{Type: "AFTER_SEQUENCE_NUMBER", Seq: cp.SequenceNumber}
	case ok && cp.SequenceNumber == "" && !cp.ShardEnd:
		pos = e.resume(cp.Start)
	case anyProcessed:
		pos = position{Type: "TRIM_HORIZON"}
	case d.skips(st.info, anyProcessed):
		d.finish(id, false)
		return true, nil
	case e.set.StartingPosition == "TRIM_HORIZON":
		pos = position{Type: "TRIM_HORIZON"}
	default:
		// Fix LATEST or AT_TIMESTAMP before the first read, so a restart
		// or another replica resumes there rather than at a new LATEST.
		start := e.set.StartingTimestamp
		if e.set.StartingPosition == "LATEST" {
			start = time.Now().Add(-clockSkew)
		}
		start = start.UTC().Round(0)
		if err := e.set.Store.Save(d.runCtx, e.set.Mapping, id, shard.Checkpoint{Start: start}); err != nil {
			if errors.Is(err, shard.ErrLeaseLost) {
				return false, nil // the next lease round sorts it out
			}
			e.hook.CheckpointFailed(lambdaesm.Source{EventSourceARN: e.arn, ShardID: id}, err)
			e.health.Failed(id, err)
			return false, err
		}
		pos = position{Type: e.set.StartingPosition, Time: start}
	}
	p := newProc(e, id, pos, d)
	p.restoreWindow(cp)
	d.mu.Lock()
	st.running, st.proc = true, p
	d.mu.Unlock()
	d.wg.Go(func() { p.run(d.runCtx) })
	return true, nil
}

// parentDone tells whether a parent shard is finished, here or (with a
// shared store) by another process, and whether it was read rather than
// skipped. A parent no longer listed has expired: nothing to wait for.
func (d *discovery[R]) parentDone(id string, listed map[string]bool) (done, processed bool, err error) {
	d.mu.Lock()
	ps, ok := d.state[id]
	if !listed[id] || !ok {
		d.mu.Unlock()
		return true, false, nil
	}
	if ps.finished {
		d.mu.Unlock()
		return true, ps.processed, nil
	}
	running := ps.running
	d.mu.Unlock()
	if running {
		return false, false, nil
	}
	cp, ok, err := d.e.set.Store.Load(d.runCtx, d.e.set.Mapping, id)
	switch {
	case err != nil:
		return false, false, err
	case ok && cp.ShardEnd:
		d.finish(id, true)
		return true, true, nil
	case !ok:
		// Whoever holds a shard that consider skips writes nothing for
		// it: apply the same rule here.
		skipped, err := d.skipped(id, listed)
		if err != nil || !skipped {
			return false, false, err
		}
		d.finish(id, false)
		return true, false, nil
	}
	return false, false, nil
}

// skips is consider's rule for a shard without a checkpoint: a LATEST
// mapping skips a shard closed before it first came to it (it holds no
// record newer than LATEST; Lambda starts only open shards), unless one of
// its parents was read.
func (d *discovery[R]) skips(info shard.Info, anyProcessed bool) bool {
	return info.Closed && !anyProcessed && d.e.set.StartingPosition == "LATEST"
}

// skipped tells whether shard id, which has no checkpoint, is one that
// whoever holds it skips (see skips).
func (d *discovery[R]) skipped(id string, listed map[string]bool) (bool, error) {
	d.mu.Lock()
	info := d.state[id].info
	d.mu.Unlock()
	if !d.skips(info, false) {
		return false, nil
	}
	for _, p := range info.Parents {
		done, processed, err := d.parentDone(p, listed)
		if err != nil || !done || processed {
			return false, err
		}
	}
	return true, nil
}

// hold records the shards this process holds and halts the shards it was
// reading whose lease went elsewhere.
func (d *discovery[R]) hold(held []string) {
	d.mu.Lock()
	prev := d.held
	d.held = make(map[string]bool, len(held))
	for _, id := range held {
		d.held[id] = true
	}
	var idle []string
	for id, st := range d.state {
		switch {
		case d.held[id]:
		case st.running:
			d.e.log.Info("lease moved to another process; stopping the shard", "shardId", id)
			st.proc.stopGracefully() // it releases the lease once stopped
		case prev[id]:
			idle = append(idle, id) // held but never started: give it back now
		}
	}
	d.mu.Unlock()
	for _, id := range idle {
		d.release(id)
	}
	if h := d.e.hook; h.LeaseEvents() {
		for id := range d.held {
			if !prev[id] {
				h.LeaseAcquired(lambdaesm.Source{EventSourceARN: d.e.arn, ShardID: id})
			}
		}
		for id := range prev {
			if !d.held[id] {
				h.LeaseLost(lambdaesm.Source{EventSourceARN: d.e.arn, ShardID: id})
			}
		}
	}
}

// finish records that a shard is done.
func (d *discovery[R]) finish(id string, processed bool) {
	d.mu.Lock()
	st := d.state[id]
	st.running, st.finished, st.processed = false, true, processed
	d.mu.Unlock()
}

// ended is called by a reader whose shard was read to its end and
// checkpointed, or that stopped (finished=false).
func (d *discovery[R]) ended(id string, finished bool) {
	if finished {
		d.finish(id, true)
		select {
		case d.e.kick <- struct{}{}:
		default:
		}
		return
	}
	d.mu.Lock()
	d.state[id].running = false
	d.mu.Unlock()
}

// retire tells the lease store this process is gone, once every shard has
// stopped and released its lease (Run's deferred wait runs first).
func (d *discovery[R]) retire() {
	if d.leases == nil {
		return
	}
	ctx, cancel := finalCtx(d.runCtx)
	defer cancel()
	if err := d.leases.Retire(ctx, d.e.set.Mapping); err != nil {
		d.e.log.Warn("retiring from the lease table failed; others wait for its heartbeat to lapse", "err", err)
	}
}

// release gives a stopped shard's lease back, after its final checkpoint.
func (d *discovery[R]) release(id string) {
	if d.leases == nil {
		return
	}
	ctx, cancel := finalCtx(d.runCtx)
	defer cancel()
	if err := d.leases.Release(ctx, d.e.set.Mapping, id); err != nil {
		d.e.log.Warn("releasing a lease failed; it will expire instead", "shardId", id, "err", err)
	}
}
