package esmotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmotel"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// collect reads every data point of the reader, keyed by instrument name
// and sorted attributes ([key]); a histogram gives name.count and name.sum.
func collect(t *testing.T, r *sdkmetric.ManualReader) (map[string]float64, map[string]string) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out, units := map[string]float64{}, map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, esmotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			units[m.Name] = m.Unit
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name+".count", p.Attributes)] = float64(p.Count)
					out[key(m.Name+".sum", p.Attributes)] = p.Sum
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out, units
}

func key(name string, set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.Emit())
	}
	slices.Sort(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}

func keyOf(name string, kv ...attribute.KeyValue) string { return key(name, attribute.NewSet(kv...)) }

// recorder is a hook of the test's own that adds up what it hears.
type recorder struct {
	mu                                 sync.Mutex
	invocations, errors, invoked, fail int
}

func (r *recorder) OnBatchInvoked(inv lambdaesm.Invocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invocations++
	r.invoked += inv.Records
	if inv.Err != nil {
		r.errors++
		r.fail += inv.Records
	} else {
		r.fail += inv.Failed
	}
}

func (r *recorder) counts() (invocations, errors, invoked, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.invocations, r.errors, r.invoked, r.fail
}

// The Kinesis scenario of esmprom's test, read through the SDK's
// ManualReader: Lambda's counts, the gauges, and the same invocations as a
// Progress and a hook of the test's own.
func TestKinesisMappingCollected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 2)
		for i := range 6 {
			k.Put(t, arn, fmt.Sprint("key-", i), fmt.Appendf(nil, `{"kind":"order","n":%d}`, i))
		}
		k.Put(t, arn, "key-0", []byte(`{"kind":"noise"}`))
		k.Put(t, arn, "key-1", []byte(`{"kind":"order","poison":true}`))
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			time.Sleep(100 * time.Millisecond)
			for _, r := range ev.Records {
				if strings.Contains(string(r.Kinesis.Data), "poison") {
					return errors.New("poison")
				}
			}
			return nil
		})
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer provider.Shutdown(context.Background())
		metrics, err := esmotel.New("orders", esmotel.WithMeterProvider(provider))
		require.NoError(t, err)
		defer metrics.Close()

		progress, rec, dest := &esmtest.Progress{}, &recorder{}, &destination.Memory{}
		cfg := esm.Config{
			EventSourceArn: arn, StartingPosition: esm.TrimHorizon,
			BisectBatchOnFunctionError: true, MaximumRetryAttempts: new(1),
			FilterCriteria: &esm.FilterCriteria{Filters: []esm.Filter{{Pattern: `{"data":{"kind":["order"]}}`}}},
		}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithName("orders"),
			esm.WithStore(shard.NewLeaseTable().Worker("me")), esm.WithOnFailure(dest),
			esm.WithRetryBackoff(retry.Backoff{Initial: time.Second}),
			esm.WithHooks(metrics, progress, rec))
		require.NoError(t, err)
		stop := esmtest.Start(t, m)
		progress.WaitFinished(t, 8, time.Minute)
		time.Sleep(3 * time.Second)
		got, units := collect(t, reader)
		stop()

		base := []attribute.KeyValue{esmotel.MappingKey.String("orders"), esmotel.EventSourceARNKey.String(arn)}
		at := func(name string, more ...attribute.KeyValue) float64 {
			t.Helper()
			v, ok := got[keyOf(name, append(slices.Clone(base), more...)...)]
			require.True(t, ok, "no data point %s %v in\n%v", name, more, got)
			return v
		}
		require.Equal(t, 8.0, at("lambdaesm.events.polled"))
		require.Equal(t, 1.0, at("lambdaesm.events.filtered_out"))
		require.Equal(t, 1.0, at("lambdaesm.events.dropped", esmotel.ConditionKey.String("RetryAttemptsExhausted")))
		require.Equal(t, 1.0, at("lambdaesm.events.on_failure_destination_delivered"))

		invocations, fnErrors, invoked, failed := rec.counts()
		_, _, _, pInvocations, pFailures := progress.Counts()
		require.Equal(t, pInvocations, invocations)
		require.Equal(t, pFailures, fnErrors)
		require.Equal(t, float64(invocations), at("lambdaesm.invocations"))
		require.Equal(t, float64(fnErrors), at("lambdaesm.invocation.errors"))
		require.Equal(t, float64(invoked), at("lambdaesm.events.invoked"))
		require.Equal(t, float64(failed), at("lambdaesm.events.failed_invoke"))
		require.Equal(t, float64(invocations), at("lambdaesm.invocation.duration.count"))
		require.InDelta(t, 0.1*float64(invocations), at("lambdaesm.invocation.duration.sum"), 1e-6)

		require.Positive(t, at("lambdaesm.batches.split"))
		require.Positive(t, at("lambdaesm.batches.retried"))
		require.Positive(t, at("lambdaesm.checkpoints"))
		require.Equal(t, 2.0, at("lambdaesm.leases"))
		c := at("lambdaesm.concurrent_executions")
		require.Greater(t, c, 0.0)
		require.LessOrEqual(t, c, 2.0)
		var maxAge float64
		for _, id := range []string{"shardId-000000000000", "shardId-000000000001"} {
			maxAge = max(maxAge, at("lambdaesm.shard.iterator_age", esmotel.ShardIDKey.String(id)))
			cp := at("lambdaesm.shard.checkpoint_age", esmotel.ShardIDKey.String(id))
			require.Greater(t, cp, 0.0)
			require.Less(t, cp, 60.0)
		}
		require.Equal(t, maxAge, at("lambdaesm.iterator_age.max"))

		require.Equal(t, "s", units["lambdaesm.shard.iterator_age"])
		require.Equal(t, "s", units["lambdaesm.invocation.duration"])
		require.Equal(t, "{event}", units["lambdaesm.events.polled"])
	})
}

