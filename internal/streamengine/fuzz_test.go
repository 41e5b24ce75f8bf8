package streamengine

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/seqnum"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// FuzzEnginePolicies runs the whole engine with a random per-record failure
// pattern and a random policy (retry limit, bisect, partial batch responses,
// ParallelizationFactor, BatchSize): every record ends handled or discarded,
// a failing record is never handled successfully, each key's first
// successful handling is in order, and checkpoints are monotonic and never pass an
// unfinished record (checkingStore).
func FuzzEnginePolicies(f *testing.F) {
	f.Add(uint64(0b1000100), uint8(3), uint8(4), uint8(1), true, true)
	f.Add(uint64(1), uint8(0), uint8(10), uint8(7), false, true)
	f.Add(uint64(0xffff), uint8(1), uint8(1), uint8(1), true, false)
	f.Fuzz(func(t *testing.T, mask uint64, retries, batch, pf uint8, bisect, rbif bool) {
		synctest.Test(t, func(t *testing.T) {
			const n, keys = 64, 5
			src := newMemSource(1, n, keys)
			bad := func(seq string) bool {
				i, _ := strconv.Atoi(seq)
				return mask&(1<<uint((i-1_000_000_001)%64)) != 0
			}
			store := &checkingStore{t: t, inner: shard.NewMemoryStore(), handled: map[string]bool{}, dropped: map[string]bool{}, order: map[string][]string{}, src: src}
			set := Settings{
				Mapping: "fuzz", BatchSize: 1 + int(batch%20), ParallelizationFactor: 1 + int(pf%10), StartingPosition: "TRIM_HORIZON",
				Store: store,
				Policy: &retry.Policy{MaximumRetryAttempts: int(retries % 4), BisectBatchOnFunctionError: bisect, ReportBatchItemFailures: rbif,
					Backoff: retry.Backoff{Initial: time.Millisecond}},
			}
			eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/fuzz", set, Callbacks[events.KinesisEventRecord]{
				Invoke: func(_ context.Context, b []events.KinesisEventRecord) Result {
					for i, r := range b {
						if bad(r.Kinesis.SequenceNumber) {
							store.success(b[:i])
							if rbif {
								return Result{ItemFailures: []string{r.Kinesis.SequenceNumber}}
							}
							return Result{Err: errors.New("bad record")}
						}
					}
					store.success(b)
					return Result{}
				},
				OnDiscard: func(_ context.Context, d Discarded[events.KinesisEventRecord]) error {
					store.drop(d.Records)
					return nil
				},
			})
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- eng.Run(t.Context()) }()
			for {
				cp, ok, _ := store.Load(t.Context(), "fuzz", "shardId-0")
				if ok && cp.ShardEnd {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			require.NoError(t, eng.Shutdown(t.Context()))
			require.NoError(t, <-done)

			store.mu.Lock()
			defer store.mu.Unlock()
			for _, r := range src.list[0].recs {
				seq := *r.SequenceNumber
				require.True(t, store.handled[seq] || store.dropped[seq], "record %s neither handled nor discarded", seq)
				if bad(seq) {
					require.False(t, store.handled[seq], "a bad record never succeeds")
				}
			}
			for key, seqs := range store.order {
				for i := 1; i < len(seqs); i++ {
					require.Negative(t, seqnum.Compare(seqs[i-1], seqs[i]), "key %s out of order: %v", key, seqs)
				}
			}
		})
	})
}
