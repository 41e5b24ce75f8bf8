package streamengine

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm/internal/seqnum"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// checkingStore wraps a store and checks, on every save, that the checkpoint
// never goes backwards and never passes a record that was not handled.
type checkingStore struct {
	t       *testing.T
	inner   shard.Store
	mu      sync.Mutex
	handled map[string]bool // sequence numbers handled successfully
	dropped map[string]bool // sequence numbers discarded by the policy
	order   map[string][]string
	src     *memSource
}

func (s *checkingStore) Load(ctx context.Context, m, id string) (shard.Checkpoint, bool, error) {
	return s.inner.Load(ctx, m, id)
}

func (s *checkingStore) Save(ctx context.Context, m, id string, cp shard.Checkpoint) error {
	prev, ok, _ := s.inner.Load(ctx, m, id)
	if ok {
		back := prev.ShardEnd && !cp.ShardEnd || !cp.ShardEnd && prev.SequenceNumber != "" && seqnum.Compare(cp.SequenceNumber, prev.SequenceNumber) < 0
		require.False(s.t, back, "checkpoint of %s moved back from %v to %v", id, prev, cp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.src.find(id)
	for _, r := range sh.recs {
		if !cp.ShardEnd && seqnum.Compare(*r.SequenceNumber, cp.SequenceNumber) > 0 {
			break
		}
		seq := *r.SequenceNumber
		require.True(s.t, s.handled[seq] || s.dropped[seq], "checkpoint %v of %s passes unfinished record %s", cp, id, seq)
	}
	return s.inner.Save(ctx, m, id, cp)
}

func (s *checkingStore) success(batch []events.KinesisEventRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range batch {
		if !s.handled[r.Kinesis.SequenceNumber] {
			s.handled[r.Kinesis.SequenceNumber] = true
			// Order is per key within a shard: the eventID starts with the shard.
			k := r.EventID[:strings.IndexByte(r.EventID, ':')] + "/" + r.Kinesis.PartitionKey
			s.order[k] = append(s.order[k], r.Kinesis.SequenceNumber)
		}
	}
}

func (s *checkingStore) drop(recs []events.KinesisEventRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.dropped[r.Kinesis.SequenceNumber] = true
	}
}

func (s *checkingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.handled)
}

// TestPropertyLanesKeepKeyOrder: random latencies and failures with PF=10;
// every record is handled, each key's records are first handled in order,
// checkpoints are monotonic and never pass an unfinished record, and a restart
// from the checkpoint halfway through loses nothing.
func TestPropertyLanesKeepKeyOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	for seed := range uint64(5) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			var rngMu sync.Mutex
			src := newMemSource(3, 400, 37)
			store := &checkingStore{t: t, inner: shard.NewMemoryStore(), handled: map[string]bool{}, dropped: map[string]bool{}, order: map[string][]string{}, src: src}
			total := 3 * 400
			newEng := func() *Engine[events.KinesisEventRecord] {
				set := Settings{
					Mapping: "prop", BatchSize: 1 + int(seed)*7, ParallelizationFactor: 10, StartingPosition: "TRIM_HORIZON",
					BatchingWindow: time.Duration(seed%2) * time.Second, ReadLimit: 50, Store: store,
					Policy: &retry.Policy{MaximumRetryAttempts: -1, Backoff: retry.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}},
				}
				eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/prop", set, Callbacks[events.KinesisEventRecord]{
					Invoke: func(ctx context.Context, batch []events.KinesisEventRecord) Result {
						rngMu.Lock()
						d := time.Duration(rng.IntN(50)) * time.Millisecond
						fail := rng.IntN(5) == 0
						rngMu.Unlock()
						time.Sleep(d)
						if fail {
							return Result{Err: errors.New("random failure")}
						}
						store.success(batch)
						return Result{}
					},
				})
				require.NoError(t, err)
				return eng
			}

			// First run: stop when about half is handled.
			eng := newEng()
			runErr := make(chan error, 1)
			go func() { runErr <- eng.Run(t.Context()) }()
			for store.count() < total/2 {
				time.Sleep(10 * time.Millisecond)
			}
			require.NoError(t, eng.Shutdown(t.Context()))
			require.NoError(t, <-runErr)

			// Restart from the checkpoints: everything gets handled.
			eng = newEng()
			go func() { runErr <- eng.Run(t.Context()) }()
			for store.count() < total {
				time.Sleep(10 * time.Millisecond)
			}
			// The shards end: wait for their shard-end checkpoints.
			for {
				n := 0
				for _, sh := range src.list {
					if cp, ok, _ := store.Load(t.Context(), "prop", sh.info.ID); ok && cp.ShardEnd {
						n++
					}
				}
				if n == len(src.list) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			require.NoError(t, eng.Shutdown(t.Context()))
			require.NoError(t, <-runErr)

			for key, seqs := range store.order {
				for i := 1; i < len(seqs); i++ {
					require.Negative(t, seqnum.Compare(seqs[i-1], seqs[i]), "key %s handled out of order: %v", key, seqs)
				}
			}
		})
	}
}
