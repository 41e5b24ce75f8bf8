package esm

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"

	"github.com/lambdaesm/lambdaesm/filter"
)

// DefaultCheckpointDir is where stream mappings keep checkpoints unless
// [WithStore] says otherwise: a directory relative to the working directory,
// so a single process resumes after a restart with no AWS resources.
const DefaultCheckpointDir = ".lambdaesm/checkpoints"

// Option changes how any mapping runs (not what it maps: that is [Config]).
// Options that fit only some mappings have narrower types, which the
// compiler checks: [StreamOption] for Kinesis and DynamoDB Streams mappings,
// [SQSOption] for SQS mappings; an Option is both. A value out of an
// option's range makes the constructor fail with an error that names the
// option (as does [WithInvokeIdentityARN], Kinesis only, on a DynamoDB
// mapping).
type Option interface {
	StreamOption
	SQSOption
}

// StreamOption changes how a Kinesis or DynamoDB Streams mapping runs:
// [NewKinesisMapping] and [NewDynamoDBMapping] take it.
type StreamOption interface{ streamOption() option }

// SQSOption changes how an SQS mapping runs: [NewSQSMapping] takes it.
type SQSOption interface{ sqsOption() option }

// The concrete option types: each implements the interfaces of the
// mappings it fits.
type (
	anyOption     option
	streamOnly    option
	sqsOnlyOption option
)

func (o anyOption) streamOption() option  { return option(o) }
func (o anyOption) sqsOption() option     { return option(o) }
func (o streamOnly) streamOption() option { return option(o) }
func (o sqsOnlyOption) sqsOption() option { return option(o) }

// streamOpts and sqsOpts unwrap a constructor's options; a nil one stays
// nil (buildOptions reports it).
func streamOpts(opts []StreamOption) []*option { return unwrap(opts, StreamOption.streamOption) }

func sqsOpts(opts []SQSOption) []*option { return unwrap(opts, SQSOption.sqsOption) }

func unwrap[O any](opts []O, get func(O) option) []*option {
	out := make([]*option, len(opts))
	for i, o := range opts {
		if any(o) != nil && !isNil(o) {
			v := get(o)
			out[i] = &v
		}
	}
	return out
}

// appliesTo says which mappings an option is for.
type appliesTo uint8

const (
	anyMapping appliesTo = iota
	streamMappings
	kinesisMappings
	sqsMappings
)

// option is the value of every Option: its name (for errors), the mappings
// it applies to, what is wrong with its arguments, and what it sets.
type option struct {
	name string
	to   appliesTo
	errs []error
	set  func(*options)
}

func (o option) spec() option { return o }

type options struct {
	name           string
	logger         *slog.Logger
	hooks          []lambdaesm.Hook
	store          shard.Store
	tuning         streamengine.Settings // only the timing fields are read
	invokeIdentity string
	retryBackoff   retry.Backoff
	destClients    destination.Clients
	onFailure      destination.Sender
	queue          queueengine.Settings // only the SQS tuning fields are read
	filterQuota    int                  // patterns allowed in FilterCriteria
	filter         *filter.Filter       // compiled FilterCriteria (set by prepare)
	consumerName   string               // a stream consumer to register (WithStreamConsumer)
}

