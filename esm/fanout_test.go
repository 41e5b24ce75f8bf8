package esm_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// fanOutFixture is a fake stream with a registered consumer, a producer and
// a collecting handler.
type fanOutFixture struct {
	*fixture
	consumer string
}

func newFanOutFixture(t *testing.T, shards int) *fanOutFixture {
	f := newFixture(t, shards)
	return &fanOutFixture{fixture: f, consumer: f.k.MustRegisterStreamConsumer(t, f.arn, "app")}
}

// config is a TRIM_HORIZON mapping of the consumer, BatchSize 10, PF 10.
func (f *fanOutFixture) config() esm.Config {
	return esm.Config{EventSourceArn: f.consumer, StartingPosition: esm.TrimHorizon, BatchSize: 10, ParallelizationFactor: 10}
}

// A consumer ARN reads with SubscribeToShard: Lambda's events (with the
// stream's ARN), each key in order with ParallelizationFactor 10, pushed as
// records arrive, and no GetRecords at all.
func TestKinesisFanOutDeliversInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 4)
		k, p, c := f.k, f.p, f.c
		p.put(t, 40, 400)
		stop := f.run(t, f.config())
		waitFor(t, "the records already there", func() bool { return c.count() == 400 })
		for range 20 {
			time.Sleep(100 * time.Millisecond)
			p.put(t, 40, 10)
		}
		waitFor(t, "the records put while running", func() bool { return c.count() == 600 })
		stop()

		require.Empty(t, c.errs, "each key's records in order")
		require.Zero(t, c.dups)
		require.Zero(t, k.Faults.Calls("GetRecords"), "enhanced fan-out never polls")
		require.Zero(t, k.Faults.Calls("GetShardIterator"))
		require.Equal(t, 4, k.Faults.Calls("SubscribeToShard"), "one subscription per shard")
		for _, ev := range c.events {
			require.LessOrEqual(t, len(ev.Records), 10, "BatchSize")
			for _, r := range ev.Records {
				require.Equal(t, f.arn, r.EventSourceArn, "events name the stream, not the consumer")
				require.Equal(t, "aws:kinesis", r.EventSource)
			}
		}
	})
}

// Records put while running reach the handler at once (no polling cadence).
func TestKinesisFanOutPushesWithoutDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 1)
		var mu sync.Mutex
		var lat []time.Duration
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				lat = append(lat, time.Since(r.Kinesis.ApproximateArrivalTimestamp.Time))
			}
			return nil
		})
		m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: f.consumer, StartingPosition: esm.Latest}, f.k, h, esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		stop := start(t, m)
		time.Sleep(time.Second)
		for range 10 {
			f.p.put(t, 3, 1)
			time.Sleep(777 * time.Millisecond)
		}
		stop()
		require.Len(t, lat, 10)
		for _, d := range lat {
			require.Less(t, d, time.Millisecond, "pushed, not polled")
		}
	})
}

// The service ends every subscription after 5 minutes: the mapping
// subscribes again from the last event it handed on, so records put across
// the seams arrive once each, in order, also while the lanes are full.
func TestKinesisFanOutRenewalLosesAndRepeatsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 2)
		k, p, c := f.k, f.p, f.c
		slow := atomic.Bool{}
		c.fail = func(int, events.KinesisEvent) error {
			if slow.Load() {
				time.Sleep(2 * time.Second)
			}
			return nil
		}
		stop := f.run(t, f.config())
		begin := time.Now()
		for time.Since(begin) < 16*time.Minute {
			// Slow invocations around the second renewal: the lanes
			// are full when the subscription ends.
			slow.Store(time.Since(begin) > 9*time.Minute && time.Since(begin) < 11*time.Minute)
			p.put(t, 30, 7)
			time.Sleep(1300 * time.Millisecond)
		}
		waitFor(t, "every record", func() bool { return c.count() == p.sent })
		stop()
		require.Empty(t, c.errs, "no gap: each key's records in order")
		require.Zero(t, c.dups, "no record handed on twice at a seam")
		require.GreaterOrEqual(t, k.Faults.Calls("SubscribeToShard"), 2*4, "each shard subscribed again after every 5 minutes")
	})
}

