package streamengine_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// delivered collects what a handler saw, by a record's own key.
type delivered struct {
	mu   sync.Mutex
	keys map[string]bool
	fail bool // the handler fails every batch
}

func (d *delivered) take(keys []string) streamengine.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return streamengine.Result{Err: errors.New("handler bug")}
	}
	if d.keys == nil {
		d.keys = map[string]bool{}
	}
	for _, k := range keys {
		d.keys[k] = true
	}
	return streamengine.Result{}
}

func (d *delivered) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.keys)
}

// runFor runs a mapping, calls during (if any) a second in, lets d of fake
// time pass, then shuts it down and returns Run's error.
func runFor(t *testing.T, run func(context.Context) error, shutdown func(context.Context) error, d time.Duration, during func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run(t.Context()) }()
	time.Sleep(time.Second)
	if during != nil {
		during()
	}
	time.Sleep(d)
	require.NoError(t, shutdown(t.Context()))
	return <-done
}

func streamSettings(store shard.Store, position string, at time.Time) streamengine.Settings {
	return streamengine.Settings{
		Mapping: "m", StartingPosition: position, StartingTimestamp: at, Store: store,
		Policy: &retry.Policy{MaximumRetryAttempts: retry.Infinite},
	}
}

// A consumer whose handler fails from the start is restarted with a fix:
// every record written after it first started is delivered. (Before, the
// restart resolved LATEST again and all of them were lost.)
func TestLatestKeptAcrossRestartKinesis(t *testing.T) {
	for _, position := range []string{"LATEST", "AT_TIMESTAMP"} {
		t.Run(position, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := esmtest.NewKinesis()
				arn := k.MustCreateStream(t, "orders", 2)
				for i := range 5 {
					k.Put(t, "orders", "old"+strconv.Itoa(i), []byte("before the mapping"))
				}
				time.Sleep(time.Minute)
				store := shard.NewMemoryStore()
				d := &delivered{fail: true}
				start := func(at time.Time) (*streamengine.Engine[events.KinesisEventRecord], error) {
					return streamengine.NewKinesis(k, arn, "", streamSettings(store, position, at), streamengine.Callbacks[events.KinesisEventRecord]{
						Invoke: func(_ context.Context, batch []events.KinesisEventRecord) streamengine.Result {
							keys := make([]string, len(batch))
							for i, r := range batch {
								keys[i] = r.Kinesis.PartitionKey
							}
							return d.take(keys)
						},
					})
				}
				first, err := start(time.Now())
				require.NoError(t, err)
				require.NoError(t, runFor(t, first.Run, first.Shutdown, 3*time.Second, func() {
					for i := range 12 {
						k.Put(t, "orders", "k"+strconv.Itoa(i), []byte("after"))
					}
				}))
				require.Zero(t, d.count())

				// The fix is deployed an hour later; an AT_TIMESTAMP
				// recomputed at this start must not move the position.
				time.Sleep(time.Hour)
				d.fail = false
				second, err := start(time.Now())
				require.NoError(t, err)
				require.NoError(t, runFor(t, second.Run, second.Shutdown, 10*time.Second, nil))
				require.Equal(t, 12, d.count(), "every record written after the mapping first started is delivered, none before")
			})
		})
	}
}

func TestLatestKeptAcrossRestartDynamoDB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ds := esmtest.NewDynamoDBStreams()
		arn := ds.MustCreateStream(t, "orders", dbtypes.StreamViewTypeNewImage, "id")
		put := func(id string) {
			require.NoError(t, ds.PutItem("orders", map[string]dbtypes.AttributeValue{"id": &dbtypes.AttributeValueMemberS{Value: id}}))
		}
		for i := range 5 {
			put("old" + strconv.Itoa(i))
		}
		time.Sleep(2 * time.Minute) // older than the marker's minute
		store := shard.NewMemoryStore()
		d := &delivered{fail: true}
		start := func() *streamengine.Engine[events.DynamoDBEventRecord] {
			eng, err := streamengine.NewDynamoDB(ds, arn, streamSettings(store, "LATEST", time.Time{}), streamengine.Callbacks[events.DynamoDBEventRecord]{
				Invoke: func(_ context.Context, batch []events.DynamoDBEventRecord) streamengine.Result {
					keys := make([]string, len(batch))
					for i, r := range batch {
						keys[i] = r.Change.Keys["id"].String()
					}
					return d.take(keys)
				},
			})
			require.NoError(t, err)
			return eng
		}
		first := start()
		require.NoError(t, runFor(t, first.Run, first.Shutdown, 3*time.Second, func() {
			for i := range 12 {
				put("k" + strconv.Itoa(i))
			}
		}))
		require.Zero(t, d.count())
		time.Sleep(time.Hour)
		d.fail = false
		second := start()
		require.NoError(t, runFor(t, second.Run, second.Shutdown, 10*time.Second, nil))
		require.Equal(t, 12, d.count(), "every record written after the mapping first started is delivered, none before")
	})
}