// buildOptions applies opts for a mapping of kind and reports every
// problem at once: nil options, options for another kind of mapping, and
// arguments out of range.
func buildOptions(kind SourceKind, opts []*option) (options, error) {
	o := options{name: "esm", filterQuota: filter.DefaultMaxFilters}
	var errs []error
	for i, opt := range opts {
		if opt == nil {
			errs = append(errs, fmt.Errorf("esm: option %d of %d is nil", i+1, len(opts)))
			continue
		}
		spec := *opt
		switch {
		case spec.to == sqsMappings && kind != SQS:
			errs = append(errs, fmt.Errorf("esm: %s applies to SQS mappings only", spec.name))
		case spec.to == streamMappings && !kind.IsStream():
			errs = append(errs, fmt.Errorf("esm: %s applies to Kinesis and DynamoDB Streams mappings only", spec.name))
		case spec.to == kinesisMappings && kind != Kinesis:
			errs = append(errs, fmt.Errorf("esm: %s applies to Kinesis mappings only", spec.name))
		}
		errs = append(errs, spec.errs...)
		if spec.set != nil {
			spec.set(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o, errors.Join(errs...)
}

// isNil reports whether v is nil or holds a nil pointer, map, slice,
// function, channel or interface: a typed nil, which passes a v == nil check
// and panics when used.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// typedNil returns an error when v is a typed nil (see isNil); an untyped nil
// is left to the caller.
func typedNil(name, what string, v any) []error {
	if v != nil && isNil(v) {
		return []error{fmt.Errorf("esm: %s: the %s is a nil %T", name, what, v)}
	}
	return nil
}

// checkDuration returns an error unless d is 0 or within [lo, hi]. allowed
// describes the range for the message.
func checkDuration(name, arg string, d, lo, hi time.Duration, allowed string) []error {
	if d == 0 || (d >= lo && d <= hi) {
		return nil
	}
	if arg != "" {
		return []error{fmt.Errorf("esm: %s: %s %v: must be %s", name, arg, d, allowed)}
	}
	return []error{fmt.Errorf("esm: %s(%v): must be %s", name, d, allowed)}
}

// checkCount returns an error unless n is within [0, hi].
func checkCount(name, arg string, n, hi int, allowed string) []error {
	if n >= 0 && n <= hi {
		return nil
	}
	return []error{fmt.Errorf("esm: %s: %s %d: must be %s", name, arg, n, allowed)}
}

// checkBackoff checks a retry.Backoff: no negative durations, none above
// limit, Max not below Initial (each with its default when zero), Multiplier
// 0 (the default) or 1 to 10, Jitter 0 to 1.
func checkBackoff(name string, b retry.Backoff, limit time.Duration, limitWord string) []error {
	var errs []error
	for _, f := range []struct {
		field string
		d     time.Duration
	}{{"Initial", b.Initial}, {"Max", b.Max}} {
		if f.d < 0 || f.d > limit {
			errs = append(errs, fmt.Errorf("esm: %s: %s %v: must be 0 (the default) or positive, at most %s", name, f.field, f.d, limitWord))
		}
	}
	if len(errs) == 0 && b != (retry.Backoff{}) {
		initial, maxDelay := b.Initial, b.Max
		if initial == 0 {
			initial = retry.DefaultBackoff.Initial
		}
		if maxDelay == 0 {
			maxDelay = retry.DefaultBackoff.Max
		}
		if maxDelay < initial {
			errs = append(errs, fmt.Errorf("esm: %s: Max %v is below Initial %v: Max bounds every delay, so it must be at least Initial", name, maxDelay, initial))
		}
	}
	if m := b.Multiplier; math.IsNaN(m) || m != 0 && (m < 1 || m > 10) {
		errs = append(errs, fmt.Errorf("esm: %s: Multiplier %v: must be 0 (the default, 2) or from 1 to 10", name, m))
	}
	if j := b.Jitter; math.IsNaN(j) || j < 0 || j > 1 {
		errs = append(errs, fmt.Errorf("esm: %s: Jitter %v: must be from 0 to 1", name, j))
	}
	return errs
}

// Ranges of the options' arguments: beyond them a value is a mistake
// (a busy loop, or a wait nobody means).
const (
	minPoll          = time.Millisecond
	maxPoll          = 5 * time.Minute // a Kinesis shard iterator expires after 5 minutes
	minTick          = 10 * time.Millisecond
	maxDiscovery     = time.Hour
	maxLeaseInterval = time.Minute
	maxCheckpoint    = time.Hour
	maxRetryDelay    = time.Hour
	maxVisibility    = 12 * time.Hour // SQS's longest visibility timeout
	maxLongPoll      = 20 * time.Second
	maxConcurrency   = queueengine.DefaultMaxConcurrency
	maxScalePerMin   = 60000 // a thousand more batches a second
)

// WithName names the mapping: checkpoints are kept per name and event source,
// and with no FunctionName or FunctionArn in the Config, failure records
// carry a function ARN ending in this name. Default "esm"; it must not be
// empty. Any mapping.
func WithName(name string) Option {
	o := option{name: "WithName", set: func(o *options) { o.name = name }}
	if name == "" {
		o.errs = []error{errors.New("esm: WithName: the name is empty")}
	}
	return anyOption(o)
}

// WithLogger sends the mapping's logs to l. Default (or nil): none. Any
// mapping.
func WithLogger(l *slog.Logger) Option {
	return anyOption(option{name: "WithLogger", set: func(o *options) { o.logger = l }})
}

// WithHooks adds hooks that hear of what the mapping does: each hook is
// called for the events whose interface it implements (see package
// lambdaesm: HookBatchInvoked, HookRecordsPolled, …), so metrics and a test's
// progress waiter can listen at once. Several WithHooks add up. Any mapping.
func WithHooks(hs ...lambdaesm.Hook) Option {
	var errs []error
	for i, h := range hs {
		if h != nil && isNil(h) { // a plain nil adds nothing
			errs = append(errs, fmt.Errorf("esm: WithHooks: hook %d of %d is a nil %T", i+1, len(hs), h))
		}
	}
	return anyOption(option{name: "WithHooks", errs: errs, set: func(o *options) { o.hooks = append(o.hooks, hs...) }})
}

// WithStore keeps stream checkpoints in s instead of files under
// [DefaultCheckpointDir] (nil keeps that default). Use shard.NewMemoryStore()
// in tests. Kinesis and DynamoDB Streams mappings only.
func WithStore(s shard.Store) StreamOption {
	return streamOnly(option{name: "WithStore", to: streamMappings, errs: typedNil("WithStore", "store", s), set: func(o *options) { o.store = s }})
}

// WithInvokeIdentityARN fills the invokeIdentityArn of Kinesis events (the
// role Lambda would use): an ARN, or empty (the default). Kinesis mappings
// only (DynamoDB Streams events have no such field).
func WithInvokeIdentityARN(identity string) StreamOption {
	o := option{name: "WithInvokeIdentityARN", to: kinesisMappings, set: func(o *options) { o.invokeIdentity = identity }}
	if identity != "" && !arn.IsARN(identity) {
		o.errs = []error{fmt.Errorf("esm: WithInvokeIdentityARN(%q): must be an ARN, such as arn:aws:iam::<account>:role/<name>", identity)}
	}
	return streamOnly(o)
}

// Polling is a stream mapping's cadence. A zero field keeps Lambda's
// default.
type Polling struct {
	// Idle is the wait after a read that returned nothing (Lambda: 1s for
	// Kinesis, 250ms for DynamoDB).
	Idle time.Duration
	// Busy is the least time between two reads of one shard, measured from
	// the start of each (default 200ms: Kinesis's 5 reads per second per
	// shard, the fastest it allows).
	Busy time.Duration
	// Discovery is how often shards are listed (default 30s).
	Discovery time.Duration
}

// FastestPolling reads each shard as often as Kinesis allows, 5 times a
// second, busy or idle: the least latency, at the cost of more reads of idle
// shards than Lambda makes.
var FastestPolling = Polling{Idle: 200 * time.Millisecond, Busy: 200 * time.Millisecond}

// WithPolling overrides the stream polling cadence ([Polling]; zero fields
// keep Lambda's, [FastestPolling] is the quickest Kinesis allows). Idle and
// Busy may be 1ms to 5m (a Kinesis shard iterator expires after 5 minutes),
// Discovery 10ms to 1h. Kinesis and DynamoDB Streams mappings only.
func WithPolling(p Polling) StreamOption {
	const name = "WithPolling"
	var errs []error
	errs = append(errs, checkDuration(name, "Idle", p.Idle, minPoll, maxPoll, "0 (the default) or from 1ms to 5m")...)
	errs = append(errs, checkDuration(name, "Busy", p.Busy, minPoll, maxPoll, "0 (the default, 200ms) or from 1ms to 5m")...)
	errs = append(errs, checkDuration(name, "Discovery", p.Discovery, minTick, maxDiscovery, "0 (the default, 30s) or from 10ms to 1h")...)
	return streamOnly(option{name: name, to: streamMappings, errs: errs, set: func(o *options) {
		o.tuning.PollInterval, o.tuning.MinPollInterval, o.tuning.DiscoveryInterval = p.Idle, p.Busy, p.Discovery
	}})
}

// WithRetryBackoff spaces retries of failed batches. Default
// [retry.DefaultBackoff]; a zero field keeps that field's default. Initial
// and Max may be up to 1h, Max not below Initial, Multiplier 1 to 10, Jitter
// 0 to 1. Kinesis and DynamoDB Streams mappings only (an SQS mapping retries
// when the messages' visibility timeout ends; see [WithFailureBackoff]).
func WithRetryBackoff(b retry.Backoff) StreamOption {
	return streamOnly(option{name: "WithRetryBackoff", to: streamMappings, errs: checkBackoff("WithRetryBackoff", b, maxRetryDelay, "1h"),
		set: func(o *options) { o.retryBackoff = b }})
}

// WithCheckpointInterval sets the least time between two checkpoint writes
// of one shard, 0 to 1h; 0 keeps the default, 1s. At most one checkpoint is
// written per shard per interval (what finished meanwhile is coalesced into
// it), which bounds the writes to a lease table or checkpoint file; with
// the default file store the shards write on shared ticks of the interval,
// so it writes once per interval for all of a mapping's shards. The
// final checkpoint is always written at once when a shard stops: at
// shutdown, at a hand-off to another replica and at the end of a shard.
// After a crash, the records finished within the last interval are
// delivered again. Kinesis and DynamoDB Streams mappings only.
func WithCheckpointInterval(d time.Duration) StreamOption {
	return streamOnly(option{name: "WithCheckpointInterval", to: streamMappings,
		errs: checkDuration("WithCheckpointInterval", "", d, time.Nanosecond, maxCheckpoint, "0 (the default, 1s) or positive, at most 1h"),
		set:  func(o *options) { o.tuning.CheckpointInterval = d }})
}

// WithFilterQuota raises the number of FilterCriteria patterns a mapping may
// have from Lambda's default quota, 5, to at most 10, as a quota increase
// (the "Filters per event source mapping" quota) does in AWS. Any mapping.
func WithFilterQuota(n int) Option {
	o := option{name: "WithFilterQuota", set: func(o *options) { o.filterQuota = n }}
	if n < filter.DefaultMaxFilters || n > filter.MaxFiltersLimit {
		o.errs = []error{fmt.Errorf("esm: WithFilterQuota(%d): must be from %d (the default) to %d", n, filter.DefaultMaxFilters, filter.MaxFiltersLimit)}
	}
	return anyOption(o)
}

// WithDestinationClients gives the clients through which the on-failure
// destination named in Config.DestinationConfig (an SQS queue, SNS topic or S3
// bucket ARN) is reached. Only the client for the destination's service is
// needed. Kinesis and DynamoDB Streams mappings only.
func WithDestinationClients(c destination.Clients) StreamOption {
	return streamOnly(option{name: "WithDestinationClients", to: streamMappings, set: func(o *options) { o.destClients = c }})
}

// WithOnFailure sends on-failure records to s instead of the destination
// named in Config.DestinationConfig, for example a *destination.Memory in
// tests. The Config may then leave DestinationConfig empty. Nil means no
// such sender. Kinesis and DynamoDB Streams mappings only.
func WithOnFailure(s destination.Sender) StreamOption {
	return streamOnly(option{name: "WithOnFailure", to: streamMappings, errs: typedNil("WithOnFailure", "sender", s), set: func(o *options) { o.onFailure = s }})
}

// WithVisibilityHeartbeat turns on the visibility heartbeat of an SQS
// mapping, which Lambda does not have: while a batch is in the handler, its
// messages' visibility is extended with ChangeMessageVisibilityBatch every
// interval, each time to the queue's visibility timeout (never past SQS's
// 12-hour limit), so a handler may run longer than that timeout without its
// messages being delivered again. Zero means half the queue's visibility
// timeout; otherwise the interval is 1s to 12h, and it must be shorter than
// that timeout (Run checks). With the heartbeat, the queue's visibility
// timeout may be shorter than FunctionTimeout (Lambda refuses that), and a
// crashed process's messages come back sooner. If an extension fails, the
// handler's context is cancelled and context.Cause tells why (a
// *queue.HeartbeatError). SQS mappings only.
func WithVisibilityHeartbeat(interval time.Duration) SQSOption {
	return sqsOnlyOption(option{name: "WithVisibilityHeartbeat", to: sqsMappings,
		errs: checkDuration("WithVisibilityHeartbeat", "", interval, time.Second, maxVisibility, "0 (half the queue's visibility timeout) or from 1s to 12h"),
		set: func(o *options) {
			o.queue.VisibilityHeartbeat = true
			o.queue.HeartbeatInterval = interval
		}})
}

// WithFailureBackoff makes an SQS mapping set the visibility of failed
// messages (a function error, or the batchItemFailures of a partial batch
// response) to b.Delay(ApproximateReceiveCount), rounded up to whole seconds,
// so they are retried sooner at first and later as they keep failing. Lambda
// does not do this: by default failed messages come back when their
// visibility timeout ends. A zero field of b keeps that field's default
// ([retry.DefaultBackoff]); Initial and Max may be up to 12h (SQS's longest
// visibility timeout), Max not below Initial, Multiplier 1 to 10, Jitter 0
// to 1. SQS mappings only.
func WithFailureBackoff(b retry.Backoff) SQSOption {
	return sqsOnlyOption(option{name: "WithFailureBackoff", to: sqsMappings, errs: checkBackoff("WithFailureBackoff", b, maxVisibility, "12h (SQS's longest visibility timeout)"),
		set: func(o *options) { o.queue.FailureBackoff = &b }})
}

// Scaling is how an SQS mapping scales its concurrent batches. A zero field
// keeps Lambda's default. The cap is ScalingConfig.MaximumConcurrency, or
// 1250 (Lambda's) without one.
type Scaling struct {
	// Initial is the concurrency at start (Lambda: 5).
	Initial int
	// PerMinute is the most batches added per minute while receives come
	// back full (Lambda: 300).
	PerMinute int
	// Min is the least it shrinks to while receives come back empty
	// (Lambda: 2).
	Min int
}

// WithScaling overrides how an SQS mapping scales ([Scaling]). Initial and
// Min may be up to 1250, PerMinute up to 60000; Min must not exceed the cap.
// SQS mappings only.
func WithScaling(sc Scaling) SQSOption {
	const name = "WithScaling"
	var errs []error
	errs = append(errs, checkCount(name, "Initial", sc.Initial, maxConcurrency, "from 0 (the default, 5) to 1250")...)
	errs = append(errs, checkCount(name, "PerMinute", sc.PerMinute, maxScalePerMin, "from 0 (the default, 300) to 60000")...)
	errs = append(errs, checkCount(name, "Min", sc.Min, maxConcurrency, "from 0 (the default, 2) to 1250")...)
	return sqsOnlyOption(option{name: name, to: sqsMappings, errs: errs, set: func(o *options) {
		o.queue.Scaling.Initial, o.queue.Scaling.PerMinute, o.queue.Scaling.Min = sc.Initial, sc.PerMinute, sc.Min
	}})
}

// WithLongPoll sets the WaitTimeSeconds of an SQS mapping's receives, 1s to
// 20s in whole seconds (Lambda: 20s, the default). Shutdown lets the receives
// in flight finish rather than abandon them to SQS, so it waits up to this
// long; a shorter poll makes shutdown quicker (in tests, say) at the cost of
// more receive calls on an idle queue. SQS mappings only.
func WithLongPoll(wait time.Duration) SQSOption {
	o := option{name: "WithLongPoll", to: sqsMappings, set: func(o *options) { o.queue.LongPoll = wait }}
	if wait < time.Second || wait > maxLongPoll || wait%time.Second != 0 {
		o.errs = []error{fmt.Errorf("esm: WithLongPoll(%v): must be whole seconds from 1s to 20s", wait)}
	}
	return sqsOnlyOption(o)
}

// WithLeaseInterval sets how often a lease store (a [shard.LeaseStore] given
// with [WithStore]) is asked for this replica's shards: it bounds how long a
// hand-off between replicas takes. Each round also renews the replica's
// leases (one heartbeat write to a DynamoDB lease table), so a longer
// interval costs less; keep it at most a third of the lease duration.
// Default 1s; 0 keeps it, otherwise 10ms to 1m. Kinesis and DynamoDB Streams
// mappings only.
func WithLeaseInterval(d time.Duration) StreamOption {
	return streamOnly(option{name: "WithLeaseInterval", to: streamMappings,
		errs: checkDuration("WithLeaseInterval", "", d, minTick, maxLeaseInterval, "0 (the default, 1s) or from 10ms to 1m"),
		set:  func(o *options) { o.tuning.LeaseInterval = d }})
}