// While a slow handler keeps the lanes full, the reader takes no event but
// keeps its subscription: the backlog stays in the stream, not in memory,
// and the reader reads on when the lanes drain.
func TestKinesisFanOutBackPressureKeepsTheSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 1)
		k, p, c := f.k, f.p, f.c
		var polled atomic.Int64
		var ahead, backlog atomic.Int64 // the most read and not handled; put and not read
		c.fail = func(int, events.KinesisEvent) error {
			time.Sleep(time.Second) // 10 records a second at most
			return nil
		}
		hooks := hookFunc{polled: func(n int) { polled.Add(int64(n)) }}
		stop := f.run(t, esm.Config{EventSourceArn: f.consumer, StartingPosition: esm.TrimHorizon, BatchSize: 10}, esm.WithHooks(hooks))
		for range 60 {
			p.put(t, 5, 30) // 30 records a second
			time.Sleep(time.Second)
			ahead.Store(max(ahead.Load(), polled.Load()-int64(c.count())))
			backlog.Store(max(backlog.Load(), int64(p.sent)-polled.Load()))
		}
		waitFor(t, "every record", func() bool { return c.count() == 1800 })
		stop()
		require.Empty(t, c.errs)
		require.Equal(t, 1, k.Faults.Calls("SubscribeToShard"), "the subscription was kept throughout")
		require.Greater(t, backlog.Load(), int64(600), "the backlog waited in the stream")
		// What was read ahead: BatchSize×PF records, the event that went
		// past it, and the events waiting in the SDK's stream reader (two)
		// and in the one being sent: a few events, not the backlog.
		require.Less(t, ahead.Load(), int64(400), "read ahead: a few events, not the backlog")
	})
}

type hookFunc struct{ polled func(n int) }

func (h hookFunc) OnRecordsPolled(_ lambdaesm.Source, n int) { h.polled(n) }

// A split is followed: the parent's subscription ends with its children, and
// the children are read (after the parent's last record) with each key in
// order.
func TestKinesisFanOutFollowsSplitAndMerge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 2)
		k, arn, p, c := f.k, f.arn, f.p, f.c
		p.put(t, 20, 100)
		stop := f.run(t, f.config(), esm.WithPolling(esm.Polling{Discovery: time.Hour})) // discovery only when a shard ends
		waitFor(t, "the first records", func() bool { return c.count() == 100 })
		lower, upper := k.MustSplitShard(t, arn, "shardId-000000000000")
		p.put(t, 20, 100)
		waitFor(t, "the children read", func() bool { return c.count() == 200 })
		merged := k.MustMergeShards(t, arn, lower, upper)
		p.put(t, 20, 100)
		waitFor(t, "the merged child read", func() bool { return c.count() == 300 })
		stop()
		require.Empty(t, c.errs, "per-key order across split and merge")
		require.Zero(t, c.dups)
		require.NotEmpty(t, k.Records(t, arn, merged))
	})
}

// killable is a lease store that stops answering when its process is
// "killed": no checkpoint, release or retirement reaches the table, so the
// leases lapse as those of a crashed process do.
type killable struct {
	shard.LeaseStore
	dead atomic.Bool
}

var errKilled = errors.New("the process was killed")

func (s *killable) Load(ctx context.Context, mapping, id string) (shard.Checkpoint, bool, error) {
	if s.dead.Load() {
		return shard.Checkpoint{}, false, errKilled
	}
	return s.LeaseStore.Load(ctx, mapping, id)
}

func (s *killable) Save(ctx context.Context, mapping, id string, cp shard.Checkpoint) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.LeaseStore.Save(ctx, mapping, id, cp)
}

func (s *killable) Leases(ctx context.Context, mapping string, shards []shard.Info) ([]string, error) {
	if s.dead.Load() {
		return nil, errKilled
	}
	return s.LeaseStore.Leases(ctx, mapping, shards)
}

func (s *killable) Release(ctx context.Context, mapping, id string) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.LeaseStore.Release(ctx, mapping, id)
}

func (s *killable) Retire(ctx context.Context, mapping string) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.LeaseStore.Retire(ctx, mapping)
}

