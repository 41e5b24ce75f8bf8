package esmprom

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/internal/metricstate"
)

// DefaultNamespace prefixes every metric name unless [WithNamespace] says
// otherwise.
const DefaultNamespace = "lambdaesm"

// DefaultDurationBuckets are the buckets of the invocation duration
// histogram, in seconds: from 5ms to Lambda's 15-minute timeout.
var DefaultDurationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Option configures [New].
type Option interface{ apply(*cfg) }

type cfg struct {
	namespace   string
	constLabels prometheus.Labels
	buckets     []float64
	window      time.Duration
	errs        []error
}

type optFunc func(*cfg)

func (f optFunc) apply(c *cfg) { f(c) }

// WithNamespace prefixes the metric names with ns and an underscore instead of
// "lambdaesm"; empty leaves them without a prefix.
func WithNamespace(ns string) Option { return optFunc(func(c *cfg) { c.namespace = ns }) }

// WithConstLabels adds labels with fixed values to every series (say the
// deployment's region). They must not be named mapping, event_source_arn,
// shard_id, condition or operation.
func WithConstLabels(l prometheus.Labels) Option {
	return optFunc(func(c *cfg) {
		for k, v := range l {
			switch k {
			case "mapping", "event_source_arn", "shard_id", "condition", "operation":
				c.errs = append(c.errs, fmt.Errorf("esmprom: ConstLabels: %q is a label of the adapter's own", k))
				continue
			}
			c.constLabels[k] = v
		}
	})
}

// WithDurationBuckets sets the buckets of the invocation duration histogram, in
// seconds (default [DefaultDurationBuckets]).
func WithDurationBuckets(b []float64) Option {
	return optFunc(func(c *cfg) {
		if len(b) == 0 {
			c.errs = append(c.errs, errors.New("esmprom: WithDurationBuckets: no buckets"))
		}
		c.buckets = b
	})
}

// WithConcurrencyWindow sets the span over which concurrent_executions averages
// the invocations running: 1s to 1h, default 1m.
func WithConcurrencyWindow(d time.Duration) Option {
	return optFunc(func(c *cfg) {
		if err := metricstate.CheckWindow(d); err != nil {
			c.errs = append(c.errs, fmt.Errorf("esmprom: WithConcurrencyWindow(%v): %w", d, err))
		}
		c.window = d
	})
}

// Metrics is a hook that counts what mappings do, for Prometheus, and a
// prometheus.Collector that reports it: register it with a registry and
// give it to a mapping with esm.WithHooks. See the package documentation for
// the metrics. It is safe for concurrent use.
type Metrics struct {
	state  *metricstate.State
	series sync.Map // event source ARN → *series

	polled, filtered, invoked, failedInvoke, dropped, deleted, notDeleted,
	delivered, deliveryFailures, invocations, errs, checkpoints, checkpointFailures,
	throttles, retried, split *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// Vectors so that they show only once an invoker or scheduler reports.
	asyncEvents, asyncAttempts, asyncDeliveries, scheduleRefused *prometheus.CounterVec

	concurrency, iteratorAge, iteratorAgeMax, checkpointAge, leases *prometheus.Desc
}

// series holds one event source's counters, looked up once.
type series struct {
	polled, filtered, invoked, failedInvoke, deleted, notDeleted, delivered,
	deliveryFailures, invocations, errs, checkpoints, checkpointFailures,
	retried, split adder
	duration prometheus.Observer
}

// adder is a counter of a series.
type adder interface {
	Add(float64)
	Inc()
}

// lazy is a counter that does not fit the kind of source (deleted messages
// of a stream, checkpoints of a queue): its series is created only if it
// ever counts, so a scrape shows no series that can only be zero.
type lazy struct {
	v   *prometheus.CounterVec
	arn string
}

func (l lazy) Add(n float64) { l.v.WithLabelValues(l.arn).Add(n) }
func (l lazy) Inc()          { l.v.WithLabelValues(l.arn).Inc() }

