package esmotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/internal/metricstate"
)

// ScopeName is the instrumentation scope of the meter the instruments are
// created with.
const ScopeName = "github.com/lambdaesm/lambdaesm/esm/esmotel"

// The attribute keys of the measurements.
const (
	MappingKey        = attribute.Key("lambdaesm.mapping")
	EventSourceARNKey = attribute.Key("lambdaesm.event_source_arn")
	ShardIDKey        = attribute.Key("lambdaesm.shard_id")
	ConditionKey      = attribute.Key("lambdaesm.condition")
	OperationKey      = attribute.Key("lambdaesm.operation")
	RuleARNKey        = attribute.Key("lambdaesm.rule_arn")
)

// DefaultDurationBuckets are the explicit bucket boundaries advised for the
// invocation duration histogram, in seconds: from 5ms to Lambda's 15-minute
// timeout. A view of the MeterProvider may override them.
var DefaultDurationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Option configures [New].
type Option interface{ apply(*cfg) }

type cfg struct {
	provider metric.MeterProvider
	attrs    []attribute.KeyValue
	buckets  []float64
	window   time.Duration
	errs     []error
}

type optFunc func(*cfg)

func (f optFunc) apply(c *cfg) { f(c) }

// WithMeterProvider creates the instruments with mp instead of the global
// WithMeterProvider (otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optFunc(func(c *cfg) {
		if mp == nil {
			c.errs = append(c.errs, errors.New("esmotel: MeterProvider: nil"))
		}
		c.provider = mp
	})
}

// WithAttributes adds attributes to every measurement (say the deployment's
// region). They must not use the adapter's own keys.
func WithAttributes(kv ...attribute.KeyValue) Option {
	return optFunc(func(c *cfg) {
		for _, a := range kv {
			switch a.Key {
			case MappingKey, EventSourceARNKey, ShardIDKey, ConditionKey, OperationKey, RuleARNKey:
				c.errs = append(c.errs, fmt.Errorf("esmotel: Attributes: %q is a key of the adapter's own", a.Key))
				continue
			}
			c.attrs = append(c.attrs, a)
		}
	})
}

// WithDurationBuckets sets the bucket boundaries advised for the invocation
// duration histogram, in seconds (default [DefaultDurationBuckets]).
func WithDurationBuckets(b []float64) Option {
	return optFunc(func(c *cfg) {
		if len(b) == 0 {
			c.errs = append(c.errs, errors.New("esmotel: WithDurationBuckets: no buckets"))
		}
		c.buckets = b
	})
}

// WithConcurrencyWindow sets the span over which lambdaesm.concurrent_executions
// averages the invocations running: 1s to 1h, default 1m.
func WithConcurrencyWindow(d time.Duration) Option {
	return optFunc(func(c *cfg) {
		if err := metricstate.CheckWindow(d); err != nil {
			c.errs = append(c.errs, fmt.Errorf("esmotel: WithConcurrencyWindow(%v): %w", d, err))
		}
		c.window = d
	})
}

// Metrics is a hook that records what mappings do with OpenTelemetry
// instruments: give it to a mapping with esm.WithHooks. See the package
// documentation for the instruments. It is safe for concurrent use.
type Metrics struct {
	mapping attribute.KeyValue
	extra   []attribute.KeyValue
	state   *metricstate.State
	sets    sync.Map // event source ARN → metric.MeasurementOption
	reg     metric.Registration

	polled, filtered, invoked, failedInvoke, dropped, deleted, notDeleted,
	delivered, deliveryFailures, invocations, errs, checkpoints, checkpointFailures,
	throttles, retried, split metric.Int64Counter
	duration metric.Float64Histogram

	asyncEvents, asyncAttempts, asyncDeliveries, scheduleRefused metric.Int64Counter

	concurrency, iteratorAge, iteratorAgeMax, checkpointAge metric.Float64ObservableGauge
	leases                                                  metric.Int64ObservableUpDownCounter
}

