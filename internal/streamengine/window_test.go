package streamengine_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// windowCall is one tumbling-window invocation as the handler saw it.
type windowCall struct {
	at           time.Time // when it was made
	shardID      string
	start, end   time.Time
	records      []string // the records' data
	state        map[string]string
	final, early bool
	failed       bool // the handler made it fail
}

// counter is a window handler that counts the records of each window in
// state["n"] and appends their data to state["seen"]; respond, when set,
// sees each call and the response counting made, and returns the response.
type counter struct {
	mu      sync.Mutex
	calls   []windowCall
	respond func(c windowCall, res streamengine.WindowResult) streamengine.WindowResult
}

func (c *counter) invoke(_ context.Context, w streamengine.WindowCall, batch []events.KinesisEventRecord) streamengine.WindowResult {
	call := windowCall{at: time.Now(), shardID: w.ShardID, start: w.Start, end: w.End, state: maps.Clone(w.State), final: w.Final, early: w.TerminatedEarly}
	for _, r := range batch {
		call.records = append(call.records, string(r.Kinesis.Data))
	}
	res := streamengine.WindowResult{State: map[string]string{}}
	if !w.Final {
		st := w.State // a copy: changing it is what handlers do
		n, _ := strconv.Atoi(st["n"])
		st["n"] = strconv.Itoa(n + len(batch))
		st["seen"] += strings.Join(call.records, "")
		res.State = st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.respond != nil {
		res = c.respond(call, res)
	}
	call.failed = res.Err != nil || res.State == nil
	c.calls = append(c.calls, call)
	return res
}

func (c *counter) all() []windowCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]windowCall(nil), c.calls...)
}

// finals are the successful final invocations.
func (c *counter) finals() []windowCall {
	var out []windowCall
	for _, call := range c.all() {
		if call.final && !call.failed {
			out = append(out, call)
		}
	}
	return out
}

// t0 is where a synctest bubble's clock starts: windows are aligned on it.
var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// windowEngine runs a 60-second tumbling window mapping of the stream "s"
// from TRIM_HORIZON, checkpointing after every batch.
func windowEngine(t *testing.T, k *esmtest.Kinesis, arn string, store shard.Store, c *counter, tune func(*streamengine.Settings)) *streamengine.Engine[events.KinesisEventRecord] {
	t.Helper()
	set := streamengine.Settings{
		Mapping: "m", StartingPosition: "TRIM_HORIZON", Store: store, TumblingWindow: time.Minute,
		CheckpointInterval: -1, Policy: &retry.Policy{MaximumRetryAttempts: retry.Infinite},
	}
	if tune != nil {
		tune(&set)
	}
	eng, err := streamengine.NewKinesis(k, arn, "", set, streamengine.Callbacks[events.KinesisEventRecord]{InvokeWindow: c.invoke})
	require.NoError(t, err)
	return eng
}

// start runs eng until the returned function stops it and returns Run's
// error.
func start(t *testing.T, eng *streamengine.Engine[events.KinesisEventRecord]) (stop func() error) {
	done := make(chan error, 1)
	go func() { done <- eng.Run(t.Context()) }()
	return func() error {
		require.NoError(t, eng.Shutdown(t.Context()))
		return <-done
	}
}

// sleepUntil sleeps until t0+d.
func sleepUntil(d time.Duration) { time.Sleep(time.Until(t0.Add(d))) }

