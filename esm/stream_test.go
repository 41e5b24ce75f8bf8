package esm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// TestMain checks that no goroutine outlives the tests, except the idle
// keep-alive connections of the SDK clients used against the emulators.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// collector is a handler that records what it saw and checks per-key order
// of first deliveries (payload "key:n").
type collector struct {
	mu      sync.Mutex
	events  []events.KinesisEvent
	next    map[string]int
	handled int
	dups    int
	errs    []string
	fail    func(call int, ev events.KinesisEvent) error
	calls   int
}

func newCollector() *collector { return &collector{next: map[string]int{}} }

func (c *collector) handle(ctx context.Context, ev events.KinesisEvent) error {
	c.mu.Lock()
	c.calls++
	call := c.calls
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(call, ev); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	for _, r := range ev.Records {
		key, n := parsePayload(r.Kinesis.Data)
		switch want := c.next[key]; {
		case n == want:
			c.next[key]++
			c.handled++
		case n < want:
			c.dups++
		default:
			c.errs = append(c.errs, fmt.Sprintf("%s: got %d before %d", key, n, want))
		}
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handled
}

func parsePayload(b []byte) (string, int) {
	var key string
	var n int
	fmt.Sscanf(string(b), "%s %d", &key, &n)
	return key, n
}

// producer puts "key n" records with per-key counters.
type producer struct {
	k    *esmtest.Kinesis
	arn  string
	next map[string]int
	sent int
}

func (p *producer) put(t testing.TB, keys, n int) {
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("key-%d", (p.sent+i)%keys)
		p.k.Put(t, p.arn, key, fmt.Appendf(nil, "%s %d", key, p.next[key]))
		p.next[key]++
	}
	p.sent += n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute) // fake time under synctest
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func kinesisConfig(arn string) esm.Config {
	return esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 10, ParallelizationFactor: 4}
}

func start(t *testing.T, m esm.Mapping) func() {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(t.Context()) }()
	return func() {
		t.Helper()
		require.NoError(t, m.Shutdown(t.Context()))
		require.NoError(t, <-errc)
	}
}

// fixture is a fake stream with a producer and a collecting handler.
type fixture struct {
	k   *esmtest.Kinesis
	arn string
	p   *producer
	c   *collector
}

func newFixture(t *testing.T, shards int) *fixture {
	k := esmtest.NewKinesis()
	arn := k.MustCreateStream(t, "s", shards)
	return &fixture{k: k, arn: arn, p: &producer{k: k, arn: arn, next: map[string]int{}}, c: newCollector()}
}

// run starts a mapping of the stream to the collector (checkpoints in memory
// unless opts say otherwise) and returns its stop function.
func (f *fixture) run(t *testing.T, cfg esm.Config, opts ...esm.StreamOption) func() {
	t.Helper()
	m, err := esm.NewKinesisMapping(cfg, f.k, esm.HandleKinesis(f.c.handle), append([]esm.StreamOption{esm.WithStore(shard.NewMemoryStore())}, opts...)...)
	require.NoError(t, err)
	return start(t, m)
}

func TestKinesisMappingDeliversLambdaEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2)
		arn, c := f.arn, f.c
		f.p.put(t, 7, 50)
		stop := f.run(t, kinesisConfig(arn))
		waitFor(t, "all records", func() bool { return c.count() == 50 })
		stop()

		require.Empty(t, c.errs)
		for _, ev := range c.events {
			require.LessOrEqual(t, len(ev.Records), 10, "BatchSize")
			shardID := ""
			for _, r := range ev.Records {
				require.Equal(t, "aws:kinesis", r.EventSource)
				require.Equal(t, "aws:kinesis:record", r.EventName)
				require.Equal(t, "1.0", r.EventVersion)
				require.Equal(t, "1.0", r.Kinesis.KinesisSchemaVersion)
				require.Equal(t, arn, r.EventSourceArn)
				require.Equal(t, "us-east-1", r.AwsRegion)
				id, seq, _ := strings.Cut(r.EventID, ":")
				require.Equal(t, r.Kinesis.SequenceNumber, seq)
				if shardID == "" {
					shardID = id
				}
				require.Equal(t, shardID, id, "a batch never mixes shards")
			}
		}
	})
}

// Throttling and expired iterators in the middle of the stream lose nothing
// and never reach the handler as errors.
func TestKinesisMappingSurvivesThrottlingAndExpiredIterators(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 1)
		k, p, c := f.k, f.p, f.c
		p.put(t, 5, 40)
		stop := f.run(t, kinesisConfig(f.arn))
		waitFor(t, "first records", func() bool { return c.count() >= 10 })
		k.Faults.FailNext("GetRecords", 3, &ktypes.ProvisionedThroughputExceededException{Message: new("Rate exceeded for shard")})
		k.Faults.FailNext("GetRecords", 2, &ktypes.ExpiredIteratorException{Message: new("Iterator expired")})
		p.put(t, 5, 40)
		waitFor(t, "all records", func() bool { return c.count() == 80 })
		stop()
		require.Empty(t, c.errs)
		require.GreaterOrEqual(t, k.Faults.Calls("GetShardIterator"), 2, "an expired iterator is replaced")
	})
}

