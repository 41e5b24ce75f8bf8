package esmprom_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmprom"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// scrape serves reg's metrics over HTTP on 127.0.0.1 and returns the series
// of one scrape, keyed by name and sorted labels ([key]).
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		name, labels, _ := strings.Cut(line[:i], "{")
		var kv []string
		if labels = strings.TrimSuffix(labels, "}"); labels != "" {
			for p := range strings.SplitSeq(labels, ",") {
				k, v, _ := strings.Cut(p, "=")
				kv = append(kv, k, strings.Trim(v, `"`))
			}
		}
		out[key(name, kv...)] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// key names a series: its name and label pairs, sorted by label.
func key(name string, kv ...string) string {
	var pairs []string
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+"="+kv[i+1])
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// recorder is a hook of the test's own that adds up what it hears, to
// compare with what the adapter reports.
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

// A Kinesis mapping with two shards, a filter, a poison record bisected,
// retried and sent to the on-failure destination, leases and checkpoints:
// the scrape shows Lambda's counts and the gauges Lambda does not have; the
// adapter, a Progress and a hook of the test's own hear every invocation.
func TestKinesisMappingScraped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 2)
		for i := range 6 {
			k.Put(t, arn, fmt.Sprint("key-", i), fmt.Appendf(nil, `{"kind":"order","n":%d}`, i))
		}
		k.Put(t, arn, "key-0", []byte(`{"kind":"noise"}`))
		k.Put(t, arn, "key-1", []byte(`{"kind":"order","poison":true}`))

		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			time.Sleep(100 * time.Millisecond) // in fake time: a busy handler
			for _, r := range ev.Records {
				if strings.Contains(string(r.Kinesis.Data), "poison") {
					return errors.New("poison")
				}
			}
			return nil
		})
		metrics, err := esmprom.New("orders")
		require.NoError(t, err)
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(metrics))

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
		time.Sleep(3 * time.Second) // the last checkpoints are written
		got := scrape(t, reg)
		stop()

		l := []string{"event_source_arn", arn, "mapping", "orders"}
		at := func(name string, more ...string) float64 {
			t.Helper()
			v, ok := got[key(name, append(slices.Clone(l), more...)...)]
			require.True(t, ok, "no series %s %v in\n%v", name, more, got)
			return v
		}
		// Lambda's event counts.
		require.Equal(t, 8.0, at("lambdaesm_polled_events_total"))
		require.Equal(t, 1.0, at("lambdaesm_filtered_out_events_total"))
		require.Equal(t, 1.0, at("lambdaesm_dropped_events_total", "condition", "RetryAttemptsExhausted"))
		require.Equal(t, 1.0, at("lambdaesm_on_failure_destination_delivered_events_total"))
		require.Len(t, dest.Messages(), 1)
		require.NotContains(t, got, key("lambdaesm_deleted_events_total", l...), "a stream deletes nothing")

		// Every invocation was heard by the adapter, the Progress and the
		// recorder alike.
		invocations, fnErrors, invoked, failed := rec.counts()
		_, _, _, pInvocations, pFailures := progress.Counts()
		require.Equal(t, pInvocations, invocations)
		require.Equal(t, pFailures, fnErrors)
		require.Equal(t, float64(invocations), at("lambdaesm_invocations_total"))
		require.Equal(t, float64(fnErrors), at("lambdaesm_invocation_errors_total"))
		require.Equal(t, float64(invoked), at("lambdaesm_invoked_events_total"))
		require.Equal(t, float64(failed), at("lambdaesm_failed_invoke_events_total"))
		require.Equal(t, float64(invocations), at("lambdaesm_invocation_duration_seconds_count"))
		require.InDelta(t, 0.1*float64(invocations), at("lambdaesm_invocation_duration_seconds_sum"), 1e-6)
		require.Greater(t, invoked, 7, "7 records matched the filter, the poison one was invoked more than once")
		require.Positive(t, fnErrors)

		// What Lambda does not show.
		require.Positive(t, at("lambdaesm_batches_split_total"))
		require.Positive(t, at("lambdaesm_batches_retried_total"))
		require.Positive(t, at("lambdaesm_checkpoints_total"))
		require.Zero(t, at("lambdaesm_checkpoint_failures_total"))
		require.Equal(t, 2.0, at("lambdaesm_leases_held"))
		c := at("lambdaesm_concurrent_executions")
		require.Greater(t, c, 0.0)
		require.LessOrEqual(t, c, 2.0, "two shards, one batch at a time each")
		var maxAge float64
		for _, id := range []string{"shardId-000000000000", "shardId-000000000001"} {
			age := at("lambdaesm_iterator_age_seconds", "shard_id", id)
			require.GreaterOrEqual(t, age, 0.0)
			maxAge = max(maxAge, age)
			cp := at("lambdaesm_checkpoint_age_seconds", "shard_id", id)
			require.Greater(t, cp, 0.0)
			require.Less(t, cp, 60.0)
		}
		require.Equal(t, maxAge, at("lambdaesm_iterator_age_max_seconds"))
	})
}

