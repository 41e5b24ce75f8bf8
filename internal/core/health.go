package core

import (
	"slices"
	"sync"
	"time"
)

// Health tracks what a mapping's Health reports: whether Run is reading, the
// last successful poll and checkpoint, and the last background error. Its
// zero value is ready; it is safe for concurrent use.
type Health struct {
	mu             sync.Mutex
	running        bool
	lastPoll       time.Time
	lastCheckpoint time.Time
	lastErr        error
	lastErrAt      time.Time
	failing        map[string]bool // parts whose last attempt failed (e.g. a shard's checkpoint)
}

// HealthSnapshot is one reading of a [Health].
type HealthSnapshot struct {
	Running        bool
	LastPoll       time.Time
	LastCheckpoint time.Time
	LastError      error
	LastErrorAt    time.Time
	// Failing names the parts whose last attempt failed, sorted.
	Failing []string
}

// SetRunning records that Run started (true) or returned (false).
func (h *Health) SetRunning(on bool) {
	h.mu.Lock()
	h.running = on
	h.mu.Unlock()
}

// Polled records a successful read of the source.
func (h *Health) Polled() {
	h.mu.Lock()
	h.lastPoll = time.Now()
	h.mu.Unlock()
}

// Checkpointed records a checkpoint written for part.
func (h *Health) Checkpointed(part string) {
	h.mu.Lock()
	h.lastCheckpoint = time.Now()
	delete(h.failing, part)
	h.mu.Unlock()
}

// Failed records a background error; part, when not empty, stays failing
// until it succeeds again (Checkpointed or Recovered).
func (h *Health) Failed(part string, err error) {
	h.mu.Lock()
	h.lastErr, h.lastErrAt = err, time.Now()
	if part != "" {
		if h.failing == nil {
			h.failing = map[string]bool{}
		}
		h.failing[part] = true
	}
	h.mu.Unlock()
}

// Recovered records that part no longer fails.
func (h *Health) Recovered(part string) {
	h.mu.Lock()
	delete(h.failing, part)
	h.mu.Unlock()
}

// Snapshot returns the current reading.
func (h *Health) Snapshot() HealthSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := HealthSnapshot{
		Running: h.running, LastPoll: h.lastPoll, LastCheckpoint: h.lastCheckpoint,
		LastError: h.lastErr, LastErrorAt: h.lastErrAt,
	}
	for p := range h.failing {
		s.Failing = append(s.Failing, p)
	}
	slices.Sort(s.Failing)
	return s
}
