package shard

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lambdaesm/lambdaesm/internal/leaseplan"
)

// LeaseTable is an in-memory lease table shared by several engines in one
// process, each through its own [LeaseTable.Worker]. It behaves like the
// DynamoDB lease store (fenced checkpoints, fair shares, graceful hand-off,
// a restarted owner taking its leases back at once, a heartbeat per round
// that renews all of a Worker's leases) and serves tests and
// single-process fan-out.
//
// It is also the model of that store's cost: [LeaseTable.Reads] and
// [LeaseTable.Writes] count the items a DynamoDB table would read and the
// writes it would bill. A lease round writes the Worker's heartbeat and
// reads the mapping's change counter; it reads the heartbeats again only
// once one it knows of may have lapsed, and every item of the mapping only
// after a change was announced. Each change to leases (a take, a hand-off
// asked for, a release, a shard's end, the first checkpoint of a child
// shard, a Worker that joins, returns or retires) costs its write and one
// announcement. The Worker's decisions, made under one lock, are those the
// DynamoDB store makes on its copy of the items.
type LeaseTable struct {
	// Duration is how long a lease lasts without renewal. Default 10s.
	Duration time.Duration

	mu      sync.Mutex
	items   map[string]*leaseItem // mapping \x00 shard
	nitems  map[string]int        // items per mapping
	beats   map[beatKey]*beat
	changes map[string]int // each mapping's change counter
	writes  int
	reads   int
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
	expires  time.Time // when taken, plus the duration; the owner's heartbeat extends it
	handoff  string    // a process that asked for this lease
	cp       Checkpoint
	hasCP    bool
	switches int  // owner changes since the last checkpoint
	child    bool // the shard has parents: its first checkpoint finishes them
}

// NewLeaseTable returns an empty table.
func NewLeaseTable() *LeaseTable {
	return &LeaseTable{
		Duration: 10 * time.Second, items: map[string]*leaseItem{}, nitems: map[string]int{},
		beats: map[beatKey]*beat{}, changes: map[string]int{},
	}
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
// shard at its next checkpoint and all of them after the lease timeout.
func (t *LeaseTable) Worker(owner string) LeaseStore {
	return &leaseWorker{t: t, me: owner, held: map[string]int64{}, joined: map[string]bool{}, views: map[string]*leaseView{}}
}

// Writes counts the table writes so far (the cost a real table would bill):
// heartbeats, lease changes and their announcements, checkpoints.
func (t *LeaseTable) Writes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes
}

// Reads counts the items read so far, as a DynamoDB table would: the
// change counter at every lease round, the heartbeats when one may have
// lapsed, every item of the mapping after a change, one per Load.
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

// expires is when a lease lapses: when it was taken plus the duration, or
// its owner's last heartbeat plus the duration, whichever is later.
func (t *LeaseTable) expires(mapping string, it *leaseItem) time.Time {
	e := it.expires
	if b := t.beats[beatKey{mapping, it.owner}]; b != nil && it.owner != "" {
		if be := b.at.Add(t.Duration); be.After(e) {
			e = be
		}
	}
	return e
}

// announce bumps the mapping's change counter for w, which changed leases:
// every Worker reads the mapping again at its next round.
func (t *LeaseTable) announce(mapping string, w *leaseWorker) {
	t.changes[mapping]++
	t.writes++
	w.view(mapping).stale = true
}

// leaseView is what a Worker knows of a mapping from its reads, for the
// count of what it reads (see [LeaseTable]).
type leaseView struct {
	read              bool
	stale             bool // it changed leases since it last read them
	changes           int  // the counter when it last read the items
	readAt, beatCheck time.Time
	members           map[string]member // the heartbeats it last read
}

type member struct {
	w       *leaseWorker
	expires time.Time
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
	views  map[string]*leaseView
}

func (w *leaseWorker) view(mapping string) *leaseView {
	v := w.views[mapping]
	if v == nil {
		v = &leaseView{}
		w.views[mapping] = v
	}
	return v
}

// refresh counts what the DynamoDB store reads at the start of a round.
func (w *leaseWorker) refresh(mapping string, now time.Time) {
	t := w.t
	v := w.view(mapping)
	members := map[string]member{}
	for k, b := range t.beats {
		if k.mapping == mapping {
			members[k.owner] = member{b.w, b.at.Add(t.Duration)}
		}
	}
	t.reads++ // the change counter
	full := !v.read || v.stale || t.changes[mapping] != v.changes
	beats := !now.Before(v.beatCheck)
	if !full && beats {
		t.reads += len(members) // the heartbeats
		full = !sameMembers(v.members, v.readAt, members, now)
	}
	if full {
		t.reads += t.nitems[mapping] + len(members) + 1 // every item, the counter too
		v.read, v.stale, v.changes = true, false, t.changes[mapping]
	}
	if !full && !beats {
		return // decided on what it read before
	}
	v.members, v.readAt, v.beatCheck = members, now, now.Add(t.Duration)
	for o, m := range members {
		if o != w.me && m.expires.After(now) && m.expires.Before(v.beatCheck) {
			v.beatCheck = m.expires
		}
	}
}

