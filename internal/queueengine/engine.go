package queueengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/internal/limits"
	"github.com/lambdaesm/lambdaesm/queue"
	"github.com/lambdaesm/lambdaesm/retry"
)

// Limits of SQS and Lambda the engine works within.
const (
	// maxReceive is the most messages one ReceiveMessage returns.
	maxReceive = 10
	// maxVisibility is the longest visibility timeout SQS accepts, and the
	// longest a message may stay invisible after one receive.
	maxVisibility = 12 * time.Hour
)

// Settings are an engine's settings, already validated and defaulted (package
// esm does that from its Config). Zero values get the defaults named.
type Settings struct {
	// QueueARN is the queue's ARN. Either QueueARN or QueueURL is required.
	// Without QueueURL, the URL comes from GetQueueUrl with the queue name
	// and account of the ARN (it is never built from the ARN).
	QueueARN string
	// QueueURL is the queue's URL, used as it is. Without QueueARN, the ARN
	// comes from the queue's QueueArn attribute.
	QueueURL string
	// BatchSize is the most messages per invocation, 1 to 10000 (FIFO: 1 to
	// 10). Default 10.
	BatchSize int
	// BatchingWindow is how long a standard queue's receives gather
	// messages before an invocation with fewer than BatchSize. The window
	// starts when the worker's previous invocation completed. Default 0.
	// Not allowed for FIFO queues.
	BatchingWindow time.Duration
	// FunctionTimeout bounds each invocation through its context. Default 3s.
	FunctionTimeout time.Duration
	// ReportBatchItemFailures honours the handler's partial batch responses
	// (FunctionResponseTypes). Without it, returned failures are ignored
	// with one warning, as in Lambda: the whole batch counts as handled.
	ReportBatchItemFailures bool
	// LongPoll is the WaitTimeSeconds of receives, 1s to 20s in whole
	// seconds. Default 20s, Lambda's. Shutdown waits at most this long for
	// the receives in flight.
	LongPoll time.Duration
	// MaxPayload caps the JSON size of one invocation's event. Default 6 MB.
	MaxPayload int
	// Scaling sets how many batches are handled at the same time.
	Scaling Scaling
	// VisibilityHeartbeat extends the visibility of a batch's messages while
	// the handler runs (beyond Lambda). Off by default.
	VisibilityHeartbeat bool
	// HeartbeatInterval is how often the heartbeat extends visibility: each
	// extension sets the remaining visibility to the queue's visibility
	// timeout. It must be shorter than that timeout. Default half of it.
	HeartbeatInterval time.Duration
	// FailureBackoff, when set, makes the failed messages of a batch
	// visible again after Delay(ApproximateReceiveCount), rounded up to
	// whole seconds, instead of after the rest of their visibility timeout
	// (beyond Lambda). Nil leaves them alone, as Lambda does.
	FailureBackoff *retry.Backoff
	// ServiceBackoff spaces retries of failed SQS calls. The zero value
	// means retry.DefaultBackoff.
	ServiceBackoff retry.Backoff
	// Disabled pauses the mapping (Lambda's Enabled=false): Run checks the
	// queue, then receives nothing until it is stopped.
	Disabled bool
	// Hooks hear of what the mapping does (see package lambdaesm). Default
	// none.
	Hooks []lambdaesm.Hook
	// Logger receives logs. Default none.
	Logger *slog.Logger
}

// Scaling sets the number of batches handled at the same time, each one
// handler invocation (a FIFO batch may become several, one per message
// group, each counted). Zero fields get the defaults, which are Lambda's.
type Scaling struct {
	// Initial is the concurrency at start. Default 5.
	Initial int
	// PerMinute is the most the concurrency grows in a minute, one step at
	// a time, while receives come back full. Default 300.
	PerMinute int
	// Min is the least concurrency the engine shrinks to while receives
	// come back empty. Default 2.
	Min int
	// Max caps the concurrency: ScalingConfig.MaximumConcurrency. Default
	// 1250, Lambda's most concurrent invocations per SQS mapping.
	Max int
}

// Default scaling, Lambda's (services-sqs-scaling).
const (
	DefaultInitialConcurrency = 5
	DefaultScalePerMinute     = 300
	DefaultMinConcurrency     = 2
	DefaultMaxConcurrency     = 1250
)

func (s Scaling) withDefaults() (Scaling, error) {
	if s.Initial < 0 || s.PerMinute < 0 || s.Min < 0 || s.Max < 0 {
		return s, fmt.Errorf("queue: Scaling %+v: values must not be negative", s)
	}
	if s.Initial == 0 {
		s.Initial = DefaultInitialConcurrency
	}
	if s.PerMinute == 0 {
		s.PerMinute = DefaultScalePerMinute
	}
	if s.Max == 0 {
		s.Max = DefaultMaxConcurrency
	}
	if s.Min == 0 {
		s.Min = min(DefaultMinConcurrency, s.Max)
	}
	if s.Min > s.Max {
		return s, fmt.Errorf("queue: Scaling.Min %d is above Scaling.Max %d", s.Min, s.Max)
	}
	s.Initial = min(max(s.Initial, s.Min), s.Max)
	return s, nil
}