// Records go to the epoch-aligned window of their arrival time, a record
// arriving exactly at a window's end opens the next one, each invocation
// gets the state the previous one of its window returned ({} first), and a
// window's final invocation carries the whole window's state and no
// records.
func TestWindowBoundariesAndStateCarryOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		store := shard.NewMemoryStore()
		c := &counter{}
		stop := start(t, windowEngine(t, k, arn, store, c, nil))
		sleepUntil(10 * time.Second)
		k.Put(t, "s", "k", []byte("a"))
		sleepUntil(15 * time.Second)
		k.Put(t, "s", "k", []byte("b"))
		sleepUntil(59*time.Second + 999*time.Millisecond)
		k.Put(t, "s", "k", []byte("c"))
		sleepUntil(time.Minute) // exactly the end of the first window
		k.Put(t, "s", "k", []byte("d"))
		sleepUntil(3 * time.Minute)
		require.NoError(t, stop())

		w1, w2 := t0, t0.Add(time.Minute)
		var got []string
		for _, call := range c.all() {
			require.Equal(t, "shardId-000000000000", call.shardID)
			require.Equal(t, call.start.Add(time.Minute), call.end)
			require.False(t, call.early)
			got = append(got, call.start.Format("15:04:05")+" "+strings.Join(call.records, "")+" "+call.state["n"]+"/"+call.state["seen"]+" final="+strconv.FormatBool(call.final))
		}
		require.Equal(t, []string{
			"00:00:00 a / final=false",   // the window's first invocation: state {}
			"00:00:00 b 1/a final=false", // the state the previous one returned
			"00:00:00 c 2/ab final=false",
			"00:00:00  3/abc final=true", // a record of the next window closed it
			"00:01:00 d / final=false",   // a fresh state in the next window
			"00:01:00  1/d final=true",   // closed on the idle shard
		}, got)
		require.True(t, c.all()[3].start.Equal(w1))
		require.True(t, c.all()[4].start.Equal(w2))
		require.NotNil(t, c.all()[0].state, "the first state is {}, not null")

		cp, _, err := store.Load(t.Context(), "m", "shardId-000000000000")
		require.NoError(t, err)
		require.Nil(t, cp.Window, "both windows closed: no state left in the checkpoint")
	})
}

// A window closes on an idle shard, with no new record: its final
// invocation comes a few seconds after the window's end.
func TestWindowFinalOnIdleShard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		c := &counter{}
		stop := start(t, windowEngine(t, k, arn, shard.NewMemoryStore(), c, nil))
		sleepUntil(30 * time.Second)
		k.Put(t, "s", "k", []byte("a"))
		sleepUntil(59 * time.Second)
		require.Empty(t, c.finals(), "the window is still open")
		sleepUntil(2 * time.Minute)
		require.NoError(t, stop())
		finals := c.finals()
		require.Len(t, finals, 1)
		require.Equal(t, map[string]string{"n": "1", "seen": "a"}, finals[0].state)
		require.Empty(t, finals[0].records)
		require.True(t, finals[0].start.Equal(t0))
		// After the end, within the close delay and a poll.
		require.False(t, finals[0].at.Before(t0.Add(time.Minute)), finals[0].at)
		require.True(t, finals[0].at.Before(t0.Add(time.Minute+8*time.Second)), finals[0].at)
	})
}

// A state larger than 1 MB ends the window early: a final invocation with
// that state and isWindowTerminatedEarly, then the window goes on with a
// fresh state, and closes normally at its end.
func TestWindowTerminatedEarlyAt1MB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		store := shard.NewMemoryStore()
		c := &counter{}
		big := strings.Repeat("x", 1<<20)
		c.respond = func(call windowCall, res streamengine.WindowResult) streamengine.WindowResult {
			if len(call.records) == 1 && call.records[0] == "big" {
				res.State["blob"] = big
			}
			return res
		}
		stop := start(t, windowEngine(t, k, arn, store, c, nil))
		sleepUntil(10 * time.Second)
		k.Put(t, "s", "k", []byte("a"))
		sleepUntil(20 * time.Second)
		k.Put(t, "s", "k", []byte("big"))
		sleepUntil(30 * time.Second)
		cp, _, err := store.Load(t.Context(), "m", "shardId-000000000000")
		require.NoError(t, err)
		require.Equal(t, map[string]string{}, cp.Window.State, "the checkpoint holds the fresh state, never the one beyond the limit")
		k.Put(t, "s", "k", []byte("c"))
		sleepUntil(2 * time.Minute)
		require.NoError(t, stop())

		var got []string
		for _, call := range c.all() {
			require.True(t, call.start.Equal(t0), "one window")
			got = append(got, strings.Join(call.records, "")+" n="+call.state["n"]+" blob="+strconv.Itoa(len(call.state["blob"]))+
				" final="+strconv.FormatBool(call.final)+" early="+strconv.FormatBool(call.early))
		}
		require.Equal(t, []string{
			"a n= blob=0 final=false early=false",
			"big n=1 blob=0 final=false early=false",
			" n=2 blob=1048576 final=true early=true", // the state beyond 1 MB, for the handler to flush
			"c n= blob=0 final=false early=false",     // the same window, a fresh state
			" n=1 blob=0 final=true early=false",      // its end
		}, got)
	})
}

