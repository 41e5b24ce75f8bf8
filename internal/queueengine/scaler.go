package queueengine

import "time"

// scaler decides how many batches are handled at the same time, as Lambda
// scales an SQS mapping: it starts at Initial, grows by one for each receive
// that comes back full, at most PerMinute in a minute, and shrinks by one for
// each receive that comes back empty, down to Min. It never leaves
// [Min, Max]. It is pure: time is passed in.
//
// The growth rate is a token bucket: credit accrues with time at PerMinute
// steps per minute, from zero at the start, and holds at most ten seconds'
// worth (or one step), so workers that receive in step (handlers of up to 10
// seconds) still grow at the full rate. The growth from the start is thus at
// most PerMinute × elapsed minutes, and over any minute at most PerMinute plus
// ten seconds' worth (350 by default).
type scaler struct {
	cfg    Scaling // with defaults
	target int
	step   time.Duration // credit one growth step costs
	burst  time.Duration // most credit held
	credit time.Duration
	last   time.Time // time of the last observation, or of the start
}

// burstCredit is the most growth credit the scaler holds.
const burstCredit = 10 * time.Second

func newScaler(cfg Scaling, now time.Time) scaler {
	step := time.Minute / time.Duration(cfg.PerMinute)
	return scaler{cfg: cfg, target: cfg.Initial, step: step, burst: max(step, burstCredit), last: now}
}

// observe records one receive that asked for asked messages and got got,
// and returns the new target.
func (s *scaler) observe(now time.Time, got, asked int) int {
	if d := now.Sub(s.last); d > 0 {
		s.credit = min(s.credit+d, s.burst)
		s.last = now
	}
	switch {
	case got > 0 && got >= asked:
		if s.target < s.cfg.Max && s.credit >= s.step {
			s.target++
			s.credit -= s.step
		}
	case got == 0:
		if s.target > s.cfg.Min {
			s.target--
		}
	}
	return s.target
}
