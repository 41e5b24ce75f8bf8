package esmtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lambdaesm/lambdaesm"
)

// Start runs m in the background for the test and returns a function that
// shuts it down (waiting for in-flight batches) and fails the test if Run
// returned an error. The mapping is also shut down when the test ends. m is
// an esm.Mapping, or anything with its Run and Shutdown (an
// invoke.Invoker, a schedule.Scheduler, an esm.Registry).
func Start(t testing.TB, m interface {
	Run(ctx context.Context) error
	Shutdown(ctx context.Context) error
}) (stop func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := m.Shutdown(context.Background()); err != nil {
				t.Errorf("esmtest: shutdown: %v", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, lambdaesm.ErrClosed) {
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

// Progress is a hook (pass it with esm.WithHooks, beside any others) that counts
// what a mapping finished with: records handled successfully, discarded by
// the retry policy, filtered out, and SQS messages deleted — and, for an SQS
// mapping over the fake, messages that SQS moved to the queue's dead-letter
// queue ([Progress.CountDeadLetters]). A test waits for the source to drain
// with [Progress.WaitFinished]. It is safe for concurrent use.
type Progress struct {
	mu          sync.Mutex
	handled     int
	dropped     int
	filtered    int
	deleted     int
	invocations int
	failures    int
	dlqs        []watchedQueue
}

// watchedQueue is a queue of the SQS fake whose redrives count as finished.
type watchedQueue struct {
	sqs   *SQS
	queue string
}

// CountDeadLetters makes the messages that SQS moves from queue (URL, ARN or
// name) of the fake s to its dead-letter queue count as finished. A mapping
// never sees that move — SQS makes it on a later receive, after
// maxReceiveCount failed deliveries — so the hooks alone cannot tell that a
// poison message is done with.
func (p *Progress) CountDeadLetters(s *SQS, queue string) {
	p.mu.Lock()
	p.dlqs = append(p.dlqs, watchedQueue{s, queue})
	p.mu.Unlock()
}

// DeadLettered returns how many messages of the queues given to
// [Progress.CountDeadLetters] went to their dead-letter queues.
func (p *Progress) DeadLettered() int {
	p.mu.Lock()
	dlqs := p.dlqs
	p.mu.Unlock()
	n := 0
	for _, w := range dlqs {
		n += w.sqs.Redriven(w.queue)
	}
	return n
}

// OnBatchInvoked counts an invocation and the records it finished.
func (p *Progress) OnBatchInvoked(inv lambdaesm.Invocation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invocations++
	if inv.Err != nil {
		p.failures++
		return
	}
	p.handled += inv.Records - inv.Failed
}

// OnRecordsDropped counts discarded records.
func (p *Progress) OnRecordsDropped(_ lambdaesm.Source, n int, _ lambdaesm.Condition) {
	p.mu.Lock()
	p.dropped += n
	p.mu.Unlock()
}

// OnRecordsFilteredOut counts filtered records.
func (p *Progress) OnRecordsFilteredOut(_ lambdaesm.Source, n int) {
	p.mu.Lock()
	p.filtered += n
	p.mu.Unlock()
}

// OnRecordsDeleted counts deleted SQS messages.
func (p *Progress) OnRecordsDeleted(_ lambdaesm.Source, n int) {
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
// discarded, filtered out, or moved to a dead-letter queue
// ([Progress.CountDeadLetters]).
func (p *Progress) Finished() int {
	dead := p.DeadLettered()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled + p.dropped + p.filtered + dead
}

// WaitFinished waits until the mapping is done with n records
// ([Progress.Finished]), failing the test after timeout. Under
// testing/synctest the wait is in fake time: a timeout that spans
// visibility timeouts and retries costs nothing.
func (p *Progress) WaitFinished(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	WaitUntil(t, timeout, fmt.Sprintf("the mapping to finish %d records", n), func() bool { return p.Finished() >= n })
}

var (
	_ lambdaesm.HookBatchInvoked       = (*Progress)(nil)
	_ lambdaesm.HookRecordsDropped     = (*Progress)(nil)
	_ lambdaesm.HookRecordsFilteredOut = (*Progress)(nil)
	_ lambdaesm.HookRecordsDeleted     = (*Progress)(nil)
)
