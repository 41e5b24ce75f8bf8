package invoke

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
)

// Invoker runs a handler for events invoked asynchronously, with Lambda's
// retries, event age limit, destinations and dead-letter queue. Build it with
// [New], start it with Run, stop it with Shutdown. Its methods are safe for
// concurrent use.
type Invoker[E, R any] struct {
	h     esm.Handler[E, R]
	s     settings
	ready chan *item    // events due now; never fuller than held
	wake  chan struct{} // a retry was scheduled (capacity 1)
	idle  chan struct{} // closed once shut and nothing is held
	done  chan struct{} // closed when the invoker has finished
	// durable, when set, keeps the events in an SQS queue instead.
	durable *durableQueue

	mu    sync.Mutex         // guards the fields below
	state runState           // whether Run has started or finished
	held  int                // events accepted and not finished
	later retryHeap          // events waiting for a retry
	shut  bool               // Invoke refuses events
	quiet bool               // idle is closed
	abort context.CancelFunc // cancels Run's context
}

// runState is where an invoker is in its life.
type runState int

const (
	notRun   runState = iota // Run not called yet
	running                  // Run is running
	finished                 // Run returned, or Shutdown gave up before Run
)

// item is one event in the invoker.
type item struct {
	id       string
	payload  json.RawMessage
	enqueued time.Time // when Invoke accepted it
	deadline time.Time // enqueued + MaximumEventAge
	due      time.Time // when a retry may start
	attempts int
	lastErr  error
	response json.RawMessage // the function's response, once it succeeded
}

// New returns an invoker that runs h for each event given to Invoke, with
// the function's asynchronous configuration cfg (the zero Config means
// Lambda's defaults) and options for this process. Every problem with its
// arguments is reported at once. New starts no goroutine: call Run.
func New[E, R any](h esm.Handler[E, R], cfg Config, opts ...Option) (*Invoker[E, R], error) {
	s, err := newSettings(cfg, opts)
	if h == nil {
		err = errors.Join(err, errors.New("invoke: the handler is nil"))
	}
	if err != nil {
		return nil, err
	}
	inv := &Invoker[E, R]{
		h:    h,
		s:    s,
		wake: make(chan struct{}, 1),
		idle: make(chan struct{}),
		done: make(chan struct{}),
	}
	if s.Durable != nil {
		if err := inv.openDurable(); err != nil {
			return nil, err
		}
		return inv, nil
	}
	inv.ready = make(chan *item, s.QueueCapacity)
	return inv, nil
}

// Invoke queues event and returns its request ID without waiting for the
// handler, like Lambda's Invoke with InvocationType Event. It fails with
// [ErrQueueFull] when the invoker holds its capacity of events (WithQueueCapacity), with
// [ErrPayloadTooLarge] for an event over the payload limit (WithMaxPayloadBytes), and with
// [lambdaesm.ErrClosed] once Shutdown has begun or Run has returned. Events given
// before Run starts wait for it. Given WithDurable, Invoke sends the event
// to the queue (the call's error is returned) and there is no capacity.
//
// The event is encoded as JSON now and decoded afresh for every attempt, as
// Lambda does, so the handler may change what it receives and E must survive
// a JSON round trip.
func (i *Invoker[E, R]) Invoke(ctx context.Context, event E) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	payload, err := json.Marshal(event)
	if err != nil {
		return "", fmt.Errorf("invoke: encode event: %w", err)
	}
	if len(payload) > i.s.MaxPayloadBytes {
		return "", fmt.Errorf("%w: %d bytes, over the limit of %d", ErrPayloadTooLarge, len(payload), i.s.MaxPayloadBytes)
	}
	now := time.Now()
	it := &item{id: uuid.New(), payload: payload, enqueued: now, deadline: now.Add(i.s.MaximumEventAge), due: now}
	if i.durable != nil {
		return i.enqueueDurable(ctx, it)
	}
	i.mu.Lock()
	switch {
	case i.shut:
		i.mu.Unlock()
		return "", lambdaesm.ErrClosed
	case i.held >= i.s.QueueCapacity:
		i.mu.Unlock()
		return "", ErrQueueFull
	}
	i.held++
	i.ready <- it // never blocks: the channel holds at most held ≤ capacity events
	i.mu.Unlock()
	return it.id, nil
}