// A failed final invocation (an error, or a response without a state) is
// retried until it succeeds, whatever MaximumRetryAttempts says; until then
// the checkpoint keeps the window and its state, and no record of the next
// window is invoked.
func TestWindowFinalFailureIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		store := shard.NewMemoryStore()
		c := &counter{}
		failures := 0
		c.respond = func(call windowCall, res streamengine.WindowResult) streamengine.WindowResult {
			if !call.final || failures >= 4 {
				return res
			}
			failures++
			if failures%2 == 0 {
				return streamengine.WindowResult{} // no state: a failed invocation
			}
			return streamengine.WindowResult{Result: streamengine.Result{Err: errors.New("flush failed")}}
		}
		stop := start(t, windowEngine(t, k, arn, store, c, func(s *streamengine.Settings) {
			s.Policy = &retry.Policy{MaximumRetryAttempts: 0, Backoff: retry.Backoff{Initial: 10 * time.Second, Max: 10 * time.Second}}
		}))
		sleepUntil(10 * time.Second)
		_, seqA := k.Put(t, "s", "k", []byte("a"))
		sleepUntil(62 * time.Second)
		k.Put(t, "s", "k", []byte("b")) // next window: closes the first
		sleepUntil(80 * time.Second)
		cp, _, err := store.Load(t.Context(), "m", "shardId-000000000000")
		require.NoError(t, err)
		require.Equal(t, seqA, cp.SequenceNumber, "the checkpoint does not pass the window while its final invocation fails")
		require.NotNil(t, cp.Window, "the final invocation has not succeeded: the checkpoint keeps the window")
		require.True(t, cp.Window.Start.Equal(t0))
		require.Equal(t, map[string]string{"n": "1", "seen": "a"}, cp.Window.State)
		for _, call := range c.all() {
			require.True(t, call.start.Equal(t0), "nothing of the next window is invoked before the final invocation succeeded")
		}
		sleepUntil(3 * time.Minute)
		require.NoError(t, stop())

		calls := c.all()
		var finalsOfFirst int
		for i, call := range calls {
			if call.final && call.start.Equal(t0) {
				finalsOfFirst++
				require.Equal(t, map[string]string{"n": "1", "seen": "a"}, call.state, "every attempt has the window's state")
				require.Equal(t, finalsOfFirst <= 4, call.failed)
				continue
			}
			if call.start.Equal(t0.Add(time.Minute)) && !call.final {
				require.True(t, calls[i-1].final && !calls[i-1].failed && calls[i-1].start.Equal(t0),
					"the next window starts after the final invocation succeeded")
			}
		}
		require.Equal(t, 5, finalsOfFirst, "retried until it succeeded, MaximumRetryAttempts 0 notwithstanding")
		cp, _, err = store.Load(t.Context(), "m", "shardId-000000000000")
		require.NoError(t, err)
		require.Nil(t, cp.Window)
	})
}

