package shard

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// LeaseTable is an in-memory lease table shared by several engines in one
// process, each through its own [LeaseTable.Worker]. It behaves like the
// DynamoDB lease store (fenced checkpoints, fair shares, graceful hand-off)
// and serves tests and single-process fan-out.
type LeaseTable struct {
	// Duration is how long a lease lasts without renewal. Default 10s.
	Duration time.Duration

	mu     sync.Mutex
	items  map[string]*leaseItem // mapping \x00 shard
	beats  map[string]time.Time  // worker -> last renewal round
	writes int
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
	return &LeaseTable{Duration: 10 * time.Second, items: map[string]*leaseItem{}, beats: map[string]time.Time{}}
}

// Worker returns the [LeaseStore] of one process, named owner.
func (t *LeaseTable) Worker(owner string) LeaseStore { return &leaseWorker{t: t, me: owner} }

// Writes counts the table writes so far (the cost a real table would bill).
func (t *LeaseTable) Writes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes
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

type leaseWorker struct {
	t  *LeaseTable
	me string
}

func (w *leaseWorker) item(mapping, shard string) *leaseItem {
	k := mapping + "\x00" + shard
	it := w.t.items[k]
	if it == nil {
		it = &leaseItem{shard: shard}
		w.t.items[k] = it
	}
	return it
}

// Load implements [Store].
func (w *leaseWorker) Load(_ context.Context, mapping, shard string) (Checkpoint, bool, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	it := w.item(mapping, shard)
	return it.cp, it.hasCP, nil
}

// Save implements [Store], fenced: only the owner may move a checkpoint.
func (w *leaseWorker) Save(_ context.Context, mapping, shard string, cp Checkpoint) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	it := w.item(mapping, shard)
	if it.owner != w.me {
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
	t.beats[w.me] = now
	var live []string
	for id, at := range t.beats {
		if id != w.me && now.Sub(at) < t.Duration {
			live = append(live, id)
		}
	}
	var leases []Lease
	for _, s := range shards {
		it := w.item(mapping, s.ID)
		if it.owner == w.me && it.handoff == "" {
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
		if it.owner == w.me && it.handoff == "" && now.Before(it.expires) {
			held = append(held, s.ID)
		}
	}
	return held, nil
}

// Release implements [LeaseStore].
func (w *leaseWorker) Release(_ context.Context, mapping, shard string) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	it := w.item(mapping, shard)
	if it.owner == w.me {
		it.owner, it.handoff, it.expires = "", "", time.Time{}
		w.t.writes++
	}
	return nil
}

// Retire implements [LeaseStore].
func (w *leaseWorker) Retire(context.Context, string) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	delete(w.t.beats, w.me)
	return nil
}

var _ LeaseStore = (*leaseWorker)(nil)