// An SQS mapping: a message reported failed once comes back after its
// visibility timeout; every message is deleted in the end. A queue has no
// shards, leases or iterator age.
func TestSQSMappingScraped(t *testing.T) {
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
		metrics, err := esmprom.New("emails", esmprom.WithConstLabels(prometheus.Labels{"region": "us-east-1"}))
		require.NoError(t, err)
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(metrics))
		progress, rec := &esmtest.Progress{}, &recorder{}
		cfg := esm.Config{EventSourceArn: arn, FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures}}
		m, err := esm.NewSQSMapping(cfg, q, h, esm.WithHooks(metrics, progress, rec), esm.WithScaling(esm.Scaling{Initial: 1, Min: 1}), esm.WithLongPoll(time.Second))
		require.NoError(t, err)
		stop := esmtest.Start(t, m)
		esmtest.WaitUntil(t, time.Minute, "every message deleted", func() bool { return len(q.Bodies(url)) == 0 && progress.Finished() >= 5 })
		time.Sleep(time.Second)
		got := scrape(t, reg)
		stop()

		l := []string{"event_source_arn", arn, "mapping", "emails", "region", "us-east-1"}
		at := func(name string, more ...string) float64 {
			t.Helper()
			v, ok := got[key(name, append(slices.Clone(l), more...)...)]
			require.True(t, ok, "no series %s %v in\n%v", name, more, got)
			return v
		}
		require.Equal(t, 6.0, at("lambdaesm_polled_events_total"), "five messages and one again")
		require.Equal(t, 5.0, at("lambdaesm_deleted_events_total"))
		require.Equal(t, 1.0, at("lambdaesm_failed_invoke_events_total"), "the reported failure")
		require.Equal(t, 6.0, at("lambdaesm_invoked_events_total"))
		invocations, fnErrors, _, _ := rec.counts()
		require.Equal(t, float64(invocations), at("lambdaesm_invocations_total"))
		require.Zero(t, fnErrors)
		require.Zero(t, at("lambdaesm_invocation_errors_total"), "a partial batch response is no function error")
		require.Zero(t, at("lambdaesm_concurrent_executions"), "the handler takes no time")
		for s := range got {
			for _, stream := range []string{"leases_held", "iterator_age", "checkpoint", "batches", "destination"} {
				require.NotContains(t, s, stream, "a queue has no shards")
			}
		}
	})
}

// Two mappings, each with its own Metrics, share one registry: the mapping
// label tells them apart.
func TestTwoMappingsOneRegistry(t *testing.T) {
	a, err := esmprom.New("a")
	require.NoError(t, err)
	b, err := esmprom.New("b")
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(a))
	require.NoError(t, reg.Register(b))
	src := lambdaesm.Source{EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:q"}
	a.OnRecordsPolled(src, 2)
	b.OnRecordsPolled(src, 3)
	got := scrape(t, reg)
	require.Equal(t, 2.0, got[key("lambdaesm_polled_events_total", "event_source_arn", src.EventSourceARN, "mapping", "a")])
	require.Equal(t, 3.0, got[key("lambdaesm_polled_events_total", "event_source_arn", src.EventSourceARN, "mapping", "b")])
}

