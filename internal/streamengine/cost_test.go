package streamengine_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/shard"
)

// countingStore counts the checkpoint writes that reach a store.
type countingStore struct {
	shard.LeaseStore
	mu    sync.Mutex
	saves map[string]int
}

func (s *countingStore) Save(ctx context.Context, m, id string, cp shard.Checkpoint) error {
	s.mu.Lock()
	s.saves[id]++
	s.mu.Unlock()
	return s.LeaseStore.Save(ctx, m, id, cp)
}

// load runs a stream of shards at rate records/s for a minute of fake time
// (after 5s in which leases are taken and readers start) with checkpoints
// in store, and returns how much count grew over that minute.
func load(t *testing.T, shards, rate int, store shard.Store, interval time.Duration, count func() int) int {
	t.Helper()
	k := esmtest.NewKinesis()
	arn := k.MustCreateStream(t, "orders", shards)
	eng, err := streamengine.NewKinesis(k, arn, "", streamengine.Settings{
		Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: store, CheckpointInterval: interval,
		PollInterval: time.Second, MinPollInterval: 200 * time.Millisecond,
	}, streamengine.Callbacks[events.KinesisEventRecord]{
		Invoke: func(_ context.Context, recs []events.KinesisEventRecord) streamengine.Result {
			// A millisecond per record: shards whose batches differ
			// finish them, and would checkpoint, at different times.
			time.Sleep(time.Duration(len(recs)) * time.Millisecond)
			return streamengine.Result{}
		},
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- eng.Run(t.Context()) }()
	time.Sleep(5 * time.Second)
	before := count()
	// Puts every 100ms, spread over the shards by key.
	const tick = 100 * time.Millisecond
	per := rate / 10
	for i := range int(time.Minute / tick) {
		entries := make([]ktypes.PutRecordsRequestEntry, per)
		for j := range entries {
			pk := strconv.Itoa(i*per + j)
			entries[j] = ktypes.PutRecordsRequestEntry{PartitionKey: &pk, Data: []byte("x")}
		}
		for len(entries) > 0 {
			n := min(len(entries), 500)
			_, err := k.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries[:n]})
			require.NoError(t, err)
			entries = entries[n:]
		}
		time.Sleep(tick)
	}
	grown := count() - before
	require.NoError(t, eng.Shutdown(t.Context()))
	require.NoError(t, <-done)
	return grown
}

// writeRate runs a 4-shard stream at rate records/s for a minute of fake time
// on the in-memory lease table and returns the checkpoint writes per shard
// per minute and the table's writes per minute (checkpoints plus renewals).
func writeRate(t *testing.T, rate int, interval time.Duration) (perShard float64, table int) {
	synctest.Test(t, func(t *testing.T) {
		const shards = 4
		lt := shard.NewLeaseTable()
		store := &countingStore{LeaseStore: lt.Worker("a"), saves: map[string]int{}}
		saves := func() int {
			store.mu.Lock()
			defer store.mu.Unlock()
			n := 0
			for _, c := range store.saves {
				n += c
			}
			return n
		}
		var cpWrites int
		table = load(t, shards, rate, store, interval, func() int {
			cpWrites = saves() - cpWrites // the second call leaves the minute's saves
			return lt.Writes()
		})
		perShard = float64(cpWrites) / shards
	})
	return perShard, table
}

// The lease table's bill: checkpoint writes per shard per minute at 250 and
// 2,500 records/s, with the default 1s checkpoint interval and with a write
// after every batch (what the engine did before the interval existed).
func TestLeaseTableWriteRate(t *testing.T) {
	for _, rate := range []int{250, 2500} {
		every, everyTable := writeRate(t, rate, -1)
		coalesced, table := writeRate(t, rate, 0)
		t.Logf("lease-table cost at %d records/s on 4 shards: %.0f checkpoint writes/shard/min and %d table writes/min after every batch; %.0f and %d with the 1s interval",
			rate, every, everyTable, coalesced, table)
		require.LessOrEqual(t, coalesced, 61.0, "at most one checkpoint write per shard per second")
		require.Less(t, coalesced, every)
	}
}

// The file store's bill: the checkpoints of a mapping's shards share one
// file write per checkpoint interval, since every shard writes on the same
// grid of the interval and the store writes the saves that meet in one
// write (the final checkpoints at shutdown aside).
func TestFileStoreWriteRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const shards = 16
		fs := shard.NewFileStore(t.TempDir())
		writes := load(t, shards, 2500, fs, 0, func() int { return int(fs.Writes()) })
		t.Logf("file store at 2,500 records/s on %d shards: %d file writes in a minute with the 1s interval (%d shards × 60 = %d without sharing)", shards, writes, shards, shards*60)
		require.LessOrEqual(t, writes, 61, "one write per interval for all shards")
	})
}
