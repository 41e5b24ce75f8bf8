// Package metricstate keeps what the metrics adapters (esm/esmprom,
// esm/esmotel) compute rather than count: per-shard lag and checkpoint age,
// leases held and the average concurrency of invocations. Both adapters
// feed it from the same hooks and read it when they are collected, so the
// two agree on what each gauge means.
package metricstate

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/lambdaesm/lambdaesm"
)

// DefaultWindow is the default span over which concurrency is averaged.
const DefaultWindow = time.Minute

// slots is how many parts the concurrency window is kept in: busy time is
// placed in time to within window/slots.
const slots = 60

// State is the computed part of one adapter's metrics. It is safe for
// concurrent use.
type State struct {
	window time.Duration
	mu     sync.Mutex
	srcs   map[string]*source // by event source ARN
}

type source struct {
	shards map[string]*shard
	leases map[string]bool
	busy   busy
	// delivered counts failure records accepted by the destination whose
	// records were not yet reported dropped, by shard.
	delivered map[string]int
}

type shard struct {
	age    time.Duration
	hasAge bool
	// since is when the last checkpoint was written or, before the
	// first, when the shard was started (zero when neither was heard).
	since time.Time
}

// New returns a State that averages concurrency over window (DefaultWindow
// when 0).
func New(window time.Duration) *State {
	if window <= 0 {
		window = DefaultWindow
	}
	return &State{window: window, srcs: map[string]*source{}}
}

// CheckWindow returns an error unless d is 0 or at least a second and at
// most an hour.
func CheckWindow(d time.Duration) error {
	if d != 0 && (d < time.Second || d > time.Hour) {
		return errors.New("the concurrency window must be 0 (the default, 1m) or from 1s to 1h")
	}
	return nil
}

// src returns the source's state, creating it; s.mu is held.
func (s *State) src(arn string, now time.Time) *source {
	x := s.srcs[arn]
	if x == nil {
		x = &source{shards: map[string]*shard{}, leases: map[string]bool{}}
		x.busy.init(s.window, now)
		s.srcs[arn] = x
	}
	return x
}

func (s *State) shard(src lambdaesm.Source, now time.Time) *shard {
	x := s.src(src.EventSourceARN, now)
	sh := x.shards[src.ShardID]
	if sh == nil {
		sh = &shard{}
		x.shards[src.ShardID] = sh
	}
	return sh
}

// Touch makes the source known, so its gauges are reported (at zero) before
// anything else happens to it.
func (s *State) Touch(arn string) {
	s.mu.Lock()
	s.src(arn, time.Now())
	s.mu.Unlock()
}

// IteratorAge records the age of a shard's latest batch.
func (s *State) IteratorAge(src lambdaesm.Source, age time.Duration) {
	if src.ShardID == "" {
		return
	}
	s.mu.Lock()
	sh := s.shard(src, time.Now())
	sh.age, sh.hasAge = max(age, 0), true
	s.mu.Unlock()
}

// ShardStarted starts the shard's checkpoint clock, unless a checkpoint was
// already heard of.
func (s *State) ShardStarted(src lambdaesm.Source) {
	now := time.Now()
	s.mu.Lock()
	if sh := s.shard(src, now); sh.since.IsZero() {
		sh.since = now
	}
	s.mu.Unlock()
}

// CheckpointWritten restarts the shard's checkpoint clock.
func (s *State) CheckpointWritten(src lambdaesm.Source) {
	if src.ShardID == "" {
		return
	}
	now := time.Now()
	s.mu.Lock()
	s.shard(src, now).since = now
	s.mu.Unlock()
}

// ShardGone forgets a shard this process no longer reads (read to its end,
// or its lease lost), so its lag no longer counts.
func (s *State) ShardGone(src lambdaesm.Source) {
	s.mu.Lock()
	if x := s.srcs[src.EventSourceARN]; x != nil {
		delete(x.shards, src.ShardID)
	}
	s.mu.Unlock()
}

// LeaseAcquired records a lease held.
func (s *State) LeaseAcquired(src lambdaesm.Source) {
	s.mu.Lock()
	s.src(src.EventSourceARN, time.Now()).leases[src.ShardID] = true
	s.mu.Unlock()
}

// LeaseLost records a lease no longer held, and forgets the shard.
func (s *State) LeaseLost(src lambdaesm.Source) {
	s.mu.Lock()
	if x := s.srcs[src.EventSourceARN]; x != nil {
		delete(x.leases, src.ShardID)
		delete(x.shards, src.ShardID)
	}
	s.mu.Unlock()
}

// Invoked records an invocation that just ended and ran for d.
func (s *State) Invoked(arn string, d time.Duration) {
	now := time.Now()
	s.mu.Lock()
	s.src(arn, now).busy.add(now.Add(-max(d, 0)), now)
	s.mu.Unlock()
}