// New returns the metrics of the mapping named mapping (the value of every
// series' mapping label; the event source ARN comes from what the mapping
// reports). Several mappings may share one Metrics, told apart by their
// event source, or each have their own, registered side by side with one
// registry. It returns an error naming every option that is nil or out of
// range; registering it reports a bad namespace or label name.
func New(mapping string, opts ...Option) (*Metrics, error) {
	c := cfg{namespace: DefaultNamespace, constLabels: prometheus.Labels{}, buckets: DefaultDurationBuckets}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("esmprom: an option is nil"))
			continue
		}
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	c.constLabels["mapping"] = mapping
	m := &Metrics{state: metricstate.New(c.window)}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: c.namespace, Name: name, Help: help, ConstLabels: c.constLabels,
		}, append([]string{"event_source_arn"}, labels...))
	}
	m.polled = counter("polled_events_total", "Records read from the event source, before filtering (Lambda's PolledEventCount).")
	m.filtered = counter("filtered_out_events_total", "Records that no filter of FilterCriteria matched (Lambda's FilteredOutEventCount).")
	m.invoked = counter("invoked_events_total", "Records the handler was called with, each attempt counted (Lambda's InvokedEventCount).")
	m.failedInvoke = counter("failed_invoke_events_total", "Records of failed calls: all of a batch that failed, the reported failures of a partial batch response (Lambda's FailedInvokeEventCount).")
	m.dropped = counter("dropped_events_total", "Records discarded by the retry policy, after the on-failure destination took them (Lambda's DroppedEventCount).", "condition")
	m.deleted = counter("deleted_events_total", "SQS messages deleted after processing or filtering (Lambda's DeletedEventCount).")
	m.notDeleted = counter("not_deleted_events_total", "SQS messages that could not be deleted: they will be delivered again.")
	m.delivered = counter("on_failure_destination_delivered_events_total", "Records delivered to the on-failure destination (Lambda's OnFailureDestinationDeliveredEventCount).")
	m.deliveryFailures = counter("destination_delivery_failures_total", "Failed deliveries to the on-failure destination, retried (Lambda's DestinationDeliveryFailures).")
	m.invocations = counter("invocations_total", "Calls of the handler (Lambda's Invocations).")
	m.errs = counter("invocation_errors_total", "Calls that ended in a function error, a panic or a timeout (Lambda's Errors).")
	m.checkpoints = counter("checkpoints_total", "Checkpoints written.")
	m.checkpointFailures = counter("checkpoint_failures_total", "Checkpoint writes that failed; the shard reads nothing new until one succeeds.")
	m.throttles = counter("throttles_total", "Service calls throttled and retried: GetRecords, or Invoke for a function not invoked (throttled or failed by the Lambda service).", "operation")
	m.retried = counter("batches_retried_total", "Batches invoked again after a failure.")
	m.split = counter("batches_split_total", "Failed batches split in two (BisectBatchOnFunctionError).")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: c.namespace, Name: "invocation_duration_seconds", ConstLabels: c.constLabels, Buckets: c.buckets,
		Help: "How long calls of the handler took (Lambda's Duration).",
	}, []string{"event_source_arn"})

	plain := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: c.namespace, Name: name, Help: help, ConstLabels: c.constLabels,
		}, labels)
	}
	m.asyncEvents = plain("async_events_total", "Events the asynchronous invoker (package invoke) finished with, by condition: Success, RetriesExhausted, EventAgeExceeded, or Abandoned at shutdown.", "condition")
	m.asyncAttempts = plain("async_attempts_total", "Handler runs of the events the asynchronous invoker finished with.")
	m.asyncDeliveries = plain("async_destination_delivery_failures_total", "Events of the asynchronous invoker that a destination or dead-letter queue refused after every attempt (Lambda's DestinationDeliveryFailures and DeadLetterErrors).")
	m.scheduleRefused = plain("schedule_refused_total", "Schedule firings (package schedule) that the target refused; they are not retried.", "rule_arn")

	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(c.namespace, "", name), help,
			append([]string{"event_source_arn"}, labels...), c.constLabels)
	}
	m.concurrency = desc("concurrent_executions", "Calls of the handler running at once, averaged over the concurrency window (a call counts once it ends).")
	m.iteratorAge = desc("iterator_age_seconds", "Age of the last record of a shard's latest batch when it was handed to the handler (Lambda's IteratorAge): how far the shard lags.", "shard_id")
	m.iteratorAgeMax = desc("iterator_age_max_seconds", "The largest iterator_age_seconds of the shards this process reads.")
	m.checkpointAge = desc("checkpoint_age_seconds", "Time since the shard's last checkpoint (since it started, before the first); it grows on an idle shard too.", "shard_id")
	m.leases = desc("leases_held", "Shard leases this process holds (with a lease store shared by several processes).")
	return m, nil
}

