package filter

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkAgainstReference compiles random patterns and matches random events
// with the package and with the reference; they must agree.
func checkAgainstReference(t *testing.T, seed uint64) {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	pats := make([]*rObj, 1+g.r.IntN(3))
	texts := make([]string, len(pats))
	for i := range pats {
		pats[i] = g.pattern(0)
		texts[i] = pats[i].json()
	}
	f, err := Compile(texts)
	if err != nil {
		var pe *PatternError
		if errors.As(err, &pe) && strings.Contains(pe.Reason, "too complex") {
			return
		}
		t.Fatalf("seed %d: Compile(%q): %v", seed, texts, err)
	}
	bodies := make([]string, len(texts))
	for i, text := range texts {
		bodies[i] = `{"body": ` + text + `, "messageId": [{"exists": true}]}`
	}
	inBody, err := Compile(bodies)
	if err != nil {
		t.Fatalf("seed %d: Compile(%q): %v", seed, bodies, err)
	}
	for e := 0; e < 8; e++ {
		event := g.object(0)
		data := sortedJSON(event)
		var want []int
		for i, p := range pats {
			if refMatch(p, event) {
				want = append(want, i)
			}
		}
		got, err := f.MatchedPatternsJSON(nil, data)
		if err != nil {
			t.Fatalf("seed %d: MatchedPatternsJSON(%s): %v", seed, data, err)
		}
		v, err := decode(data)
		if err != nil {
			t.Fatalf("seed %d: Decode(%s): %v", seed, data, err)
		}
		got2 := f.matchedPatterns(nil, v)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got2, want) {
			t.Fatalf("seed %d: event %s\npatterns:\n\t%s\nreference matches %v, MatchJSON %v, Match %v",
				seed, data, strings.Join(texts, "\n\t"), want, got, got2)
		}
		ok, _ := f.MatchJSON(data)
		if ok != (len(want) > 0) {
			t.Fatalf("seed %d: MatchJSON(%s) = %v, want %v", seed, data, ok, len(want) > 0)
		}
		// The same patterns under an SQS body: building only what the
		// patterns read gives the same answer as building everything.
		msg := sqsMessage(string(data))
		if got, want := inBody.MatchSQSMessage(msg), inBody.matchValue(sqsMessageValue(msg)); got != want {
			t.Fatalf("seed %d: body %s: MatchSQSMessage %v, Match(SQSMessage) %v\npatterns:\n\t%s", seed, data, got, want, strings.Join(texts, "\n\t"))
		}
	}
}

func TestMatchAgainstReference(t *testing.T) {
	n := uint64(2000)
	if testing.Short() {
		n = 300
	}
	for seed := uint64(0); seed < n; seed++ {
		checkAgainstReference(t, seed)
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"", "a", "seed", "\x00\x01\x02", "patterns and events"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := fnv.New64a()
		h.Write(data)
		checkAgainstReference(t, h.Sum64())
	})
}

// seedPatterns are patterns from the tests, valid and not, to start the
// pattern fuzzer.
var seedPatterns = []string{
	`{"detail": {"state": [{"anything-but": {"prefix": ["init", "stop"]}}], "c-count": [{"numeric": [">", 0, "<=", 5]}]}}`,
	`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"], "$or": [{"a": [1]}, {"b": [null]}]}]}`,
	`{"a": [{"wildcard": "a\\*b*"}, {"cidr": "10.0.0.0/24"}, {"prefix": {"equals-ignore-case": "X"}}, {"exists": false}]}`,
	`{"a": [{"suffix": {"equals-ignore-case": ".png"}}, {"equals-ignore-case": "x"}, {"exactly": "y"}, true, false, 1e2, ""]}`,
	`{"eventSource": "aws:sqs"}`, `{"eventSource": []}`, `{"a": [{"numeric": ["<", 1, ">", 0]}]}`,
	`{"a": [{"anything-but": ["a", 1]}]}`, `{"$or": [{"numeric": [1]}, {"b": [1]}]}`, `{"a": {"b": {}}}`,
	`[{"eventName": ["INSERT"=123}]`, `single-string`, ``, `{"a": [{"wildcard": "**"}]}`,
}

func FuzzCompile(f *testing.F) {
	for _, s := range seedPatterns {
		f.Add(s)
	}
	events := [][]byte{
		[]byte(`{}`),
		[]byte(`{"a": [1, "x", null, {"b": 2}], "detail": {"state": "running", "c-count": 3}, "source": "aws.cloudwatch"}`),
		[]byte(ec2Event),
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		fl, err := Compile([]string{pattern}, WithSource(SourceKinesis))
		if err != nil {
			if !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("Compile(%q): an error that is not ErrInvalidPattern: %v", pattern, err)
			}
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Compile(%q): %v has no problems", pattern, err)
			}
			for _, p := range ce.Problems {
				if p.Reason == "" || p.Index != 0 {
					t.Fatalf("Compile(%q): problem %+v has no reason or a wrong index", pattern, p)
				}
			}
			if !strings.HasPrefix(err.Error(), InvalidPatternMessage) {
				t.Fatalf("Compile(%q): message %q", pattern, err)
			}
			return
		}
		for _, e := range events {
			if _, err := fl.MatchJSON(e); err != nil {
				t.Fatalf("MatchJSON: %v", err)
			}
		}
	})
}

// FuzzDecode checks the decoder against encoding/json: the same inputs are
// valid, and they decode to the same values.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"x": [1 2]}`, `{"x": [1, true false]}`, `{"x": {"y" 1}}`, `{"x": -}`, `{"x": 1.}`, `{"x": 1e}`, `{"x": tru}`, `{"x": "\q"}`, `{"a": [{"b": 1, "c": [[[]]]}, 2e-3, "\u00e9"]}`, `{"a": [1, -2.5e-3, "x\u00e9\ud83d\ude00", true, false, null, {}, []]}`, `"\ud800"`, `01`, `[1,]`, `{"a":1,"a":2}`, " \n\t[] ", ec2Event} {
		f.Add([]byte(s))
	}
	skipper, err := Compile([]string{`{"a": {"b": [1]}}`})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		valid := json.Valid(data)
		if (err == nil) != valid {
			t.Fatalf("Decode(%q): error %v, but json.Valid says %v", data, err, valid)
		}
		// MatchJSON skips what the pattern does not name; it must check it
		// all the same.
		_, merr := skipper.MatchJSON(data)
		if wantOK := valid && v.kindOf() == kindObject; (merr == nil) != wantOK {
			t.Fatalf("MatchJSON(%q): error %v, want an error: %v", data, merr, !wantOK)
		}
		if err != nil {
			return
		}
		if !utf8.Valid(data) {
			return // encoding/json replaces invalid bytes; Decode keeps them
		}
		var want, got any
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		out, err := v.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		dec = json.NewDecoder(strings.NewReader(string(out)))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("Decode(%s) = %s", data, out)
		}
		if w, err := valueOf(want); err != nil || w.String() == "" {
			t.Fatalf("ValueOf: %v", err)
		}
	})
}
