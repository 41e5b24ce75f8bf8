package streamengine

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/event"
	"github.com/lambdaesm/lambdaesm/shard"
)

// scriptedEvent is one event of a scripted subscription.
type scriptedEvent struct {
	seqs     []string
	cont     *string       // nil: the shard's last event
	caughtUp bool          // MillisBehindLatest 0
	after    time.Duration // the event comes this long after the one before
}

// script is what one subscribe call gets: an error, or events and then the
// end of the subscription (end: io.EOF or an error).
type script struct {
	err    error
	events []scriptedEvent
	end    error
}

// scriptedSource is a one-shard source whose subscriptions follow scripts,
// and which records where each subscription was asked to start.
type scriptedSource struct {
	*memSource
	mu      sync.Mutex
	scripts []script
	calls   []position
}

func (s *scriptedSource) subscribe(_ context.Context, _ string, pos position) (subscription[events.KinesisEventRecord], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, pos)
	if len(s.scripts) == 0 {
		return &scriptedSubscription{end: io.EOF, block: true}, nil
	}
	sc := s.scripts[0]
	s.scripts = s.scripts[1:]
	if sc.err != nil {
		return nil, sc.err
	}
	return &scriptedSubscription{events: sc.events, end: sc.end}, nil
}

type scriptedSubscription struct {
	events []scriptedEvent
	end    error
	block  bool // after the events, wait for the context
}

func (s *scriptedSubscription) next(ctx context.Context, into []events.KinesisEventRecord) (subEvent[events.KinesisEventRecord], error) {
	if len(s.events) == 0 {
		if s.block {
			<-ctx.Done()
			return subEvent[events.KinesisEventRecord]{}, ctx.Err()
		}
		return subEvent[events.KinesisEventRecord]{}, s.end
	}
	ev := s.events[0]
	s.events = s.events[1:]
	if ev.after > 0 {
		select {
		case <-time.After(ev.after):
		case <-ctx.Done():
			return subEvent[events.KinesisEventRecord]{}, ctx.Err()
		}
	}
	now := time.Now()
	recs := make([]ktypes.Record, len(ev.seqs))
	for i, seq := range ev.seqs {
		recs[i] = ktypes.Record{SequenceNumber: aws.String(seq), PartitionKey: aws.String("k"), Data: []byte(seq), ApproximateArrivalTimestamp: &now}
	}
	return subEvent[events.KinesisEventRecord]{
		recs:     event.KinesisRecords(into, recs, "shardId-0", "arn:aws:kinesis:us-east-1:000000000000:stream/mem", "us-east-1", ""),
		cont:     aws.ToString(ev.cont),
		ended:    ev.cont == nil,
		caughtUp: ev.caughtUp,
	}, nil
}

func (s *scriptedSubscription) close() {}