// An SQS mapping with extra attributes: a message reported failed once comes
// back; no shard gauges or leases for a queue.
func TestSQSMappingCollected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, arn := q.MustCreateQueue(t, "emails", map[string]string{"VisibilityTimeout": "5"})
		for i := range 5 {
			q.Send(t, url, fmt.Sprint("m", i))
		}
		var mu sync.Mutex
		failedOnce := false
		h := esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			var resp events.SQSEventResponse
			for _, r := range ev.Records {
				if r.Body == "m3" && !failedOnce {
					failedOnce = true
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp, nil
		})
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer provider.Shutdown(context.Background())
		region := attribute.String("cloud.region", "us-east-1")
		metrics, err := esmotel.New("emails", esmotel.WithMeterProvider(provider), esmotel.WithAttributes(region))
		require.NoError(t, err)
		progress := &esmtest.Progress{}
		cfg := esm.Config{EventSourceArn: arn, FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures}}
		m, err := esm.NewSQSMapping(cfg, q, h, esm.WithHooks(metrics, progress), esm.WithScaling(esm.Scaling{Initial: 1, Min: 1}), esm.WithLongPoll(time.Second))
		require.NoError(t, err)
		stop := esmtest.Start(t, m)
		esmtest.WaitUntil(t, time.Minute, "every message deleted", func() bool { return len(q.Bodies(url)) == 0 && progress.Finished() >= 5 })
		time.Sleep(time.Second)
		got, _ := collect(t, reader)
		stop()

		base := []attribute.KeyValue{esmotel.MappingKey.String("emails"), esmotel.EventSourceARNKey.String(arn), region}
		at := func(name string) float64 {
			t.Helper()
			v, ok := got[keyOf(name, base...)]
			require.True(t, ok, "no data point %s in\n%v", name, got)
			return v
		}
		require.Equal(t, 6.0, at("lambdaesm.events.polled"))
		require.Equal(t, 5.0, at("lambdaesm.events.deleted"))
		require.Equal(t, 1.0, at("lambdaesm.events.failed_invoke"))
		require.Equal(t, 6.0, at("lambdaesm.events.invoked"))
		_, _, _, invocations, _ := progress.Counts()
		require.Equal(t, float64(invocations), at("lambdaesm.invocations"))
		require.Zero(t, at("lambdaesm.concurrent_executions"))
		for s := range got {
			require.NotContains(t, s, "invocation.errors")
			for _, stream := range []string{"leases", "iterator_age", "checkpoint"} {
				require.NotContains(t, s, stream, "a queue has no shards")
			}
		}

		// Once closed, the gauges are no longer reported.
		require.NoError(t, metrics.Close())
		got, _ = collect(t, reader)
		require.NotContains(t, got, keyOf("lambdaesm.concurrent_executions", base...))
	})
}