// A shutdown in the middle of a batch leaves a checkpoint from which a
// restart loses nothing.
func TestKinesisShutdownMidBatchThenRestartLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2)
		c := f.c
		f.p.put(t, 9, 400)
		store := shard.NewMemoryStore()
		c.fail = func(int, events.KinesisEvent) error { time.Sleep(time.Second); return nil }
		stop := f.run(t, kinesisConfig(f.arn), esm.WithStore(store))
		waitFor(t, "some records", func() bool { return c.count() >= 40 })
		time.Sleep(500 * time.Millisecond) // mid-batch
		// The lanes hand on what was read; then the checkpoint is final.
		stop()
		require.LessOrEqual(t, c.count(), 400)

		stop = f.run(t, kinesisConfig(f.arn), esm.WithStore(store))
		waitFor(t, "all records", func() bool { return c.count() >= 400 })
		time.Sleep(10 * time.Second)
		stop()
		require.Equal(t, 400, c.count(), "every record once: none lost, none delivered again")
		require.Empty(t, c.errs)
	})
}

type recordingHooks struct {
	mu   sync.Mutex
	errs []error
}

func (h *recordingHooks) OnBatchInvoked(inv lambdaesm.Invocation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if inv.Err != nil {
		h.errs = append(h.errs, inv.Err)
	}
}

func TestKinesisHandlerPanicAndTimeoutAreFunctionErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 1)
		c := f.c
		f.p.put(t, 1, 3)
		c.fail = func(call int, _ events.KinesisEvent) error {
			switch call {
			case 1:
				panic("boom")
			case 2:
				time.Sleep(time.Minute) // ignores its context: waited for, then timed out
			}
			return nil
		}
		h := &recordingHooks{}
		cfg := kinesisConfig(f.arn)
		cfg.FunctionTimeout = 2 * time.Second
		stop := f.run(t, cfg, esm.WithHooks(h))
		waitFor(t, "records", func() bool { return c.count() == 3 })
		stop()
		require.Len(t, h.errs, 2)
		var pe *esm.PanicError
		require.ErrorAs(t, h.errs[0], &pe)
		require.Equal(t, "boom", pe.Value)
		var te *lambdaesm.TimeoutError
		require.ErrorAs(t, h.errs[1], &te)
		require.Equal(t, "Task timed out after 2.00 seconds", te.Error())
	})
}

func TestKinesisStartupErrors(t *testing.T) {
	k := esmtest.NewKinesis()
	arn := k.MustCreateStream(t, "s", 1)
	h := esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })

	m, err := esm.NewKinesisMapping(kinesisConfig(strings.Replace(arn, "stream/s", "stream/missing", 1)), k, h, esm.WithStore(shard.NewMemoryStore()))
	require.NoError(t, err)
	err = m.Run(t.Context())
	require.ErrorContains(t, err, "stream/missing")
	require.ErrorContains(t, err, "not found")

	k.Faults.FailNext("DescribeStreamSummary", 1, esmtest.APIError("AccessDeniedException", "User is not authorized"))
	m, err = esm.NewKinesisMapping(kinesisConfig(arn), k, h, esm.WithStore(shard.NewMemoryStore()))
	require.NoError(t, err)
	err = m.Run(t.Context())
	require.ErrorContains(t, err, "kinesis:DescribeStreamSummary")
	require.ErrorContains(t, err, "access denied")
	require.ErrorIs(t, m.Run(t.Context()), lambdaesm.ErrClosed, "Run twice")

	ddb := "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000"
	_, err = esm.NewKinesisMapping(esm.Config{EventSourceArn: ddb, StartingPosition: esm.TrimHorizon}, k, h)
	require.ErrorContains(t, err, "not Kinesis")

	_, err = esm.NewKinesisMapping(esm.Config{EventSourceArn: arn, BatchSize: 20000, ParallelizationFactor: 11}, k, h)
	var ce *esm.ConfigError
	require.ErrorAs(t, err, &ce)
	require.GreaterOrEqual(t, len(ce.Violations), 3, "every violation at once: %v", err)

	// Shutdown before Run makes Run return ErrClosed.
	m, err = esm.NewKinesisMapping(kinesisConfig(arn), k, h, esm.WithStore(shard.NewMemoryStore()))
	require.NoError(t, err)
	require.NoError(t, m.Shutdown(t.Context()))
	require.NoError(t, m.Shutdown(t.Context()), "idempotent")
	require.ErrorIs(t, m.Run(t.Context()), lambdaesm.ErrClosed)
}