// A window response that does not decode (undecodable, as invoke.Function
// reports it) has no state: Lambda "considers this a failed invocation",
// with or without ReportBatchItemFailures. The batch is tried again with the
// window's state as it was, never finished with the state reset.
func TestWindowUndecodableResponseFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		c := &counter{}
		calls := 0
		c.respond = func(call windowCall, res streamengine.WindowResult) streamengine.WindowResult {
			if call.final {
				return res
			}
			if calls++; calls == 2 {
				return streamengine.WindowResult{Result: streamengine.Result{Err: undecodable{}}}
			}
			return res
		}
		stop := start(t, windowEngine(t, k, arn, shard.NewMemoryStore(), c, func(s *streamengine.Settings) { s.BatchSize = 1 }))
		sleepUntil(time.Second)
		for _, d := range []string{"a", "b", "c"} {
			k.Put(t, "s", "k", []byte(d))
		}
		sleepUntil(3 * time.Minute)
		require.NoError(t, stop())
		var states []map[string]string
		for _, call := range c.all() {
			if !call.final {
				states = append(states, call.state)
			}
		}
		require.Equal(t, []map[string]string{{}, {"n": "1", "seen": "a"}, {"n": "1", "seen": "a"}, {"n": "2", "seen": "ab"}},
			states, "the failed invocation is tried again with the state it had")
		finals := c.finals()
		require.Len(t, finals, 1)
		require.Equal(t, map[string]string{"n": "3", "seen": "abc"}, finals[0].state)
	})
}

// A restart in the middle of a window, or a lease hand-off to another
// process, resumes its state from the checkpoint: the aggregate is not
// reset.
func TestWindowRestartKeepsState(t *testing.T) {
	t.Run("restart", func(t *testing.T) {
		store := shard.NewMemoryStore()
		testWindowResumes(t, store, store)
	})
	t.Run("hand-off", func(t *testing.T) {
		table := shard.NewLeaseTable()
		testWindowResumes(t, table.Worker("a"), table.Worker("b"))
	})
}

// testWindowResumes runs a window's first records through a mapping on
// first, stops it, and the rest through one on then.
func testWindowResumes(t *testing.T, first, then shard.Store) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		store := first
		c := &counter{}
		stop := start(t, windowEngine(t, k, arn, store, c, func(s *streamengine.Settings) { s.LeaseInterval = time.Second }))
		sleepUntil(10 * time.Second)
		k.Put(t, "s", "k", []byte("a"))
		sleepUntil(15 * time.Second)
		k.Put(t, "s", "k", []byte("b"))
		sleepUntil(20 * time.Second)
		require.NoError(t, stop())
		require.Empty(t, c.finals(), "stopping does not close the window")
		cp, _, err := store.Load(t.Context(), "m", "shardId-000000000000")
		require.NoError(t, err)
		require.Equal(t, &shard.Window{Start: t0, State: map[string]string{"n": "2", "seen": "ab"}}, cp.Window)

		// Another process (a new engine on the same store) takes over.
		c2 := &counter{}
		stop = start(t, windowEngine(t, k, arn, then, c2, func(s *streamengine.Settings) { s.LeaseInterval = time.Second }))
		sleepUntil(30 * time.Second)
		k.Put(t, "s", "k", []byte("c"))
		sleepUntil(2 * time.Minute)
		require.NoError(t, stop())
		calls := c2.all()
		require.Len(t, calls, 2)
		require.Equal(t, []string{"c"}, calls[0].records, "nothing is delivered again")
		require.Equal(t, map[string]string{"n": "2", "seen": "ab"}, calls[0].state, "the state before the restart")
		require.True(t, calls[1].final)
		require.Equal(t, map[string]string{"n": "3", "seen": "abc"}, calls[1].state)
	})
}

// A window that closed while the mapping was stopped is closed when it
// resumes: its final invocation comes first.
func TestWindowRestartAfterItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		store := shard.NewMemoryStore()
		c := &counter{}
		stop := start(t, windowEngine(t, k, arn, store, c, nil))
		sleepUntil(10 * time.Second)
		k.Put(t, "s", "k", []byte("a"))
		sleepUntil(20 * time.Second)
		require.NoError(t, stop())
		sleepUntil(5 * time.Minute)
		k.Put(t, "s", "k", []byte("b"))
		stop = start(t, windowEngine(t, k, arn, store, c, nil))
		sleepUntil(10 * time.Minute)
		require.NoError(t, stop())
		var got []string
		for _, call := range c.all() {
			got = append(got, call.start.Format("15:04")+" "+strings.Join(call.records, "")+" final="+strconv.FormatBool(call.final)+" "+call.state["seen"])
		}
		require.Equal(t, []string{"00:00 a final=false ", "00:00  final=true a", "00:05 b final=false ", "00:05  final=true b"}, got)
	})
}

