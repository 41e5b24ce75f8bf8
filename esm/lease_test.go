package esm_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

func countOwners(owners map[string]string) map[string]int {
	n := map[string]int{}
	for _, o := range owners {
		n[o]++
	}
	return n
}

// Two replicas share a stream through a lease table: the shards spread
// evenly, a replica that joins takes its share by graceful hand-off, one that
// shuts down hands its shards over at once, and every record is handled
// exactly once in key order throughout.
func TestReplicasShareShardsThroughLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 4)
		p := &producer{k: k, arn: arn, next: map[string]int{}}
		c := newCollector()
		table := shard.NewLeaseTable()
		newReplica := func(name string) esm.Mapping {
			m, err := esm.NewKinesisMapping(kinesisConfig(arn), k, esm.HandleKinesis(c.handle),
				esm.WithStore(table.Worker(name)), esm.WithName("orders"))
			require.NoError(t, err)
			return m
		}
		mapping := "orders|" + arn

		stopA := start(t, newReplica("a"))
		p.put(t, 20, 200)
		waitFor(t, "a holds every shard", func() bool { return countOwners(table.Owners(mapping))["a"] == 4 })
		waitFor(t, "200 records", func() bool { return c.count() == 200 })

		stopB := start(t, newReplica("b"))
		waitFor(t, "shards spread evenly", func() bool {
			n := countOwners(table.Owners(mapping))
			return n["a"] == 2 && n["b"] == 2
		})
		p.put(t, 20, 200)
		waitFor(t, "400 records", func() bool { return c.count() == 400 })

		stopA()
		start := time.Now()
		waitFor(t, "b holds every shard", func() bool { return countOwners(table.Owners(mapping))["b"] == 4 })
		require.Less(t, time.Since(start), 2*time.Second, "a graceful shutdown hands shards over in under 2s")
		p.put(t, 20, 200)
		waitFor(t, "600 records", func() bool { return c.count() == 600 })
		stopB()

		require.Empty(t, c.errs, "each key's records first handled in order")
		require.Zero(t, c.dups, "graceful hand-offs deliver nothing twice")
	})
}

// A replica whose lease was taken cannot move the checkpoint any more.
func TestLeaseFencing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		table := shard.NewLeaseTable()
		a, b := table.Worker("a"), table.Worker("b")
		ctx := t.Context()
		shards := []shard.Info{{ID: "s0"}}
		held, err := a.Leases(ctx, "m", shards)
		require.NoError(t, err)
		require.Equal(t, []string{"s0"}, held)
		require.NoError(t, a.Save(ctx, "m", "s0", shard.Checkpoint{SequenceNumber: "10"}))

		// a's renewals stop (delayed past expiry); b takes the lease.
		time.Sleep(11 * time.Second)
		held, err = b.Leases(ctx, "m", shards)
		require.NoError(t, err)
		require.Equal(t, []string{"s0"}, held)
		require.ErrorIs(t, a.Save(ctx, "m", "s0", shard.Checkpoint{SequenceNumber: "20"}), shard.ErrLeaseLost)
		cp, _, _ := b.Load(ctx, "m", "s0")
		require.Equal(t, "10", cp.SequenceNumber, "the fenced write did not land")
		held, err = a.Leases(ctx, "m", shards)
		require.NoError(t, err)
		require.Empty(t, held, "a learns it lost the lease")
	})
}
