package streamengine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// reviewLeases is a shard.LeaseStore for one process whose Save can be made to
// report a lost lease; Leases then hands back only the shards still held.
type reviewLeases struct {
	*shard.MemoryStore
	mu       sync.Mutex
	held     map[string]bool
	lost     map[string]bool          // Save reports shard.ErrLeaseLost for these
	saveWait map[string]time.Duration // Save of these takes this long first
	lostAt   atomic.Bool              // a Save reported shard.ErrLeaseLost
}

func newReviewLeases(held ...string) *reviewLeases {
	s := &reviewLeases{MemoryStore: shard.NewMemoryStore(), held: map[string]bool{}, lost: map[string]bool{}, saveWait: map[string]time.Duration{}}
	for _, id := range held {
		s.held[id] = true
	}
	return s
}

func (s *reviewLeases) Save(ctx context.Context, m, id string, cp shard.Checkpoint) error {
	s.mu.Lock()
	wait, lost := s.saveWait[id], s.lost[id]
	s.mu.Unlock()
	time.Sleep(wait)
	if lost {
		s.mu.Lock()
		delete(s.held, id)
		s.mu.Unlock()
		s.lostAt.Store(true)
		return shard.ErrLeaseLost
	}
	return s.MemoryStore.Save(ctx, m, id, cp)
}

func (s *reviewLeases) Leases(_ context.Context, _ string, shards []shard.Info) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sh := range shards {
		if s.held[sh.ID] {
			out = append(out, sh.ID)
		}
	}
	return out, nil
}

func (s *reviewLeases) Release(context.Context, string, string) error { return nil }
func (s *reviewLeases) Retire(context.Context, string) error          { return nil }

const reviewARN = "arn:aws:kinesis:us-east-1:000000000000:stream/mem"

// reviewEngine builds an engine on src for mapping "m" reading from
// TRIM_HORIZON with retries until success, unless set says otherwise.
func reviewEngine(t *testing.T, src *memSource, set Settings, invoke Invoker[events.KinesisEventRecord]) *Engine[events.KinesisEventRecord] {
	t.Helper()
	set.Mapping, set.PollInterval = "m", time.Second
	if set.StartingPosition == "" {
		set.StartingPosition = "TRIM_HORIZON"
	}
	if set.Policy == nil {
		set.Policy = &retry.Policy{MaximumRetryAttempts: retry.Infinite}
	}
	eng, err := newEngine[events.KinesisEventRecord](src, reviewARN, set, Callbacks[events.KinesisEventRecord]{Invoke: invoke})
	require.NoError(t, err)
	return eng
}

// runDuring runs eng while during runs, then shuts it down.
func runDuring(t *testing.T, eng *Engine[events.KinesisEventRecord], during func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- eng.Run(t.Context()) }()
	during()
	require.NoError(t, eng.Shutdown(t.Context()))
	require.NoError(t, <-done)
}

// A shard whose checkpoint write reported shard.ErrLeaseLost must stop invoking:
// the lease is another process's now. (Found in review: lanes used to go on
// taking queued batches with a cancelled context.)
func TestReviewLaneKeepsInvokingAfterLeaseLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 20, 1)
		src.list[0].open = true
		store := newReviewLeases("shardId-0")
		store.lost["shardId-0"] = true // the first checkpoint finds the lease gone
		var after atomic.Int32
		eng := reviewEngine(t, src, Settings{BatchSize: 2, ReadLimit: 20, Store: store}, func(context.Context, []events.KinesisEventRecord) Result {
			if store.lostAt.Load() {
				after.Add(1)
			}
			time.Sleep(100 * time.Millisecond) // ignores ctx, as many handlers do
			return Result{}
		})
		runDuring(t, eng, func() { time.Sleep(5 * time.Second) })
		// At most the invocation already in flight when the lease was lost
		// may start after it (none should, strictly).
		require.LessOrEqual(t, after.Load(), int32(1), "invocations started after the lease was lost")
	})
}

// A parent shard read to its end whose lease is lost while its last
// checkpoint is being written must not count as finished: its shard end was
// never recorded and another process resumes it from its old checkpoint, so
// starting the child would break per-key order across the reshard. (Found in
// review.)
func TestReviewChildStartsAfterParentLeaseLostAtShardEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(2, 3, 1)
		src.list[1].info.Parents = []string{"shardId-0"} // shardId-0 is closed, shardId-1 its child
		src.list[0].info.Closed = true
		src.list[1].open = true
		store := newReviewLeases("shardId-0", "shardId-1")
		store.lost["shardId-0"] = true
		store.saveWait["shardId-0"] = time.Second // the lease is found lost after the last record finished
		var childInvoked atomic.Bool
		eng := reviewEngine(t, src, Settings{BatchSize: 10, Store: store}, func(_ context.Context, b []events.KinesisEventRecord) Result {
			if b[0].EventID[:len("shardId-1")] == "shardId-1" {
				childInvoked.Store(true)
			}
			return Result{}
		})
		runDuring(t, eng, func() { time.Sleep(10 * time.Second) })
		cp, _, _ := store.Load(t.Context(), "m", "shardId-0")
		require.False(t, cp.ShardEnd)
		require.False(t, childInvoked.Load(), "the child was read although its parent's shard end was never checkpointed")
	})
}