// Two replicas share a consumer through a lease table; when one is killed,
// its leases lapse and the other subscribes to its shards from their last
// checkpoints: every record arrives, each key in order.
func TestKinesisFanOutReplicaKillHandsSubscriptionsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 4)
		k, p, c := f.k, f.p, f.c
		table := shard.NewLeaseTable()
		mapping := "orders|" + f.consumer
		run := func(name string, store shard.LeaseStore) (esm.Mapping, context.CancelFunc, <-chan error) {
			m, err := esm.NewKinesisMapping(f.config(), k, esm.HandleKinesis(c.handle), esm.WithStore(store), esm.WithName("orders"))
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			return m, cancel, done
		}
		a := &killable{LeaseStore: table.Worker("a")}
		_, killA, aDone := run("a", a)
		waitFor(t, "a holds every shard", func() bool { return countOwners(table.Owners(mapping))["a"] == 4 })
		b, _, bDone := run("b", table.Worker("b"))
		waitFor(t, "the shards spread", func() bool {
			n := countOwners(table.Owners(mapping))
			return n["a"] == 2 && n["b"] == 2
		})
		p.put(t, 20, 200)
		waitFor(t, "200 records", func() bool { return c.count() == 200 })
		held := func(owner string) []string {
			var ids []string
			for id, o := range table.Owners(mapping) {
				if o == owner {
					ids = append(ids, id)
				}
			}
			return ids
		}
		aShards := held("a")

		// Kill a: it writes nothing more and its subscriptions drop.
		p.put(t, 20, 100)
		a.dead.Store(true)
		killA()
		<-aDone
		p.put(t, 20, 100)
		waitFor(t, "b holds every shard", func() bool { return countOwners(table.Owners(mapping))["b"] == 4 })
		waitFor(t, "every record", func() bool { return c.count() == 400 })
		subs := k.Subscriptions(f.consumer)
		for _, id := range aShards {
			require.Contains(t, subs, id, "b subscribed to a's shard %s", id)
		}
		require.NoError(t, b.Shutdown(t.Context()))
		require.NoError(t, <-bDone)
		require.Empty(t, c.errs, "each key's first deliveries in order")
	})
}

// A shard another subscription of the consumer holds (ResourceInUse) is
// retried with backoff until the mapping may take it over; throttled
// subscribes (LimitExceeded) are heard as throttling.
func TestKinesisFanOutRetriesResourceInUseAndThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 1)
		k, p, c := f.k, f.p, f.c
		const shardID = "shardId-000000000000"
		out, err := k.SubscribeToShard(t.Context(), &kinesis.SubscribeToShardInput{ConsumerARN: &f.consumer, ShardId: new(shardID),
			StartingPosition: &ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeLatest}})
		require.NoError(t, err)
		other := out.GetStream()
		defer other.Close()
		var throttled atomic.Int32
		hooks := throttleHook(func(op string) {
			if op == "SubscribeToShard" {
				throttled.Add(1)
			}
		})
		p.put(t, 5, 20)
		begin := time.Now()
		stop := f.run(t, f.config(), esm.WithHooks(hooks))
		waitFor(t, "every record", func() bool { return c.count() == 20 })
		require.GreaterOrEqual(t, time.Since(begin), 5*time.Second, "taken over only after Kinesis allows it")
		for range other.Events() {
		}
		var inUse *ktypes.ResourceInUseException
		require.ErrorAs(t, other.Err(), &inUse, "the other subscription was taken over")

		k.Faults.FailNext("SubscribeToShard", 3, &ktypes.LimitExceededException{Message: new("Rate exceeded")})
		time.Sleep(5 * time.Minute) // the subscription ends and is renewed
		p.put(t, 5, 20)
		waitFor(t, "every record", func() bool { return c.count() == 40 })
		stop()
		// The three scripted, and the first call made within a second of
		// the test's own.
		require.Equal(t, int32(4), throttled.Load())
		require.Empty(t, c.errs)
		require.Zero(t, c.dups)
	})
}

type throttleHook func(op string)

func (h throttleHook) OnThrottled(_ lambdaesm.Source, op string) { h(op) }

// A restart resumes each shard's subscription after its checkpoint, and a
// LATEST mapping keeps the position it fixed on its first start.
func TestKinesisFanOutRestartResumesAfterCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 2)
		p, c := f.p, f.c
		p.put(t, 10, 50) // before the mapping: LATEST skips them
		store := shard.NewMemoryStore()
		cfg := f.config()
		cfg.StartingPosition = esm.Latest
		stop := f.run(t, cfg, esm.WithStore(store))
		time.Sleep(2 * time.Second)
		c.mu.Lock()
		c.next = map[string]int{}
		for k, n := range p.next {
			c.next[k] = n
		}
		c.mu.Unlock()
		p.put(t, 10, 50)
		waitFor(t, "the records after start", func() bool { return c.count() == 50 })
		stop()
		p.put(t, 10, 50) // while stopped
		stop = f.run(t, cfg, esm.WithStore(store))
		waitFor(t, "the records put while stopped", func() bool { return c.count() == 100 })
		stop()
		require.Empty(t, c.errs)
		require.Zero(t, c.dups)
	})
}

