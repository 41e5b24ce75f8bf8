package streamengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/internal/limits"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Settings are an engine's settings, already validated and defaulted (package
// esm does that from its Config). Zero values get the defaults named.
type Settings struct {
	// Mapping names the mapping in the checkpoint store. Required.
	Mapping string
	// BatchSize is the most records per invocation. Default 100.
	BatchSize int
	// BatchingWindow is how long a lane gathers records before it invokes
	// with fewer than BatchSize. The window starts when the previous
	// invocation of the lane completes. Default 0: invoke as soon as
	// records are there.
	BatchingWindow time.Duration
	// ParallelizationFactor is the number of lanes per shard, 1 to 10.
	// Default 1.
	ParallelizationFactor int
	// TumblingWindow, when positive (at most 900s), groups each shard's
	// records in tumbling windows of this length, aligned on the epoch by
	// record arrival time, with a state carried from invocation to
	// invocation and a final invocation when a window closes (Lambda's
	// TumblingWindowInSeconds; see window.go). It needs
	// Callbacks.InvokeWindow and a ParallelizationFactor of 1.
	TumblingWindow time.Duration
	// StartingPosition is TRIM_HORIZON, LATEST or AT_TIMESTAMP, for shards
	// without a checkpoint. Default LATEST.
	StartingPosition string
	// StartingTimestamp goes with AT_TIMESTAMP.
	StartingTimestamp time.Time
	// FunctionTimeout bounds each invocation through its context. Default 3s.
	FunctionTimeout time.Duration
	// Policy decides retries, bisect, record age and partial responses.
	// Nil means Lambda's default: retry until the records expire
	// (MaximumRetryAttempts retry.Infinite), no age limit, no bisect, no
	// partial batch responses.
	Policy *retry.Policy
	// PollInterval is the wait between reads of a shard that returned no
	// records. Default Lambda's cadence: 1s for Kinesis, 250ms for DynamoDB.
	PollInterval time.Duration
	// MinPollInterval spaces reads of one shard that keep returning records.
	// Default 200ms, Kinesis's 5 GetRecords per second per shard.
	MinPollInterval time.Duration
	// DiscoveryInterval is how often shards are listed again. Default 30s.
	DiscoveryInterval time.Duration
	// MaxPayload caps the JSON size of one invocation's event. Default 6 MB.
	MaxPayload int
	// ReadLimit is the Limit of each GetRecords call. Default the service's
	// maximum (Kinesis 10000, DynamoDB 1000).
	ReadLimit int
	// ServiceBackoff spaces retries of throttled or failed service calls.
	// The zero value means retry.DefaultBackoff.
	ServiceBackoff retry.Backoff
	// Disabled pauses the mapping (Lambda's Enabled=false): Run reads
	// nothing until it is stopped, and checkpoints stay where they are.
	Disabled bool
	// Store keeps checkpoints. Default an in-memory store. A [shard.LeaseStore]
	// shares the stream's shards among processes.
	Store shard.Store
	// CheckpointInterval is the least time between two checkpoint writes of
	// one shard: a checkpoint that moves sooner is written when the interval
	// has passed, coalesced with what finished meanwhile. The final
	// checkpoint is always written at once when a shard stops (shutdown,
	// lease hand-off, shard end). After a crash, records finished within
	// the last interval are delivered again. Default 1s; a negative value
	// writes after every batch.
	CheckpointInterval time.Duration
	// LeaseInterval is how often a shard.LeaseStore is asked for the leases.
	// Each round also renews this process's leases (package dynamolease
	// writes one heartbeat per round), so it should be at most a third of
	// the lease duration. It bounds how long a hand-off takes. Default 1s.
	LeaseInterval time.Duration
	// LeaseTimeout halts every shard when no lease round has succeeded for
	// this long, as the leases may have lapsed. Default 10s.
	LeaseTimeout time.Duration
	// Hooks hear of what the mapping does (see package lambdaesm). Default
	// none.
	Hooks []lambdaesm.Hook
	// Logger receives logs. Default none.
	Logger *slog.Logger
}

