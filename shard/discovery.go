package shard

import (
	"context"
	"sync"
	"time"
)

// shardState is what discovery knows of one shard.
type shardState struct {
	info      shardInfo
	running   bool
	finished  bool // read to its end and handled, or skipped
	processed bool // finished by reading it (its children start at TRIM_HORIZON)
}

// discovery lists shards and starts a reader for each shard whose parents are
// finished, on a timer and whenever a shard ends.
type discovery[R any] struct {
	e      *Engine[R]
	runCtx context.Context
	wg     *sync.WaitGroup
	mu     sync.Mutex
	state  map[string]*shardState
}

func (d *discovery[R]) loop() error {
	e := d.e
	t := time.NewTimer(0)
	defer t.Stop()
	first := true
	failures := 0
	for {
		select {
		case <-t.C:
		case <-e.kick:
		case <-e.stopping:
			return nil
		}
		err := d.discover()
		switch {
		case err == nil:
			failures = 0
			t.Reset(e.set.DiscoveryInterval)
		case first && permanent(err):
			e.stop()
			return err
		default:
			failures++
			e.log.Warn("listing shards failed; retrying", "err", err)
			t.Reset(min(e.backoff(failures), e.set.DiscoveryInterval))
		}
		first = false
	}
}

// discover lists the shards and starts what may start.
func (d *discovery[R]) discover() error {
	shards, err := d.e.src.shards(d.runCtx)
	if err != nil {
		return err
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
	if st.running || st.finished {
		d.mu.Unlock()
		return false, nil
	}
	anyProcessed := false
	for _, p := range st.info.Parents {
		ps, ok := d.state[p]
		if !listed[p] || !ok {
			continue // expired parent: nothing left to wait for
		}
		if !ps.finished {
			d.mu.Unlock()
			return false, nil
		}
		anyProcessed = anyProcessed || ps.processed
	}
	d.mu.Unlock()

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
	case anyProcessed:
		pos = position{Type: "TRIM_HORIZON"}
	case st.info.Closed && e.set.StartingPosition == "LATEST":
		// A shard closed before this mapping first started has no record
		// newer than LATEST: skip it, as Lambda starts only open shards.
		d.finish(id, false)
		return true, nil
	default:
		pos = position{Type: e.set.StartingPosition, Time: e.set.StartingTimestamp}
	}
	d.mu.Lock()
	st.running = true
	d.mu.Unlock()
	p := newProc(e, id, pos, d)
	d.wg.Go(func() { p.run(d.runCtx) })
	return true, nil
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
