package filter

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConstructors(t *testing.T) {
	v := objectValue(
		field{Key: "s", Value: stringValue("x")},
		field{Key: "f", Value: floatValue(2.5)},
		field{Key: "big", Value: floatValue(1e21)},
		field{Key: "i", Value: intValue(-3)},
		field{Key: "b", Value: boolValue(false)},
		field{Key: "n", Value: nullValue()},
		field{Key: "nan", Value: floatValue(math.NaN())},
		field{Key: "a", Value: arrayValue(boolValue(true))},
	)
	assert.Equal(t, `{"s":"x","f":2.5,"big":1e+21,"i":-3,"b":false,"n":null,"nan":null,"a":[true]}`, v.String())
	assert.Equal(t, kindObject, v.kindOf())
	assert.Equal(t, "object", v.kindOf().String())
	assert.Equal(t, "<missing>", value{}.String())
	_, err := value{}.MarshalJSON()
	assert.Error(t, err)

	n, err := parseNumberValue("3.0e2")
	require.NoError(t, err)
	f, err := Compile([]string{`{"n": [{"numeric": ["=", 300]}], "m": [300]}`})
	require.NoError(t, err)
	assert.True(t, f.matchValue(objectValue(field{Key: "n", Value: n}, field{Key: "m", Value: intValue(300)})))
	for _, bad := range []string{"", "01", "1.", "+1", "0x10", "1e", "NaN"} {
		_, err := parseNumberValue(bad)
		assert.Error(t, err, bad)
	}
}

func TestValueOf(t *testing.T) {
	var doc any
	dec := json.NewDecoder(strings.NewReader(`{"a": [1, 2.5, "x", null, true, {"b": -1e3}], "c": {}}`))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&doc))
	v, err := valueOf(doc)
	require.NoError(t, err)
	assert.Equal(t, `{"a":[1,2.5,"x",null,true,{"b":-1e3}],"c":{}}`, v.String())

	var plain any
	require.NoError(t, json.Unmarshal([]byte(`{"n": 300}`), &plain))
	v, err = valueOf(plain)
	require.NoError(t, err)
	f, err := Compile([]string{`{"n": [300]}`})
	require.NoError(t, err)
	assert.True(t, f.matchValue(v))

	v, err = valueOf(map[string]any{"i": int8(1), "u": uint64(math.MaxUint64), "f": float32(0.5),
		"ss": []string{"a"}, "m": map[string]string{"k": "v"}, "v": stringValue("w")})
	require.NoError(t, err)
	assert.Equal(t, `{"f":0.5,"i":1,"m":{"k":"v"},"ss":["a"],"u":18446744073709551615,"v":"w"}`, v.String())
	for _, bad := range []any{struct{}{}, math.Inf(1), []any{make(chan int)}, map[string]any{"x": json.Number("x")}} {
		_, err := valueOf(bad)
		assert.Error(t, err, "%v", bad)
	}
}

// TestConcurrentMatch runs MatchJSON, whose decoders are pooled, from many
// goroutines (run with -race).
func TestConcurrentMatch(t *testing.T) {
	f, err := Compile([]string{`{"detail": {"state": ["running"]}}`})
	require.NoError(t, err)
	running := []byte(`{"detail": {"state": "running", "x": [1, 2, {"y": "z"}]}}`)
	stopped := []byte(`{"detail": {"state": "stopped"}, "pad": "` + strings.Repeat("x", 2000) + `"}`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ok, err := f.MatchJSON(running)
				if err != nil || !ok {
					t.Errorf("running: %v %v", ok, err)
					return
				}
				ok, err = f.MatchJSON(stopped)
				if err != nil || ok {
					t.Errorf("stopped: %v %v", ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDecode(t *testing.T) {
	v, err := decode([]byte(`{"s": "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00", "k\u0041": 1}`))
	require.NoError(t, err)
	f, err := Compile([]string{"{\"s\": [\"a\\\"\\\\/\\b\\f\\n\\r\\té😀\uFFFDx\uFFFD\"], \"kA\": [1]}"})
	require.NoError(t, err)
	assert.True(t, f.matchValue(v), v.String())

	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	_, err = decode([]byte(deep))
	assert.ErrorContains(t, err, "nested deeper than 10000")
	_, err = decode([]byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)))
	assert.NoError(t, err)
	_, err = f.MatchJSON([]byte(`{"x": ` + deep + `}`))
	assert.ErrorContains(t, err, "nested deeper than 10000")

	for _, bad := range []string{`{"a": "\u12"}`, `{"a": "\u12g4"}`, `{"a": "x`, `{"a" 1}`, `{"a": 1,}`, `[1,]`, `{1: 2}`, `nul`, `{"a": [1 2]}`} {
		_, err := decode([]byte(bad))
		var syn *SyntaxError
		assert.ErrorAs(t, err, &syn, bad)
		_, err = f.MatchJSON([]byte(bad))
		assert.Error(t, err, bad)
	}
}