// Invoker calls the function with one batch. The engine bounds ctx by
// FunctionTimeout.
type Invoker[R any] func(ctx context.Context, batch []R) Result

// Result is what one invocation returned.
type Result struct {
	// Err is the function error (an error returned, or a panic), or nil.
	Err error
	// ItemFailures are the itemIdentifier values of the response's
	// batchItemFailures, as returned (empty strings included); nil for
	// none. The engine applies AWS's partial batch response rules to them
	// when the policy has ReportBatchItemFailures, and ignores them (with
	// one warning) otherwise.
	ItemFailures []string
}

// Discarded are records given up on by the policy, for the failure
// destination.
type Discarded[R any] struct {
	ShardID string
	Records []R
	// The sequence numbers and arrival times of the first and last record.
	StartSequenceNumber, EndSequenceNumber string
	FirstArrival, LastArrival              time.Time
	Condition                              lambdaesm.Condition
	// InvokeCount is the approximateInvokeCount of the failure record.
	InvokeCount int
	// FunctionError tells that the last invocation returned a function
	// error (not an invalid partial batch response).
	FunctionError bool
}

// WindowCall is what a tumbling-window invocation carries besides its
// records (the fields of Lambda's time-window event).
type WindowCall struct {
	ShardID    string
	Start, End time.Time
	// State is the window's state so far, a copy the handler may change:
	// empty (not nil) in a window's first invocation.
	State map[string]string
	// Final marks the last invocation of a window (no records);
	// TerminatedEarly marks one that ends the window because its state
	// grew beyond the limit (the next invocations continue the same
	// window with a fresh state).
	Final, TerminatedEarly bool
}

// WindowInvoker calls the function with one batch of a tumbling window.
type WindowInvoker[R any] func(ctx context.Context, w WindowCall, batch []R) WindowResult

// WindowResult is what a tumbling-window invocation returned.
type WindowResult struct {
	Result
	// State is the response's state; nil when the response has none,
	// which Lambda "considers ... a failed invocation".
	State map[string]string
}

// Callbacks are the engine's calls out to the mapping.
type Callbacks[R any] struct {
	// Invoke runs the function. Required unless Settings.TumblingWindow
	// is set.
	Invoke Invoker[R]
	// InvokeWindow runs the function when Settings.TumblingWindow is set.
	InvokeWindow WindowInvoker[R]
	// Filter keeps a record when it returns true; nil keeps all.
	// Filtered-out records are checkpointed past, as Lambda does.
	Filter func(r *R) bool
	// OnDiscard delivers discarded records to the failure destination. An
	// error holds the lane and is retried with backoff: the checkpoint
	// never moves past records that were not delivered. Nil logs them
	// (metadata only) and moves on.
	OnDiscard func(ctx context.Context, d Discarded[R]) error
}

// Engine runs one stream mapping: it discovers shards, reads each one, feeds
// ParallelizationFactor lanes per shard and checkpoints. Create it with
// [NewKinesis] or [NewDynamoDB]; it starts no goroutine until Run.
type Engine[R any] struct {
	src  source[R]
	set  Settings
	cb   Callbacks[R]
	arn  string
	log  *slog.Logger
	hook *core.Hooks

	lc     *core.Lifecycle
	kick   chan struct{} // a shard ended: discover now
	caller *core.Caller  // the invocation step
	health core.Health

	fatalMu  sync.Mutex
	fatalErr error // what stopped the mapping from inside; Run returns it

	// maxState is the largest tumbling-window state (its JSON) before the
	// window ends early: Lambda's 1 MB, or less if the store says so.
	maxState int
}

// NewKinesis returns an engine for the Kinesis stream streamARN.
// invokeIdentityARN fills the events' invokeIdentityArn (may be empty).
func NewKinesis(c shard.KinesisAPI, streamARN, invokeIdentityARN string, set Settings, cb Callbacks[events.KinesisEventRecord]) (*Engine[events.KinesisEventRecord], error) {
	src, err := newKinesisSource(c, streamARN, invokeIdentityARN)
	if err != nil {
		return nil, err
	}
	if set.PollInterval <= 0 {
		set.PollInterval = time.Second
	}
	return newEngine[events.KinesisEventRecord](src, streamARN, set, cb)
}

