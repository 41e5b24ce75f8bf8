package streamengine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// A batch may be handed to the handler as the page's own records, without a
// copy. Whatever a handler does to them, rewriting their fields or appending
// to the slice, must neither move the checkpoint nor reach the records of
// the next batch or of the other half of a bisected batch.
func TestHandlerChangesStayInItsBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 30, 1)
		src.list[0].open = true
		var want []string
		for _, r := range src.list[0].recs {
			want = append(want, *r.SequenceNumber)
		}
		store := shard.NewMemoryStore()
		var mu sync.Mutex
		var seen []string
		set := Settings{BatchSize: 10, ReadLimit: 30, Store: store, CheckpointInterval: -1,
			Policy: &retry.Policy{MaximumRetryAttempts: retry.Infinite, BisectBatchOnFunctionError: true}}
		eng := reviewEngine(t, src, set, func(_ context.Context, batch []events.KinesisEventRecord) Result {
			_ = append(batch, events.KinesisEventRecord{EventID: "appended", Kinesis: events.KinesisRecord{SequenceNumber: "1"}})
			if len(batch) == 10 {
				return Result{Err: errors.New("bisect me")}
			}
			mu.Lock()
			for _, r := range batch {
				seen = append(seen, r.Kinesis.SequenceNumber)
			}
			mu.Unlock()
			for i := range batch {
				batch[i].Kinesis.SequenceNumber = "1" // before every real one
				batch[i].EventID = "rewritten"
			}
			return Result{}
		})
		runDuring(t, eng, func() { time.Sleep(5 * time.Second) })
		require.Equal(t, want, seen, "every record arrives once, in order, as read")
		cp, ok, err := store.Load(t.Context(), "m", "shardId-0")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want[len(want)-1], cp.SequenceNumber, "the checkpoint is the last record's own sequence number")
	})
}

// With several lanes and records filtered out, a page's records are
// regrouped by lane and the response's array is converted into again by
// the next read: each kept record still arrives once, per key in order,
// with its own fields, whatever handlers do to their batches.
func TestRegroupedPagesKeepRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource(1, 200, 7)
		src.list[0].open = true
		want := map[string][]string{}
		for i, r := range src.list[0].recs {
			if i%4 != 3 {
				want[*r.PartitionKey] = append(want[*r.PartitionKey], *r.SequenceNumber)
			}
		}
		store := shard.NewMemoryStore()
		var mu sync.Mutex
		got := map[string][]string{}
		set := Settings{Mapping: "m", BatchSize: 4, ReadLimit: 30, ParallelizationFactor: 3, Store: store, CheckpointInterval: -1,
			PollInterval: time.Second, StartingPosition: "TRIM_HORIZON", Policy: &retry.Policy{MaximumRetryAttempts: retry.Infinite}}
		eng, err := newEngine[events.KinesisEventRecord](src, reviewARN, set, Callbacks[events.KinesisEventRecord]{
			Filter: func(r *events.KinesisEventRecord) bool {
				for i, rec := range src.list[0].recs {
					if *rec.SequenceNumber == r.Kinesis.SequenceNumber {
						return i%4 != 3
					}
				}
				return false
			},
			Invoke: func(_ context.Context, batch []events.KinesisEventRecord) Result {
				mu.Lock()
				for _, r := range batch {
					require.Equal(t, "shardId-0:"+r.Kinesis.SequenceNumber, r.EventID)
					got[r.Kinesis.PartitionKey] = append(got[r.Kinesis.PartitionKey], r.Kinesis.SequenceNumber)
				}
				mu.Unlock()
				_ = append(batch, events.KinesisEventRecord{EventID: "appended"})
				for i := range batch {
					batch[i].Kinesis.SequenceNumber = "1"
				}
				return Result{}
			},
		})
		require.NoError(t, err)
		runDuring(t, eng, func() { time.Sleep(5 * time.Second) })
		require.Equal(t, want, got)
		cp, ok, err := store.Load(t.Context(), "m", "shardId-0")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, *src.list[0].recs[199].SequenceNumber, cp.SequenceNumber)
	})
}
