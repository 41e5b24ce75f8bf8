package dynamolease

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/ddbtable"
	"github.com/lambdaesm/lambdaesm/shard"
)

// meter counts what a Store asks of DynamoDB: items read (each item a
// Query returns, each GetItem), write requests (UpdateItem, DeleteItem,
// whether or not their condition holds: both are billed), and the read and
// write capacity units the service reports consuming.
type meter struct {
	DynamoDBAPI
	reads, writes atomic.Int64
	leaseReads    atomic.Int64 // lease items a Query returned
	mu            sync.Mutex
	rcu, wcu      float64
}

func (m *meter) capacity(c *types.ConsumedCapacity, write bool) {
	if c == nil || c.CapacityUnits == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if write {
		m.wcu += *c.CapacityUnits
	} else {
		m.rcu += *c.CapacityUnits
	}
}

func (m *meter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := m.DynamoDBAPI.Query(ctx, in, o...)
	if err == nil {
		m.reads.Add(int64(len(out.Items)))
		for _, it := range out.Items {
			if strings.HasPrefix(ddbtable.GetS(it, attrID), shardPrefix) {
				m.leaseReads.Add(1)
			}
		}
		m.capacity(out.ConsumedCapacity, false)
	}
	return out, err
}

func (m *meter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := m.DynamoDBAPI.GetItem(ctx, in, o...)
	if err == nil {
		m.reads.Add(1)
		m.capacity(out.ConsumedCapacity, false)
	}
	return out, err
}

func (m *meter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	m.writes.Add(1)
	out, err := m.DynamoDBAPI.UpdateItem(ctx, in, o...)
	if err == nil {
		m.capacity(out.ConsumedCapacity, true)
	}
	return out, err
}

func (m *meter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	m.writes.Add(1)
	out, err := m.DynamoDBAPI.DeleteItem(ctx, in, o...)
	if err == nil {
		m.capacity(out.ConsumedCapacity, true)
	}
	return out, err
}

type meterReading struct {
	reads, writes int64
	rcu, wcu      float64
}

func (m *meter) read() meterReading {
	m.mu.Lock()
	defer m.mu.Unlock()
	return meterReading{m.reads.Load(), m.writes.Load(), m.rcu, m.wcu}
}

// clock is a fake clock shared by the Stores of a simulation.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The lease table's cost at scale, measured: the simulation of
// shard.TestLeaseTableCostAtScale (same replicas, rounds, windows and engine
// behaviour) run against DynamoDB Local through a counting client, on a fake
// clock shared by the Stores (each call is real; time moves only between
// rounds). The cells of 1,000 shards or 50 replicas take minutes on the
// emulator: LEASECOST_ALL=1 runs them.
func TestIntegrationLeaseCostAtScale(t *testing.T) {
	awstest.Integration(t)
	if testing.Short() {
		t.Skip("minutes of lease rounds on DynamoDB Local")
	}
	c := awstest.DynamoDB(t)
	table := awstest.UniqueName(t, "leasecost")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
	})
	all := os.Getenv("LEASECOST_ALL") != ""
	var grid []costCell
	for _, n := range []int{10, 100, 1000} {
		for _, r := range []int{1, 5, 50} {
			if !all && (n > 100 || r > 5) {
				continue
			}
			start := time.Now()
			grid = append(grid, measureCell(t, c, table, n, r))
			t.Logf("%d shards, %d replicas: measured in %v", n, r, time.Since(start).Round(time.Second))
		}
	}
	t.Logf("lease-table cost per replica per second on DynamoDB Local (items read / writes; read units / write units):\n%s", formatCostGrid(grid))
	t.Logf("before the change announcements (same measurement):\n%s", dynamoCostBefore)
}

type costCell struct {
	shards, replicas   int
	steady, die, join  meterRate
	failover, balanced time.Duration
	dieSkipped         bool
	notBalanced        bool
}

type meterRate struct{ reads, writes, rcu, wcu float64 }

func formatCostGrid(cells []costCell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6s %8s | %27s | %27s %8s | %27s %8s\n", "shards", "replicas", "steady", "one dies", "failover", "ten join", "balanced")
	f := func(r meterRate) string {
		return fmt.Sprintf("%6.1f/%5.2f; %5.1f/%5.2f", r.reads, r.writes, r.rcu, r.wcu)
	}
	for _, c := range cells {
		die, fo := f(c.die), c.failover.Round(10*time.Millisecond).String()
		if c.dieSkipped {
			die, fo = "-", "-"
		}
		bal := c.balanced.Round(10 * time.Millisecond).String()
		if c.notBalanced {
			bal = ">30s"
		}
		fmt.Fprintf(&b, "%6d %8d | %27s | %27s %8s | %27s %8s\n", c.shards, c.replicas, f(c.steady), die, fo, f(c.join), bal)
	}
	return b.String()
}

