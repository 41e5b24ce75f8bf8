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

// writeRate runs a 4-shard stream at rate records/s for a minute of fake time
// on the in-memory lease table and returns the checkpoint writes per shard
// per minute and the table's writes per minute (checkpoints plus renewals).
func writeRate(t *testing.T, rate int, interval time.Duration) (perShard float64, table int) {
	var cpWrites int
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		const shards = 4
		arn := k.MustCreateStream(t, "orders", shards)
		lt := shard.NewLeaseTable()
		store := &countingStore{LeaseStore: lt.Worker("a"), saves: map[string]int{}}
		eng, err := streamengine.NewKinesis(k, arn, "", streamengine.Settings{
			Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: store, CheckpointInterval: interval,
			PollInterval: time.Second, MinPollInterval: 200 * time.Millisecond,
		}, streamengine.Callbacks[events.KinesisEventRecord]{
			Invoke: func(context.Context, []events.KinesisEventRecord) streamengine.Result { return streamengine.Result{} },
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- eng.Run(t.Context()) }()
		time.Sleep(5 * time.Second) // leases taken, readers started
		writes0 := lt.Writes()
		store.mu.Lock()
		clear(store.saves)
		store.mu.Unlock()
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
		store.mu.Lock()
		for _, n := range store.saves {
			cpWrites += n
		}
		store.mu.Unlock()
		table = lt.Writes() - writes0
		require.NoError(t, eng.Shutdown(t.Context()))
		require.NoError(t, <-done)
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
