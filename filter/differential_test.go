package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fast path of matching (MatchJSON, MatchKinesisRecord,
// MatchSQSMessage: decode only what the patterns name, check the rest with
// the skipper) against the slow one (Decode or the per-source helpers: decode
// everything, then Match) and the reference, on JSON written as text: keys
// repeated and escaped, strings with escapes, numbers in every form, nested
// arrays, whitespace, and mutations that make most of it invalid.

// textGen writes random JSON texts over the vocabulary of gen.
type textGen struct {
	r *rand.Rand
	g *gen
}

// textNums are numbers as events write them: the values of genNums in
// other spellings, and a few others.
var textNums = []string{"0", "-0", "-0.0", "1", "1.0", "1E0", "-1", "2.5", "2.50", "0.25e1", "300", "3e2", "3E+2",
	"300.0", "30e1", "3.0E+2", "5e9", "5000000000.0", "5000000001", "123456789012", "1e400", "0.000001", "12345678901234567890"}

func (t *textGen) ws(b []byte) []byte {
	for t.r.IntN(5) == 0 {
		b = append(b, " \t\n\r"[t.r.IntN(4)])
	}
	return b
}

// str writes s as a JSON string, escaping some of its characters that need
// no escape.
func (t *textGen) str(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case t.r.IntN(6) == 0:
			if r >= 0x10000 {
				r -= 0x10000
				b = fmt.Appendf(b, `\u%04x\u%04X`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				b = fmt.Appendf(b, `\u%04x`, r)
			}
		case r == '/' && t.r.IntN(2) == 0:
			b = append(b, `\/`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func (t *textGen) value(b []byte, depth int) []byte {
	b = t.ws(b)
	switch c := t.r.IntN(12); {
	case c < 2 && depth < 4:
		b = t.object(b, depth+1)
	case c < 4 && depth < 4:
		b = append(b, '[')
		for i, n := 0, t.r.IntN(4); i < n; i++ {
			if i > 0 {
				b = append(t.ws(b), ',')
			}
			b = t.value(b, depth+1)
		}
		b = append(t.ws(b), ']')
	case c < 7:
		s := t.g.pick(genStrings)
		if t.r.IntN(10) == 0 {
			s = strings.Repeat(s+"long/", 1+t.r.IntN(6)) // past the scanner's eight bytes
		}
		b = t.str(b, s)
	case c < 10:
		b = append(b, t.g.pick(textNums)...)
	default:
		b = append(b, t.g.pick([]string{"null", "true", "false"})...)
	}
	return t.ws(b)
}

// object writes an object whose keys repeat often.
func (t *textGen) object(b []byte, depth int) []byte {
	b = append(b, '{')
	for i, n := 0, t.r.IntN(5); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = t.str(t.ws(b), t.g.pick(genKeys))
		b = append(t.ws(b), ':')
		b = t.value(b, depth)
	}
	return append(t.ws(b), '}')
}

// mutate breaks (or, now and then, keeps valid) a text by one edit, half
// the time at a token's edge: a digit, a letter, a bracket or a quote.
func (t *textGen) mutate(b []byte) []byte {
	bad := []string{"{", "}", "[", "]", ",", ":", `"`, `\`, "\x00", "\x1f", "-", ".", "e", "0", "1", "x", "t", "n", `\u`, "\xff", " "}
	i := t.r.IntN(len(b) + 1)
	if t.r.IntN(2) == 0 {
		var edges []int
		for j, c := range b {
			if strings.IndexByte("0123456789eEtrufalsn{}[]\"", c) >= 0 {
				edges = append(edges, j, j+1)
			}
		}
		if len(edges) > 0 {
			i = edges[t.r.IntN(len(edges))]
		}
	}
	switch t.r.IntN(5) {
	case 0:
		if i < len(b) {
			return append(b[:i:i], b[i+1:]...)
		}
	case 1:
		return b[:i]
	case 2:
		// A bracket for the other kind: '{' (0x7b) for '[' (0x5b), '}' for ']'.
		if i < len(b) && b[i]|0x22 == '' {
			out := append([]byte(nil), b...)
			out[i] ^= 0x20
			return out
		}
	}
	return append(append(b[:i:i], t.g.pick(bad)...), b[i:]...)
}

// checkDifferential compiles random patterns and matches random texts by
// the fast and the slow path; they must agree, on the match and on the
// validity of the text, and with the reference when the text is valid.
func checkDifferential(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	g := &gen{r: r}
	tg := &textGen{r: r, g: g}
	pats := make([]*rObj, 1+r.IntN(3))
	texts := make([]string, len(pats))
	wrapped := make([]string, len(pats))
	bodies := make([]string, len(pats))
	for i := range pats {
		pats[i] = g.pattern(0)
		texts[i] = pats[i].json()
		wrapped[i] = `{"data": ` + texts[i] + `}`
		bodies[i] = `{"body": ` + texts[i] + `}`
	}
	f, err := Compile(texts)
	if err != nil {
		var pe *PatternError
		if errors.As(err, &pe) && strings.Contains(pe.Reason, "too complex") {
			return
		}
		t.Fatalf("seed %d: Compile(%q): %v", seed, texts, err)
	}
	kf, err := Compile(wrapped, WithSource(SourceKinesis))
	if err != nil {
		t.Fatalf("seed %d: Compile(%q): %v", seed, wrapped, err)
	}
	sf, err := Compile(bodies, WithSource(SourceSQS))
	if err != nil {
		t.Fatalf("seed %d: Compile(%q): %v", seed, bodies, err)
	}
	for e := 0; e < 8; e++ {
		var data []byte
		if r.IntN(6) == 0 {
			data = tg.value(nil, 0) // also arrays and scalars, for the payloads
		} else {
			data = tg.ws(tg.object(tg.ws(nil), 0))
		}
		if r.IntN(3) == 0 {
			data = tg.mutate(data)
		}
		valid := json.Valid(data)
		v, derr := decode(data)
		if (derr == nil) != valid {
			t.Fatalf("seed %d: Decode(%q): error %v, json.Valid %v", seed, data, derr, valid)
		}
		isObject := valid && v.kindOf() == kindObject
		got, merr := f.MatchedPatternsJSON(nil, data)
		if (merr == nil) != isObject {
			t.Fatalf("seed %d: MatchedPatternsJSON(%q): error %v, want one: %v", seed, data, merr, !isObject)
		}
		ok, merr2 := f.MatchJSON(data)
		if (merr2 == nil) != isObject || ok != (len(got) > 0) {
			t.Fatalf("seed %d: MatchJSON(%q) = %v, %v; MatchedPatternsJSON %v", seed, data, ok, merr2, got)
		}
		if isObject {
			want := f.matchedPatterns(nil, v)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: event %s\npatterns:\n\t%s\nMatchedPatternsJSON %v, MatchedPatterns(Decode) %v",
					seed, data, strings.Join(texts, "\n\t"), got, want)
			}
			if utf8.Valid(data) {
				var event map[string]any
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				if err := dec.Decode(&event); err != nil {
					t.Fatal(err)
				}
				var ref []int
				for i, p := range pats {
					if refMatch(p, event) {
						ref = append(ref, i)
					}
				}
				if !reflect.DeepEqual(got, ref) {
					t.Fatalf("seed %d: event %s\npatterns:\n\t%s\nMatchedPatternsJSON %v, reference %v",
						seed, data, strings.Join(texts, "\n\t"), got, ref)
				}
			}
		}
		// The record sources: the data key holds the text, valid or not.
		rec := kinesisRecord("k", string(data))
		if got, want := kf.MatchKinesisRecord(rec), kf.matchValue(kinesisRecordValue(rec)); got != want {
			t.Fatalf("seed %d: data %q: MatchKinesisRecord %v, Match(KinesisRecord) %v\npatterns:\n\t%s",
				seed, data, got, want, strings.Join(wrapped, "\n\t"))
		}
		msg := sqsMessage(string(data))
		if got, want := sf.MatchSQSMessage(msg), sf.matchValue(sqsMessageValue(msg)); got != want {
			t.Fatalf("seed %d: body %q: MatchSQSMessage %v, Match(SQSMessage) %v\npatterns:\n\t%s",
				seed, data, got, want, strings.Join(bodies, "\n\t"))
		}
	}
}

func TestDifferential(t *testing.T) {
	n := uint64(3000)
	if testing.Short() {
		n = 300
	}
	for seed := uint64(0); seed < n; seed++ {
		checkDifferential(t, seed)
	}
}

func FuzzDifferential(f *testing.F) {
	for _, s := range []string{"", "a", "seed", "\x00\x01\x02", "texts and patterns"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := fnv.New64a()
		h.Write(data)
		checkDifferential(t, h.Sum64())
	})
}

// FuzzSkip checks the skipper on texts of the fuzzer's own: MatchJSON
// skips all of a text but the key "never", and must find it valid exactly
// when encoding/json does.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"x": [1, {"y": "\u00e9\"", "z": [[], {}]}, -0.5e-3, true, false, null]}`, `{"x": "` + strings.Repeat("é\\n", 9) + `"}`,
		"{\"x\": \"a\x01\"}", `{"x": [1,]}`, `{"x": {"a":1,}}`, `{"x": 01}`, `{"x": "\ud800"}`, `{"x": [` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `]}`} {
		f.Add([]byte(s))
	}
	skipper, err := Compile([]string{`{"never": [{"exists": false}]}`})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := skipper.MatchJSON(data)
		var obj map[string]json.RawMessage
		isObject := json.Valid(data) && json.Unmarshal(data, &obj) == nil && obj != nil
		if (err == nil) != isObject {
			t.Fatalf("MatchJSON(%q): error %v; a JSON object: %v", data, err, isObject)
		}
	})
}