func measureCell(t *testing.T, c DynamoDBAPI, table string, shards, replicas int) costCell {
	cell := costCell{shards: shards, replicas: replicas}
	prefix := fmt.Sprintf("cost-%d-%d-%d", shards, replicas, time.Now().UnixNano())
	// Steady state.
	s := newCostSim(t, c, table, prefix+"-steady", shards, replicas)
	cell.steady = s.measure(20*time.Second, len(s.reps), nil)
	// One dies: it stops calling, without releasing or retiring.
	if replicas < 2 {
		cell.dieSkipped = true
	} else {
		s := newCostSim(t, c, table, prefix+"-die", shards, replicas)
		dead := s.reps[0]
		s.reps = s.reps[1:]
		lost := slices.Sorted(maps.Keys(dead.reading))
		require.NotEmpty(t, lost)
		cell.die = s.measure(DefaultLeaseDuration+5*time.Second, len(s.reps), func() {
			if cell.failover == 0 && s.readByOthers(lost) {
				cell.failover = s.clock.now().Sub(dead.last)
			}
		})
		require.NotZero(t, cell.failover, "the dead replica's shards were not taken")
		require.LessOrEqual(t, cell.failover, DefaultLeaseDuration+time.Second, "failover within the lease duration and one round")
		for _, id := range lost {
			require.ErrorIs(t, dead.store.Save(context.Background(), s.mapping, id, shard.Checkpoint{SequenceNumber: "1"}), shard.ErrLeaseLost)
		}
	}
	// Ten join.
	s = newCostSim(t, c, table, prefix+"-join", shards, replicas)
	start := s.clock.now()
	for i := range 10 {
		s.add(fmt.Sprintf("j%02d", i))
	}
	cell.join = s.measure(30*time.Second, len(s.reps), func() {
		if cell.balanced == 0 && s.balanced() {
			cell.balanced = s.clock.now().Sub(start)
		}
	})
	cell.notBalanced = cell.balanced == 0
	return cell
}

// costSim runs replicas' lease rounds, one at a time, on a fake clock.
type costSim struct {
	t       *testing.T
	c       DynamoDBAPI
	table   string
	mapping string
	meter   *meter
	clock   *clock
	shards  []shard.Info
	reps    []*costReplica // the live ones
	// With saves, each replica checkpoints every shard it reads at every
	// round, and the shards in ended reach their end (SHARD_END, then the
	// lease is released), as the engine does.
	saves bool
	ended map[string]bool
	seq   int
	// stopping is how long a shard takes to stop (its in-flight batch)
	// before its lease is released.
	stopping time.Duration
	// check, when set, sees the items each round of each Store decides on.
	check func(owner string, items map[string]*leaseItem)
}

type costReplica struct {
	name    string
	store   *Store
	held    map[string]bool
	reading map[string]bool
	release map[string]time.Time // shards stopping, and when they release
	last    time.Time
}

func newCostSim(t *testing.T, c DynamoDBAPI, table, mapping string, shards, replicas int) *costSim {
	s := &costSim{t: t, c: c, table: table, mapping: mapping, meter: &meter{DynamoDBAPI: c}, clock: &clock{t: time.Now()}}
	for i := range shards {
		s.shards = append(s.shards, shard.Info{ID: fmt.Sprintf("shardId-%012d", i)})
	}
	for i := range replicas {
		s.add(fmt.Sprintf("r%02d", i))
	}
	s.settle()
	return s
}

// settle runs rounds until the leases are balanced, then 5 s more.
func (s *costSim) settle() {
	for n := 0; !s.balanced(); n++ {
		require.Less(s.t, n, 300, "not balanced after 300 s")
		s.second(nil)
	}
	for range 5 {
		s.second(nil)
	}
}

func (s *costSim) add(name string) *costReplica {
	r := &costReplica{name: name}
	s.start(r)
	s.reps = append(s.reps, r)
	return r
}

// start gives r a new Store: a process (re)started under its name.
func (s *costSim) start(r *costReplica) {
	st, err := New(s.meter, WithTable(s.table), WithOwner(r.name))
	require.NoError(s.t, err)
	st.now = s.clock.now
	if s.check != nil {
		st.onRound = func(_ string, items map[string]*leaseItem) { s.check(r.name, items) }
	}
	r.store, r.held, r.reading, r.release = st, map[string]bool{}, map[string]bool{}, map[string]time.Time{}
}