// The subscribe loop starts where the shard's position says, falls back from
// LATEST to its start marker until an event was handed on, subscribes again
// after the continuation of the last event handed on (also an empty one)
// when a subscription ends or fails, and ends the shard with the event
// without a continuation.
func TestSubscribeResumesFromTheLastEventHandedOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inUse := &smithy.GenericAPIError{Code: "ResourceInUseException", Message: "Another active subscription exists"}
		src := &scriptedSource{memSource: &memSource{list: []memShard{{info: shard.Info{ID: "shardId-0"}}}}, scripts: []script{
			{err: inUse},
			{events: []scriptedEvent{{seqs: []string{"11", "12"}, cont: aws.String("12")}, {cont: aws.String("13")}}, end: io.EOF},
			{events: []scriptedEvent{{seqs: []string{"14"}, cont: aws.String("14")}}, end: errors.New("connection reset")},
			{events: []scriptedEvent{{seqs: []string{"15"}}}},
		}}
		var mu sync.Mutex
		var got []string
		store := shard.NewMemoryStore()
		set := Settings{Mapping: "m", StartingPosition: "LATEST", Store: store, CheckpointInterval: -1}
		eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/mem/consumer/c:1", set, Callbacks[events.KinesisEventRecord]{
			Invoke: func(_ context.Context, batch []events.KinesisEventRecord) Result {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range batch {
					got = append(got, r.Kinesis.SequenceNumber)
				}
				return Result{}
			},
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- eng.Run(t.Context()) }()
		require.Eventually(t, func() bool {
			cp, ok, _ := store.Load(t.Context(), "m", "shardId-0")
			return ok && cp.ShardEnd
		}, time.Minute, 10*time.Millisecond)
		require.NoError(t, eng.Shutdown(t.Context()))
		require.NoError(t, <-done)

		require.Equal(t, []string{"11", "12", "14", "15"}, got, "every record once, in order")
		src.mu.Lock()
		defer src.mu.Unlock()
		require.Len(t, src.calls, 4)
		require.Equal(t, "LATEST", src.calls[0].Type)
		marker := src.calls[0].Time
		require.False(t, marker.IsZero())
		require.Equal(t, eng.resume(marker), src.calls[1], "no event handed on yet: resume from LATEST's start marker")
		require.Equal(t, position{Type: "AFTER_SEQUENCE_NUMBER", Seq: "13"}, src.calls[2], "after the last continuation, of an event without records too")
		require.Equal(t, position{Type: "AFTER_SEQUENCE_NUMBER", Seq: "14"}, src.calls[3], "after a failed subscription, from its last event")
	})
}

// windowCount counts a window mapping's invocations: records and final ones.
type windowCount struct {
	mu     sync.Mutex
	finals int
	recs   int
}

func (w *windowCount) invoke(_ context.Context, c WindowCall, batch []events.KinesisEventRecord) WindowResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.Final {
		w.finals++
	}
	w.recs += len(batch)
	return WindowResult{State: map[string]string{"n": "x"}}
}

func (w *windowCount) get() (finals, recs int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.finals, w.recs
}

// Tumbling windows close on enhanced fan-out as with GetRecords: at the
// shard's last event (then SHARD_END is written and children may start),
// and on an open shard once an event says it caught up and the window's
// end has passed.
func TestFanOutClosesWindows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script script
		ended  bool
	}{
		{name: "shard end", ended: true, script: script{events: []scriptedEvent{
			{seqs: []string{"11", "12"}, cont: aws.String("12")}, {seqs: []string{"13"}}}}},
		{name: "idle shard", script: script{end: io.EOF, events: []scriptedEvent{
			{seqs: []string{"11"}, cont: aws.String("11")},
			{cont: aws.String("11"), caughtUp: true}, {cont: aws.String("11"), caughtUp: true, after: 2 * time.Minute}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &scriptedSource{memSource: &memSource{list: []memShard{{info: shard.Info{ID: "shardId-0"}}}}, scripts: []script{tc.script}}
				store := shard.NewMemoryStore()
				w := &windowCount{}
				set := Settings{Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: store, CheckpointInterval: -1, TumblingWindow: time.Minute}
				eng, err := newEngine[events.KinesisEventRecord](src, "arn:aws:kinesis:us-east-1:000000000000:stream/mem/consumer/c:1", set,
					Callbacks[events.KinesisEventRecord]{InvokeWindow: w.invoke})
				require.NoError(t, err)
				done := make(chan error, 1)
				go func() { done <- eng.Run(t.Context()) }()
				time.Sleep(30 * time.Minute)
				synctest.Wait()
				cp, _, err := store.Load(t.Context(), "m", "shardId-0")
				require.NoError(t, err)
				require.NoError(t, eng.Shutdown(t.Context()))
				require.NoError(t, <-done)
				finals, _ := w.get()
				require.Equal(t, 1, finals, "the window's final invocation")
				require.Equal(t, tc.ended, cp.ShardEnd, "SHARD_END recorded")
			})
		})
	}
}