// Start-up: a missing consumer ends Run in Lambda's words; a consumer still
// CREATING is waited for; a client without SubscribeToShard is refused by
// the constructor.
func TestKinesisFanOutStartup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis(esmtest.WithKinesisTransitionDelay(3 * time.Second))
		arn := k.MustCreateStream(t, "s", 1)
		h := esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })
		cfg := esm.Config{EventSourceArn: arn + "/consumer/missing:1700000000", StartingPosition: esm.TrimHorizon}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		err = m.Run(t.Context())
		require.ErrorContains(t, err, "Stream consumer not found: "+cfg.EventSourceArn)

		_, err = esm.NewKinesisMapping(cfg, pollingOnly{k}, h)
		require.ErrorContains(t, err, "SubscribeToShard")
		require.ErrorContains(t, err, "shard.KinesisFanOutAPI")

		time.Sleep(3 * time.Second) // the stream is ACTIVE
		cfg.EventSourceArn = k.MustRegisterStreamConsumer(t, arn, "app")
		var got atomic.Int32
		m, err = esm.NewKinesisMapping(cfg, k, esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			got.Add(int32(len(ev.Records)))
			return nil
		}), esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		k.Put(t, arn, "k", []byte("x"))
		stop := start(t, m)
		waitFor(t, "the record, once the consumer is ACTIVE", func() bool { return got.Load() == 1 })
		stop()
	})
}

// A subscription that fails is retried, and the failure reaches Health.
func TestKinesisFanOutSubscribeFailureReachesHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 1)
		f.k.Faults.FailNext("SubscribeToShard", 2, esmtest.APIError("AccessDeniedException", "not authorized to perform kinesis:SubscribeToShard"))
		f.p.put(t, 3, 9)
		m, err := esm.NewKinesisMapping(f.config(), f.k, esm.HandleKinesis(f.c.handle), esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "the records", func() bool { return f.c.count() == 9 })
		require.ErrorContains(t, m.Health().LastError, "kinesis:SubscribeToShard")
		stop()
	})
}

// pollingOnly is a client with the polling methods only.
type pollingOnly struct{ shard.KinesisAPI }

// Example-style check that the consumer mapping's checkpoints are kept under
// the consumer ARN, apart from a stream mapping's.
func TestKinesisFanOutCheckpointsUnderTheConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFanOutFixture(t, 1)
		f.p.put(t, 3, 9)
		store := shard.NewMemoryStore()
		stop := f.run(t, f.config(), esm.WithStore(store), esm.WithName("x"))
		waitFor(t, "the records", func() bool { return f.c.count() == 9 })
		stop()
		cp, ok, err := store.Load(t.Context(), "x|"+f.consumer, "shardId-000000000000")
		require.NoError(t, err)
		require.True(t, ok)
		recs := f.k.Records(t, f.arn, "shardId-000000000000")
		require.Equal(t, *recs[len(recs)-1].SequenceNumber, cp.SequenceNumber)
		_, ok, _ = store.Load(t.Context(), "x|"+f.arn, "shardId-000000000000")
		require.False(t, ok)
	})
}

