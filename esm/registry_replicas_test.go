package esm_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// replica is one registry of several sharing a mapping store and a lease
// table, as processes share a DynamoDB mapping store and lease table.
func (f *regFixture) replica(t *testing.T, leases *shard.LeaseTable, owner string) *esm.Registry {
	t.Helper()
	reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
		Resolver:      f.resolve,
		Clients:       esm.SourceClients{Kinesis: f.k, DynamoDBStreams: f.d, SQS: f.q},
		Store:         f.store,
		PollInterval:  time.Second,
		Checkpoints:   leases.Worker(owner),
		StreamOptions: []esm.StreamOption{esm.WithPolling(esm.FastestPolling), esm.WithCheckpointInterval(time.Millisecond)},
		SQSOptions:    []esm.SQSOption{esm.WithLongPoll(time.Second)},
	})
	require.NoError(t, err)
	return reg
}

// Two registries sharing a store are replicas: a mapping created, updated,
// disabled or deleted through one is created, updated, disabled or deleted
// in the other within a poll interval; together they read a stream's
// records once, in order per key.
func TestRegistryReplicasShareDefinitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		c := newCollector()
		f.define("fn", esm.Function{Kinesis: esm.HandleKinesis(c.handle), SQS: nopSQS})
		stream := f.k.MustCreateStream(t, "orders", 4)
		p := &producer{k: f.k, arn: stream, next: map[string]int{}}
		leases := shard.NewLeaseTable()
		a, b := f.replica(t, leases, "a"), f.replica(t, leases, "b")
		runRegistry(t, a)
		runRegistry(t, b)

		m, err := a.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon, BatchSize: 10})
		require.NoError(t, err)
		p.put(t, 20, 200)
		time.Sleep(time.Second + time.Millisecond) // B's poll
		got, err := b.Get(m.UUID)
		require.NoError(t, err, "B runs the mapping A created")
		require.Equal(t, m.Config, got.Config)
		require.True(t, m.Created.Equal(got.Created))
		waitState(t, b, m.UUID, esm.StateEnabled)
		waitFor(t, "the first records", func() bool { return c.count() == 200 })
		esmtest.WaitUntil(t, time.Minute, "the replicas to split the shards", func() bool {
			n := map[string]int{}
			for _, owner := range leases.Owners(m.UUID + "|" + stream) { // the engine's mapping name
				n[owner]++
			}
			return n["a"] == 2 && n["b"] == 2
		})

		// B updates it: A applies the update.
		up, err := b.Update(t.Context(), m.UUID, func(c *esm.Config) error { c.BatchSize = 3; return nil })
		require.NoError(t, err)
		require.Equal(t, esm.StateUpdating, up.State)
		time.Sleep(time.Second)
		info := waitState(t, a, m.UUID, esm.StateEnabled)
		require.Equal(t, 3, info.Config.BatchSize)
		require.True(t, up.LastModified.Equal(info.LastModified))
		p.put(t, 20, 200)
		waitFor(t, "the records after the update", func() bool { return c.count() == 400 })

		// Updates at once from both: B, whose copy is stale, takes A's
		// and answers as Lambda does while a mapping is being updated;
		// once its copy is Enabled, B's change applies to A's.
		_, err = a.Update(t.Context(), m.UUID, func(c *esm.Config) error { c.BatchSize = 7; return nil })
		require.NoError(t, err)
		setWindow := func(c *esm.Config) error { c.MaximumBatchingWindow = 2 * time.Second; return nil }
		_, err = b.Update(t.Context(), m.UUID, setWindow)
		require.Equal(t, esm.ErrorResourceInUse, apiErr(t, err).Type)
		require.Equal(t, 7, waitState(t, b, m.UUID, esm.StateEnabled).Config.BatchSize, "B has A's update")
		_, err = b.Update(t.Context(), m.UUID, setWindow)
		require.NoError(t, err)
		time.Sleep(time.Second)
		for _, reg := range []*esm.Registry{a, b} {
			info := waitState(t, reg, m.UUID, esm.StateEnabled)
			require.Equal(t, 7, info.Config.BatchSize)
			require.Equal(t, 2*time.Second, info.Config.MaximumBatchingWindow)
		}

		// A disables it: B's copy stops too, and nothing is read.
		_, err = a.Disable(t.Context(), m.UUID)
		require.NoError(t, err)
		time.Sleep(time.Second)
		waitState(t, a, m.UUID, esm.StateDisabled)
		waitState(t, b, m.UUID, esm.StateDisabled)
		p.put(t, 20, 100)
		time.Sleep(time.Minute)
		require.Equal(t, 400, c.count(), "a mapping disabled in another replica reads nothing")
		_, err = b.Enable(t.Context(), m.UUID)
		require.NoError(t, err)
		time.Sleep(time.Second)
		waitState(t, a, m.UUID, esm.StateEnabled)
		waitFor(t, "the records written while disabled", func() bool { return c.count() == 500 })

		// B deletes it: A's copy goes.
		_, err = b.Delete(t.Context(), m.UUID)
		require.NoError(t, err)
		time.Sleep(time.Second)
		waitGone(t, a, m.UUID)
		waitGone(t, b, m.UUID)
		time.Sleep(10 * time.Second)

		c.mu.Lock()
		defer c.mu.Unlock()
		require.Empty(t, c.errs, "per-key order")
		require.Equal(t, 500, c.handled, "no record lost")
		t.Logf("records delivered again across the restarts and lease moves: %d of 500", c.dups)
		require.Empty(t, a.List(esm.ListFilter{}))
		require.Empty(t, b.List(esm.ListFilter{}))
		require.True(t, a.StoreHealth().Healthy(time.Now()))
	})
}

