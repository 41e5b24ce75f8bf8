package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdaesm/lambdaesm"
)

// Lifecycle is the Run/Shutdown contract every engine shares: Run runs once;
// Shutdown (or the end of Run's context) stops reading; Shutdown waits for
// Run to drain and, when its own context ends first, stops hard (cancels
// Run's context) and returns that context's error. Shutdown before Run makes
// Run return lambdaesm.ErrClosed. Create it with NewLifecycle.
type Lifecycle struct {
	started  atomic.Bool
	stopOnce sync.Once
	stopping chan struct{}
	stopCtx  context.Context
	stopFn   context.CancelFunc
	done     chan struct{}

	mu       sync.Mutex // guards hardStop
	hardStop context.CancelFunc
}

// NewLifecycle returns a lifecycle before Run.
func NewLifecycle() *Lifecycle {
	stopCtx, stopFn := context.WithCancel(context.Background())
	return &Lifecycle{stopping: make(chan struct{}), stopCtx: stopCtx, stopFn: stopFn, done: make(chan struct{})}
}

// Begin starts Run. It returns Run's context (cancelled when ctx ends or by a
// hard stop; its end also stops reading) and the function Run must defer; or
// ErrClosed when Run was called before, or Shutdown came first.
func (l *Lifecycle) Begin(ctx context.Context) (context.Context, func(), error) {
	if !l.started.CompareAndSwap(false, true) {
		return nil, nil, lambdaesm.ErrClosed
	}
	if l.Stopped() {
		close(l.done)
		return nil, nil, lambdaesm.ErrClosed
	}
	runCtx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	l.hardStop = cancel
	l.mu.Unlock()
	unregister := context.AfterFunc(runCtx, l.Stop)
	return runCtx, func() {
		unregister()
		cancel()
		close(l.done)
	}, nil
}

// Shutdown stops reading and waits for Run to end, or stops hard when ctx
// ends first and returns ctx's error. It is idempotent.
func (l *Lifecycle) Shutdown(ctx context.Context) error {
	l.Stop()
	if !l.started.Load() {
		return nil
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		if l.hardStop != nil {
			l.hardStop()
		}
		l.mu.Unlock()
		return ctx.Err()
	}
}

// Stop makes reading stop (a graceful stop).
func (l *Lifecycle) Stop() {
	l.stopOnce.Do(func() {
		close(l.stopping)
		l.stopFn()
	})
}

// Stopping is closed once reading must stop.
func (l *Lifecycle) Stopping() <-chan struct{} { return l.stopping }

// StopContext is done once reading must stop.
func (l *Lifecycle) StopContext() context.Context { return l.stopCtx }

// Stopped reports whether reading must stop.
func (l *Lifecycle) Stopped() bool { return l.stopCtx.Err() != nil }

// Sleep waits d unless stop is closed or ctx ends first, and reports whether
// the full wait happened. With d <= 0 it only reports whether neither has.
func Sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return ctx.Err() == nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}
