package esm_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// eventLog is a hook that hears of every event and counts them by name.
type eventLog struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *eventLog) add(name string, k int) {
	l.mu.Lock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[name] += k
	l.mu.Unlock()
}

func (l *eventLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[name]
}

func (l *eventLog) OnRecordsPolled(_ lambdaesm.Source, n int)     { l.add("polled", n) }
func (l *eventLog) OnBatchInvoked(lambdaesm.Invocation)           { l.add("invoked", 1) }
func (l *eventLog) OnIteratorAge(lambdaesm.Source, time.Duration) { l.add("age", 1) }
func (l *eventLog) OnCheckpointWritten(lambdaesm.Source, string)  { l.add("checkpoint", 1) }
func (l *eventLog) OnShardStarted(lambdaesm.Source, string)       { l.add("started", 1) }
func (l *eventLog) OnShardEnded(lambdaesm.Source)                 { l.add("ended", 1) }
func (l *eventLog) OnLeaseAcquired(lambdaesm.Source)              { l.add("acquired", 1) }
func (l *eventLog) OnLeaseLost(lambdaesm.Source)                  { l.add("lost", 1) }
func (l *eventLog) OnBatchRetried(_ lambdaesm.Source, _, _ int)   { l.add("retried", 1) }
func (l *eventLog) OnBatchSplit(lambdaesm.Source, int)            { l.add("split", 1) }
func (l *eventLog) OnRecordsDropped(_ lambdaesm.Source, n int, _ lambdaesm.Condition) {
	l.add("dropped", n)
}

// Two hooks listen at once, metrics-like and a test's progress waiter, and
// each hears every event it implements; the new events (shards, leases,
// retries, splits, checkpoints) are reported.
func TestHooksCompose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 1)
		for _, d := range []string{"ok", "ok", "poison", "ok"} {
			k.Put(t, arn, "key", []byte(d))
		}
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			for _, r := range ev.Records {
				if string(r.Kinesis.Data) == "poison" {
					return errors.New("poison")
				}
			}
			return nil
		})
		log, progress := &eventLog{}, &esmtest.Progress{}
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BisectBatchOnFunctionError: true, MaximumRetryAttempts: new(1)}
		leases := shard.NewLeaseTable()
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(leases.Worker("me")), esm.WithHooks(log), esm.WithHooks(progress),
			esm.WithRetryBackoff(retry.Backoff{Initial: time.Second}))
		require.NoError(t, err)
		stop := start(t, m)
		progress.WaitFinished(t, 4, time.Minute)
		k.MustSplitShard(t, arn, "shardId-000000000000")
		k.Put(t, arn, "key", []byte("ok"))
		progress.WaitFinished(t, 5, time.Minute)
		time.Sleep(5 * time.Second)
		stop()

		handled, dropped, _, invocations, failures := progress.Counts()
		require.Equal(t, 4, handled)
		require.Equal(t, 1, dropped)
		require.Equal(t, invocations, log.count("invoked"), "both hooks hear every invocation")
		require.Positive(t, failures)
		require.Equal(t, 1, log.count("dropped"))
		require.Equal(t, 5, log.count("polled"))
		require.Positive(t, log.count("split"), "bisect is reported")
		require.Positive(t, log.count("retried"), "the retry is reported")
		require.Positive(t, log.count("checkpoint"))
		require.Equal(t, 3, log.count("started"), "the parent and both children")
		require.Equal(t, 1, log.count("ended"), "the parent read to its end")
		require.Equal(t, 3, log.count("acquired"), "a lease for each shard")
		require.Equal(t, 1, log.count("lost"), "the ended parent's lease is gone")
	})
}