// Two replicas cannot both create a mapping of one function and source, or
// with one UUID, even before either has seen the other's: the store refuses
// the second, with AWS's message naming the first, which the refused
// replica then knows.
func TestRegistryReplicasRefuseConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		f.define("other", allKinds)
		_, queue := f.q.MustCreateQueue(t, "jobs", nil)
		leases := shard.NewLeaseTable()
		a, b := f.replica(t, leases, "a"), f.replica(t, leases, "b")
		runRegistry(t, a)
		runRegistry(t, b)

		m, err := a.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue})
		require.NoError(t, err)
		_, err = b.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue}) // before B's poll
		ae := apiErr(t, err)
		require.Equal(t, esm.ErrorResourceConflict, ae.Type)
		require.Equal(t, 409, ae.HTTPStatus)
		require.Equal(t, `An event source mapping with SQS arn (" `+queue+` ") and function (" fn ") already exists. Please update or delete the existing mapping with UUID `+m.UUID, ae.Message)
		_, err = b.Get(m.UUID)
		require.NoError(t, err, "the refusal made B read the store")

		const id = "7d3c8f1e-2b4a-4c6d-8e9f-0a1b2c3d4e5f"
		_, err = a.CreateWithUUID(t.Context(), id, esm.Config{FunctionName: "other", EventSourceArn: queue, Enabled: new(false)})
		require.NoError(t, err)
		_, err = b.CreateWithUUID(t.Context(), id, esm.Config{FunctionName: "fn:live", EventSourceArn: queue})
		ae = apiErr(t, err)
		require.Equal(t, esm.ErrorResourceConflict, ae.Type)
		require.Equal(t, "An event source mapping with UUID "+id+" already exists.", ae.Message)

		// B moves "other" onto fn's claim: refused, as a local conflict.
		_, err = b.Update(t.Context(), id, func(c *esm.Config) error { c.FunctionName = "fn"; return nil })
		require.Equal(t, esm.ErrorResourceConflict, apiErr(t, err).Type)

		// A deletes a mapping B has not polled yet: B's update finds it gone.
		_, err = a.Delete(t.Context(), id)
		require.NoError(t, err)
		_, err = b.Update(t.Context(), id, func(c *esm.Config) error { c.BatchSize = 2; return nil })
		require.Equal(t, esm.ErrorResourceNotFound, apiErr(t, err).Type)
		waitGone(t, b, id)
		waitState(t, b, m.UUID, esm.StateEnabled)
	})
}

// A replica started after the others runs the mappings already stored, and
// a replica that cannot read the store keeps its mappings running and says
// so in StoreHealth until it can again.
func TestRegistryReplicaStoreFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		url, queue := f.q.MustCreateQueue(t, "jobs", nil)
		flaky := &flakyStore{SharedMappingStore: esm.NewMemoryMappingStore()}
		f.store = flaky
		leases := shard.NewLeaseTable()
		a := f.replica(t, leases, "a")
		runRegistry(t, a)
		m, err := a.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue})
		require.NoError(t, err)
		b := f.replica(t, leases, "b")
		_, err = b.Get(m.UUID)
		require.NoError(t, err, "a new replica loads what is stored")
		runRegistry(t, b)
		waitState(t, b, m.UUID, esm.StateEnabled)

		flaky.fail(errors.New("the table is unreachable"))
		time.Sleep(5 * time.Second)
		h := b.StoreHealth()
		require.True(t, h.Shared)
		require.ErrorContains(t, h.LastError, "the table is unreachable")
		require.False(t, h.Healthy(time.Now()), "no read for three poll intervals")
		info, err := b.Get(m.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateEnabled, info.State, "the mappings keep running")
		f.q.Send(t, url, "still flowing")
		esmtest.WaitUntil(t, time.Minute, "the message", func() bool { return len(f.q.Messages(url)) == 0 })

		flaky.fail(nil)
		time.Sleep(2 * time.Second)
		require.True(t, b.StoreHealth().Healthy(time.Now()))
	})
}

