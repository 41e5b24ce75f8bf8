package shard

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// LeaseTable is an in-memory lease table shared by several engines in one
// process, each through its own [LeaseTable.Worker]. It behaves like the
// DynamoDB lease store (fenced checkpoints, fair shares, graceful hand-off,
// a restarted owner taking its leases back at once) and serves tests and
// single-process fan-out.
type LeaseTable struct {
	// Duration is how long a lease lasts without renewal. Default 10s.
	Duration time.Duration

	mu     sync.Mutex
	items  map[string]*leaseItem // mapping \x00 shard
	nitems map[string]int        // items per mapping
	beats  map[beatKey]*beat
	writes int
	reads  int
}

// beatKey names an owner's heartbeat in one mapping.
type beatKey struct{ mapping, owner string }

// beat is an owner's heartbeat in one mapping.
type beat struct {
	at time.Time    // its last lease round
	w  *leaseWorker // the Worker running its rounds: the newest of that name
}

type leaseItem struct {
	shard    string
	owner    string
	counter  int64
	expires  time.Time
	handoff  string // a process that asked for this lease
	cp       Checkpoint
	hasCP    bool
	switches int // owner changes since the last checkpoint
}

// NewLeaseTable returns an empty table.
func NewLeaseTable() *LeaseTable {
	return &LeaseTable{Duration: 10 * time.Second, items: map[string]*leaseItem{}, nitems: map[string]int{}, beats: map[beatKey]*beat{}}
}

// Worker returns the [LeaseStore] of one process, named owner.
//
// A Worker named like one that holds leases (a process restarted under the
// same name, as a StatefulSet pod is) takes the name over at its first
// Leases call of a mapping, the newest Worker of a name winning, and takes
// the name's leases back at once, without waiting for them to lapse. Each
// lease it takes back gets a new counter, so the earlier Worker, should it
// still run, is fenced: its Save fails with [ErrLeaseLost], its Release and
// Retire change nothing, and its Leases fails with an error wrapping
// [ErrLeaseLost] from then on (until it retires), so its engine stops each
// shard at its next checkpoint and all of them after Settings.LeaseTimeout.
func (t *LeaseTable) Worker(owner string) LeaseStore {
	return &leaseWorker{t: t, me: owner, held: map[string]int64{}, joined: map[string]bool{}}
}

// Writes counts the table writes so far (the cost a real table would bill).
func (t *LeaseTable) Writes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes
}

// Reads counts the items read so far: what a lease round, a Load, reads
// from a real table (the read units it would bill grow with it).
func (t *LeaseTable) Reads() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reads
}

// Owners returns the owner of each shard's lease.
func (t *LeaseTable) Owners(mapping string) map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]string{}
	for k, it := range t.items {
		if len(k) > len(mapping) && k[:len(mapping)] == mapping && k[len(mapping)] == 0 {
			out[it.shard] = it.owner
		}
	}
	return out
}

// leaseWorker's fields other than t and me are guarded by t.mu.
type leaseWorker struct {
	t  *LeaseTable
	me string
	// held is the counter at which this Worker took each lease (mapping
	// \x00 shard): the fencing token. The owner name alone is not enough,
	// as a restarted process has the name of the one before.
	held map[string]int64
	// joined are the mappings in which this Worker took its owner name's
	// heartbeat over (at its first lease round), since it last retired.
	joined map[string]bool
}

// holds tells whether this Worker holds the lease of item it, key k.
func (w *leaseWorker) holds(k string, it *leaseItem) bool {
	c, ok := w.held[k]
	return ok && it.owner == w.me && it.counter == c
}

func (w *leaseWorker) item(mapping, shard string) *leaseItem {
	k := mapping + "\x00" + shard
	it := w.t.items[k]
	if it == nil {
		it = &leaseItem{shard: shard}
		w.t.items[k] = it
		w.t.nitems[mapping]++
	}
	return it
}

// Load implements [Store].
func (w *leaseWorker) Load(_ context.Context, mapping, shard string) (Checkpoint, bool, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	it := w.item(mapping, shard)
	w.t.reads++
	return it.cp, it.hasCP, nil
}

