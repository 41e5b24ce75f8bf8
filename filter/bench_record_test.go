package filter

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// orderPayloads are 1 KB JSON orders shaped like the payloads of esm's
// BenchmarkKinesisFilter (scalars, then an array of small objects, then a
// long string), with a nested "shipping" object: one per customer.
func orderPayloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := fmt.Appendf(nil, `{"kind":"order","id":%d,"customer":"customer-%d","currency":"EUR","amount":%d.%02d,`+
			`"shipping":{"method":"express","country":%q,"zip":"%05d"},"items":[`,
			100000+i, i, i*37%9973, i%100, []string{"DE", "FR", "NL", "ES"}[i%4], i*13%100000)
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
		out[i] = append(b, `"}`...)
	}
	return out
}

// recordCases are the patterns of BenchmarkRecord: one top-level field of
// the data, and one top-level and one nested field, each matching every
// record or none (the last field decides, so the whole record is read).
var recordCases = []struct{ name, pattern string }{
	{"top/match", `{"data": {"kind": ["order"]}}`},
	{"top/nomatch", `{"data": {"kind": ["refund"]}}`},
	{"nested/match", `{"data": {"kind": ["order"], "shipping": {"country": ["DE", "FR", "NL", "ES"]}}}`},
	{"nested/nomatch", `{"data": {"kind": ["order"], "shipping": {"country": ["US"]}}}`},
}

// BenchmarkRecord measures filtering 1 KB JSON Kinesis records as a
// mapping does (MatchKinesisRecord) and their data alone (MatchJSON).
// An op is one record. Metrics: ns/record, cpu-ns/record, allocs/record.
func BenchmarkRecord(b *testing.B) {
	payloads := orderPayloads(1024)
	recs := make([]events.KinesisEventRecord, len(payloads))
	for i, p := range payloads {
		recs[i] = kinesisRecord(fmt.Sprintf("customer-%d", i), string(p))
	}
	for _, c := range recordCases {
		f, err := Compile([]string{c.pattern}, WithSource(SourceKinesis))
		if err != nil {
			b.Fatal(err)
		}
		want := c.name[len(c.name)-len("/match"):] == "/match"
		if got := f.MatchKinesisRecord(recs[0]); got != want {
			b.Fatalf("%s: MatchKinesisRecord = %v, want %v", c.pattern, got, want)
		}
		b.Run("MatchKinesisRecord/"+c.name, func(b *testing.B) {
			perRecord(b, len(payloads[0]), func(i int) bool { return f.MatchKinesisRecord(recs[i%len(recs)]) })
		})
		data, err := Compile([]string{c.pattern[len(`{"data": `) : len(c.pattern)-1]})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("MatchJSON/"+c.name, func(b *testing.B) {
			perRecord(b, len(payloads[0]), func(i int) bool {
				ok, err := data.MatchJSON(payloads[i%len(payloads)])
				if err != nil {
					b.Fatal(err)
				}
				return ok
			})
		})
	}
}

var benchSink bool

// perRecord runs match on b.N records and reports ns/record, cpu-ns/record
// (the process's CPU time per record: steadier than ns/record on a machine
// that runs other work) and allocs/record.
func perRecord(b *testing.B, size int, match func(i int) bool) {
	b.SetBytes(int64(size))
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		benchSink = match(i)
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/record")
}