// Result is what one invocation of the function returned.
type Result struct {
	// Err is the function error (an error, a panic, a timeout): no message
	// of the batch is deleted.
	Err error
	// ItemFailures are the message IDs of the partial batch response
	// (batchItemFailures) when Err is nil. Every other message is deleted.
	// An empty ID, or one that is not in the batch, makes the response
	// invalid and fails the whole batch, as in Lambda.
	ItemFailures []string
}

// Callbacks are the engine's calls out to the mapping.
type Callbacks struct {
	// Invoke runs the function with one batch. The engine bounds ctx by
	// FunctionTimeout; with the visibility heartbeat, ctx is also
	// cancelled when visibility cannot be extended, with a
	// [*queue.HeartbeatError] as its cause. Required.
	Invoke func(ctx context.Context, batch []events.SQSMessage) Result
	// Filter keeps a message when it returns true; nil keeps all.
	// Filtered-out messages are deleted, as Lambda does.
	Filter func(m *events.SQSMessage) bool
}

// Engine runs one SQS mapping: it receives batches with a scaling number of
// workers, invokes the function, and deletes what succeeded. Create it with
// [New]; it starts no goroutine until Run.
type Engine struct {
	c      queue.SQSAPI
	set    Settings
	cb     Callbacks
	log    *slog.Logger
	hook   *core.Hooks
	health core.Health

	// Known once Run has checked the queue.
	q queueInfo

	lc *core.Lifecycle

	scaleMu sync.Mutex
	sc      scaler
	running int             // workers alive
	wg      *sync.WaitGroup // Run's, for workers started while scaling up
	slots   chan struct{}   // one per invocation in flight

	bgMu      sync.Mutex
	undeleted int   // messages handled but left undeleted
	deleteErr error // the last reason

	caller *core.Caller // the invocation step
}

// New returns an engine for the queue named by set, calling cb.
func New(c queue.SQSAPI, set Settings, cb Callbacks) (*Engine, error) {
	var errs []error
	if c == nil || isNilPointer(c) {
		errs = append(errs, errors.New("queue: the SQS client is nil"))
	}
	if cb.Invoke == nil {
		errs = append(errs, errors.New("queue: Callbacks.Invoke is required"))
	}
	if set.QueueARN == "" && set.QueueURL == "" {
		errs = append(errs, errors.New("queue: Settings.QueueARN or QueueURL is required"))
	}
	if set.QueueURL == "" && set.QueueARN != "" {
		if _, err := parseQueueARN(set.QueueARN); err != nil {
			errs = append(errs, err)
		}
	}
	if set.BatchSize < 0 || set.BatchSize > limits.MaxBatchSize {
		errs = append(errs, fmt.Errorf("queue: BatchSize %d is outside 1-%d", set.BatchSize, limits.MaxBatchSize))
	}
	if set.BatchingWindow < 0 || set.BatchingWindow > limits.MaxBatchingWindow {
		errs = append(errs, fmt.Errorf("queue: BatchingWindow %v is outside 0-%v", set.BatchingWindow, limits.MaxBatchingWindow))
	}
	if set.LongPoll != 0 && (set.LongPoll < time.Second || set.LongPoll > limits.LongPoll || set.LongPoll%time.Second != 0) {
		errs = append(errs, fmt.Errorf("queue: LongPoll %v is not a whole number of seconds from 1 to 20", set.LongPoll))
	}
	if set.HeartbeatInterval < 0 {
		errs = append(errs, fmt.Errorf("queue: HeartbeatInterval %v is negative", set.HeartbeatInterval))
	}
	sc, err := set.Scaling.withDefaults()
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	set.Scaling = sc
	if set.BatchSize == 0 {
		set.BatchSize = limits.DefaultSQSBatchSize
	}
	if set.FunctionTimeout <= 0 {
		set.FunctionTimeout = limits.DefaultFunctionTimeout
	}
	if set.LongPoll == 0 {
		set.LongPoll = limits.LongPoll
	}
	if set.MaxPayload <= 0 {
		set.MaxPayload = limits.MaxPayload
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		c: c, set: set, cb: cb,
		log:   set.Logger,
		hook:  core.NewHooks(set.Hooks...),
		lc:    core.NewLifecycle(),
		slots: make(chan struct{}, sc.Max),
		caller: &core.Caller{Timeout: set.FunctionTimeout, ReportBatchItemFailures: set.ReportBatchItemFailures,
			Log: set.Logger},
	}, nil
}