// WithStreamConsumer registers the consumer when Run starts (or reuses the
// one of that name), waits until it is ACTIVE, and reads with
// SubscribeToShard; checkpoints stay under the stream's ARN.
func TestKinesisWithStreamConsumerRegisters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2)
		k := esmtest.NewKinesis(esmtest.WithKinesisTransitionDelay(2 * time.Second))
		arn := k.MustCreateStream(t, "s", 2)
		time.Sleep(2 * time.Second)
		p := &producer{k: k, arn: arn, next: map[string]int{}}
		p.put(t, 10, 50)
		store := shard.NewMemoryStore()
		cfg := kinesisConfig(arn)
		run := func() func() {
			m, err := esm.NewKinesisMapping(cfg, k, esm.HandleKinesis(f.c.handle), esm.WithStore(store), esm.WithName("x"), esm.WithStreamConsumer("app"))
			require.NoError(t, err)
			return start(t, m)
		}
		begin := time.Now()
		stop := run()
		waitFor(t, "the records", func() bool { return f.c.count() == 50 })
		require.GreaterOrEqual(t, time.Since(begin), 2*time.Second, "read once the consumer was ACTIVE")
		stop()
		list, err := k.ListStreamConsumers(t.Context(), &kinesis.ListStreamConsumersInput{StreamARN: &arn})
		require.NoError(t, err)
		require.Len(t, list.Consumers, 1)
		require.Equal(t, "app", *list.Consumers[0].ConsumerName)
		require.Zero(t, k.Faults.Calls("GetRecords"))
		require.Equal(t, 1, k.Faults.Calls("RegisterStreamConsumer"))

		p.put(t, 10, 50)
		stop = run() // the consumer exists: it is used
		waitFor(t, "the next records", func() bool { return f.c.count() == 100 })
		stop()
		require.Equal(t, 2, k.Faults.Calls("RegisterStreamConsumer"), "registered again: ResourceInUse, then found by name")
		require.Empty(t, f.c.errs)
		require.Zero(t, f.c.dups)
		_, ok, _ := store.Load(t.Context(), "x|"+arn, "shardId-000000000000")
		require.True(t, ok, "checkpoints under the stream's ARN")

		h := esm.HandleKinesis(f.c.handle)
		_, err = esm.NewKinesisMapping(cfg, pollingOnly{k}, h, esm.WithStreamConsumer("app"))
		require.ErrorContains(t, err, "shard.KinesisConsumerAPI")
		_, err = esm.NewKinesisMapping(cfg, k, h, esm.WithStreamConsumer("a b"))
		require.ErrorContains(t, err, "WithStreamConsumer: the consumer name")
		consumerCfg := cfg
		consumerCfg.EventSourceArn = *list.Consumers[0].ConsumerARN
		_, err = esm.NewKinesisMapping(consumerCfg, k, h, esm.WithStreamConsumer("app"))
		require.ErrorContains(t, err, "names a stream consumer already")
		_, err = esm.NewDynamoDBMapping(esm.Config{EventSourceArn: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024", StartingPosition: esm.TrimHorizon},
			esmtest.NewDynamoDBStreams(), esm.HandleDynamoDB(func(context.Context, events.DynamoDBEvent) error { return nil }), esm.WithStreamConsumer("app"))
		require.ErrorContains(t, err, "WithStreamConsumer applies to Kinesis mappings only")
	})
}

// A Registry maps a stream consumer ARN as Lambda's API does: the mapping
// reads with SubscribeToShard through the registry's Kinesis client.
func TestRegistryMapsAStreamConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		stream := f.k.MustCreateStream(t, "orders", 1)
		consumer := f.k.MustRegisterStreamConsumer(t, stream, "app")
		c := newCollector()
		f.define("fn", esm.Function{Kinesis: esm.HandleKinesis(c.handle)})
		reg := f.open(t)
		runRegistry(t, reg)
		info, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: consumer, StartingPosition: esm.TrimHorizon})
		require.NoError(t, err)
		waitState(t, reg, info.UUID, esm.StateEnabled)
		p := &producer{k: f.k, arn: stream, next: map[string]int{}}
		p.put(t, 5, 20)
		waitFor(t, "the records", func() bool { return c.count() == 20 })
		require.Zero(t, f.k.Faults.Calls("GetRecords"))
		require.Equal(t, []string{"shardId-000000000000"}, f.k.Subscriptions(consumer))
	})
}

// nilOutputs is a client whose fan-out calls answer nothing, without error.
type nilOutputs struct {
	*esmtest.Kinesis
	describe bool // DescribeStreamConsumer answers nil too
}

func (c nilOutputs) SubscribeToShard(context.Context, *kinesis.SubscribeToShardInput, ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	return nil, nil
}

func (c nilOutputs) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	if c.describe {
		return nil, nil
	}
	return c.Kinesis.DescribeStreamConsumer(ctx, in, o...)
}

// A client that answers nil without an error is retried, not a panic.
func TestKinesisFanOutNilAnswers(t *testing.T) {
	for _, describe := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			f := newFanOutFixture(t, 1)
			m, err := esm.NewKinesisMapping(f.config(), nilOutputs{f.k, describe}, esm.HandleKinesis(f.c.handle), esm.WithStore(shard.NewMemoryStore()))
			require.NoError(t, err)
			stop := start(t, m)
			time.Sleep(10 * time.Second)
			require.ErrorContains(t, m.Health().LastError, map[bool]string{false: "no event stream", true: "no description"}[describe])
			stop()
		})
	}
}
