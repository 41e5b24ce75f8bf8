package retry

import "time"

// Backoff is an exponential backoff with jitter, as a value. The zero value
// means [DefaultBackoff].
type Backoff struct {
	// Initial is the delay before the first retry. Default 500ms.
	Initial time.Duration
	// Max bounds every delay. Default 30s.
	Max time.Duration
	// Multiplier grows the delay per attempt. Default 2.
	Multiplier float64
	// Jitter is the fraction of each delay that is randomized, 0 to 1.
	// Default 0.5: a delay d becomes a value in [d/2, d).
	Jitter float64
}

// DefaultBackoff is used where a Backoff is left zero.
var DefaultBackoff = Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.5}

func (b Backoff) withDefaults() Backoff {
	if b == (Backoff{}) {
		return DefaultBackoff
	}
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	b.Jitter = min(max(b.Jitter, 0), 1)
	return b
}

// Delay is the wait before retry number retry (1 for the first retry). rnd is a
// random number in [0, 1) supplied by the caller, so the function stays pure.
func (b Backoff) Delay(retry int, rnd float64) time.Duration {
	b = b.withDefaults()
	d := float64(b.Initial)
	for i := 1; i < retry && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	d -= d * b.Jitter * rnd
	return time.Duration(d)
}