func TestInvocationOutcomes(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	m, err := esmotel.New("x", esmotel.WithMeterProvider(provider))
	require.NoError(t, err)
	defer m.Close()
	src := lambdaesm.Source{EventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/s", ShardID: "shardId-000000000000"}
	m.OnBatchInvoked(lambdaesm.Invocation{Source: src, Records: 4, Err: &lambdaesm.NotInvokedError{Err: errors.New("429")}})
	m.OnBatchInvoked(lambdaesm.Invocation{Source: src, Records: 3, Err: fmt.Errorf("bad: %w", lambdaesm.ErrInvalidResponse)})
	m.OnBatchInvoked(lambdaesm.Invocation{Source: src, Records: 2, Err: &lambdaesm.TimeoutError{Timeout: time.Second}, Duration: time.Second})
	m.OnThrottled(src, "GetRecords")
	m.OnDestinationDelivered(src, "arn:aws:sqs:us-east-1:123456789012:dlq", nil)
	m.OnRecordsDropped(src, 5, lambdaesm.RecordAgeExceeded)
	m.OnCheckpointWritten(src, "49590338271490256608559692538361571095921575989136588898")
	m.OnLeaseAcquired(src)
	got, _ := collect(t, reader)
	base := []attribute.KeyValue{esmotel.MappingKey.String("x"), esmotel.EventSourceARNKey.String(src.EventSourceARN)}
	at := func(name string, more ...attribute.KeyValue) float64 {
		return got[keyOf(name, append(slices.Clone(base), more...)...)]
	}
	require.Equal(t, 1.0, at("lambdaesm.throttles", esmotel.OperationKey.String("Invoke")))
	require.Equal(t, 1.0, at("lambdaesm.throttles", esmotel.OperationKey.String("GetRecords")))
	require.Equal(t, 2.0, at("lambdaesm.invocations"))
	require.Equal(t, 1.0, at("lambdaesm.invocation.errors"))
	require.Equal(t, 5.0, at("lambdaesm.events.invoked"))
	require.Equal(t, 9.0, at("lambdaesm.events.failed_invoke"))
	require.Equal(t, 5.0, at("lambdaesm.events.on_failure_destination_delivered"))
	require.Equal(t, 1.0, at("lambdaesm.leases"))
	require.Contains(t, got, keyOf("lambdaesm.shard.checkpoint_age", append(slices.Clone(base), esmotel.ShardIDKey.String(src.ShardID))...))
}

func TestNewChecksOptions(t *testing.T) {
	_, err := esmotel.New("x", esmotel.WithConcurrencyWindow(2*time.Hour), esmotel.WithDurationBuckets(nil),
		esmotel.WithAttributes(esmotel.ShardIDKey.String("s")), esmotel.WithMeterProvider(nil), nil)
	require.ErrorContains(t, err, "WithConcurrencyWindow(2h0m0s)")
	require.ErrorContains(t, err, "WithDurationBuckets: no buckets")
	require.ErrorContains(t, err, `Attributes: "lambdaesm.shard_id"`)
	require.ErrorContains(t, err, "MeterProvider: nil")
	require.ErrorContains(t, err, "an option is nil")
}

// The same Metrics can listen to an asynchronous invoker and a scheduler.
func TestAsyncResultsAndSchedules(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	m, err := esmotel.New("thumbnails", esmotel.WithMeterProvider(provider))
	require.NoError(t, err)
	defer m.Close()
	m.OnAsyncResult(lambdaesm.AsyncResult{Condition: lambdaesm.Success, Attempts: 1})
	m.OnAsyncResult(lambdaesm.AsyncResult{Condition: lambdaesm.EventAgeExceeded, Attempts: 2, DeliveryErr: errors.New("refused")})
	m.OnAsyncResult(lambdaesm.AsyncResult{Abandoned: true})
	const rule = "arn:aws:events:us-east-1:123456789012:rule/nightly"
	m.OnScheduleRefused(rule, time.Now(), errors.New("queue full"))
	got, _ := collect(t, reader)
	name := esmotel.MappingKey.String("thumbnails")
	require.Equal(t, 1.0, got[keyOf("lambdaesm.async.events", name, esmotel.ConditionKey.String("Success"))])
	require.Equal(t, 1.0, got[keyOf("lambdaesm.async.events", name, esmotel.ConditionKey.String("EventAgeExceeded"))])
	require.Equal(t, 1.0, got[keyOf("lambdaesm.async.events", name, esmotel.ConditionKey.String("Abandoned"))])
	require.Equal(t, 3.0, got[keyOf("lambdaesm.async.attempts", name)])
	require.Equal(t, 1.0, got[keyOf("lambdaesm.async.destination.delivery_failures", name)])
	require.Equal(t, 1.0, got[keyOf("lambdaesm.schedule.refused", name, esmotel.RuleARNKey.String(rule))])
}