// NewDynamoDB returns an engine for the DynamoDB stream streamARN.
func NewDynamoDB(c shard.DynamoDBStreamsAPI, streamARN string, set Settings, cb Callbacks[events.DynamoDBEventRecord]) (*Engine[events.DynamoDBEventRecord], error) {
	src, err := newDynamoDBSource(c, streamARN)
	if err != nil {
		return nil, err
	}
	if set.PollInterval <= 0 {
		set.PollInterval = 250 * time.Millisecond
	}
	return newEngine[events.DynamoDBEventRecord](src, streamARN, set, cb)
}

func newEngine[R any](src source[R], arn string, set Settings, cb Callbacks[R]) (*Engine[R], error) {
	var errs []error
	switch w := set.TumblingWindow; {
	case w < 0 || w > limits.MaxTumblingWindow:
		errs = append(errs, fmt.Errorf("shard: TumblingWindow %v is outside 0-%v", w, limits.MaxTumblingWindow))
	case w > 0 && cb.InvokeWindow == nil:
		errs = append(errs, errors.New("shard: Callbacks.InvokeWindow is required with a TumblingWindow"))
	case w > 0 && set.ParallelizationFactor > 1:
		errs = append(errs, fmt.Errorf("shard: a TumblingWindow needs ParallelizationFactor 1, not %d", set.ParallelizationFactor))
	case w == 0 && cb.Invoke == nil:
		errs = append(errs, errors.New("shard: Callbacks.Invoke is required"))
	}
	if set.Mapping == "" {
		errs = append(errs, errors.New("shard: Settings.Mapping is required"))
	}
	if set.ParallelizationFactor < 0 || set.ParallelizationFactor > limits.MaxParallelization {
		errs = append(errs, fmt.Errorf("shard: ParallelizationFactor %d is outside 1-%d", set.ParallelizationFactor, limits.MaxParallelization))
	}
	if set.BatchSize < 0 || set.BatchSize > limits.MaxBatchSize {
		errs = append(errs, fmt.Errorf("shard: BatchSize %d is outside 1-%d", set.BatchSize, limits.MaxBatchSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if set.BatchSize == 0 {
		set.BatchSize = limits.DefaultStreamBatchSize
	}
	if set.ParallelizationFactor == 0 {
		set.ParallelizationFactor = limits.DefaultParallelization
	}
	if set.StartingPosition == "" {
		set.StartingPosition = "LATEST"
	}
	if set.FunctionTimeout <= 0 {
		set.FunctionTimeout = limits.DefaultFunctionTimeout
	}
	if set.Policy == nil {
		set.Policy = &retry.Policy{MaximumRetryAttempts: retry.Infinite}
	}
	if set.MinPollInterval == 0 {
		set.MinPollInterval = 200 * time.Millisecond
	}
	if set.DiscoveryInterval <= 0 {
		set.DiscoveryInterval = 30 * time.Second
	}
	if set.MaxPayload <= 0 {
		set.MaxPayload = limits.MaxPayload
	}
	if set.ReadLimit <= 0 || set.ReadLimit > src.maxLimit() {
		set.ReadLimit = src.maxLimit()
	}
	if set.Store == nil {
		set.Store = shard.NewMemoryStore()
	}
	if set.LeaseInterval <= 0 {
		set.LeaseInterval = time.Second
	}
	if set.CheckpointInterval == 0 {
		set.CheckpointInterval = time.Second
	}
	if set.LeaseTimeout <= 0 {
		set.LeaseTimeout = 10 * time.Second
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	maxState := limits.MaxWindowState
	if l, ok := set.Store.(shard.WindowStateLimiter); ok && l.MaxWindowState() > 0 {
		maxState = min(maxState, l.MaxWindowState())
	}
	return &Engine[R]{
		maxState: maxState,
		src:      src, set: set, cb: cb, arn: arn,
		lc:   core.NewLifecycle(),
		log:  set.Logger.With("eventSourceArn", arn),
		hook: core.NewHooks(set.Hooks...),
		kick: make(chan struct{}, 1),
		caller: &core.Caller{Timeout: set.FunctionTimeout, ReportBatchItemFailures: set.Policy.ReportBatchItemFailures,
			Log: set.Logger.With("eventSourceArn", arn)},
	}, nil
}

// Run reads the stream and calls the function until ctx ends or Shutdown is
// called. It returns nil after such a stop, an error when the stream cannot
// be read at start-up (naming the resource and, for access denied, the IAM
// action), and [lambdaesm.ErrClosed] when called twice or after Shutdown.
//
// When ctx ends, reading stops, in-flight invocations see their context
// cancelled, and the checkpoints of finished records are written.
func (e *Engine[R]) Run(ctx context.Context) error {
	runCtx, end, err := e.lc.Begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	e.health.SetRunning(true)
	defer e.health.SetRunning(false)
	if err := e.startupCheck(runCtx); err != nil {
		return err
	}
	if e.set.Disabled {
		e.log.Info("mapping disabled (Enabled=false): not reading")
		<-e.lc.Stopping() // Run's context ending stops too
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	d := &discovery[R]{e: e, runCtx: runCtx, wg: &wg, state: map[string]*shardState{}}
	err = d.loop()
	wg.Wait() // every shard stopped and released its lease
	d.retire()
	if err == nil {
		err = e.fatal()
	}
	return err
}

// startupCheck checks that the stream can be read, retrying transient
// errors with backoff; only not-found and access-denied end Run. A stop
// during the check is not a failure: it returns nil.
func (e *Engine[R]) startupCheck(ctx context.Context) error {
	for failures := 1; ; failures++ {
		err := e.src.check(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil || e.lc.Stopped():
			return nil
		case permanent(err):
			return err
		}
		e.health.Failed("", err)
		e.log.Warn("checking the stream failed; retrying", "err", err)
		if !core.Sleep(ctx, e.lc.Stopping(), e.backoff(failures)) {
			return nil
		}
	}
}

// fail stops the mapping because of an error no retry heals; Run returns the
// first such error once every shard has stopped.
func (e *Engine[R]) fail(err error) {
	e.fatalMu.Lock()
	if e.fatalErr == nil {
		e.fatalErr = err
		e.log.Error("stopping the mapping", "err", err)
	}
	e.fatalMu.Unlock()
	e.health.Failed("", err)
	e.lc.Stop()
}

func (e *Engine[R]) fatal() error {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.fatalErr
}

// resume is the position of a start marker: AT_TIMESTAMP its time where the
// service has such iterators (Kinesis); elsewhere (DynamoDB Streams) the
// oldest record, skipping those created before the marker's minute, as
// ApproximateCreationDateTime may be cut to the minute (DynamoDB Local) or
// second. At most a minute of records older than the marker is delivered;
// none newer is skipped.
func (e *Engine[R]) resume(start time.Time) position {
	if e.src.timestamps() {
		return position{Type: "AT_TIMESTAMP", Time: start}
	}
	return position{Type: "TRIM_HORIZON", NotBefore: start.Truncate(time.Minute)}
}

// Health returns the engine's current health.
func (e *Engine[R]) Health() core.HealthSnapshot { return e.health.Snapshot() }

// Shutdown stops reading, lets in-flight invocations finish, writes final
// checkpoints and waits for Run to return. If ctx ends first, in-flight
// invocations are cancelled and ctx's error is returned. Shutdown is
// idempotent and safe to call concurrently; before Run it makes Run return
// [lambdaesm.ErrClosed].
func (e *Engine[R]) Shutdown(ctx context.Context) error { return e.lc.Shutdown(ctx) }

func (e *Engine[R]) backoff(retryN int) time.Duration {
	return e.set.ServiceBackoff.Delay(retryN, rand.Float64())
}

// finalCtx bounds the checkpoint writes made while stopping, after the run
// context may have ended.
func finalCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}