// A split closes the parent's window when the parent ends, before its end
// time; the children start their own windows with a fresh state.
func TestWindowSplitClosesTheParentsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		store := shard.NewMemoryStore()
		c := &counter{}
		stop := start(t, windowEngine(t, k, arn, store, c, func(s *streamengine.Settings) {
			s.DiscoveryInterval = time.Second
		}))
		sleepUntil(5 * time.Second)
		parent, _ := k.Put(t, "s", "a", []byte("p1"))
		sleepUntil(10 * time.Second)
		k.Put(t, "s", "b", []byte("p2"))
		sleepUntil(15 * time.Second)
		lower, upper := k.MustSplitShard(t, "s", parent)
		sleepUntil(20 * time.Second)
		for i := range 8 {
			k.Put(t, "s", "key"+strconv.Itoa(i), []byte("c"+strconv.Itoa(i)))
		}
		sleepUntil(30 * time.Second)
		parentFinals := 0
		for _, call := range c.all() {
			if call.shardID == parent && call.final {
				parentFinals++
				require.Equal(t, map[string]string{"n": "2", "seen": "p1p2"}, call.state)
				require.True(t, call.start.Equal(t0), "the parent's window, closed at the shard's end")
			}
		}
		require.Equal(t, 1, parentFinals, "the parent's window closed before its end time")
		sleepUntil(3 * time.Minute)
		require.NoError(t, stop())

		firstOf := map[string]windowCall{}
		var parentFinalAt time.Time
		children := 0
		for _, call := range c.all() {
			switch call.shardID {
			case parent:
				if call.final {
					parentFinalAt = call.at
				}
			case lower, upper:
				if _, ok := firstOf[call.shardID]; !ok {
					firstOf[call.shardID] = call
				}
				children += len(call.records)
			default:
				t.Fatalf("unknown shard %s", call.shardID)
			}
		}
		require.Equal(t, 8, children)
		for id, first := range firstOf {
			require.Empty(t, first.state, "child %s starts with a fresh state", id)
			require.False(t, first.at.Before(parentFinalAt), "child %s invoked before the parent's window closed", id)
		}
		cp, _, err := store.Load(t.Context(), "m", parent)
		require.NoError(t, err)
		require.Equal(t, shard.Checkpoint{ShardEnd: true}, cp)
	})
}

// Inside a window, a partial batch response finishes the records before the
// failed one with the state it returned and retries the rest with that
// state; bisect halves carry the state from one to the next; records
// discarded after their retries leave the state as it was.
func TestWindowPartialBatchBisectAndDiscard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		c := &counter{}
		seqs := map[string]string{}
		c.respond = func(call windowCall, res streamengine.WindowResult) streamengine.WindowResult {
			switch strings.Join(call.records, ",") {
			case "a,b,c,d":
				// b failed: a is done (state n=1), the rest comes again.
				return streamengine.WindowResult{Result: streamengine.Result{ItemFailures: []string{seqs["b"]}},
					State: map[string]string{"n": "1", "seen": "a"}}
			case "b,c,d", "b":
				return streamengine.WindowResult{Result: streamengine.Result{Err: errors.New("b is poison")}}
			}
			return res
		}
		stop := start(t, windowEngine(t, k, arn, shard.NewMemoryStore(), c, func(s *streamengine.Settings) {
			s.BatchingWindow = 5 * time.Second
			s.Policy = &retry.Policy{MaximumRetryAttempts: 1, BisectBatchOnFunctionError: true, ReportBatchItemFailures: true}
		}))
		sleepUntil(10 * time.Second)
		// One PutRecords, so that a read sees the four records together
		// (the batching window started long before).
		data := []string{"a", "b", "c", "d"}
		entries := make([]ktypes.PutRecordsRequestEntry, len(data))
		for i, d := range data {
			entries[i] = ktypes.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte(d)}
		}
		c.mu.Lock() // respond reads seqs under it
		out, err := k.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries})
		require.NoError(t, err)
		for i, d := range data {
			seqs[d] = aws.ToString(out.Records[i].SequenceNumber)
		}
		c.mu.Unlock()
		sleepUntil(2 * time.Minute)
		require.NoError(t, stop())
		var got []string
		for _, call := range c.all() {
			got = append(got, strings.Join(call.records, ",")+" "+call.state["seen"]+" final="+strconv.FormatBool(call.final)+" failed="+strconv.FormatBool(call.failed))
		}
		require.Equal(t, []string{
			"a,b,c,d  final=false failed=false", // a partial batch response: a done with n=1
			"b,c,d a final=false failed=true",   // with a's state; bisected
			"b a final=false failed=true",
			"b a final=false failed=true", // retried once, then discarded
			"c,d a final=false failed=false",
			" acd final=true failed=false", // b was discarded: not in the state
		}, got)
	})
}

