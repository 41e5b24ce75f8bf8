package esmtest

import (
	"sync"
	"time"
)

// Clock tells the fakes what time it is: it stamps arrival times, and decides
// when visibility timeouts, iterators and read limits expire. The default is
// the real clock, which inside a testing/synctest bubble is already fake.
type Clock interface {
	// Now returns the current time. It must be safe for concurrent use.
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// RealClock is the wall clock (or the bubble's clock under testing/synctest).
var RealClock Clock = realClock{}

// ManualClock is a [Clock] that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