// When Run's context ends (a SIGTERM in most services), in-flight
// invocations see their context cancelled. A handler that then returns
// ctx.Err() must not count as a function error: with MaximumRetryAttempts 0
// the records would be discarded and checkpointed past although only the
// engine's own stop made the invocation fail. (Found in review.)
func TestReviewStopCancellationIsNotAFunctionError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 3, 1)
		src.list[0].open = true
		store := shard.NewMemoryStore()
		var dropped atomic.Int32
		eng := reviewEngine(t, src, Settings{
			BatchSize: 10, Store: store, FunctionTimeout: time.Minute,
			Policy: &retry.Policy{MaximumRetryAttempts: 0, Backoff: retry.DefaultBackoff},
			Hooks:  []lambdaesm.Hook{dropHook{n: &dropped}},
		}, func(ctx context.Context, _ []events.KinesisEventRecord) Result {
			<-ctx.Done()
			return Result{Err: ctx.Err()}
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		time.Sleep(time.Second) // the batch is in the handler
		cancel()
		require.NoError(t, <-done)
		cp, ok, _ := store.Load(t.Context(), "m", "shardId-0")
		require.Zero(t, dropped.Load(), "records dropped because the process stopped")
		require.False(t, ok, "checkpoint %v passes records that were never handled", cp)
	})
}

type dropHook struct{ n *atomic.Int32 }

func (h dropHook) OnRecordsDropped(_ lambdaesm.Source, n int, _ lambdaesm.Condition) {
	h.n.Add(int32(n))
}

// With StartingPosition LATEST, an iterator that expires before the first
// record was read (GetRecords throttled or failing for five minutes) must
// not be replaced by a new LATEST iterator, which would skip every record
// put in the meantime; Kinesis resumes AT_TIMESTAMP of the first LATEST.
// (Found in review.)
func TestReviewExpiredLatestIteratorSkipsRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		var got atomic.Int32
		eng, err := NewKinesis(k, arn, "", Settings{
			Mapping: "m", PollInterval: time.Second, StartingPosition: "LATEST",
			Policy: &retry.Policy{MaximumRetryAttempts: retry.Infinite},
		}, Callbacks[events.KinesisEventRecord]{
			Invoke: func(_ context.Context, b []events.KinesisEventRecord) Result {
				got.Add(int32(len(b)))
				return Result{}
			},
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- eng.Run(t.Context()) }()
		time.Sleep(3 * time.Second) // reading at LATEST
		k.Faults.FailAlways("GetRecords", esmtest.APIError("ProvisionedThroughputExceededException", "Rate exceeded"))
		time.Sleep(time.Second)
		k.Put(t, "s", "pk", []byte("after the iterator was taken"))
		time.Sleep(6 * time.Minute) // the iterator expires while reads are throttled
		k.Faults.Clear("GetRecords")
		time.Sleep(time.Minute) // longer than the longest service backoff (30s)
		require.NoError(t, eng.Shutdown(t.Context()))
		require.NoError(t, <-done)
		require.Equal(t, int32(1), got.Load(), "the record put while reads were throttled was skipped")
	})
}

// flakyLeases is a shard.LeaseStore whose lease rounds can be made to fail and
// whose Release is slow (a DynamoDB brownout); once a Release lands the lease
// is another process's.
type flakyLeases struct {
	*shard.MemoryStore
	fail atomic.Bool
	gone atomic.Bool // released: another process owns the shard now
}

func (s *flakyLeases) Leases(context.Context, string, []shard.Info) ([]string, error) {
	if s.fail.Load() {
		return nil, errors.New("lease table unavailable")
	}
	if s.gone.Load() {
		return nil, nil
	}
	return []string{"shardId-0"}, nil
}

func (s *flakyLeases) Save(ctx context.Context, m, id string, cp shard.Checkpoint) error {
	if s.gone.Load() {
		return shard.ErrLeaseLost
	}
	return s.MemoryStore.Save(ctx, m, id, cp)
}

func (s *flakyLeases) Release(context.Context, string, string) error {
	time.Sleep(5 * time.Second)
	s.gone.Store(true)
	return nil
}

