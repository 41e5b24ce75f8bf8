package esmtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lambdaesm/lambdaesm/internal/core"
)

// Mapping is what a test runs: the method set of esm.Mapping, which every
// mapping, invoke.Invoker and schedule.Scheduler have.
type Mapping interface {
	// Run runs until ctx ends or Shutdown is called (see esm.Mapping).
	Run(ctx context.Context) error
	// Shutdown stops Run gracefully (see esm.Mapping).
	Shutdown(ctx context.Context) error
}

// Start runs m in the background for the test and returns a function that
// shuts it down (waiting for in-flight batches) and fails the test if Run
// returned an error. The mapping is also shut down when the test ends.
func Start(t testing.TB, m Mapping) (stop func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := m.Shutdown(context.Background()); err != nil {
				t.Errorf("esmtest: shutdown: %v", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, core.ErrClosed) {
				t.Errorf("esmtest: Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// WaitUntil polls cond every 10ms until it holds, and fails the test after
// timeout. Under testing/synctest the wait takes no real time.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("esmtest: timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Progress is a hooks implementation (pass it with esm.WithHooks) that counts
// what a mapping finished with: records handled successfully, discarded by
// the retry policy, filtered out, and SQS messages deleted. A test waits for
// the source to drain with [Progress.WaitFinished]. It is safe for concurrent
// use.
type Progress struct {
	core.NopHooks
	mu          sync.Mutex
	handled     int
	dropped     int
	filtered    int
	deleted     int
	invocations int
	failures    int
}

// BatchInvoked counts an invocation and the records it finished.
func (p *Progress) BatchInvoked(inv core.Invocation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invocations++
	if inv.Err != nil {
		p.failures++
		return
	}
	p.handled += inv.Records - inv.Failed
}

// RecordsDropped counts discarded records.
func (p *Progress) RecordsDropped(_ core.Source, n int, _ string) {
	p.mu.Lock()
	p.dropped += n
	p.mu.Unlock()
}

// RecordsFilteredOut counts filtered records.
func (p *Progress) RecordsFilteredOut(_ core.Source, n int) {
	p.mu.Lock()
	p.filtered += n
	p.mu.Unlock()
}

// RecordsDeleted counts deleted SQS messages.
func (p *Progress) RecordsDeleted(_ core.Source, n int) {
	p.mu.Lock()
	p.deleted += n
	p.mu.Unlock()
}

// Counts returns the records handled, dropped and filtered, the invocations
// and the failed invocations so far.
func (p *Progress) Counts() (handled, dropped, filtered, invocations, failures int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled, p.dropped, p.filtered, p.invocations, p.failures
}

// Finished is the number of records the mapping is done with: handled,
// discarded or filtered out.
func (p *Progress) Finished() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled + p.dropped + p.filtered
}

// WaitFinished waits until the mapping is done with n records (in fake time
// under testing/synctest), failing the test after a minute.
func (p *Progress) WaitFinished(t testing.TB, n int) {
	t.Helper()
	WaitUntil(t, time.Minute, "the mapping to finish records", func() bool { return p.Finished() >= n })
}

var _ core.Hooks = (*Progress)(nil)