func (m *Metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.polled, m.filtered, m.invoked, m.failedInvoke, m.dropped, m.deleted,
		m.notDeleted, m.delivered, m.deliveryFailures, m.invocations, m.errs, m.checkpoints,
		m.checkpointFailures, m.throttles, m.retried, m.split, m.duration, m.asyncEvents, m.asyncAttempts, m.asyncDeliveries, m.scheduleRefused}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range m.vecs() {
		v.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.concurrency, m.iteratorAge, m.iteratorAgeMax, m.checkpointAge, m.leases} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. The gauges are computed now:
// checkpoint ages and the concurrency average are as of the scrape.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, v := range m.vecs() {
		v.Collect(ch)
	}
	for _, s := range m.state.Snapshot() {
		ch <- prometheus.MustNewConstMetric(m.concurrency, prometheus.GaugeValue, s.Concurrency, s.EventSourceARN)
		if !isStream(s.EventSourceARN) {
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.leases, prometheus.GaugeValue, float64(s.Leases), s.EventSourceARN)
		if s.HasIteratorAge {
			ch <- prometheus.MustNewConstMetric(m.iteratorAgeMax, prometheus.GaugeValue, s.MaxIteratorAge.Seconds(), s.EventSourceARN)
		}
		for _, sh := range s.Shards {
			if sh.HasIteratorAge {
				ch <- prometheus.MustNewConstMetric(m.iteratorAge, prometheus.GaugeValue, sh.IteratorAge.Seconds(), s.EventSourceARN, sh.ID)
			}
			if sh.HasCheckpointAge {
				ch <- prometheus.MustNewConstMetric(m.checkpointAge, prometheus.GaugeValue, sh.CheckpointAge.Seconds(), s.EventSourceARN, sh.ID)
			}
		}
	}
}

// isStream tells a Kinesis or DynamoDB stream from an SQS queue, which has
// no shards and no leases.
func isStream(s string) bool {
	a, err := arn.Parse(s)
	return err == nil && (a.Service == "kinesis" || a.Service == "dynamodb")
}

// of returns the counters of an event source.
func (m *Metrics) of(arn string) *series {
	if s, ok := m.series.Load(arn); ok {
		return s.(*series)
	}
	stream := isStream(arn)
	counter := func(v *prometheus.CounterVec, fits bool) adder {
		if fits {
			return v.WithLabelValues(arn) // from zero, for rate() and alerts
		}
		return lazy{v, arn}
	}
	s := &series{
		polled: counter(m.polled, true), filtered: counter(m.filtered, true),
		invoked: counter(m.invoked, true), failedInvoke: counter(m.failedInvoke, true),
		invocations: counter(m.invocations, true), errs: counter(m.errs, true),
		deleted: counter(m.deleted, !stream), notDeleted: counter(m.notDeleted, !stream),
		delivered: counter(m.delivered, stream), deliveryFailures: counter(m.deliveryFailures, stream),
		checkpoints: counter(m.checkpoints, stream), checkpointFailures: counter(m.checkpointFailures, stream),
		retried: counter(m.retried, stream), split: counter(m.split, stream),
		duration: m.duration.WithLabelValues(arn),
	}
	m.state.Touch(arn)
	actual, _ := m.series.LoadOrStore(arn, s)
	return actual.(*series)
}

// OnRecordsPolled implements lambdaesm.HookRecordsPolled.
func (m *Metrics) OnRecordsPolled(src lambdaesm.Source, n int) {
	m.of(src.EventSourceARN).polled.Add(float64(n))
}

// OnRecordsFilteredOut implements lambdaesm.HookRecordsFilteredOut.
func (m *Metrics) OnRecordsFilteredOut(src lambdaesm.Source, n int) {
	m.of(src.EventSourceARN).filtered.Add(float64(n))
}

