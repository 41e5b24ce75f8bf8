package esm

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/lambdaesm/lambdaesm"
)

// drainGrace is added to FunctionTimeout to bound how long a disable or an
// update waits for a mapping to stop: time for the in-flight batches, and
// for an SQS receive in flight (a long poll of up to 20 s) to come back.
const drainGrace = 30 * time.Second

// Start-up problems are retried with backoff, from retryMin to retryMax.
const (
	retryMin = time.Second
	retryMax = time.Minute
)

// runner is a running mapping: every mapping type has these methods.
type runner interface {
	Mapping
	Health() Health
}

// instance is one run of a mapping's configuration.
type instance struct {
	m    runner
	gen  uint64
	cfg  Config // as given, Enabled left out
	done chan struct{}
	err  error // Run's, once done is closed
}

func (i *instance) ended() bool {
	select {
	case <-i.done:
		return true
	default:
		return false
	}
}

// startSupervisor starts e's supervisor; the caller holds r.mu and the
// registry runs.
func (r *Registry) startSupervisor(e *entry) {
	if e.started {
		return
	}
	e.started = true
	e.wake = make(chan struct{}, 1)
	r.sups.Add(1)
	go func() {
		defer r.sups.Done()
		r.supervise(e)
	}()
}

// supervise makes e's running mapping match its definition until the
// mapping is deleted or the registry stops: it starts the mapping when it
// is enabled, stops it gracefully when it is disabled, deleted or the
// registry stops, and restarts it from its checkpoints when its definition
// changes. A mapping that cannot start, or whose Run fails, is retried with
// backoff; LastProcessingResult says why.
func (r *Registry) supervise(e *entry) {
	var inst *instance
	var retry <-chan time.Time
	failures := 0
	lastGen := ^uint64(0)
	for {
		r.mu.Lock()
		def, gen, deleting := e.def.clone(), e.gen, e.deleting
		stopping := r.closed || r.runCtx.Err() != nil
		r.mu.Unlock()
		want := !deleting && !stopping && def.IsEnabled()
		if gen != lastGen { // a change is tried at once, whatever failed before
			lastGen, retry, failures = gen, nil, 0
		}

		if inst != nil && inst.ended() { // Run returned on its own
			err := inst.err
			inst = nil
			r.setInstance(e, nil)
			if err != nil && !errors.Is(err, lambdaesm.ErrClosed) && !stopping {
				failures++
				r.problem(e, err, failures)
				retry = time.After(backoff(failures))
			}
		}
		if inst != nil && (!want || inst.gen != gen) {
			if want && sameRun(inst.cfg, def) { // nothing that runs changed
				inst.gen = gen
				r.settle(e, gen, StateEnabled)
			} else {
				r.stop(e, inst, def)
				inst = nil
				r.setInstance(e, nil)
				retry, failures = nil, 0
				// The stop drains in-flight batches: the registry
				// may have begun to stop, or the mapping to be
				// deleted, meanwhile. Neither starts a new run.
				r.mu.Lock()
				deleting = e.deleting
				stopping = r.closed || r.runCtx.Err() != nil
				r.mu.Unlock()
			}
		}
		if inst == nil {
			switch {
			case deleting:
				r.remove(e)
				return
			case stopping:
				r.mu.Lock()
				e.started = false // nothing runs it any more: changes settle at once
				if e.state.Transitional() {
					e.state = restingState(e.def)
				}
				r.mu.Unlock()
				return
			case !want:
				retry, failures = nil, 0
				r.settle(e, gen, StateDisabled)
			case retry == nil:
				next, err := r.start(e, def, gen)
				if err != nil {
					failures++
					r.problem(e, err, failures)
					retry = time.After(backoff(failures))
					r.settle(e, gen, StateEnabled) // enabled, with a problem it retries
					break
				}
				inst = next
				r.setInstance(e, inst)
				r.settle(e, gen, StateEnabled)
			}
		}
		var done chan struct{}
		if inst != nil {
			done = inst.done
		}
		select {
		case <-e.wake:
		case <-done:
		case <-retry:
			retry = nil
		case <-r.runCtx.Done():
		}
	}
}