// flakyStore fails its reads on demand.
type flakyStore struct {
	esm.SharedMappingStore
	mu  sync.Mutex
	err error
}

func (s *flakyStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *flakyStore) Changes(ctx context.Context) (int64, error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return s.SharedMappingStore.Changes(ctx)
}

// Two registries on one DynamoDB mapping table (DynamoDB Local) are
// replicas: a creation, an update and a deletion through one reach the
// other, and a conflicting creation is refused before either polled.
func TestRegistryReplicasOnDynamoDB(t *testing.T) {
	awstest.Integration(t)
	store, _ := newMappingTable(t)
	qc := awstest.SQS(t)
	_, queue := awstest.NewQueue(t, qc, nil)
	open := func() *esm.Registry {
		reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
			Resolver:     func(context.Context, string) (esm.Function, error) { return allKinds, nil },
			Clients:      esm.SourceClients{SQS: qc},
			Store:        store,
			PollInterval: 100 * time.Millisecond,
			SQSOptions:   []esm.SQSOption{esm.WithLongPoll(time.Second)},
		})
		require.NoError(t, err)
		return reg
	}
	a, b := open(), open()
	runRegistry(t, a)
	runRegistry(t, b)

	m, err := a.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue, Enabled: new(false)})
	require.NoError(t, err)
	_, err = b.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue})
	require.Contains(t, apiErr(t, err).Message, "Please update or delete the existing mapping with UUID "+m.UUID)
	got, err := b.Get(m.UUID)
	require.NoError(t, err)
	require.Equal(t, esm.StateDisabled, got.State)

	_, err = b.Update(t.Context(), m.UUID, func(c *esm.Config) error { c.BatchSize = 4; return nil })
	require.NoError(t, err)
	esmtest.WaitUntil(t, 10*time.Second, "A to apply B's update", func() bool {
		info, err := a.Get(m.UUID)
		return err == nil && info.Config.BatchSize == 4 && info.State == esm.StateDisabled
	})
	_, err = a.Delete(t.Context(), m.UUID)
	require.NoError(t, err)
	waitGone(t, b, m.UUID)
	recs, err := store.LoadMappings(t.Context())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.True(t, b.StoreHealth().Healthy(time.Now()))
}

// A mapping deleted and created again under its UUID (a mapping file that
// names the UUID) before another replica polls is a new mapping there too,
// although both definitions are at revision 1: the replica runs the new
// one, not the old one.
func TestReplicaSeesAMappingRecreatedUnderItsUUID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn1", allKinds)
		f.define("fn2", allKinds)
		stream := f.k.MustCreateStream(t, "orders", 1)
		leases := shard.NewLeaseTable()
		a, b := f.replica(t, leases, "a"), f.replica(t, leases, "b")
		runRegistry(t, a)
		runRegistry(t, b)
		_, err := a.CreateWithUUID(t.Context(), "X", esm.Config{FunctionName: "fn1", EventSourceArn: stream, StartingPosition: esm.TrimHorizon})
		require.NoError(t, err)
		waitState(t, b, "X", esm.StateEnabled)

		_, err = a.Delete(t.Context(), "X")
		require.NoError(t, err)
		waitGone(t, a, "X") // before b polls again
		_, err = a.CreateWithUUID(t.Context(), "X", esm.Config{FunctionName: "fn2", EventSourceArn: stream, StartingPosition: esm.TrimHorizon, BatchSize: 7})
		require.NoError(t, err)
		time.Sleep(10 * time.Second) // many polls
		ga, err := a.Get("X")
		require.NoError(t, err)
		gb, err := b.Get("X")
		require.NoError(t, err)
		require.Equal(t, ga.Config.FunctionArn, gb.Config.FunctionArn, "the replicas run the same mapping")
		require.Equal(t, 7, int(gb.Config.BatchSize))
	})
}