// Split and merge while consuming: every record handled, each key in order,
// parents before children.
func TestKinesisResharding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2)
		k, arn, p, c := f.k, f.arn, f.p, f.c
		p.put(t, 20, 100)
		cfg := kinesisConfig(arn)
		cfg.ParallelizationFactor = 10
		stop := f.run(t, cfg, esm.WithPolling(esm.Polling{Discovery: time.Hour})) // discovery only when a shard ends
		lower, upper := k.MustSplitShard(t, arn, "shardId-000000000000")
		p.put(t, 20, 100)
		merged := k.MustMergeShards(t, arn, lower, upper)
		p.put(t, 20, 100)
		waitFor(t, "all records", func() bool { return c.count() == 300 })
		stop()
		require.Empty(t, c.errs, "per-key order across split and merge")
		require.NotEmpty(t, k.Records(t, arn, merged), "the merged child got records")
	})
}

func TestDynamoDBMapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := esmtest.NewDynamoDBStreams()
		arn := d.MustCreateStream(t, "items", dstypes.StreamViewTypeNewAndOldImages, "id")
		key := map[string]dstypes.AttributeValue{"id": &dstypes.AttributeValueMemberS{Value: "a"}}
		require.NoError(t, d.PutItem("items", map[string]dstypes.AttributeValue{"id": key["id"], "v": &dstypes.AttributeValueMemberN{Value: "1"}}))
		require.NoError(t, d.UpdateItem("items", key, map[string]dstypes.AttributeValue{"v": &dstypes.AttributeValueMemberN{Value: "2"}}))
		_, err := d.Rollover(arn)
		require.NoError(t, err)
		require.NoError(t, d.DeleteItem("items", key))

		var mu sync.Mutex
		var got []events.DynamoDBEventRecord
		m, err := esm.NewDynamoDBMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon}, d,
			esm.HandleDynamoDB(func(_ context.Context, ev events.DynamoDBEvent) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, ev.Records...)
				return nil
			}), esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "records", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
		stop()
		require.Equal(t, []string{"INSERT", "MODIFY", "REMOVE"}, []string{got[0].EventName, got[1].EventName, got[2].EventName}, "parent before child")
		require.Equal(t, "1.1", got[0].EventVersion)
		require.Equal(t, "aws:dynamodb", got[0].EventSource)
		require.Equal(t, "2", got[1].Change.NewImage["v"].Number())
		require.Equal(t, "1", got[1].Change.OldImage["v"].Number())
		require.Equal(t, "a", got[2].Change.Keys["id"].String())
	})
}

// A handler returning batchItemFailures while ReportBatchItemFailures is off:
// ignored as AWS does, with one warning per mapping.
func TestBatchItemFailuresIgnoredWithoutFunctionResponseType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		p := &producer{k: k, arn: arn, next: map[string]int{}}
		p.put(t, 1, 30)
		var logs bytes.Buffer
		var mu sync.Mutex
		calls, handled := 0, 0
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			handled += len(ev.Records)
			return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: ev.Records[0].Kinesis.SequenceNumber}}}, nil
		})
		m, err := esm.NewKinesisMapping(kinesisConfig(arn), k, h, esm.WithStore(shard.NewMemoryStore()),
			esm.WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "records", func() bool { mu.Lock(); defer mu.Unlock(); return handled >= 30 })
		stop()
		require.Equal(t, 3, calls, "no retries: the response is ignored")
		require.Equal(t, 1, strings.Count(logs.String(), "ReportBatchItemFailures"), logs.String())
	})
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestHandleAdapters(t *testing.T) {
	ctx := context.Background()
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "a"}}}
	r, err := esm.HandleSQS(func(context.Context, events.SQSEvent) error { return errors.New("x") }).Handle(ctx, ev)
	require.EqualError(t, err, "x")
	require.Empty(t, r.BatchItemFailures)
	r, err = esm.HandleSQS(func(context.Context, events.SQSEvent) (*events.SQSEventResponse, error) {
		return &events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "a"}}}, nil
	}).Handle(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, "a", r.BatchItemFailures[0].ItemIdentifier)
	r, err = esm.HandleSQS(func(context.Context, events.SQSEvent) (*events.SQSEventResponse, error) { return nil, nil }).Handle(ctx, ev)
	require.NoError(t, err)
	require.Empty(t, r.BatchItemFailures)
	_, _ = json.Marshal(r)
}

// Enabled=false pauses the mapping: Run reads nothing until stopped.
func TestDisabledMappingReadsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 1)
		f.p.put(t, 1, 5)
		cfg := kinesisConfig(f.arn)
		cfg.Enabled = new(false)
		stop := f.run(t, cfg)
		time.Sleep(time.Minute)
		stop()
		require.Zero(t, f.c.count())
		require.Zero(t, f.k.Faults.Calls("GetRecords"))
	})
}
