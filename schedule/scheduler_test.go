package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/schedule"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ruleARN = "arn:aws:events:eu-west-1:123456789012:rule/nightly"

// fakeTarget records the events it is given; it can fail or hold up calls.
type fakeTarget struct {
	mu     sync.Mutex
	events []events.EventBridgeEvent
	at     []time.Time
	fail   error
	hold   time.Duration // the first call sleeps this long
}

func (f *fakeTarget) Invoke(_ context.Context, e events.EventBridgeEvent) (string, error) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.at = append(f.at, time.Now())
	hold := f.hold
	f.hold = 0
	fail := f.fail
	f.mu.Unlock()
	time.Sleep(hold)
	return "", fail
}

func (f *fakeTarget) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.at...)
}

// runScheduler runs s until the test ends.
func runScheduler(t *testing.T, s *schedule.Scheduler) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		require.NoError(t, s.Shutdown(context.Background()))
		require.NoError(t, <-errc)
	})
}

func TestSchedulerFiresThroughTheAsyncInvoker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []events.EventBridgeEvent
		h := esm.HandlerFunc[events.EventBridgeEvent, struct{}](func(_ context.Context, e events.EventBridgeEvent) (struct{}, error) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
			return struct{}{}, nil
		})
		inv, err := invoke.New(h, invoke.Config{})
		require.NoError(t, err)
		invDone := make(chan error, 1)
		go func() { invDone <- inv.Run(context.Background()) }()

		s, err := schedule.New("cron(0/15 * * * ? *)", inv, schedule.WithRule(ruleARN))
		require.NoError(t, err)
		start := time.Now().UTC() // 2000-01-01T00:00:00Z in the bubble
		runScheduler(t, s)
		time.Sleep(time.Hour)
		synctest.Wait()
		require.NoError(t, s.Shutdown(t.Context()))
		require.NoError(t, inv.Shutdown(t.Context()))
		require.NoError(t, <-invDone)

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 4)
		ids := map[string]bool{}
		for i, e := range got {
			require.Equal(t, start.Add(time.Duration(i+1)*15*time.Minute), e.Time, "firing %d", i+1)
			ids[e.ID] = true
		}
		require.Len(t, ids, 4, "each event has its own id")
		b, err := json.Marshal(got[0])
		require.NoError(t, err)
		require.JSONEq(t, `{
			"version": "0",
			"id": "`+got[0].ID+`",
			"detail-type": "Scheduled Event",
			"source": "aws.events",
			"account": "123456789012",
			"time": "2000-01-01T00:15:00Z",
			"region": "eu-west-1",
			"resources": ["`+ruleARN+`"],
			"detail": {}
		}`, string(b))
	})
}

func TestSchedulerDefaultsAndRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := &fakeTarget{}
		s, err := schedule.New("rate(10 minutes)", target)
		require.NoError(t, err)
		start := time.Now()
		runScheduler(t, s)
		time.Sleep(25 * time.Minute)
		require.Equal(t, []time.Time{start.Add(10 * time.Minute), start.Add(20 * time.Minute)}, target.times(),
			"a rate fires one period after the start, then every period")
		e := target.events[0]
		require.Equal(t, []string{"arn:aws:events:us-east-1:000000000000:rule/schedule"}, e.Resources)
		require.Equal(t, "us-east-1", e.Region)
		require.Equal(t, "000000000000", e.AccountID)
	})
}

func TestSchedulerDoesNotReplayMissedFirings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := &fakeTarget{hold: 50 * time.Minute}
		s, err := schedule.New("rate(10 minutes)", target)
		require.NoError(t, err)
		start := time.Now()
		runScheduler(t, s)
		time.Sleep(85 * time.Minute)
		// Fired at 10; held up until 60, so 20…60 are skipped; the rate
		// counts again from 60.
		require.Equal(t, []time.Time{start.Add(10 * time.Minute), start.Add(70 * time.Minute), start.Add(80 * time.Minute)}, target.times())

		cronTarget := &fakeTarget{hold: 50 * time.Minute}
		c, err := schedule.New("cron(0/15 * * * ? *)", cronTarget)
		require.NoError(t, err)
		start = time.Now() // 01:25
		runScheduler(t, c)
		time.Sleep(94 * time.Minute)
		require.Equal(t, []time.Time{start.Add(5 * time.Minute), start.Add(65 * time.Minute), start.Add(80 * time.Minute)}, cronTarget.times(),
			"01:30 fired, held until 02:20: 01:45, 02:00 and 02:15 are skipped, 02:30 is next")
	})
}

// onRefused adapts a function to lambdaesm.HookScheduleRefused.
type onRefused func(rule string, at time.Time, err error)

func (f onRefused) OnScheduleRefused(rule string, at time.Time, err error) { f(rule, at, err) }

func TestSchedulerReportsRefusedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		full := errors.New("queue full")
		target := &fakeTarget{fail: full}
		var mu sync.Mutex
		var refused []time.Time
		s, err := schedule.New("rate(1 minute)", target, schedule.WithHooks(onRefused(func(rule string, at time.Time, err error) {
			require.ErrorIs(t, err, full)
			require.Equal(t, "arn:aws:events:us-east-1:000000000000:rule/schedule", rule)
			mu.Lock()
			refused = append(refused, at)
			mu.Unlock()
		})))
		require.NoError(t, err)
		runScheduler(t, s)
		time.Sleep(3*time.Minute + time.Second)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, refused, 3, "each refused firing is reported and the schedule goes on")
	})
}

func TestSchedulerLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := &fakeTarget{}
		s, err := schedule.New("cron(0 0 1 1 ? 1970)", target) // no firing left
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		synctest.Wait()
		require.ErrorIs(t, s.Run(t.Context()), lambdaesm.ErrClosed, "Run twice")
		cancel()
		require.NoError(t, <-errc)
		require.NoError(t, s.Shutdown(t.Context()))
		require.NoError(t, s.Shutdown(t.Context()), "idempotent")

		early, err := schedule.New("rate(1 minute)", target)
		require.NoError(t, err)
		require.NoError(t, early.Shutdown(t.Context()))
		require.ErrorIs(t, early.Run(t.Context()), lambdaesm.ErrClosed)
		require.Empty(t, target.times())
	})
}

func TestNewErrors(t *testing.T) {
	_, err := schedule.New("cron(0 12 * * * *)", &fakeTarget{})
	se, ok := errors.AsType[*schedule.Error](err)
	require.True(t, ok)
	require.Equal(t, "day-of-week", se.Field)

	_, err = schedule.New("rate(1 hour)", nil, schedule.WithRule("arn:aws:sqs:us-east-1:1:q"))
	require.ErrorContains(t, err, "the target is nil")
	require.ErrorContains(t, err, "not an EventBridge rule ARN")

	s, err := schedule.New("rate(1 hour)", &fakeTarget{}, schedule.WithRule("hourly"))
	require.NoError(t, err)
	require.Equal(t, "rate(1 hour)", s.Schedule().String())
	require.Equal(t, []string{"arn:aws:events:us-east-1:000000000000:rule/hourly"}, s.Event(time.Now()).Resources)
}