// flakyStore fails its saves while broken is set.
type flakyStore struct {
	*shard.MemoryStore
	mu     sync.Mutex
	broken error
	saves  int
}

func (s *flakyStore) Save(ctx context.Context, m, id string, cp shard.Checkpoint) error {
	s.mu.Lock()
	err := s.broken
	s.saves++
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.MemoryStore.Save(ctx, m, id, cp)
}

func (s *flakyStore) set(err error) {
	s.mu.Lock()
	s.broken = err
	s.mu.Unlock()
}

// checkpointHooks counts checkpoint hook calls.
type checkpointHooks struct {
	mu       sync.Mutex
	failed   []error
	written  int
	polled   int
	finished int
}

func (h *checkpointHooks) OnCheckpointFailed(_ lambdaesm.Source, err error) {
	h.mu.Lock()
	h.failed = append(h.failed, err)
	h.mu.Unlock()
}

func (h *checkpointHooks) OnCheckpointWritten(lambdaesm.Source, string) {
	h.mu.Lock()
	h.written++
	h.mu.Unlock()
}

func (h *checkpointHooks) OnRecordsPolled(_ lambdaesm.Source, n int) {
	h.mu.Lock()
	h.polled += n
	h.mu.Unlock()
}

// A checkpoint store that fails is reported through the hooks and Health, the
// shard takes no new records meanwhile, and all resumes when it heals.
func TestCheckpointFailuresVisible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 1)
		store := &flakyStore{MemoryStore: shard.NewMemoryStore()}
		hooks := &checkpointHooks{}
		set := streamSettings(store, "TRIM_HORIZON", time.Time{})
		set.Hooks = []lambdaesm.Hook{hooks}
		var handled sync.Map
		eng, err := streamengine.NewKinesis(k, arn, "", set, streamengine.Callbacks[events.KinesisEventRecord]{
			Invoke: func(_ context.Context, batch []events.KinesisEventRecord) streamengine.Result {
				for _, r := range batch {
					handled.Store(r.Kinesis.PartitionKey, true)
				}
				return streamengine.Result{}
			},
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- eng.Run(t.Context()) }()
		k.Put(t, "orders", "a", []byte("1"))
		time.Sleep(3 * time.Second)
		require.Empty(t, eng.Health().Failing)
		require.False(t, eng.Health().LastCheckpoint.IsZero())

		store.set(errors.New("disk full"))
		k.Put(t, "orders", "b", []byte("2"))
		time.Sleep(5 * time.Second)
		h := eng.Health()
		require.Equal(t, []string{"shardId-000000000000"}, h.Failing)
		require.ErrorContains(t, h.LastError, "disk full")
		hooks.mu.Lock()
		require.NotEmpty(t, hooks.failed, "the failure reaches the hooks")
		polledWhileBroken := hooks.polled
		hooks.mu.Unlock()
		k.Put(t, "orders", "c", []byte("3"))
		time.Sleep(10 * time.Second)
		_, got := handled.Load("c")
		require.False(t, got, "no new records are taken while checkpoints fail")
		hooks.mu.Lock()
		require.Equal(t, polledWhileBroken, hooks.polled, "the shard is not read while checkpoints fail")
		hooks.mu.Unlock()

		store.set(nil)
		time.Sleep(40 * time.Second) // the retry backoff
		_, got = handled.Load("c")
		require.True(t, got, "reading resumes once a checkpoint is written")
		require.Empty(t, eng.Health().Failing)
		require.NoError(t, eng.Shutdown(t.Context()))
		require.NoError(t, <-done)
		cp, _, _ := store.Load(t.Context(), "m", "shardId-000000000000")
		require.NotEmpty(t, cp.SequenceNumber)
	})
}