// Invocations the Lambda service never made (throttled) count as throttles
// and failed events, not as invocations; an invalid partial batch response
// fails the batch without a function error.
func TestInvocationOutcomes(t *testing.T) {
	m, err := esmprom.New("x", esmprom.WithNamespace("esm"))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	src := lambdaesm.Source{EventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/s", ShardID: "shardId-000000000000"}
	m.OnBatchInvoked(lambdaesm.Invocation{Source: src, Records: 4, Err: &lambdaesm.NotInvokedError{Err: errors.New("429")}})
	m.OnBatchInvoked(lambdaesm.Invocation{Source: src, Records: 3, Err: fmt.Errorf("bad: %w", lambdaesm.ErrInvalidResponse)})
	m.OnBatchInvoked(lambdaesm.Invocation{Source: src, Records: 2, Err: &lambdaesm.TimeoutError{Timeout: time.Second}, Duration: time.Second})
	m.OnThrottled(src, "GetRecords")
	m.OnCheckpointFailed(src, errors.New("disk full"))
	m.OnDestinationDelivered(src, "arn:aws:sqs:us-east-1:123456789012:dlq", errors.New("refused"))
	m.OnRecordsDropped(src, 5, lambdaesm.RecordAgeExceeded) // no destination accepted them
	got := scrape(t, reg)
	l := []string{"event_source_arn", src.EventSourceARN, "mapping", "x"}
	at := func(name string, more ...string) float64 { return got[key(name, append(slices.Clone(l), more...)...)] }
	require.Equal(t, 1.0, at("esm_throttles_total", "operation", "Invoke"))
	require.Equal(t, 1.0, at("esm_throttles_total", "operation", "GetRecords"))
	require.Equal(t, 2.0, at("esm_invocations_total"))
	require.Equal(t, 1.0, at("esm_invocation_errors_total"))
	require.Equal(t, 5.0, at("esm_invoked_events_total"))
	require.Equal(t, 9.0, at("esm_failed_invoke_events_total"))
	require.Equal(t, 1.0, at("esm_checkpoint_failures_total"))
	require.Equal(t, 1.0, at("esm_destination_delivery_failures_total"))
	require.Equal(t, 5.0, at("esm_dropped_events_total", "condition", "RecordAgeExceeded"))
	require.Zero(t, at("esm_on_failure_destination_delivered_events_total"))
}

func TestNewChecksOptions(t *testing.T) {
	_, err := esmprom.New("x", esmprom.WithConcurrencyWindow(time.Millisecond), esmprom.WithDurationBuckets(nil),
		esmprom.WithConstLabels(prometheus.Labels{"shard_id": "s"}), nil)
	require.ErrorContains(t, err, "WithConcurrencyWindow(1ms)")
	require.ErrorContains(t, err, "WithDurationBuckets: no buckets")
	require.ErrorContains(t, err, `ConstLabels: "shard_id"`)
	require.ErrorContains(t, err, "an option is nil")
}

// The same Metrics can listen to an asynchronous invoker and a scheduler:
// their series carry the name given to New and no event source.
func TestAsyncResultsAndSchedules(t *testing.T) {
	m, err := esmprom.New("thumbnails")
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	m.OnAsyncResult(lambdaesm.AsyncResult{Condition: lambdaesm.Success, Attempts: 1})
	m.OnAsyncResult(lambdaesm.AsyncResult{Condition: lambdaesm.RetriesExhausted, Attempts: 3, DeliveryErr: errors.New("dlq refused")})
	m.OnAsyncResult(lambdaesm.AsyncResult{Abandoned: true, Attempts: 1})
	const rule = "arn:aws:events:us-east-1:123456789012:rule/nightly"
	m.OnScheduleRefused(rule, time.Now(), errors.New("queue full"))
	got := scrape(t, reg)
	l := []string{"mapping", "thumbnails"}
	require.Equal(t, 1.0, got[key("lambdaesm_async_events_total", append(l, "condition", "Success")...)])
	require.Equal(t, 1.0, got[key("lambdaesm_async_events_total", append(l, "condition", "RetriesExhausted")...)])
	require.Equal(t, 1.0, got[key("lambdaesm_async_events_total", append(l, "condition", "Abandoned")...)])
	require.Equal(t, 5.0, got[key("lambdaesm_async_attempts_total", l...)])
	require.Equal(t, 1.0, got[key("lambdaesm_async_destination_delivery_failures_total", l...)])
	require.Equal(t, 1.0, got[key("lambdaesm_schedule_refused_total", append(l, "rule_arn", rule)...)])
}