// New creates the instruments for the mapping named mapping (the value of
// every measurement's lambdaesm.mapping attribute; the event source ARN comes
// from what the mapping reports). Several mappings may share one Metrics,
// told apart by their event source, or each have their own. It returns an
// error naming every option that is nil or out of range, or the
// MeterProvider's error when it refuses an instrument.
func New(mapping string, opts ...Option) (*Metrics, error) {
	c := cfg{buckets: DefaultDurationBuckets}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("esmotel: an option is nil"))
			continue
		}
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	if c.provider == nil {
		c.provider = otel.GetMeterProvider()
	}
	meter := c.provider.Meter(ScopeName)
	m := &Metrics{mapping: MappingKey.String(mapping), extra: c.attrs, state: metricstate.New(c.window)}

	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		x, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return x
	}
	gauge := func(name, unit, desc string) metric.Float64ObservableGauge {
		x, err := meter.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return x
	}
	m.polled = counter("lambdaesm.events.polled", "{event}", "Records read from the event source, before filtering (Lambda's PolledEventCount).")
	m.filtered = counter("lambdaesm.events.filtered_out", "{event}", "Records that no filter of FilterCriteria matched (Lambda's FilteredOutEventCount).")
	m.invoked = counter("lambdaesm.events.invoked", "{event}", "Records the handler was called with, each attempt counted (Lambda's InvokedEventCount).")
	m.failedInvoke = counter("lambdaesm.events.failed_invoke", "{event}", "Records of failed calls: all of a batch that failed, the reported failures of a partial batch response (Lambda's FailedInvokeEventCount).")
	m.dropped = counter("lambdaesm.events.dropped", "{event}", "Records discarded by the retry policy, after the on-failure destination took them (Lambda's DroppedEventCount).")
	m.deleted = counter("lambdaesm.events.deleted", "{event}", "SQS messages deleted after processing or filtering (Lambda's DeletedEventCount).")
	m.notDeleted = counter("lambdaesm.events.not_deleted", "{event}", "SQS messages that could not be deleted: they will be delivered again.")
	m.delivered = counter("lambdaesm.events.on_failure_destination_delivered", "{event}", "Records delivered to the on-failure destination (Lambda's OnFailureDestinationDeliveredEventCount).")
	m.deliveryFailures = counter("lambdaesm.destination.delivery_failures", "{failure}", "Failed deliveries to the on-failure destination, retried (Lambda's DestinationDeliveryFailures).")
	m.invocations = counter("lambdaesm.invocations", "{invocation}", "Calls of the handler (Lambda's Invocations).")
	m.errs = counter("lambdaesm.invocation.errors", "{invocation}", "Calls that ended in a function error, a panic or a timeout (Lambda's Errors).")
	m.checkpoints = counter("lambdaesm.checkpoints", "{checkpoint}", "Checkpoints written.")
	m.checkpointFailures = counter("lambdaesm.checkpoint.failures", "{failure}", "Checkpoint writes that failed; the shard reads nothing new until one succeeds.")
	m.throttles = counter("lambdaesm.throttles", "{throttle}", "Service calls throttled and retried: GetRecords, or Invoke for a function not invoked (throttled or failed by the Lambda service).")
	m.retried = counter("lambdaesm.batches.retried", "{batch}", "Batches invoked again after a failure.")
	m.split = counter("lambdaesm.batches.split", "{batch}", "Failed batches split in two (BisectBatchOnFunctionError).")
	m.asyncEvents = counter("lambdaesm.async.events", "{event}", "Events the asynchronous invoker (package invoke) finished with, by condition: Success, RetriesExhausted, EventAgeExceeded, or Abandoned at shutdown.")
	m.asyncAttempts = counter("lambdaesm.async.attempts", "{attempt}", "Handler runs of the events the asynchronous invoker finished with.")
	m.asyncDeliveries = counter("lambdaesm.async.destination.delivery_failures", "{event}", "Events of the asynchronous invoker that a destination or dead-letter queue refused after every attempt (Lambda's DestinationDeliveryFailures and DeadLetterErrors).")
	m.scheduleRefused = counter("lambdaesm.schedule.refused", "{firing}", "Schedule firings (package schedule) that the target refused; they are not retried.")
	var err error
	m.duration, err = meter.Float64Histogram("lambdaesm.invocation.duration", metric.WithUnit("s"),
		metric.WithDescription("How long calls of the handler took (Lambda's Duration)."),
		metric.WithExplicitBucketBoundaries(c.buckets...))
	errs = append(errs, err)
	m.concurrency = gauge("lambdaesm.concurrent_executions", "{invocation}", "Calls of the handler running at once, averaged over the concurrency window (a call counts once it ends).")
	m.iteratorAge = gauge("lambdaesm.shard.iterator_age", "s", "Age of the last record of a shard's latest batch when it was handed to the handler (Lambda's IteratorAge): how far the shard lags.")
	m.iteratorAgeMax = gauge("lambdaesm.iterator_age.max", "s", "The largest lambdaesm.shard.iterator_age of the shards this process reads.")
	m.checkpointAge = gauge("lambdaesm.shard.checkpoint_age", "s", "Time since the shard's last checkpoint (since it started, before the first); it grows on an idle shard too.")
	m.leases, err = meter.Int64ObservableUpDownCounter("lambdaesm.leases", metric.WithUnit("{lease}"),
		metric.WithDescription("Shard leases this process holds (with a lease store shared by several processes)."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("esmotel: %w", err)
	}
	m.reg, err = meter.RegisterCallback(m.observe, m.concurrency, m.iteratorAge, m.iteratorAgeMax, m.checkpointAge, m.leases)
	if err != nil {
		return nil, fmt.Errorf("esmotel: %w", err)
	}
	return m, nil
}

