package shard_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

// The lease table's cost at scale, simulated over the in-memory LeaseTable
// (the model of shard/dynamolease) in fake time: items read and writes per
// replica per second at 10, 100 and 1,000 shards and 1, 5 and 50 replicas,
// in steady state, while one replica dies and its leases lapse, and while
// ten replicas join. Each replica runs one lease round per second (the
// default LeaseInterval), the rounds of the replicas spread evenly over the
// second, and acts on each round as the engine does: it releases the shards
// it no longer holds and loads the checkpoint of each shard it starts.
// Checkpoint writes are left out: one per busy shard per CheckpointInterval,
// whatever the lease protocol.
//
// Windows: steady state, 20 s once the leases are balanced; one dies, the
// 15 s after its last round (LeaseDuration + 5 s), per survivor; ten join,
// the 30 s after they start, per replica. "failover" is the time from the
// dead replica's last round until each of its shards is read by a survivor
// (it must stay within LeaseDuration + 1 s); "balanced" is the time from
// the join until the shards are spread within one of even.
func TestLeaseTableCostAtScale(t *testing.T) {
	var grid []simCell
	for _, n := range []int{10, 100, 1000} {
		for _, r := range []int{1, 5, 50} {
			if testing.Short() && n*r > 5000 {
				continue
			}
			grid = append(grid, simulateCell(t, n, r))
		}
	}
	t.Logf("lease-table cost per replica per second, in-memory model (items read / writes):\n%s", formatGrid(grid))
	t.Logf("before this change (same simulation):\n%s", leaseCostBefore)
}

// simCell is one cell of the grid: reads and writes per replica per second.
type simCell struct {
	shards, replicas        int
	steady, die, join       rate
	failover, balanced      time.Duration
	dieSkipped, notBalanced bool
}

type rate struct{ reads, writes float64 }

func formatGrid(cells []simCell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%7s %8s | %17s | %17s %9s | %17s %9s\n", "shards", "replicas", "steady", "one dies", "failover", "ten join", "balanced")
	f := func(r rate) string { return fmt.Sprintf("%8.1f /%7.2f", r.reads, r.writes) }
	for _, c := range cells {
		die, fo := f(c.die), c.failover.Round(10*time.Millisecond).String()
		if c.dieSkipped {
			die, fo = "-", "-"
		}
		bal := c.balanced.Round(10 * time.Millisecond).String()
		if c.notBalanced {
			bal = ">30s"
		}
		fmt.Fprintf(&b, "%7d %8d | %17s | %17s %9s | %17s %9s\n", c.shards, c.replicas, f(c.steady), die, fo, f(c.join), bal)
	}
	return b.String()
}

func simulateCell(t *testing.T, shards, replicas int) simCell {
	c := simCell{shards: shards, replicas: replicas}
	// Steady state.
	synctest.Test(t, func(t *testing.T) {
		s := newLeaseSim(t, shards, replicas)
		c.steady = s.measure(20*time.Second, len(s.reps), nil)
	})
	// One dies: it stops calling, without releasing or retiring.
	if replicas < 2 {
		c.dieSkipped = true
	} else {
		synctest.Test(t, func(t *testing.T) {
			s := newLeaseSim(t, shards, replicas)
			dead := s.reps[0]
			s.reps = s.reps[1:]
			lost := slices.Sorted(maps.Keys(dead.reading))
			require.NotEmpty(t, lost)
			c.die = s.measure(s.table.Duration+5*time.Second, len(s.reps), func() {
				if c.failover == 0 && s.readByOthers(lost) {
					c.failover = time.Since(dead.last)
				}
			})
			require.NotZero(t, c.failover, "the dead replica's shards were not taken")
			require.LessOrEqual(t, c.failover, s.table.Duration+time.Second, "failover within the lease duration and one round")
			for _, id := range lost {
				// Fenced: the dead replica (were it only paused) can
				// never move a checkpoint again.
				require.ErrorIs(t, dead.store.Save(context.Background(), simMapping, id, shard.Checkpoint{SequenceNumber: "1"}), shard.ErrLeaseLost)
			}
		})
	}
	// Ten join.
	synctest.Test(t, func(t *testing.T) {
		s := newLeaseSim(t, shards, replicas)
		start := time.Now()
		for i := range 10 {
			s.add(fmt.Sprintf("j%02d", i))
		}
		c.join = s.measure(30*time.Second, len(s.reps), func() {
			if c.balanced == 0 && s.balanced() {
				c.balanced = time.Since(start)
			}
		})
		c.notBalanced = c.balanced == 0
	})
	return c
}

const simMapping = "m"

