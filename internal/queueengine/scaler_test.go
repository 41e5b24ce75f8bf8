package queueengine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScalingDefaults(t *testing.T) {
	for _, tc := range []struct {
		in, want Scaling
		err      string
	}{
		{in: Scaling{}, want: Scaling{Initial: 5, PerMinute: 300, Min: 2, Max: 1250}},
		{in: Scaling{Max: 2}, want: Scaling{Initial: 2, PerMinute: 300, Min: 2, Max: 2}},
		{in: Scaling{Max: 1}, want: Scaling{Initial: 1, PerMinute: 300, Min: 1, Max: 1}},
		{in: Scaling{Initial: 1, Min: 3, Max: 10}, want: Scaling{Initial: 3, PerMinute: 300, Min: 3, Max: 10}},
		{in: Scaling{Initial: 50, PerMinute: 60, Min: 4, Max: 20}, want: Scaling{Initial: 20, PerMinute: 60, Min: 4, Max: 20}},
		{in: Scaling{Min: 30, Max: 20}, err: "Scaling.Min 30 is above Scaling.Max 20"},
		{in: Scaling{Initial: -1}, err: "must not be negative"},
	} {
		got, err := tc.in.withDefaults()
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestScalerGrowsAtMost300PerMinuteWhileReceivesAreFull(t *testing.T) {
	cfg, _ := Scaling{}.withDefaults()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newScaler(cfg, t0)
	require.Equal(t, 5, s.target, "Lambda starts with five concurrent batches")
	// A full receive every 10ms for ten minutes.
	for ms := 10; ms <= 10*60*1000; ms += 10 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		got := s.observe(now, 10, 10)
		// In any minute the target grows by at most 300: from the start,
		// one step per 200ms.
		require.LessOrEqual(t, got, 5+ms/200, "at %dms", ms)
		if ms%60000 == 0 {
			t.Logf("after %d min: %d", ms/60000, got)
		}
	}
	require.Equal(t, 1250, s.target, "the cap without MaximumConcurrency is 1250")
	// Over any minute, at most 300 steps plus ten seconds' worth (50):
	// here full receives come in bursts of 50, every 2 seconds.
	s = newScaler(cfg, t0)
	var steps []time.Time
	for ms := 2000; ms <= 4*60*1000; ms += 2000 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		for range 50 {
			before := s.target
			if s.observe(now, 10, 10) > before {
				steps = append(steps, now)
			}
		}
		require.LessOrEqual(t, s.target, 5+ms/200)
	}
	require.Equal(t, 4*300, len(steps), "the full rate despite the bursts")
	for i := 350; i < len(steps); i++ {
		require.GreaterOrEqual(t, steps[i].Sub(steps[i-350]), time.Minute, "351 steps within a minute at step %d", i)
	}
}

func TestScalerHonoursMaximumConcurrencyAndShrinksOnEmptyReceives(t *testing.T) {
	cfg, err := Scaling{Max: 40}.withDefaults()
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newScaler(cfg, t0)
	now := t0
	for range 1000 {
		now = now.Add(time.Second)
		s.observe(now, 10, 10)
	}
	require.Equal(t, 40, s.target, "MaximumConcurrency caps the growth")
	// Partial receives change nothing.
	require.Equal(t, 40, s.observe(now.Add(time.Second), 3, 10))
	// Each empty receive takes one away, down to 2.
	for i := 1; i <= 100; i++ {
		got := s.observe(now.Add(time.Second), 0, 10)
		require.Equal(t, max(40-i, 2), got)
	}
	// A full receive of a smaller ask counts as full.
	now = now.Add(time.Minute)
	require.Equal(t, 3, s.observe(now, 4, 4))
	// The credit held is ten seconds' worth: 50 steps, then one per 200ms.
	for want := 4; want <= 40; want++ {
		require.Equal(t, want, s.observe(now, 10, 10))
	}
	require.Equal(t, 40, s.observe(now, 10, 10), "capped")
	for range 38 {
		s.observe(now, 0, 10)
	}
	require.Equal(t, 2, s.target)
	for want := 3; want <= 14; want++ {
		require.Equal(t, want, s.observe(now, 10, 10), "the rest of the held credit")
	}
	require.Equal(t, 14, s.observe(now, 10, 10), "no credit left")
	require.Equal(t, 14, s.observe(now.Add(100*time.Millisecond), 10, 10))
	require.Equal(t, 15, s.observe(now.Add(200*time.Millisecond), 10, 10))
}

func TestScalerCustomRates(t *testing.T) {
	cfg, err := Scaling{Initial: 1, PerMinute: 60, Min: 1, Max: 10}.withDefaults()
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newScaler(cfg, t0)
	for ms := 100; ms <= 30000; ms += 100 {
		s.observe(t0.Add(time.Duration(ms)*time.Millisecond), 1, 1)
	}
	require.Equal(t, 10, s.target, "one step per second, capped at 10")
	for range 20 {
		s.observe(t0, 0, 1)
	}
	require.Equal(t, 1, s.target)
}