// Close unregisters the callback that reports the gauges; the counters stay
// with the MeterProvider. Call it when the mappings are done and the
// WithMeterProvider lives on.
func (m *Metrics) Close() error { return m.reg.Unregister() }

// own returns the attributes of the mapping (or invoker, or scheduler),
// with more: for what has no event source.
func (m *Metrics) own(more ...attribute.KeyValue) metric.MeasurementOption {
	kv := append([]attribute.KeyValue{m.mapping}, m.extra...)
	return metric.WithAttributeSet(attribute.NewSet(append(kv, more...)...))
}

// attrs returns the attributes of the mapping and event source arn, with
// more.
func (m *Metrics) attrs(arn string, more ...attribute.KeyValue) attribute.Set {
	kv := make([]attribute.KeyValue, 0, 2+len(m.extra)+len(more))
	kv = append(kv, m.mapping, EventSourceARNKey.String(arn))
	kv = append(kv, m.extra...)
	return attribute.NewSet(append(kv, more...)...)
}

// of returns the measurement option of an event source, built once.
func (m *Metrics) of(arn string) metric.MeasurementOption {
	if o, ok := m.sets.Load(arn); ok {
		return o.(metric.MeasurementOption)
	}
	m.state.Touch(arn)
	o, _ := m.sets.LoadOrStore(arn, metric.WithAttributeSet(m.attrs(arn)))
	return o.(metric.MeasurementOption)
}

func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	for _, s := range m.state.Snapshot() {
		src := metric.WithAttributeSet(m.attrs(s.EventSourceARN))
		o.ObserveFloat64(m.concurrency, s.Concurrency, src)
		if !isStream(s.EventSourceARN) {
			continue
		}
		o.ObserveInt64(m.leases, int64(s.Leases), src)
		if s.HasIteratorAge {
			o.ObserveFloat64(m.iteratorAgeMax, s.MaxIteratorAge.Seconds(), src)
		}
		for _, sh := range s.Shards {
			shard := metric.WithAttributeSet(m.attrs(s.EventSourceARN, ShardIDKey.String(sh.ID)))
			if sh.HasIteratorAge {
				o.ObserveFloat64(m.iteratorAge, sh.IteratorAge.Seconds(), shard)
			}
			if sh.HasCheckpointAge {
				o.ObserveFloat64(m.checkpointAge, sh.CheckpointAge.Seconds(), shard)
			}
		}
	}
	return nil
}