// isNilPointer reports whether v holds a nil pointer (a typed nil such as a
// nil *sqs.Client, which passes a v == nil check and panics when called).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Run checks the queue, then receives and invokes until ctx ends or Shutdown
// is called. It returns nil after such a stop, an error when the queue cannot
// be used (not found, access denied, an invalid request, a visibility
// timeout shorter than the function timeout, a FIFO queue with BatchSize
// above 10 or a batching window), and [lambdaesm.ErrClosed] when called
// twice or after Shutdown. Transient errors of the check (server errors,
// throttling, network failures) are retried with backoff.
//
// When ctx ends, receives in flight are cancelled, in-flight invocations see
// their context cancelled, and the messages received but not handed to the
// function are made visible again at once.
func (e *Engine) Run(ctx context.Context) error {
	runCtx, end, err := e.lc.Begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	e.health.SetRunning(true)
	defer e.health.SetRunning(false)

	q, ok, err := e.startup(runCtx)
	if !ok {
		return err // nil when stopped during the start-up check: a stop, not a failure
	}
	e.q = q
	e.log = e.set.Logger.With("eventSourceArn", q.arn)
	if e.set.Disabled {
		e.log.Info("mapping disabled (Enabled=false): not receiving")
		<-e.lc.Stopping() // Run's context ending stops too
		return nil
	}
	var wg sync.WaitGroup
	e.scaleMu.Lock()
	e.wg = &wg
	e.sc = newScaler(e.set.Scaling, time.Now())
	e.spawn(runCtx, e.sc.target)
	e.scaleMu.Unlock()
	wg.Wait() // workers end once receiving stopped and their batches ended
	return nil
}

// Health returns the engine's current health.
func (e *Engine) Health() core.HealthSnapshot { return e.health.Snapshot() }

// Shutdown stops receiving, lets in-flight invocations finish and delete
// their messages, makes the messages received but not yet handed to the
// function visible again at once, and waits for Run to return. Receives in
// flight are not cancelled but finish (a long poll, within 20 seconds or
// [Settings.LongPoll]): SQS
// keeps a long poll open after its client gave up and hands it messages,
// which would then stay invisible for their visibility timeout. If ctx ends
// first, receives and in-flight invocations are cancelled and ctx's error is
// returned. Once Run has returned, Shutdown
// returns a [*queue.DeleteError] if messages were handled but could not be
// deleted (they will be delivered again). Shutdown is idempotent and safe to
// call concurrently; before Run it makes Run return [lambdaesm.ErrClosed].
func (e *Engine) Shutdown(ctx context.Context) error {
	if err := e.lc.Shutdown(ctx); err != nil {
		return err
	}
	return e.deferred()
}

// Concurrency reports the number of concurrent batches the scaler aims at
// and the number of workers running.
func (e *Engine) Concurrency() (target, running int) {
	e.scaleMu.Lock()
	defer e.scaleMu.Unlock()
	return e.sc.target, e.running
}

func (e *Engine) stop() { e.lc.Stop() }

func (e *Engine) stopped() bool { return e.lc.Stopped() }

// wait sleeps d unless receiving stops or ctx ends first; it reports whether
// the full wait happened.
func (e *Engine) wait(ctx context.Context, d time.Duration) bool {
	return core.Sleep(ctx, e.lc.Stopping(), d)
}

func (e *Engine) backoff(retryN int) time.Duration {
	return e.set.ServiceBackoff.Delay(retryN, rand.Float64())
}

// spawn starts n workers. The caller holds scaleMu.
func (e *Engine) spawn(ctx context.Context, n int) {
	for range n {
		e.running++
		e.wg.Go(func() { e.work(ctx) })
	}
}

// observe feeds one receive's result to the scaler and starts workers when
// the target grew.
func (e *Engine) observe(ctx context.Context, got, asked int) {
	e.scaleMu.Lock()
	defer e.scaleMu.Unlock()
	before := e.sc.target
	target := e.sc.observe(time.Now(), got, asked)
	if target != before {
		e.log.Debug("concurrency changed", "from", before, "to", target)
	}
	if n := target - e.running; n > 0 && !e.stopped() {
		e.spawn(ctx, n)
	}
}

// retire reports whether the calling worker must end because the target
// shrank below the number of workers, and if so counts it out.
func (e *Engine) retire() bool {
	e.scaleMu.Lock()
	defer e.scaleMu.Unlock()
	if e.running > e.sc.target {
		e.running--
		return true
	}
	return false
}

// exited counts out a worker that ends because the engine stops.
func (e *Engine) exited() {
	e.scaleMu.Lock()
	e.running--
	e.scaleMu.Unlock()
}

// callCtx returns a short context free of ctx's cancellation, for the calls
// that must be made even when Run's context ends meanwhile (deleting handled
// messages, making unhandled ones visible): cancelled in flight, a delete
// would leave a handled message to be delivered again.
func callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}