// OnBatchInvoked implements lambdaesm.HookBatchInvoked.
func (m *Metrics) OnBatchInvoked(inv lambdaesm.Invocation) {
	s := m.of(inv.Source.EventSourceARN)
	s.failedInvoke.Add(float64(metricstate.FailedRecords(inv)))
	switch metricstate.OutcomeOf(inv) {
	case metricstate.NotInvoked:
		m.throttles.WithLabelValues(inv.Source.EventSourceARN, "Invoke").Inc()
		return
	case metricstate.FunctionError:
		s.errs.Inc()
	}
	s.invocations.Inc()
	s.invoked.Add(float64(inv.Records))
	s.duration.Observe(inv.Duration.Seconds())
	m.state.Invoked(inv.Source.EventSourceARN, inv.Duration)
}

// OnIteratorAge implements lambdaesm.HookIteratorAge.
func (m *Metrics) OnIteratorAge(src lambdaesm.Source, age time.Duration) {
	m.of(src.EventSourceARN)
	m.state.IteratorAge(src, age)
}

// OnRecordsDropped implements lambdaesm.HookRecordsDropped.
func (m *Metrics) OnRecordsDropped(src lambdaesm.Source, n int, c lambdaesm.Condition) {
	s := m.of(src.EventSourceARN)
	m.dropped.WithLabelValues(src.EventSourceARN, string(c)).Add(float64(n))
	if m.state.Dropped(src) {
		s.delivered.Add(float64(n))
	}
}

// OnRecordsDeleted implements lambdaesm.HookRecordsDeleted.
func (m *Metrics) OnRecordsDeleted(src lambdaesm.Source, n int) {
	m.of(src.EventSourceARN).deleted.Add(float64(n))
}

// OnRecordsNotDeleted implements lambdaesm.HookRecordsNotDeleted.
func (m *Metrics) OnRecordsNotDeleted(src lambdaesm.Source, n int, _ error) {
	m.of(src.EventSourceARN).notDeleted.Add(float64(n))
}

// OnDestinationDelivered implements lambdaesm.HookDestinationDelivered.
func (m *Metrics) OnDestinationDelivered(src lambdaesm.Source, _ string, err error) {
	if s := m.of(src.EventSourceARN); err != nil {
		s.deliveryFailures.Inc()
		return
	}
	m.state.Delivered(src) // the records are counted when they are dropped, next

}

// OnCheckpointWritten implements lambdaesm.HookCheckpointWritten.
func (m *Metrics) OnCheckpointWritten(src lambdaesm.Source, _ string) {
	m.of(src.EventSourceARN).checkpoints.Inc()
	m.state.CheckpointWritten(src)
}

// OnCheckpointFailed implements lambdaesm.HookCheckpointFailed.
func (m *Metrics) OnCheckpointFailed(src lambdaesm.Source, _ error) {
	m.of(src.EventSourceARN).checkpointFailures.Inc()
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
	m.throttles.WithLabelValues(src.EventSourceARN, operation).Inc()
}

// OnBatchRetried implements lambdaesm.HookBatchRetried.
func (m *Metrics) OnBatchRetried(src lambdaesm.Source, _, _ int) {
	m.of(src.EventSourceARN).retried.Inc()
}

// OnBatchSplit implements lambdaesm.HookBatchSplit.
func (m *Metrics) OnBatchSplit(src lambdaesm.Source, _ int) {
	m.of(src.EventSourceARN).split.Inc()
}

// OnAsyncResult implements lambdaesm.HookAsyncResult, for an invoker of
// package invoke.
func (m *Metrics) OnAsyncResult(r lambdaesm.AsyncResult) {
	m.asyncEvents.WithLabelValues(metricstate.AsyncCondition(r)).Inc()
	m.asyncAttempts.WithLabelValues().Add(float64(r.Attempts))
	if d := m.asyncDeliveries.WithLabelValues(); r.DeliveryErr != nil {
		d.Inc()
	}
}

// OnScheduleRefused implements lambdaesm.HookScheduleRefused, for a
// scheduler of package schedule.
func (m *Metrics) OnScheduleRefused(ruleARN string, _ time.Time, _ error) {
	m.scheduleRefused.WithLabelValues(ruleARN).Inc()
}

var (
	_ prometheus.Collector = (*Metrics)(nil)

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