// isStream tells a Kinesis or DynamoDB stream from an SQS queue, which has
// no shards and no leases.
func isStream(s string) bool {
	a, err := arn.Parse(s)
	return err == nil && (a.Service == "kinesis" || a.Service == "dynamodb")
}

// ctx is the context of the measurements: the hooks have none.
var ctx = context.Background()

// OnRecordsPolled implements lambdaesm.HookRecordsPolled.
func (m *Metrics) OnRecordsPolled(src lambdaesm.Source, n int) {
	m.polled.Add(ctx, int64(n), m.of(src.EventSourceARN))
}

// OnRecordsFilteredOut implements lambdaesm.HookRecordsFilteredOut.
func (m *Metrics) OnRecordsFilteredOut(src lambdaesm.Source, n int) {
	m.filtered.Add(ctx, int64(n), m.of(src.EventSourceARN))
}

// OnBatchInvoked implements lambdaesm.HookBatchInvoked.
func (m *Metrics) OnBatchInvoked(inv lambdaesm.Invocation) {
	arn := inv.Source.EventSourceARN
	a := m.of(arn)
	if n := metricstate.FailedRecords(inv); n > 0 {
		m.failedInvoke.Add(ctx, int64(n), a)
	}
	switch metricstate.OutcomeOf(inv) {
	case metricstate.NotInvoked:
		m.throttles.Add(ctx, 1, metric.WithAttributeSet(m.attrs(arn, OperationKey.String("Invoke"))))
		return
	case metricstate.FunctionError:
		m.errs.Add(ctx, 1, a)
	}
	m.invocations.Add(ctx, 1, a)
	m.invoked.Add(ctx, int64(inv.Records), a)
	m.duration.Record(ctx, inv.Duration.Seconds(), a)
	m.state.Invoked(arn, inv.Duration)
}

// OnIteratorAge implements lambdaesm.HookIteratorAge.
func (m *Metrics) OnIteratorAge(src lambdaesm.Source, age time.Duration) {
	m.of(src.EventSourceARN)
	m.state.IteratorAge(src, age)
}

// OnRecordsDropped implements lambdaesm.HookRecordsDropped.
func (m *Metrics) OnRecordsDropped(src lambdaesm.Source, n int, c lambdaesm.Condition) {
	a := m.of(src.EventSourceARN)
	m.dropped.Add(ctx, int64(n), metric.WithAttributeSet(m.attrs(src.EventSourceARN, ConditionKey.String(string(c)))))
	if m.state.Dropped(src) {
		m.delivered.Add(ctx, int64(n), a)
	}
}

// OnRecordsDeleted implements lambdaesm.HookRecordsDeleted.
func (m *Metrics) OnRecordsDeleted(src lambdaesm.Source, n int) {
	m.deleted.Add(ctx, int64(n), m.of(src.EventSourceARN))
}

// OnRecordsNotDeleted implements lambdaesm.HookRecordsNotDeleted.
func (m *Metrics) OnRecordsNotDeleted(src lambdaesm.Source, n int, _ error) {
	m.notDeleted.Add(ctx, int64(n), m.of(src.EventSourceARN))
}

// OnDestinationDelivered implements lambdaesm.HookDestinationDelivered.
func (m *Metrics) OnDestinationDelivered(src lambdaesm.Source, _ string, err error) {
	if a := m.of(src.EventSourceARN); err != nil {
		m.deliveryFailures.Add(ctx, 1, a)
		return
	}
	m.state.Delivered(src) // the records are counted when they are dropped, next
}

// OnCheckpointWritten implements lambdaesm.HookCheckpointWritten.
func (m *Metrics) OnCheckpointWritten(src lambdaesm.Source, _ string) {
	m.checkpoints.Add(ctx, 1, m.of(src.EventSourceARN))
	m.state.CheckpointWritten(src)
}

// OnCheckpointFailed implements lambdaesm.HookCheckpointFailed.
func (m *Metrics) OnCheckpointFailed(src lambdaesm.Source, _ error) {
	m.checkpointFailures.Add(ctx, 1, m.of(src.EventSourceARN))
}