// step runs one lease round of r and acts on it as the engine does: it
// stops reading (and releases) what it no longer holds, releases what it
// held without starting, and starts what it holds once its listed parents
// are at their end, loading the checkpoint first.
func (s *costSim) step(r *costReplica) {
	ctx := context.Background()
	held, err := r.store.Leases(ctx, s.mapping, s.shards)
	require.NoError(s.t, err)
	r.last = s.clock.now()
	prev := r.held
	r.held = make(map[string]bool, len(held))
	for _, id := range held {
		r.held[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(prev)) {
		if !r.held[id] {
			delete(r.reading, id)
			r.release[id] = r.last.Add(s.stopping)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.release)) {
		if !r.last.Before(r.release[id]) {
			delete(r.release, id)
			require.NoError(s.t, r.store.Release(ctx, s.mapping, id))
		}
	}
	for _, sh := range s.shards {
		id := sh.ID
		if _, stopping := r.release[id]; !r.held[id] || r.reading[id] || stopping || !s.parentsDone(r, sh) {
			continue
		}
		cp, ok, err := r.store.Load(ctx, s.mapping, id)
		require.NoError(s.t, err)
		if ok && cp.ShardEnd {
			continue
		}
		r.reading[id] = true
	}
	if !s.saves {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(r.reading)) {
		if s.ended[id] {
			require.NoError(s.t, r.store.Save(ctx, s.mapping, id, shard.Checkpoint{ShardEnd: true}))
			delete(r.reading, id)
			delete(r.held, id)
			require.NoError(s.t, r.store.Release(ctx, s.mapping, id))
			continue
		}
		s.seq++
		err := r.store.Save(ctx, s.mapping, id, shard.Checkpoint{SequenceNumber: fmt.Sprint(s.seq)})
		if errors.Is(err, shard.ErrLeaseLost) {
			delete(r.reading, id) // the engine stops the shard
			continue
		}
		require.NoError(s.t, err)
	}
}

func (s *costSim) parentsDone(r *costReplica, sh shard.Info) bool {
	for _, p := range sh.Parents {
		if !slices.ContainsFunc(s.shards, func(x shard.Info) bool { return x.ID == p }) {
			continue
		}
		cp, ok, err := r.store.Load(context.Background(), s.mapping, p)
		require.NoError(s.t, err)
		if !ok || !cp.ShardEnd {
			return false
		}
	}
	return true
}

func (s *costSim) second(after func()) {
	reps := slices.Clone(s.reps)
	gap := time.Second / time.Duration(len(reps))
	for _, r := range reps {
		s.clock.add(gap)
		s.step(r)
		if after != nil {
			after()
		}
	}
}

func (s *costSim) measure(d time.Duration, n int, after func()) meterRate {
	m0 := s.meter.read()
	for range int(d / time.Second) {
		s.second(after)
	}
	m1 := s.meter.read()
	secs := d.Seconds() * float64(n)
	return meterRate{
		reads: float64(m1.reads-m0.reads) / secs, writes: float64(m1.writes-m0.writes) / secs,
		rcu: (m1.rcu - m0.rcu) / secs, wcu: (m1.wcu - m0.wcu) / secs,
	}
}

func (s *costSim) balanced() bool {
	seen := map[string]bool{}
	lo, hi := len(s.shards), 0
	for _, r := range s.reps {
		for id := range r.reading {
			if seen[id] {
				return false
			}
			seen[id] = true
		}
		lo, hi = min(lo, len(r.reading)), max(hi, len(r.reading))
	}
	return len(seen) == len(s.shards) && hi-lo <= 1
}

func (s *costSim) readByOthers(ids []string) bool {
	for _, id := range ids {
		if !slices.ContainsFunc(s.reps, func(r *costReplica) bool { return r.reading[id] }) {
			return false
		}
	}
	return true
}

// dynamoCostBefore is the grid before the change announcements: every
// round read every item of the mapping.
const dynamoCostBefore = `shards replicas |                      steady |                    one dies failover |                    ten join balanced
    10        1 |     11.0/ 1.00;   1.0/ 1.00 |                           -        - |     20.9/ 1.11;   1.0/ 1.11    1.91s
    10        5 |     15.0/ 1.00;   1.0/ 1.00 |     15.0/ 1.03;   1.0/ 1.03    10.3s |     24.8/ 1.03;   1.0/ 1.03    1.67s
    10       50 |     60.0/ 1.00;   2.0/ 1.00 |     60.0/ 1.00;   2.0/ 1.00   10.18s |     69.7/ 1.00;   3.0/ 1.00     20ms
   100        1 |    101.0/ 1.00;   5.0/ 1.00 |                           -        - |    111.1/ 2.15;   5.3/ 2.15       2s
   100        5 |    105.0/ 1.00;   5.0/ 1.00 |    105.3/ 1.33;   5.3/ 1.33    10.8s |    114.9/ 1.51;   5.1/ 1.51       2s
   100       50 |    150.0/ 1.00;   6.0/ 1.00 |    150.0/ 1.00;   6.0/ 1.00   10.02s |    159.7/ 1.02;   7.0/ 1.02       2s
  1000        1 |   1001.0/ 1.00;  44.0/ 1.00 |                           -        - |   1013.6/12.62;  46.8/12.62       2s
  1000        5 |   1005.0/ 1.00;  44.0/ 1.00 |   1008.3/ 4.33;  46.3/ 4.33    10.8s |   1016.3/ 6.24;  45.5/ 6.24       2s
  1000       50 |   1050.0/ 1.00;  46.0/ 1.00 |   1050.0/ 1.03;  45.0/ 1.03   10.39s |   1059.8/ 1.27;  45.1/ 1.27       2s
`
