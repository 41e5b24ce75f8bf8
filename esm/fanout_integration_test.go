package esm_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// emulatorConsumer registers a consumer of the stream on kinesis-local and
// waits until it is ACTIVE.
func emulatorConsumer(t *testing.T, c *kinesis.Client, streamARN, name string) string {
	t.Helper()
	out, err := c.RegisterStreamConsumer(t.Context(), &kinesis.RegisterStreamConsumerInput{StreamARN: &streamARN, ConsumerName: &name})
	require.NoError(t, err)
	arn := *out.Consumer.ConsumerARN
	waitReal(t, "consumer ACTIVE", 30*time.Second, func() bool {
		d, err := c.DescribeStreamConsumer(t.Context(), &kinesis.DescribeStreamConsumerInput{ConsumerARN: &arn})
		require.NoError(t, err)
		return d.ConsumerDescription.ConsumerStatus == ktypes.ConsumerStatusActive
	})
	return arn
}

// emulatorProducer puts "key n" records with per-key counters.
type emulatorProducer struct {
	c    *kinesis.Client
	arn  string
	next map[string]int
	sent int
}

func (p *emulatorProducer) put(t *testing.T, keys, n int) {
	t.Helper()
	for n > 0 {
		batch := min(n, 100)
		entries := make([]ktypes.PutRecordsRequestEntry, batch)
		for i := range entries {
			key := fmt.Sprintf("key-%d", (p.sent+i)%keys)
			entries[i] = ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: fmt.Appendf(nil, "%s %d", key, p.next[key])}
			p.next[key]++
		}
		out, err := p.c.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamARN: &p.arn, Records: entries})
		require.NoError(t, err)
		require.Zero(t, aws.ToInt32(out.FailedRecordCount))
		p.sent += batch
		n -= batch
	}
}

// On kinesis-local: a consumer mapping with ParallelizationFactor 10 gets
// every record, each key in order, and no subscription renewal (after every
// 3 events here, through the transport, instead of every 5 minutes) loses or
// repeats one.
func TestIntegrationKinesisFanOutOnEmulator(t *testing.T) {
	awstest.Integration(t)
	c := awstest.Kinesis(t, awstest.WithSubscriptionsEndingAfter(3))
	_, arn := awstest.NewStream(t, c, 2)
	consumer := emulatorConsumer(t, c, arn, "app")
	p := &emulatorProducer{c: c, arn: arn, next: map[string]int{}}
	p.put(t, 40, 200)

	col := newCollector()
	counted := &countingClient{Client: c}
	m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: consumer, StartingPosition: esm.TrimHorizon, BatchSize: 10, ParallelizationFactor: 10},
		counted, esm.HandleKinesis(col.handle), esm.WithStore(shard.NewMemoryStore()))
	require.NoError(t, err)
	stop := start(t, m)
	waitReal(t, "the first 200 records", 3*time.Minute, func() bool { return col.count() == 200 })
	// Records put across several renewals.
	for range 10 {
		p.put(t, 40, 20)
		time.Sleep(time.Second)
	}
	waitReal(t, "400 records", 3*time.Minute, func() bool { return col.count() == 400 })
	stop()
	require.Empty(t, col.errs, "each key's records in order")
	require.Zero(t, col.dups, "no record repeated at a renewal")
	require.GreaterOrEqual(t, counted.calls.Load(), int32(2*3), "each shard's subscription was renewed, several times")
	t.Logf("SubscribeToShard calls: %d (ResourceInUse included: kinesis-local keeps a closed subscription about 2s)", counted.calls.Load())
	for _, ev := range col.events {
		for _, r := range ev.Records {
			require.Equal(t, arn, r.EventSourceArn)
		}
	}
}

// countingClient counts SubscribeToShard calls.
type countingClient struct {
	*kinesis.Client
	calls atomic.Int32
}

func (c *countingClient) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	c.calls.Add(1)
	return c.Client.SubscribeToShard(ctx, in, optFns...)
}