// backoff is the wait before the nth retry of a mapping that cannot run.
func backoff(n int) time.Duration {
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// sameRun reports whether two definitions run alike: equal but for Enabled.
func sameRun(a, b Config) bool {
	a, b = a.clone(), b.clone()
	a.Enabled, b.Enabled = nil, nil
	ja, erra := a.MarshalJSON()
	jb, errb := b.MarshalJSON()
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}

// settle sets e's state unless a newer change came meanwhile.
func (r *Registry) settle(e *entry, gen uint64, s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.gen == gen && e.state != s {
		e.state = s
		r.log.Info("mapping state", "uuid", e.uuid, "state", s)
	}
}

func (r *Registry) setInstance(e *entry, inst *instance) {
	r.mu.Lock()
	e.cur = inst
	r.mu.Unlock()
}

// remove forgets a deleted mapping once it has stopped.
func (r *Registry) remove(e *entry) {
	r.mu.Lock()
	if r.entries[e.uuid] == e {
		delete(r.entries, e.uuid)
	}
	r.mu.Unlock()
	r.log.Info("mapping removed", "uuid", e.uuid)
}

// problem records why e cannot run.
func (r *Registry) problem(e *entry, err error, failures int) {
	s := "PROBLEM: " + err.Error()
	e.result.Store(&s)
	r.log.Warn("mapping cannot run; retrying", "uuid", e.uuid, "err", err, "retryIn", backoff(failures))
}

// start builds e's mapping from def and runs it.
func (r *Registry) start(e *entry, def Config, gen uint64) (*instance, error) {
	cfg := def.clone()
	cfg.Enabled = new(true)
	full, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	fn, err := r.resolve(r.runCtx, full, e.src.Kind)
	if err != nil {
		return nil, err
	}
	logger := r.log.With("uuid", e.uuid, "functionName", full.FunctionName)
	common := []Option{WithName(e.uuid), WithLogger(logger), WithHooks(resultHook{e})}
	var m runner
	stream := append(append(slices.Clone(r.cfg.StreamOptions), WithStore(r.cps)), asStream(common)...)
	window := full.TumblingWindow > 0
	switch e.src.Kind {
	case Kinesis:
		if window {
			m, err = NewKinesisWindowMapping(cfg, r.cfg.Clients.Kinesis, fn.KinesisWindow, stream...)
		} else {
			m, err = NewKinesisMapping(cfg, r.cfg.Clients.Kinesis, fn.Kinesis, stream...)
		}
	case DynamoDBStreams:
		stream = kinesisOnlyDropped(stream)
		if window {
			m, err = NewDynamoDBWindowMapping(cfg, r.cfg.Clients.DynamoDBStreams, fn.DynamoDBWindow, stream...)
		} else {
			m, err = NewDynamoDBMapping(cfg, r.cfg.Clients.DynamoDBStreams, fn.DynamoDB, stream...)
		}
	case SQS:
		opts := slices.Clone(r.cfg.SQSOptions)
		m, err = NewSQSMapping(cfg, r.cfg.Clients.SQS, fn.SQS, append(opts, asSQS(common)...)...)
	}
	if err != nil {
		return nil, err
	}
	def.Enabled = nil
	inst := &instance{m: m, gen: gen, cfg: def, done: make(chan struct{})}
	go func() {
		inst.err = m.Run(r.runCtx)
		close(inst.done)
	}()
	logger.Info("mapping started")
	return inst, nil
}

func asStream(opts []Option) []StreamOption {
	out := make([]StreamOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

func asSQS(opts []Option) []SQSOption {
	out := make([]SQSOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

// stop shuts inst down gracefully: in-flight batches finish and their
// checkpoints are written. A disable or update waits FunctionTimeout plus
// drainGrace at most before cancelling the in-flight handlers; a registry
// Shutdown waits as long as its context allows.
func (r *Registry) stop(e *entry, inst *instance, def Config) {
	r.mu.Lock()
	ctx := r.stopCtx
	r.mu.Unlock()
	if ctx == nil {
		timeout := def.FunctionTimeout
		if timeout == 0 {
			timeout = defaultFunctionTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(r.runCtx), timeout+drainGrace)
		defer cancel()
	}
	if err := inst.m.Shutdown(ctx); err != nil {
		r.log.Warn("mapping did not drain in time; in-flight handlers were cancelled", "uuid", e.uuid, "err", err)
	}
	<-inst.done
	r.log.Info("mapping stopped", "uuid", e.uuid)
}

// resultHook keeps a mapping's LastProcessingResult.
type resultHook struct{ e *entry }

var _ lambdaesm.HookBatchInvoked = resultHook{}

var (
	resultOK     = ResultOK
	resultFailed = ResultFunctionFailed
)

// OnBatchInvoked implements lambdaesm.HookBatchInvoked.
func (h resultHook) OnBatchInvoked(inv lambdaesm.Invocation) {
	if h.e.src.Kind == SQS && inv.Err == nil {
		empty := ""
		h.e.result.Store(&empty)
		return
	}
	if inv.Err != nil {
		h.e.result.Store(&resultFailed)
		return
	}
	h.e.result.Store(&resultOK)
}

// kinesisOnlyDropped returns opts without the options that apply to Kinesis
// mappings only (WithInvokeIdentityARN, WithStreamConsumer): the registry's
// StreamOptions serve DynamoDB mappings too.
func kinesisOnlyDropped(opts []StreamOption) []StreamOption {
	return slices.DeleteFunc(slices.Clone(opts), func(o StreamOption) bool {
		return o != nil && !isNil(o) && o.streamOption().to == kinesisMappings
	})
}
