package filter

import (
	"strings"
	"testing"
)

// TestDigits checks the eight-bytes-at-a-time digit scan against a plain
// loop, for every byte value at every position of a run.
func TestDigits(t *testing.T) {
	for c := 0; c < 256; c++ {
		for p := 0; p < 19; p++ {
			for _, n := range []int{p + 1, 19, 24} {
				if n <= p {
					continue
				}
				b := []byte(strings.Repeat("7", n))
				b[p] = byte(c)
				s := string(b)
				d := decoder{s: s, b: []byte(s)}
				want := 0
				for want < len(s) && s[want] >= '0' && s[want] <= '9' {
					want++
				}
				if got := d.digits(0); got != want {
					t.Fatalf("digits(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}