// Call runs the handler once for event and returns its response and error,
// as a synchronous (RequestResponse) invocation does: no retry, no
// destination, no dead-letter queue. The event is passed as it is; the
// attempt is bounded by Config.FunctionTimeout and a panic is returned as an
// [*esm.PanicError]. Call needs neither Run nor a queue slot and works after
// Shutdown.
func (i *Invoker[E, R]) Call(ctx context.Context, event E) (R, error) {
	return i.call(ctx, uuid.New(), 1, event)
}

// Run runs the worker pool until Shutdown has let every held event finish,
// or until ctx ends, and returns nil after either. When ctx ends, running
// handlers see their context cancelled and the events still held are
// abandoned (reported to a lambdaesm.HookAsyncResult and the log). Run returns
// [lambdaesm.ErrClosed] when called twice, or after Shutdown when no event is held;
// after Shutdown with events held, it runs them and returns. With
// WithDurable, Run runs the queue's mapping and returns its error (the
// queue cannot be used, for one).
func (i *Invoker[E, R]) Run(ctx context.Context) error {
	if i.durable != nil {
		return i.runDurable(ctx)
	}
	i.mu.Lock()
	if i.state != notRun || (i.shut && i.held == 0) {
		i.mu.Unlock()
		return lambdaesm.ErrClosed
	}
	i.state = running
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	i.abort = cancel
	i.mu.Unlock()
	defer i.finishRun()

	var wg sync.WaitGroup
	for range i.s.Concurrency {
		wg.Go(func() { i.work(ctx) })
	}
	wg.Go(func() { i.retryLoop(ctx) })
	wg.Wait()
	return nil
}

// Shutdown stops accepting events (Invoke returns [lambdaesm.ErrClosed]) and waits
// until every held event has finished — retries and their delays included —
// and Run has returned. If ctx ends first, it cancels the running handlers,
// abandons the events still held and returns an error wrapping ctx's error
// that says how many events were still held. Shutdown is idempotent and safe
// to call concurrently. Called before Run, it returns at once when no event
// is held (Run then returns [lambdaesm.ErrClosed]); otherwise it waits for Run to run
// the held events, until ctx ends. Given WithDurable, Shutdown stops the
// queue's mapping: the events in flight finish, the others stay queued.
func (i *Invoker[E, R]) Shutdown(ctx context.Context) error {
	if i.durable != nil {
		return i.shutdownDurable(ctx)
	}
	i.mu.Lock()
	i.shut = true
	i.quietLocked()
	if i.state == notRun && i.held == 0 {
		i.mu.Unlock()
		return nil
	}
	i.mu.Unlock()
	select {
	case <-i.done:
		return nil
	case <-ctx.Done():
	}
	i.mu.Lock()
	held := i.held
	st := i.state
	if st == notRun {
		i.state = finished
	}
	if i.abort != nil {
		i.abort()
	}
	i.mu.Unlock()
	if st == notRun {
		i.finishRun()
	}
	return fmt.Errorf("invoke: shutdown: %d events still held were abandoned: %w", held, ctx.Err())
}

// finishRun abandons what is left and marks the invoker finished: Run has
// returned, or Shutdown gave up before Run started.
func (i *Invoker[E, R]) finishRun() {
	i.abandonAll()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.state = finished
	select {
	case <-i.done:
	default:
		close(i.done)
	}
}

// work is one worker of the pool.
func (i *Invoker[E, R]) work(ctx context.Context) {
	for {
		select {
		case it := <-i.ready:
			i.process(ctx, it)
		case <-i.idle:
			return
		case <-ctx.Done():
			return
		}
	}
}

// process makes one attempt of an in-memory event, then finishes it or
// schedules its retry.
func (i *Invoker[E, R]) process(ctx context.Context, it *item) {
	switch out, res := i.attempt(ctx, it); out {
	case finishedEvent:
		i.release()
		i.report(res)
	case interrupted:
		i.abandon(it)
	case retryLater:
		i.mu.Lock()
		heap.Push(&i.later, it)
		i.mu.Unlock()
		select {
		case i.wake <- struct{}{}:
		default:
		}
	}
}

// outcome is what became of an event after [Invoker.attempt].
type outcome int

const (
	finishedEvent outcome = iota // succeeded or discarded
	retryLater                   // failed with retries left: retry at it.due
	interrupted                  // the invoker is stopping: not finished
)

