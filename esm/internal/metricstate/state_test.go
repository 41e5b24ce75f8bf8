package metricstate

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
)

const arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"

func src(shard string) lambdaesm.Source { return lambdaesm.Source{EventSourceARN: arn, ShardID: shard} }

// Two invocations of 10s each, overlapping, in a minute: 20s of busy time
// over the 30s since counting began, then over the full minute.
func TestConcurrencyAverage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(time.Minute)
		s.Touch(arn)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				time.Sleep(20 * time.Second)
				start := time.Now()
				time.Sleep(10 * time.Second)
				s.Invoked(arn, time.Since(start))
			})
		}
		wg.Wait()
		require.InDelta(t, 20.0/30, s.Snapshot()[0].Concurrency, 1e-9)
		time.Sleep(30 * time.Second)
		require.InDelta(t, 20.0/60, s.Snapshot()[0].Concurrency, 1e-9)
		// A minute later the invocations left the window.
		time.Sleep(time.Minute)
		require.Zero(t, s.Snapshot()[0].Concurrency)
	})
}

// An invocation longer than the window counts for the window only.
func TestConcurrencyLongInvocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(10 * time.Second)
		s.Touch(arn)
		time.Sleep(time.Minute)
		s.Invoked(arn, time.Minute)
		require.InDelta(t, 1, s.Snapshot()[0].Concurrency, 0.11)
		// 4 busy invocations at once, each of the whole window.
		for range 3 {
			s.Invoked(arn, time.Minute)
		}
		require.InDelta(t, 4, s.Snapshot()[0].Concurrency, 0.41)
	})
}

func TestShardsAndLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(0)
		s.ShardStarted(src("a"))
		s.ShardStarted(src("b"))
		s.LeaseAcquired(src("a"))
		s.LeaseAcquired(src("b"))
		s.LeaseAcquired(src("b")) // heard twice, held once
		s.IteratorAge(src("a"), 3*time.Second)
		s.IteratorAge(src("b"), 5*time.Second)
		time.Sleep(2 * time.Second)
		s.CheckpointWritten(src("a"))
		time.Sleep(time.Second)

		got := s.Snapshot()
		require.Len(t, got, 1)
		require.Equal(t, 2, got[0].Leases)
		require.Equal(t, 5*time.Second, got[0].MaxIteratorAge)
		require.Equal(t, []Shard{
			{ID: "a", IteratorAge: 3 * time.Second, HasIteratorAge: true, CheckpointAge: time.Second, HasCheckpointAge: true},
			{ID: "b", IteratorAge: 5 * time.Second, HasIteratorAge: true, CheckpointAge: 3 * time.Second, HasCheckpointAge: true},
		}, got[0].Shards)

		// b's lease goes: its lag no longer counts.
		s.LeaseLost(src("b"))
		s.ShardGone(src("a"))
		got = s.Snapshot()
		require.Equal(t, 1, got[0].Leases)
		require.Empty(t, got[0].Shards)
		require.False(t, got[0].HasIteratorAge)
	})
}

func TestQueueSourcesHaveNoShards(t *testing.T) {
	s := New(0)
	q := lambdaesm.Source{EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:q"}
	s.IteratorAge(q, time.Second)
	s.CheckpointWritten(q)
	s.Invoked(q.EventSourceARN, time.Millisecond)
	got := s.Snapshot()
	require.Len(t, got, 1)
	require.Empty(t, got[0].Shards)
}

func TestCheckWindow(t *testing.T) {
	require.NoError(t, CheckWindow(0))
	require.NoError(t, CheckWindow(time.Second))
	require.Error(t, CheckWindow(time.Millisecond))
	require.Error(t, CheckWindow(2*time.Hour))
}

// A delivery is heard of before the records it carried are dropped: those
// are counted as delivered; records dropped without a destination are not.
func TestDeliveredThenDropped(t *testing.T) {
	s := New(0)
	a, b := src("a"), src("b")
	require.False(t, s.Dropped(a), "no destination took them")
	s.Delivered(a)
	s.Delivered(b)
	require.False(t, s.Dropped(src("c")))
	require.True(t, s.Dropped(b))
	require.True(t, s.Dropped(a))
	require.False(t, s.Dropped(a), "one delivery, one drop")
}