// sameMembers tells whether the same Workers are live now as then.
func sameMembers(prev map[string]member, then time.Time, cur map[string]member, now time.Time) bool {
	if len(prev) != len(cur) {
		return false
	}
	for o, p := range prev {
		c, ok := cur[o]
		if !ok || c.w != p.w || then.Before(p.expires) != now.Before(c.expires) {
			return false
		}
	}
	return true
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
	k := mapping + "\x00" + shard
	it := w.item(mapping, shard)
	if _, ok := w.held[k]; ok {
		w.t.writes++ // a conditional write, billed whether it lands or not
	}
	if !w.holds(k, it) {
		if it.owner == w.me {
			return fmt.Errorf("shard %s was taken over by a newer worker named %q: %w", shard, w.me, ErrLeaseLost)
		}
		return fmt.Errorf("shard %s is leased by %q, not %q: %w", shard, it.owner, w.me, ErrLeaseLost)
	}
	if it.hasCP && !advances(it.cp, cp) {
		return nil
	}
	announce := (cp.ShardEnd && !it.cp.ShardEnd) || (!it.hasCP && it.child)
	it.cp, it.hasCP, it.switches = cp, true, 0
	if announce {
		// The others decide on it: a finished shard is not balanced any
		// more, a child's first checkpoint finishes its parents.
		w.t.announce(mapping, w)
	}
	return nil
}

// Leases implements [LeaseStore].
func (w *leaseWorker) Leases(_ context.Context, mapping string, shards []Info) ([]string, error) {
	t := w.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	me := beatKey{mapping, w.me}
	prev := t.beats[me]
	if w.joined[mapping] && (prev == nil || prev.w != w) {
		// A newer Worker of this name took the heartbeat over.
		prefix := mapping + "\x00"
		for k := range w.held {
			if strings.HasPrefix(k, prefix) {
				delete(w.held, k)
			}
		}
		return nil, fmt.Errorf("shard: a newer worker named %q took over mapping %s: %w", w.me, mapping, ErrLeaseLost)
	}
	// A Worker that joins, or comes back after its heartbeat lapsed, is
	// news to the others.
	back := !w.joined[mapping] || !now.Before(prev.at.Add(t.Duration))
	w.joined[mapping] = true
	t.beats[me] = &beat{at: now, w: w}
	t.writes++ // the heartbeat, which renews every lease of the Worker
	if back {
		t.announce(mapping, w)
	}
	w.refresh(mapping, now)
	var live []string
	for k, b := range t.beats {
		if k.mapping == mapping && k.owner != w.me && now.Sub(b.at) < t.Duration {
			live = append(live, k.owner)
		}
	}
	changed := false
	var leases []leaseplan.Lease
	for _, s := range shards {
		k := mapping + "\x00" + s.ID
		it := w.item(mapping, s.ID)
		it.child = it.child || len(s.Parents) > 0
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
			changed = true
		}
		if it.hasCP && it.cp.ShardEnd {
			continue // finished: not balanced
		}
		owner, expires := it.owner, t.expires(mapping, it)
		if it.handoff != "" && now.Before(expires) {
			owner = it.handoff // being handed over: count it for the taker
		}
		leases = append(leases, leaseplan.Lease{ShardID: s.ID, Owner: owner, Expires: expires})
	}
	take, steal := leaseplan.Plan(leases, w.me, now, live)
	for _, id := range take {
		it := w.item(mapping, id)
		if it.owner != w.me {
			it.switches++
		}
		it.owner, it.counter, it.expires, it.handoff = w.me, it.counter+1, now.Add(t.Duration), ""
		w.held[mapping+"\x00"+id] = it.counter
		t.writes++
		changed = true
	}
	for _, id := range steal {
		// Ask the live owner to hand the lease over after its in-flight
		// batch; it releases, and the next round takes it.
		w.item(mapping, id).handoff = w.me
		t.writes++
		changed = true
	}
	if changed {
		t.announce(mapping, w)
	}
	var held []string
	for _, s := range shards {
		it := w.item(mapping, s.ID)
		if w.holds(mapping+"\x00"+s.ID, it) && it.handoff == "" && now.Before(t.expires(mapping, it)) {
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
		w.t.announce(mapping, w)
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
		w.t.writes++
		w.t.announce(mapping, w)
	}
	delete(w.joined, mapping)
	delete(w.views, mapping)
	return nil
}

var _ LeaseStore = (*leaseWorker)(nil)
