package esm_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// A Kinesis mapping with a tumbling window, through the esmtest fake: the
// handler gets aws-lambda-go's time-window event (window, state, shardId,
// eventSourceARN, the flags), returns the state, and is called once more
// with no records when the window closes; a response without state fails
// the invocation, which is retried.
func TestKinesisWindowMapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now().UTC() // 2000-01-01T00:00:00Z in the bubble: a window's start
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "clicks", 1)
		store := shard.NewMemoryStore()
		var mu sync.Mutex
		var got []events.KinesisTimeWindowEvent
		noState := 1 // the first final invocation forgets its state
		h := esm.HandleKinesisWindow(func(_ context.Context, ev events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			raw, err := json.Marshal(ev) // what a function in Lambda would receive
			require.NoError(t, err)
			var seen events.KinesisTimeWindowEvent
			require.NoError(t, json.Unmarshal(raw, &seen))
			got = append(got, seen)
			if ev.IsFinalInvokeForWindow && noState > 0 {
				noState--
				return &events.KinesisTimeWindowEventResponse{}, nil
			}
			st := ev.State
			for _, r := range ev.Records {
				n, _ := strconv.Atoi(st[r.Kinesis.PartitionKey])
				st[r.Kinesis.PartitionKey] = strconv.Itoa(n + 1)
			}
			return &events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: st}}, nil
		})
		m, err := esm.NewKinesisWindowMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, TumblingWindow: 2 * time.Minute},
			k, h, esm.WithStore(store), esm.WithRetryBackoff(retry.Backoff{Initial: time.Second, Max: time.Second}))
		require.NoError(t, err)
		stop := start(t, m)
		time.Sleep(10 * time.Second)
		shardID, _ := k.Put(t, "clicks", "home", []byte("1"))
		time.Sleep(10 * time.Second)
		k.Put(t, "clicks", "cart", []byte("2"))
		k.Put(t, "clicks", "home", []byte("3"))
		time.Sleep(50 * time.Second)
		cp, _, err := store.Load(t.Context(), "esm|"+arn, shardID)
		require.NoError(t, err)
		require.Equal(t, &shard.Window{Start: t0, State: map[string]string{"home": "2", "cart": "1"}}, cp.Window, "the state is in the checkpoint")
		time.Sleep(2 * time.Minute) // the window closes on the idle shard
		stop()

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 4)
		for _, ev := range got {
			require.Equal(t, "2000-01-01T00:00:00Z", ev.Window.Start.Format(time.RFC3339))
			require.Equal(t, "2000-01-01T00:02:00Z", ev.Window.End.Format(time.RFC3339))
			require.Equal(t, shardID, ev.ShardID)
			require.Equal(t, arn, ev.EventSourceARN)
			require.False(t, ev.IsWindowTerminatedEarly)
		}
		require.Equal(t, map[string]string{}, got[0].State, "the first state is {}")
		require.Len(t, got[0].Records, 1)
		require.Equal(t, map[string]string{"home": "1"}, got[1].State)
		require.Len(t, got[1].Records, 2)
		for _, final := range got[2:] {
			require.True(t, final.IsFinalInvokeForWindow)
			require.NotNil(t, final.Records, `"Records": [] in a final invocation`)
			require.Empty(t, final.Records)
			require.Equal(t, map[string]string{"home": "2", "cart": "1"}, final.State, "the retry has the same state")
		}
		cp, _, err = store.Load(t.Context(), "esm|"+arn, shardID)
		require.NoError(t, err)
		require.Nil(t, cp.Window, "the window's state left the checkpoint when its final invocation succeeded")
	})
}