// attempt makes one attempt of it — or discards it when it is too old — and
// sends the records of a finished event, whose result it returns. It is the
// same for both queues.
func (i *Invoker[E, R]) attempt(ctx context.Context, it *item) (outcome, lambdaesm.AsyncResult) {
	if ctx.Err() != nil {
		return interrupted, lambdaesm.AsyncResult{}
	}
	if !time.Now().Before(it.deadline) {
		return finishedEvent, i.discard(ctx, it, lambdaesm.EventAgeExceeded)
	}
	it.attempts++
	var e E
	var resp R
	err := json.Unmarshal(it.payload, &e)
	if err != nil {
		err = fmt.Errorf("invoke: decode event: %w", err)
	} else {
		resp, err = i.call(ctx, it.id, it.attempts, e)
	}
	if err == nil {
		return finishedEvent, i.succeed(ctx, it, resp)
	}
	it.lastErr = err
	switch {
	case ctx.Err() != nil:
		return interrupted, lambdaesm.AsyncResult{}
	case it.attempts > i.s.retries:
		return finishedEvent, i.discard(ctx, it, lambdaesm.RetriesExhausted)
	}
	i.s.logger.Debug("function error; retrying", "requestId", it.id, "attempt", it.attempts, "err", err)
	it.due = time.Now().Add(i.s.retryDelay(it.attempts))
	if it.due.After(it.deadline) {
		it.due = it.deadline // it expires then, with EventAgeExceeded
	}
	return retryLater, lambdaesm.AsyncResult{}
}

// call runs the handler once, bounded by the function timeout, with the
// attempt's facts in the context and panics recovered.
func (i *Invoker[E, R]) call(ctx context.Context, requestID string, attempt int, e E) (r R, err error) {
	actx, cancel := context.WithTimeout(attemptContext(ctx, requestID, attempt, i.s.FunctionARN), i.s.FunctionTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = &esm.PanicError{Value: v, Stack: debug.Stack()}
		}
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = &lambdaesm.TimeoutError{Timeout: i.s.FunctionTimeout}
		}
	}()
	return i.h.Handle(actx, e)
}

