package esm_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Health says whether a mapping runs and reads, for a readiness probe, and
// names a failing source.
func TestHealth(t *testing.T) {
	t.Run("sqs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := esmtest.NewSQS()
			_, arn := q.MustCreateQueue(t, "orders", nil)
			m, err := esm.NewSQSMapping(esm.Config{EventSourceArn: arn}, q,
				esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }), esm.WithLongPoll(time.Second))
			require.NoError(t, err)
			require.False(t, m.Health().Healthy(), "not running yet")
			stop := start(t, m)
			time.Sleep(3 * time.Second)
			require.True(t, m.Health().Healthy())
			q.Faults.FailAlways("ReceiveMessage", esmtest.ServerError(500))
			time.Sleep(3 * time.Second)
			require.Error(t, m.Health().LastError, "a failing receive is reported")
			q.Faults.Clear("ReceiveMessage")
			stop()
			require.False(t, m.Health().Running)
		})
	})
	t.Run("kinesis", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := esmtest.NewKinesis()
			arn := k.MustCreateStream(t, "orders", 1)
			m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.Latest}, k,
				esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil }), esm.WithStore(shard.NewMemoryStore()))
			require.NoError(t, err)
			stop := start(t, m)
			time.Sleep(3 * time.Second)
			h := m.Health()
			require.True(t, h.Healthy(), "%+v", h)
			stop()
			require.False(t, m.Health().Running)
		})
	})
}

// failureHooks records checkpoint failures.
type failureHooks struct {
	mu     sync.Mutex
	failed []error
}

func (h *failureHooks) OnCheckpointFailed(_ lambdaesm.Source, err error) {
	h.mu.Lock()
	h.failed = append(h.failed, err)
	h.mu.Unlock()
}

// The default file store in a directory that cannot be written (here a path
// that became a regular file, which fails for root as well as for others) is
// reported through the hooks and Health, and Run returns the error instead
// of retrying forever; records are delivered again after a restart.
func TestUnwritableCheckpointDirectory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 1)
		dir := filepath.Join(t.TempDir(), "checkpoints")
		hooks := &failureHooks{}
		m, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon}, k,
			esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil }),
			esm.WithStore(shard.NewFileStore(dir)), esm.WithHooks(hooks))
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- m.Run(t.Context()) }()
		k.Put(t, arn, "a", []byte("1"))
		time.Sleep(3 * time.Second)
		require.True(t, m.Health().Healthy())
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.WriteFile(dir, nil, 0o644)) // the directory is gone: writes fail
		k.Put(t, arn, "b", []byte("2"))
		err = <-done
		require.ErrorIs(t, err, shard.ErrStoreUnusable)
		h := m.Health()
		require.False(t, h.Running)
		require.ErrorIs(t, h.LastError, shard.ErrStoreUnusable)
		require.Equal(t, []string{"shardId-000000000000"}, h.CheckpointFailing)
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		require.NotEmpty(t, hooks.failed)
		require.ErrorIs(t, hooks.failed[0], shard.ErrStoreUnusable)
	})
}