// On kinesis-local: two replicas share a consumer through a lease table; one
// is killed, and the other takes its shards over, waiting out the
// subscriptions kinesis-local keeps for the dead one (ResourceInUse).
func TestIntegrationKinesisFanOutReplicaKillOnEmulator(t *testing.T) {
	awstest.Integration(t)
	c := awstest.Kinesis(t)
	_, arn := awstest.NewStream(t, c, 2)
	consumer := emulatorConsumer(t, c, arn, "app")
	p := &emulatorProducer{c: c, arn: arn, next: map[string]int{}}
	col := newCollector()
	table := shard.NewLeaseTable()
	table.Duration = 3 * time.Second
	mapping := "orders|" + consumer
	cfg := esm.Config{EventSourceArn: consumer, StartingPosition: esm.TrimHorizon, BatchSize: 10, ParallelizationFactor: 4}
	run := func(store shard.LeaseStore) (esm.Mapping, context.CancelFunc, <-chan error) {
		m, err := esm.NewKinesisMapping(cfg, c, esm.HandleKinesis(col.handle), esm.WithStore(store), esm.WithName("orders"),
			esm.WithLeaseInterval(200*time.Millisecond), esm.WithPolling(esm.Polling{Discovery: time.Second}))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		return m, cancel, done
	}
	a := &killable{LeaseStore: table.Worker("a")}
	_, killA, aDone := run(a)
	waitReal(t, "a holds both shards", 30*time.Second, func() bool { return countOwners(table.Owners(mapping))["a"] == 2 })
	b, _, bDone := run(table.Worker("b"))
	waitReal(t, "the shards spread", 30*time.Second, func() bool {
		n := countOwners(table.Owners(mapping))
		return n["a"] == 1 && n["b"] == 1
	})
	p.put(t, 20, 100)
	waitReal(t, "100 records", 3*time.Minute, func() bool { return col.count() == 100 })

	a.dead.Store(true)
	killA()
	<-aDone
	p.put(t, 20, 100)
	waitReal(t, "b holds both shards", 30*time.Second, func() bool { return countOwners(table.Owners(mapping))["b"] == 2 })
	waitReal(t, "200 records", 3*time.Minute, func() bool { return col.count() == 200 })
	require.NoError(t, b.Shutdown(t.Context()))
	require.NoError(t, <-bDone)
	require.Empty(t, col.errs, "each key's first deliveries in order")
}

// Put→handler latency on kinesis-local (with the initial-response shim):
// enhanced fan-out beside the polling reader at esm.FastestPolling. Each
// record carries the time it was put; the handler measures when it sees it.
// Against real Kinesis, Lambda's figure for enhanced fan-out is ~70 ms.
func TestIntegrationKinesisFanOutLatency(t *testing.T) {
	awstest.Integration(t)
	c := awstest.Kinesis(t)
	const n = 60
	measure := func(t *testing.T, name string, source func(streamARN string) string, opts ...esm.StreamOption) []time.Duration {
		_, arn := awstest.NewStream(t, c, 1)
		var mu sync.Mutex
		var lat []time.Duration
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				ns, err := strconv.ParseInt(string(r.Kinesis.Data), 10, 64)
				require.NoError(t, err)
				lat = append(lat, now.Sub(time.Unix(0, ns)))
			}
			return nil
		})
		m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: source(arn), StartingPosition: esm.Latest}, c, h,
			append([]esm.StreamOption{esm.WithStore(shard.NewMemoryStore())}, opts...)...)
		require.NoError(t, err)
		stop := start(t, m)
		time.Sleep(3 * time.Second) // reading the shard
		for i := range n {
			_, err := c.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamARN: &arn, PartitionKey: aws.String(strconv.Itoa(i)),
				Data: []byte(strconv.FormatInt(time.Now().UnixNano(), 10))})
			require.NoError(t, err)
			time.Sleep(137 * time.Millisecond) // not in step with either cadence
		}
		waitReal(t, name+": every record", 3*time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(lat) == n })
		stop()
		return lat
	}
	efo := measure(t, "enhanced fan-out", func(arn string) string { return emulatorConsumer(t, c, arn, "latency") })
	poll := measure(t, "polling", func(arn string) string { return arn }, esm.WithPolling(esm.FastestPolling))
	report := func(name string, lat []time.Duration) string {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(time.Millisecond) }
		return fmt.Sprintf("%-38s p50 %6v  p95 %6v  max %6v  (%d records)", name, q(0.5), q(0.95), q(1), len(lat))
	}
	lines := []string{
		"put→handler latency on kinesis-local 0.6.2:",
		report("enhanced fan-out (SubscribeToShard)", efo),
		report("polling at esm.FastestPolling (200ms)", poll),
	}
	t.Log(strings.Join(lines, "\n"))
	fmt.Println(strings.Join(lines, "\n"))
}