// retryLoop moves events whose retry delay has passed to the ready queue.
func (i *Invoker[E, R]) retryLoop(ctx context.Context) {
	for {
		i.mu.Lock()
		now := time.Now()
		for i.later.Len() > 0 && !i.later[0].due.After(now) {
			i.ready <- heap.Pop(&i.later).(*item) // never blocks (see Invoke)
		}
		var t *time.Timer
		var next <-chan time.Time
		if i.later.Len() > 0 {
			t = time.NewTimer(i.later[0].due.Sub(now))
			next = t.C
		}
		i.mu.Unlock()
		select {
		case <-next:
		case <-i.wake:
		case <-i.idle:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil || i.isQuiet() {
			return
		}
	}
}

// succeed sends the success record.
func (i *Invoker[E, R]) succeed(ctx context.Context, it *item, resp R) lambdaesm.AsyncResult {
	if i.s.OnSuccess != nil {
		out, err := json.Marshal(resp)
		if err != nil {
			i.s.logger.Warn("response is not JSON; the success record has a null responsePayload", "requestId", it.id, "err", err)
		}
		it.response = out
	}
	return i.succeedWith(ctx, it)
}

// succeedWith sends the success record of it, whose response is
// it.response.
func (i *Invoker[E, R]) succeedWith(ctx context.Context, it *item) lambdaesm.AsyncResult {
	res := lambdaesm.AsyncResult{RequestID: it.id, Condition: lambdaesm.Success, Attempts: it.attempts}
	if i.s.OnSuccess != nil {
		rec := i.record(it, lambdaesm.Success, it.response, "")
		res.DeliveryErr = i.deliverRecord(ctx, "OnSuccess", i.s.OnSuccess, rec)
	}
	return res
}

// discard sends the failure record and the payload to the failure
// destination and the dead-letter queue.
func (i *Invoker[E, R]) discard(ctx context.Context, it *item, cond lambdaesm.Condition) lambdaesm.AsyncResult {
	res := lambdaesm.AsyncResult{RequestID: it.id, Condition: cond, Attempts: it.attempts, Err: it.lastErr}
	var errs []error
	if i.s.OnFailure != nil {
		var kind string
		var out json.RawMessage
		if it.lastErr != nil {
			kind, out = errorPayload(it.lastErr)
		}
		errs = append(errs, i.deliverRecord(ctx, "OnFailure", i.s.OnFailure, i.record(it, cond, out, kind)))
	}
	if i.s.DeadLetter != nil {
		errs = append(errs, i.deliver(ctx, "DeadLetter", i.s.DeadLetter, deadLetter(it)))
	}
	res.DeliveryErr = errors.Join(errs...)
	if i.s.OnFailure == nil && i.s.DeadLetter == nil {
		i.s.logger.Warn("event discarded; no OnFailure destination or dead-letter queue is configured",
			"requestId", it.id, "condition", string(cond), "attempts", it.attempts, "err", it.lastErr)
	}
	return res
}

// deadLetter builds the dead-letter message of it: its payload, with
// Lambda's attributes RequestID, ErrorCode and ErrorMessage (the last
// attempt's error; RequestID alone when no attempt failed).
func deadLetter(it *item) destination.Message {
	in := destination.DeadLetterInput{Payload: it.payload, RequestID: it.id, Now: time.Now()}
	if it.lastErr != nil {
		in.StatusCode = statusCode(it.lastErr)
		in.ErrorMessage = errorMessage(it.lastErr)
	}
	return destination.NewDeadLetter(in)
}

// record builds the invocation record of it.
func (i *Invoker[E, R]) record(it *item, cond lambdaesm.Condition, response json.RawMessage, functionError string) destination.InvocationRecord {
	return destination.NewInvocationRecord(destination.InvocationRecordInput{
		FunctionARN:            i.s.recordARN,
		Condition:              cond,
		ApproximateInvokeCount: it.attempts,
		RequestPayload:         it.payload,
		ResponsePayload:        response,
		FunctionError:          functionError,
		RequestID:              it.id,
		Now:                    time.Now(),
	})
}

func (i *Invoker[E, R]) deliverRecord(ctx context.Context, target string, to destination.Sender, rec destination.InvocationRecord) error {
	m, err := rec.Message()
	if err != nil {
		return fmt.Errorf("invoke: %s: %w", target, err)
	}
	return i.deliver(ctx, target, to, m)
}

// deliver offers m to a destination as many times as WithDelivery allows,
// with backoff; the last error is returned and logged.
func (i *Invoker[E, R]) deliver(ctx context.Context, target string, to destination.Sender, m destination.Message) error {
	var err error
	n := 0
attempts:
	for n < i.s.deliveries {
		n++
		if err = to.Send(ctx, m); err == nil {
			return nil
		}
		if n < i.s.deliveries {
			select { // time.After's timer is collected once dropped (Go 1.23)
			case <-time.After(i.s.DeliveryBackoff.Delay(n, rand.Float64())):
			case <-ctx.Done():
				break attempts // the invoker is stopping
			}
		}
	}
	err = fmt.Errorf("invoke: %s: record not delivered after %d attempts: %w", target, n, err)
	i.s.logger.Error("destination refused the record", "target", target, "err", err)
	return err
}

// abandon finishes an event the invoker stopped before it was done with.
func (i *Invoker[E, R]) abandon(it *item) {
	i.s.logger.Warn("event abandoned: the invoker stopped before it was done with it",
		"requestId", it.id, "attempts", it.attempts)
	i.release()
	i.report(lambdaesm.AsyncResult{RequestID: it.id, Abandoned: true, Attempts: it.attempts, Err: it.lastErr})
}

// abandonAll abandons every queued and waiting event (Run has returned, or
// never ran).
func (i *Invoker[E, R]) abandonAll() {
	i.mu.Lock()
	i.shut = true
	rest := []*item(i.later)
	i.later = nil
	for len(i.ready) > 0 {
		rest = append(rest, <-i.ready)
	}
	i.mu.Unlock()
	for _, it := range rest {
		i.abandon(it)
	}
}

// release frees the place of a finished in-memory event.
func (i *Invoker[E, R]) release() {
	i.mu.Lock()
	i.held--
	i.quietLocked()
	i.mu.Unlock()
}

// report tells the hooks how the invoker finished with an event.
func (i *Invoker[E, R]) report(res lambdaesm.AsyncResult) { i.s.hooks.AsyncResult(res) }

func (i *Invoker[E, R]) isQuiet() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.quiet
}

// quietLocked closes idle once Invoke refuses events and none is held.
func (i *Invoker[E, R]) quietLocked() {
	if i.shut && i.held == 0 && !i.quiet {
		i.quiet = true
		close(i.idle)
	}
}

// retryHeap orders waiting events by due time.
type retryHeap []*item

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(a, b int) bool { return h[a].due.Before(h[b].due) }
func (h retryHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(*item)) }
func (h *retryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