// OnShardStarted implements lambdaesm.HookShardStarted.
func (m *Metrics) OnShardStarted(src lambdaesm.Source, _ string) {
	m.of(src.EventSourceARN)
	m.state.ShardStarted(src)
}

// OnShardEnded implements lambdaesm.HookShardEnded: the shard's gauges go.
func (m *Metrics) OnShardEnded(src lambdaesm.Source) { m.state.ShardGone(src) }

// OnLeaseAcquired implements lambdaesm.HookLeaseAcquired.
func (m *Metrics) OnLeaseAcquired(src lambdaesm.Source) {
	m.of(src.EventSourceARN)
	m.state.LeaseAcquired(src)
}

// OnLeaseLost implements lambdaesm.HookLeaseLost: the shard's gauges go.
func (m *Metrics) OnLeaseLost(src lambdaesm.Source) { m.state.LeaseLost(src) }

// OnThrottled implements lambdaesm.HookThrottled.
func (m *Metrics) OnThrottled(src lambdaesm.Source, operation string) {
	m.of(src.EventSourceARN)
	m.throttles.Add(ctx, 1, metric.WithAttributeSet(m.attrs(src.EventSourceARN, OperationKey.String(operation))))
}

// OnBatchRetried implements lambdaesm.HookBatchRetried.
func (m *Metrics) OnBatchRetried(src lambdaesm.Source, _, _ int) {
	m.retried.Add(ctx, 1, m.of(src.EventSourceARN))
}

// OnBatchSplit implements lambdaesm.HookBatchSplit.
func (m *Metrics) OnBatchSplit(src lambdaesm.Source, _ int) {
	m.split.Add(ctx, 1, m.of(src.EventSourceARN))
}

// OnAsyncResult implements lambdaesm.HookAsyncResult, for an invoker of
// package invoke.
func (m *Metrics) OnAsyncResult(r lambdaesm.AsyncResult) {
	m.asyncEvents.Add(ctx, 1, m.own(ConditionKey.String(metricstate.AsyncCondition(r))))
	a := m.own()
	m.asyncAttempts.Add(ctx, int64(r.Attempts), a)
	if r.DeliveryErr != nil {
		m.asyncDeliveries.Add(ctx, 1, a)
	}
}

// OnScheduleRefused implements lambdaesm.HookScheduleRefused, for a
// scheduler of package schedule.
func (m *Metrics) OnScheduleRefused(ruleARN string, _ time.Time, _ error) {
	m.scheduleRefused.Add(ctx, 1, m.own(RuleARNKey.String(ruleARN)))
}

var (
	_ lambdaesm.HookRecordsPolled        = (*Metrics)(nil)
	_ lambdaesm.HookRecordsFilteredOut   = (*Metrics)(nil)
	_ lambdaesm.HookBatchInvoked         = (*Metrics)(nil)
	_ lambdaesm.HookIteratorAge          = (*Metrics)(nil)
	_ lambdaesm.HookRecordsDropped       = (*Metrics)(nil)
	_ lambdaesm.HookRecordsDeleted       = (*Metrics)(nil)
	_ lambdaesm.HookRecordsNotDeleted    = (*Metrics)(nil)
	_ lambdaesm.HookDestinationDelivered = (*Metrics)(nil)
	_ lambdaesm.HookCheckpointWritten    = (*Metrics)(nil)
	_ lambdaesm.HookCheckpointFailed     = (*Metrics)(nil)
	_ lambdaesm.HookShardStarted         = (*Metrics)(nil)
	_ lambdaesm.HookShardEnded           = (*Metrics)(nil)
	_ lambdaesm.HookLeaseAcquired        = (*Metrics)(nil)
	_ lambdaesm.HookLeaseLost            = (*Metrics)(nil)
	_ lambdaesm.HookThrottled            = (*Metrics)(nil)
	_ lambdaesm.HookBatchRetried         = (*Metrics)(nil)
	_ lambdaesm.HookBatchSplit           = (*Metrics)(nil)
	_ lambdaesm.HookAsyncResult          = (*Metrics)(nil)
	_ lambdaesm.HookScheduleRefused      = (*Metrics)(nil)
)