// A tumbling window needs a window invoker and one lane per shard.
func TestWindowSettingsRefused(t *testing.T) {
	k := esmtest.NewKinesis()
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	c := &counter{}
	plain := func(context.Context, []events.KinesisEventRecord) streamengine.Result { return streamengine.Result{} }
	for _, tc := range []struct {
		set  streamengine.Settings
		cb   streamengine.Callbacks[events.KinesisEventRecord]
		want string
	}{
		{streamengine.Settings{TumblingWindow: time.Minute}, streamengine.Callbacks[events.KinesisEventRecord]{Invoke: plain}, "InvokeWindow is required"},
		{streamengine.Settings{TumblingWindow: time.Minute, ParallelizationFactor: 2}, streamengine.Callbacks[events.KinesisEventRecord]{InvokeWindow: c.invoke}, "needs ParallelizationFactor 1"},
		{streamengine.Settings{TumblingWindow: 901 * time.Second}, streamengine.Callbacks[events.KinesisEventRecord]{InvokeWindow: c.invoke}, "outside 0-15m0s"},
		{streamengine.Settings{}, streamengine.Callbacks[events.KinesisEventRecord]{InvokeWindow: c.invoke}, "Callbacks.Invoke is required"},
	} {
		tc.set.Mapping = "m"
		_, err := streamengine.NewKinesis(k, arn, "", tc.set, tc.cb)
		require.ErrorContains(t, err, tc.want)
	}
}

// smallStore holds window states of at most 40 bytes of JSON.
type smallStore struct{ *shard.MemoryStore }

func (smallStore) MaxWindowState() int { return 40 }

// A store that holds less than 1 MB of state (shard.WindowStateLimiter, as
// dynamolease's 384 KB) ends windows early at its limit.
func TestWindowStoreLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		c := &counter{}
		stop := start(t, windowEngine(t, k, arn, smallStore{shard.NewMemoryStore()}, c, nil))
		for i, d := range []string{"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"} {
			sleepUntil(time.Duration(10*(i+1)) * time.Second)
			k.Put(t, "s", "k", []byte(d))
		}
		sleepUntil(2 * time.Minute)
		require.NoError(t, stop())
		var got []string
		for _, call := range c.all() {
			got = append(got, strings.Join(call.records, "")+" "+call.state["seen"]+" early="+strconv.FormatBool(call.early))
		}
		require.Equal(t, []string{
			"aaaaaaaaaa  early=false",                     // → {"n":"1","seen":"aaaaaaaaaa"}: 29 bytes
			"bbbbbbbbbb aaaaaaaaaa early=false",           // → 39 bytes
			"cccccccccc aaaaaaaaaabbbbbbbbbb early=false", // → 49 bytes: beyond the store's 40
			" aaaaaaaaaabbbbbbbbbbcccccccccc early=true",
			"  early=false", // the window's end, with the fresh state
		}, got)
	})
}