// A store that no retry can heal ends Run with its error, at start-up and
// while running, instead of retrying forever.
func TestUnusableStoreEndsRun(t *testing.T) {
	t.Run("at start-up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := esmtest.NewKinesis()
			arn := k.MustCreateStream(t, "orders", 1)
			store := &flakyStore{MemoryStore: shard.NewMemoryStore()}
			store.set(fmt.Errorf("%w: read-only file system", shard.ErrStoreUnusable))
			eng, err := streamengine.NewKinesis(k, arn, "", streamSettings(store, "LATEST", time.Time{}), streamengine.Callbacks[events.KinesisEventRecord]{
				Invoke: func(context.Context, []events.KinesisEventRecord) streamengine.Result { return streamengine.Result{} },
			})
			require.NoError(t, err)
			err = eng.Run(t.Context())
			require.ErrorIs(t, err, shard.ErrStoreUnusable)
		})
	})
	t.Run("while running", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := esmtest.NewKinesis()
			arn := k.MustCreateStream(t, "orders", 1)
			store := &flakyStore{MemoryStore: shard.NewMemoryStore()}
			eng, err := streamengine.NewKinesis(k, arn, "", streamSettings(store, "TRIM_HORIZON", time.Time{}), streamengine.Callbacks[events.KinesisEventRecord]{
				Invoke: func(context.Context, []events.KinesisEventRecord) streamengine.Result { return streamengine.Result{} },
			})
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- eng.Run(t.Context()) }()
			time.Sleep(2 * time.Second)
			store.set(fmt.Errorf("%w: permission denied", shard.ErrStoreUnusable))
			k.Put(t, "orders", "a", []byte("1"))
			err = <-done
			require.ErrorIs(t, err, shard.ErrStoreUnusable)
			require.ErrorContains(t, eng.Health().LastError, "permission denied")
		})
	})
}

// One 500 at start-up (after the SDK's own retries) no longer ends Run: the
// check is retried and the records are read.
func TestStartupSurvivesTransientErrors(t *testing.T) {
	for _, op := range []string{"DescribeStreamSummary", "ListShards"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := esmtest.NewKinesis()
				arn := k.MustCreateStream(t, "orders", 1)
				k.Put(t, "orders", "a", []byte("1"))
				k.Faults.FailNext(op, 3, esmtest.ServerError(500))
				d := &delivered{}
				eng, err := streamengine.NewKinesis(k, arn, "", streamSettings(shard.NewMemoryStore(), "TRIM_HORIZON", time.Time{}), streamengine.Callbacks[events.KinesisEventRecord]{
					Invoke: func(_ context.Context, batch []events.KinesisEventRecord) streamengine.Result {
						return d.take([]string{batch[0].Kinesis.PartitionKey})
					},
				})
				require.NoError(t, err)
				require.NoError(t, runFor(t, eng.Run, eng.Shutdown, 30*time.Second, nil))
				require.Equal(t, 1, d.count())
				require.Equal(t, 4, k.Faults.Calls(op), "retried after each failure")
			})
		})
	}
	t.Run("not found ends Run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := esmtest.NewKinesis()
			eng, err := streamengine.NewKinesis(k, "arn:aws:kinesis:us-east-1:000000000000:stream/missing", "", streamSettings(shard.NewMemoryStore(), "TRIM_HORIZON", time.Time{}), streamengine.Callbacks[events.KinesisEventRecord]{
				Invoke: func(context.Context, []events.KinesisEventRecord) streamengine.Result { return streamengine.Result{} },
			})
			require.NoError(t, err)
			require.ErrorContains(t, eng.Run(t.Context()), "Stream not found: arn:aws:kinesis:us-east-1:000000000000:stream/missing")
		})
	})
}