// The same through the DynamoDB Streams fake, with records arriving by
// ApproximateCreationDateTime.
func TestDynamoDBWindowMapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := esmtest.NewDynamoDBStreams()
		arn := d.MustCreateStream(t, "items", dstypes.StreamViewTypeNewImage, "id")
		var mu sync.Mutex
		var finals []events.DynamoDBTimeWindowEvent
		h := esm.HandleDynamoDBWindow(func(_ context.Context, ev events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			if ev.IsFinalInvokeForWindow {
				finals = append(finals, ev)
			}
			st := ev.State
			st["changes"] = strconv.Itoa(len(ev.Records) + atoi(st["changes"]))
			return events.DynamoDBTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: st}}, nil
		})
		m, err := esm.NewDynamoDBWindowMapping(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, TumblingWindow: time.Minute},
			d, h, esm.WithStore(shard.NewMemoryStore()))
		require.NoError(t, err)
		stop := start(t, m)
		for i := range 3 {
			time.Sleep(10 * time.Second)
			require.NoError(t, d.PutItem("items", map[string]dstypes.AttributeValue{"id": &dstypes.AttributeValueMemberS{Value: strconv.Itoa(i)}}))
		}
		time.Sleep(time.Minute) // into the next window: one more change
		require.NoError(t, d.PutItem("items", map[string]dstypes.AttributeValue{"id": &dstypes.AttributeValueMemberS{Value: "late"}}))
		time.Sleep(2 * time.Minute)
		stop()
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, finals, 2)
		require.Equal(t, "00:00:00 3", finals[0].Window.Start.Format(time.TimeOnly)+" "+finals[0].State["changes"])
		require.Equal(t, "00:01:00 1", finals[1].Window.Start.Format(time.TimeOnly)+" "+finals[1].State["changes"])
		require.Equal(t, arn, finals[0].EventSourceARN)
	})
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// A window handler needs a TumblingWindow, and a Config with one needs a
// window handler: the constructors say which to use.
func TestWindowConstructorsRefuseTheOtherKind(t *testing.T) {
	kc, dc := esmtest.NewKinesis(), esmtest.NewDynamoDBStreams()
	mem := esm.WithStore(shard.NewMemoryStore())
	kw := esm.HandleKinesisWindow(func(context.Context, events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
		return events.KinesisTimeWindowEventResponse{}, nil
	})
	dw := esm.HandleDynamoDBWindow(func(context.Context, events.DynamoDBTimeWindowEvent) (*events.DynamoDBTimeWindowEventResponse, error) {
		return nil, nil
	})
	kh := esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })
	dh := esm.HandleDynamoDB(func(context.Context, events.DynamoDBEvent) error { return nil })
	windowed := func(c esm.Config) esm.Config { c.TumblingWindow = time.Minute; return c }

	_, err := esm.NewKinesisWindowMapping(kinesisCfg(), kc, kw, mem)
	require.ErrorContains(t, err, "esm: NewKinesisWindowMapping needs Config.TumblingWindow (1s to 900s; AWS: TumblingWindowInSeconds): without a tumbling window, use NewKinesisMapping")
	_, err = esm.NewDynamoDBWindowMapping(ddbCfg(), dc, dw, mem)
	require.ErrorContains(t, err, "use NewDynamoDBMapping")
	_, err = esm.NewKinesisMapping(windowed(kinesisCfg()), kc, kh, mem)
	require.ErrorContains(t, err, "esm: Config.TumblingWindow is 60s: a tumbling window's handler receives events.KinesisTimeWindowEvent and returns the window's state; use NewKinesisWindowMapping (with HandleKinesisWindow)")
	_, err = esm.NewDynamoDBMapping(windowed(ddbCfg()), dc, dh, mem)
	require.ErrorContains(t, err, "use NewDynamoDBWindowMapping (with HandleDynamoDBWindow)")

	_, err = esm.NewKinesisWindowMapping(windowed(kinesisCfg()), kc, kw, mem)
	require.NoError(t, err)
	_, err = esm.NewDynamoDBWindowMapping(windowed(ddbCfg()), dc, dw, mem)
	require.NoError(t, err)

	var nilFunc func(context.Context, events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error)
	_, err = esm.NewKinesisWindowMapping(windowed(kinesisCfg()), kc, esm.HandleKinesisWindow(nilFunc), mem)
	require.ErrorContains(t, err, "esm: the handler is nil")
	pf := windowed(kinesisCfg())
	pf.ParallelizationFactor = 4
	_, err = esm.NewKinesisWindowMapping(pf, kc, kw, mem)
	require.ErrorContains(t, err, "ParallelizationFactor = 4: must be 1 with a TumblingWindow")
}

// A registry runs a mapping with TumblingWindowInSeconds through the
// function's window handler, and an update that keeps the window resumes its
// state from the checkpoint store.
func TestRegistryWindowMapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		var mu sync.Mutex
		var finals []map[string]string
		f.define("agg", esm.Function{KinesisWindow: esm.HandleKinesisWindow(func(_ context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
			st := ev.State
			st["n"] = strconv.Itoa(atoi(st["n"]) + len(ev.Records))
			if ev.IsFinalInvokeForWindow {
				mu.Lock()
				finals = append(finals, st)
				mu.Unlock()
			}
			return events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: st}}, nil
		})})
		stream := f.k.MustCreateStream(t, "clicks", 1)
		reg := f.open(t)
		runRegistry(t, reg)
		info, err := reg.Create(t.Context(), esm.Config{FunctionName: "agg", EventSourceArn: stream, StartingPosition: esm.TrimHorizon, TumblingWindow: 5 * time.Minute})
		require.NoError(t, err)
		waitState(t, reg, info.UUID, esm.StateEnabled)
		f.k.Put(t, "clicks", "a", []byte("1"))
		time.Sleep(10 * time.Second)
		_, err = reg.Update(t.Context(), info.UUID, func(c *esm.Config) error { c.BatchSize = 5; return nil })
		require.NoError(t, err)
		waitState(t, reg, info.UUID, esm.StateEnabled)
		f.k.Put(t, "clicks", "a", []byte("2"))
		time.Sleep(6 * time.Minute)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []map[string]string{{"n": "2"}}, finals, "the update kept the window's state")
	})
}