// Save implements [Store], fenced: only the owner may move a checkpoint.
func (w *leaseWorker) Save(_ context.Context, mapping, shard string, cp Checkpoint) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	it := w.item(mapping, shard)
	if !w.holds(mapping+"\x00"+shard, it) {
		if it.owner == w.me {
			return fmt.Errorf("shard %s was taken over by a newer worker named %q: %w", shard, w.me, ErrLeaseLost)
		}
		return fmt.Errorf("shard %s is leased by %q, not %q: %w", shard, it.owner, w.me, ErrLeaseLost)
	}
	if it.hasCP && !advances(it.cp, cp) {
		return nil
	}
	it.cp, it.hasCP, it.switches = cp, true, 0
	w.t.writes++
	return nil
}

// Leases implements [LeaseStore].
func (w *leaseWorker) Leases(_ context.Context, mapping string, shards []ShardInfo) ([]string, error) {
	t := w.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	me := beatKey{mapping, w.me}
	if b := t.beats[me]; w.joined[mapping] && (b == nil || b.w != w) {
		// A newer Worker of this name took the heartbeat over.
		prefix := mapping + "\x00"
		for k := range w.held {
			if strings.HasPrefix(k, prefix) {
				delete(w.held, k)
			}
		}
		return nil, fmt.Errorf("shard: a newer worker named %q took over mapping %s: %w", w.me, mapping, ErrLeaseLost)
	}
	w.joined[mapping] = true
	t.beats[me] = &beat{at: now, w: w}
	var live []string
	for k, b := range t.beats {
		if k.mapping == mapping {
			t.reads++ // a round reads every heartbeat
			if k.owner != w.me && now.Sub(b.at) < t.Duration {
				live = append(live, k.owner)
			}
		}
	}
	var leases []Lease
	for _, s := range shards {
		w.item(mapping, s.ID)
	}
	t.reads += t.nitems[mapping] // and every lease item
	for _, s := range shards {
		k := mapping + "\x00" + s.ID
		it := w.item(mapping, s.ID)
		if it.owner == w.me && !w.holds(k, it) && !(it.hasCP && it.cp.ShardEnd) {
			// Left under this name by an earlier Worker (the process
			// before a restart): take it back now, under a new counter
			// that fences the earlier Worker; or, when another process
			// asked for it, free it for that process to take.
			if it.handoff != "" {
				it.owner, it.handoff, it.expires = "", "", time.Time{}
			} else {
				it.counter++
				w.held[k] = it.counter
			}
			t.writes++
		}
		if w.holds(k, it) && it.handoff == "" {
			it.expires = now.Add(t.Duration) // renew
			t.writes++
		}
		if it.hasCP && it.cp.ShardEnd {
			continue // finished: not balanced
		}
		owner := it.owner
		if it.handoff != "" && now.Before(it.expires) {
			owner = it.handoff // being handed over: count it for the taker
		}
		leases = append(leases, Lease{ShardID: s.ID, Owner: owner, Expires: it.expires})
	}
	take, steal := PlanLeases(leases, w.me, now, live)
	for _, id := range take {
		it := w.item(mapping, id)
		if it.owner != w.me {
			it.switches++
		}
		it.owner, it.counter, it.expires, it.handoff = w.me, it.counter+1, now.Add(t.Duration), ""
		w.held[mapping+"\x00"+id] = it.counter
		t.writes++
	}
	for _, id := range steal {
		// Ask the live owner to hand the lease over after its in-flight
		// batch; it releases, and the next round takes it.
		w.item(mapping, id).handoff = w.me
		t.writes++
	}
	var held []string
	for _, s := range shards {
		it := w.item(mapping, s.ID)
		if w.holds(mapping+"\x00"+s.ID, it) && it.handoff == "" && now.Before(it.expires) {
			held = append(held, s.ID)
		}
	}
	return held, nil
}

// Release implements [LeaseStore].
func (w *leaseWorker) Release(_ context.Context, mapping, shard string) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	k := mapping + "\x00" + shard
	it := w.item(mapping, shard)
	if w.holds(k, it) {
		it.owner, it.handoff, it.expires = "", "", time.Time{}
		delete(w.held, k)
		w.t.writes++
	}
	return nil
}

// Retire implements [LeaseStore].
func (w *leaseWorker) Retire(_ context.Context, mapping string) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	me := beatKey{mapping, w.me}
	if b := w.t.beats[me]; b != nil && b.w == w {
		delete(w.t.beats, me)
	}
	delete(w.joined, mapping)
	return nil
}

var _ LeaseStore = (*leaseWorker)(nil)