// Source is a snapshot of one event source's computed gauges.
type Source struct {
	EventSourceARN string
	// Concurrency is the average number of invocations running over the
	// window (those still running count once they end).
	Concurrency float64
	// Leases is the number of shard leases held.
	Leases int
	// MaxIteratorAge is the largest IteratorAge of the shards read;
	// HasIteratorAge is false when none reported one yet.
	MaxIteratorAge time.Duration
	HasIteratorAge bool
	Shards         []Shard
}

// Shard is a snapshot of one shard's gauges.
type Shard struct {
	ID string
	// IteratorAge is the age of the last record of the shard's latest
	// batch when it was handed to the handler; HasIteratorAge is false
	// before the first batch.
	IteratorAge    time.Duration
	HasIteratorAge bool
	// CheckpointAge is the time since the last checkpoint (since the
	// shard started, before the first); HasCheckpointAge is false when
	// neither was heard of.
	CheckpointAge    time.Duration
	HasCheckpointAge bool
}

// Snapshot returns the gauges of every source, sorted by ARN and shard.
func (s *State) Snapshot() []Source {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Source, 0, len(s.srcs))
	for _, arn := range slices.Sorted(maps.Keys(s.srcs)) {
		x := s.srcs[arn]
		snap := Source{EventSourceARN: arn, Concurrency: x.busy.average(now), Leases: len(x.leases)}
		for _, id := range slices.Sorted(maps.Keys(x.shards)) {
			sh := x.shards[id]
			o := Shard{ID: id, IteratorAge: sh.age, HasIteratorAge: sh.hasAge}
			if !sh.since.IsZero() {
				o.CheckpointAge, o.HasCheckpointAge = max(now.Sub(sh.since), 0), true
			}
			if sh.hasAge && (!snap.HasIteratorAge || sh.age > snap.MaxIteratorAge) {
				snap.MaxIteratorAge, snap.HasIteratorAge = sh.age, true
			}
			snap.Shards = append(snap.Shards, o)
		}
		out = append(out, snap)
	}
	return out
}

// busy adds up the time invocations ran, in slots of window/slots, so the
// average number running over the last window is the busy time in it
// divided by its length.
type busy struct {
	slot  time.Duration
	since time.Time // when counting began: the window is shorter before
	tag   [slots + 1]int64
	ns    [slots + 1]time.Duration
}

func (b *busy) init(window time.Duration, now time.Time) {
	b.slot = window / slots
	b.since = now
	for i := range b.tag {
		b.tag[i] = -1
	}
}

func (b *busy) index(t time.Time) int64 { return t.UnixNano() / int64(b.slot) }

func (b *busy) start(k int64) time.Time { return time.Unix(0, k*int64(b.slot)) }

// add counts the time from start to end that falls within the window
// ending at end.
func (b *busy) add(start, end time.Time) {
	if lo := end.Add(-b.slot * slots); start.Before(lo) {
		start = lo
	}
	if start.Before(b.since) {
		start = b.since
	}
	for k := b.index(start); start.Before(end); k++ {
		slotEnd := b.start(k + 1)
		stop := end
		if slotEnd.Before(stop) {
			stop = slotEnd
		}
		switch i := k % int64(len(b.tag)); {
		case b.tag[i] == k:
			b.ns[i] += stop.Sub(start)
		case b.tag[i] < k: // a slot from a window ago: reuse it
			b.tag[i], b.ns[i] = k, stop.Sub(start)
		}
		start = stop
	}
}

// average is the busy time of the window ending at now (shorter before a
// window passed since counting began) divided by its length. The oldest slot
// is only partly in the window: its share is taken in proportion.
func (b *busy) average(now time.Time) float64 {
	from := now.Add(-b.slot * slots)
	if from.Before(b.since) {
		from = b.since
	}
	span := now.Sub(from)
	if span <= 0 {
		return 0
	}
	var total float64
	for i, k := range b.tag {
		lo, hi := b.start(k), b.start(k+1)
		if k < 0 || !hi.After(from) || lo.After(now) {
			continue
		}
		if lo.Before(b.since) {
			lo = b.since // nothing was counted before
		}
		if !lo.Before(from) {
			total += float64(b.ns[i])
			continue
		}
		total += float64(b.ns[i]) * float64(hi.Sub(from)) / float64(hi.Sub(lo))
	}
	return total / float64(span)
}

// Delivered records that the on-failure destination accepted a failure
// record of the shard: the records it describes are reported dropped next.
func (s *State) Delivered(src lambdaesm.Source) {
	s.mu.Lock()
	x := s.src(src.EventSourceARN, time.Now())
	if x.delivered == nil {
		x.delivered = map[string]int{}
	}
	x.delivered[src.ShardID]++
	s.mu.Unlock()
}

// Dropped tells whether records of the shard that were just dropped had
// been delivered to the on-failure destination (OnFailureDestinationDelivered
// EventCount counts them): the hooks report a delivery (without the number
// of records) and then the records dropped.
func (s *State) Dropped(src lambdaesm.Source) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.srcs[src.EventSourceARN]
	if x == nil || x.delivered[src.ShardID] == 0 {
		return false
	}
	x.delivered[src.ShardID]--
	return true
}