// leaseSim runs replicas' lease rounds over one LeaseTable, in fake time
// (call it inside synctest.Test), one goroutine: it is deterministic.
type leaseSim struct {
	t      *testing.T
	table  *shard.LeaseTable
	shards []shard.Info
	reps   []*simReplica // the live ones
}

type simReplica struct {
	name    string
	store   shard.LeaseStore
	reading map[string]bool
	last    time.Time // its last lease round
}

// newLeaseSim starts replicas and runs their rounds until the leases are
// balanced, then 5 s more.
func newLeaseSim(t *testing.T, shards, replicas int) *leaseSim {
	s := &leaseSim{t: t, table: shard.NewLeaseTable()}
	for i := range shards {
		s.shards = append(s.shards, shard.Info{ID: fmt.Sprintf("shardId-%012d", i)})
	}
	for i := range replicas {
		s.add(fmt.Sprintf("r%02d", i))
	}
	for n := 0; !s.balanced(); n++ {
		require.Less(t, n, 300, "not balanced after 300 s")
		s.second(nil)
	}
	for range 5 {
		s.second(nil)
	}
	return s
}

func (s *leaseSim) add(name string) {
	s.reps = append(s.reps, &simReplica{name: name, store: s.table.Worker(name), reading: map[string]bool{}})
}

// step runs one lease round of r and acts on it as the engine does.
func (s *leaseSim) step(r *simReplica) {
	ctx := context.Background()
	held, err := r.store.Leases(ctx, simMapping, s.shards)
	require.NoError(s.t, err)
	r.last = time.Now()
	keep := make(map[string]bool, len(held))
	for _, id := range held {
		keep[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(r.reading)) {
		if !keep[id] {
			delete(r.reading, id)
			require.NoError(s.t, r.store.Release(ctx, simMapping, id))
		}
	}
	for _, id := range held {
		if !r.reading[id] {
			_, _, err := r.store.Load(ctx, simMapping, id)
			require.NoError(s.t, err)
			r.reading[id] = true
		}
	}
}

// second runs one round of every live replica, spread over a second;
// after runs after each round.
func (s *leaseSim) second(after func()) {
	reps := slices.Clone(s.reps)
	gap := time.Second / time.Duration(len(reps))
	for _, r := range reps {
		time.Sleep(gap)
		s.step(r)
		if after != nil {
			after()
		}
	}
}

// measure runs d of rounds and returns the reads and writes per second per
// replica, for n replicas.
func (s *leaseSim) measure(d time.Duration, n int, after func()) rate {
	r0, w0 := s.table.Reads(), s.table.Writes()
	for range int(d / time.Second) {
		s.second(after)
	}
	secs := d.Seconds() * float64(n)
	return rate{float64(s.table.Reads()-r0) / secs, float64(s.table.Writes()-w0) / secs}
}

// balanced: every shard is read by exactly one live replica, and the
// replicas read within one shard of each other.
func (s *leaseSim) balanced() bool {
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

// readByOthers: each of ids is read by a live replica.
func (s *leaseSim) readByOthers(ids []string) bool {
	for _, id := range ids {
		if !slices.ContainsFunc(s.reps, func(r *simReplica) bool { return r.reading[id] }) {
			return false
		}
	}
	return true
}

// leaseCostBefore is the grid before the lease table announced its changes
// (every round read every item; the in-memory model renewed each lease
// with a write of its own, where shard/dynamolease writes one heartbeat).
const leaseCostBefore = `  shards replicas |            steady |          one dies  failover |          ten join  balanced
     10        1 |     11.0 /  10.00 |                 -         - |     20.9 /   0.99     1.91s
     10        5 |     15.0 /   2.00 |     15.0 /   2.20     10.3s |     24.8 /   0.69     1.67s
     10       50 |     60.0 /   0.20 |     60.0 /   0.19    10.18s |     69.7 /   0.17      20ms
    100        1 |    101.0 / 100.00 |                 -         - |    111.2 /  10.24       11s
    100        5 |    105.0 /  20.00 |    105.3 /  22.00     10.8s |    115.0 /   7.08        6s
    100       50 |    150.0 /   2.00 |    150.0 /   2.02    10.02s |    159.8 /   1.78       20s
   1000        1 |   1001.0 /1000.00 |                 -         - |   1013.6 /  99.78        2s
   1000        5 |   1005.0 / 200.00 |   1008.3 / 220.00     10.8s |   1016.3 /  70.48        6s
   1000       50 |   1050.0 /  20.00 |   1050.0 /  20.16    10.39s |   1059.9 /  17.04       20s
`
