package filter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// skips reports whether skip takes all of s as one JSON value.
func skips(s string) bool {
	d := decoder{s: s, b: []byte(s)}
	return d.skip() == nil && d.i == len(s)
}

// TestSkipNesting checks the skipper's stack of open containers, a word of
// bits that spills every 64 levels: objects and arrays nested up to 300
// deep, closed in order or with one closing bracket of the wrong kind.
func TestSkipNesting(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for depth := 1; depth <= 300; depth++ {
		for k := 0; k < 4; k++ {
			kinds := make([]bool, depth) // true: an object
			open := ""
			for i := range kinds {
				kinds[i] = r.IntN(2) == 0
				if kinds[i] {
					open += `{"k":`
				} else {
					open += `[0,`
				}
			}
			closing := make([]byte, depth)
			for i := range kinds {
				closing[depth-1-i] = "]}"[b2i(kinds[i])]
			}
			if k > 0 {
				at := r.IntN(depth)
				closing[at] ^= 0x20 // '}' (0x7d) for ']' (0x5d) and back
			}
			s := open + "1" + string(closing)
			if got, want := skips(s), json.Valid([]byte(s)); got != want {
				t.Fatalf("depth %d: skip(%s) = %v, json.Valid %v", depth, s, got, want)
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// skipPayload is a 1 KB JSON order like those of BenchmarkRecord.
func skipPayload(i int) string {
	b := fmt.Appendf(nil, `{"kind":"order","id":%d,"customer":"customer-%d","currency":"EUR","amount":%d.%02d,`+
		`"shipping":{"method":"express","country":"DE","zip":"%05d"},"items":[`, 100000+i, i, i*37%9973, i%100, i*13%100000)
	for j := 0; len(b) < 960; j++ {
		if j > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"sku":"SKU-%06d","qty":%d}`, (i*7+j)%1000000, j%5+1)
	}
	b = append(b, `],"note":"`...)
	for len(b) < 1022 {
		b = append(b, 'x')
	}
	return string(append(b, `"}`...))
}

// BenchmarkSkip measures the skipper alone on a 1 KB JSON order.
func BenchmarkSkip(b *testing.B) {
	s := skipPayload(7)
	b.SetBytes(int64(len(s)))
	d := decoder{s: s, b: []byte(s)}
	for i := 0; i < b.N; i++ {
		d.i = 0
		if err := d.skip(); err != nil || d.i != len(s) {
			b.Fatal(err)
		}
	}
}