func (s *flakyLeases) Retire(context.Context, string) error { return nil }

// A stopped reader releases its lease before discovery may start the shard
// again: otherwise, when the lease comes back while the old reader's Release
// is still in flight, the Release gives the lease away under the new reader.
// (Found in review.)
func TestReviewReleaseAfterRestartGivesLeaseAwayUnderNewReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 1000, 1)
		src.list[0].open = true
		store := &flakyLeases{MemoryStore: shard.NewMemoryStore()}
		var without atomic.Int32
		eng := reviewEngine(t, src, Settings{BatchSize: 1, Store: store, LeaseInterval: time.Second, LeaseTimeout: 2 * time.Second},
			func(context.Context, []events.KinesisEventRecord) Result {
				if store.gone.Load() {
					without.Add(1)
				}
				time.Sleep(100 * time.Millisecond)
				return Result{}
			})
		runDuring(t, eng, func() {
			time.Sleep(3 * time.Second)
			store.fail.Store(true) // rounds fail: after LeaseTimeout every shard halts
			time.Sleep(4500 * time.Millisecond)
			store.fail.Store(false) // the table is back: the shard is held again
			time.Sleep(10 * time.Second)
		})
		require.LessOrEqual(t, without.Load(), int32(1), "invocations after the old reader's Release gave the lease away")
	})
}

// Shutdown (or a lease hand-off) lets the lane finish the invocation in
// flight without starting retries or new batches: not even the queued second
// half of a bisected batch whose first half succeeded. (Found in review.)
func TestReviewBisectSecondHalfInvokedAfterHalt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 4, 1)
		src.list[0].open = true
		var stopped atomic.Bool
		var after, calls atomic.Int32
		eng := reviewEngine(t, src, Settings{
			BatchSize: 4, Policy: &retry.Policy{MaximumRetryAttempts: retry.Infinite, BisectBatchOnFunctionError: true},
		}, func(context.Context, []events.KinesisEventRecord) Result {
			if stopped.Load() {
				after.Add(1)
			}
			if calls.Add(1) == 1 {
				return Result{Err: errors.New("fail the whole batch once")}
			}
			time.Sleep(time.Second)
			return Result{}
		})
		runDuring(t, eng, func() {
			time.Sleep(500 * time.Millisecond) // the first half is in the handler
			stopped.Store(true)
		})
		require.Zero(t, after.Load(), "invocations started after Shutdown")
	})
}

// LATEST: a closed parent is skipped (it closed before the mapping started)
// by the process holding its lease, which writes nothing for it. Its open
// child, handed to a second process, must be read there: the second process
// applies the same rule to the parent instead of waiting for a SHARD_END
// that never comes. (Found in review: the child was never read again.)
func TestReviewChildOfASkippedParentReadAfterHandOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(2, 0, 1)
		src.list[0].info.Closed = true
		src.list[1].info.Parents = []string{"shardId-0"}
		src.list[1].open = true
		table := shard.NewLeaseTable()
		var got atomic.Int32
		inv := func(_ context.Context, b []events.KinesisEventRecord) Result { got.Add(int32(len(b))); return Result{} }
		set := Settings{StartingPosition: "LATEST"}
		a := reviewEngine(t, src, set, inv)
		a.set.Store = table.Worker("a")
		b := reviewEngine(t, src, set, inv)
		b.set.Store = table.Worker("b")
		runDuring(t, a, func() {
			time.Sleep(3 * time.Second)
			src.put("shardId-1", 1) // read by a
			time.Sleep(3 * time.Second)
			require.Equal(t, int32(1), got.Load())
			runDuring(t, b, func() {
				time.Sleep(5 * time.Second)
				require.Equal(t, "b", table.Owners("m")["shardId-1"], "b took the child over")
				src.put("shardId-1", 1)
				time.Sleep(time.Minute)
			})
		})
		require.Equal(t, int32(2), got.Load(), "the child's record put after the hand-off is read")
	})
}

// A function that is throttled (not invoked) for a while is called again
// after a backoff that grows, not every half second: such calls are not
// attempts, but they must not hammer a throttled function. (Found in
// review: the wait stayed at its first step.)
func TestReviewThrottleBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 1, 1)
		var tries atomic.Int32
		eng := reviewEngine(t, src, Settings{BatchSize: 1}, func(context.Context, []events.KinesisEventRecord) Result {
			tries.Add(1)
			return Result{Err: &lambdaesm.NotInvokedError{Err: errors.New("TooManyRequestsException")}}
		})
		runDuring(t, eng, func() { time.Sleep(10 * time.Minute) })
		require.Less(t, tries.Load(), int32(100), "tries in 10 minutes of throttling")
	})
}
