package filter_test

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/filter"
)

func TestConstructors(t *testing.T) {
	v := filter.ObjectValue(
		filter.Field{Key: "s", Value: filter.StringValue("x")},
		filter.Field{Key: "f", Value: filter.FloatValue(2.5)},
		filter.Field{Key: "big", Value: filter.FloatValue(1e21)},
		filter.Field{Key: "i", Value: filter.IntValue(-3)},
		filter.Field{Key: "b", Value: filter.BoolValue(false)},
		filter.Field{Key: "n", Value: filter.NullValue()},
		filter.Field{Key: "nan", Value: filter.FloatValue(math.NaN())},
		filter.Field{Key: "a", Value: filter.ArrayValue(filter.BoolValue(true))},
	)
	assert.Equal(t, `{"s":"x","f":2.5,"big":1e+21,"i":-3,"b":false,"n":null,"nan":null,"a":[true]}`, v.String())
	assert.Equal(t, filter.KindObject, v.Kind())
	assert.Equal(t, "object", v.Kind().String())
	assert.Equal(t, "<missing>", filter.Value{}.String())
	_, err := filter.Value{}.MarshalJSON()
	assert.Error(t, err)

	n, err := filter.NumberValue("3.0e2")
	require.NoError(t, err)
	f, err := filter.Compile([]string{`{"n": [{"numeric": ["=", 300]}], "m": [300]}`})
	require.NoError(t, err)
	assert.True(t, f.Match(filter.ObjectValue(filter.Field{Key: "n", Value: n}, filter.Field{Key: "m", Value: filter.IntValue(300)})))
	for _, bad := range []string{"", "01", "1.", "+1", "0x10", "1e", "NaN"} {
		_, err := filter.NumberValue(bad)
		assert.Error(t, err, bad)
	}
}

func TestValueOf(t *testing.T) {
	var doc any
	dec := json.NewDecoder(strings.NewReader(`{"a": [1, 2.5, "x", null, true, {"b": -1e3}], "c": {}}`))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&doc))
	v, err := filter.ValueOf(doc)
	require.NoError(t, err)
	assert.Equal(t, `{"a":[1,2.5,"x",null,true,{"b":-1e3}],"c":{}}`, v.String())

	var plain any
	require.NoError(t, json.Unmarshal([]byte(`{"n": 300}`), &plain))
	v, err = filter.ValueOf(plain)
	require.NoError(t, err)
	f, err := filter.Compile([]string{`{"n": [300]}`})
	require.NoError(t, err)
	assert.True(t, f.Match(v))

	v, err = filter.ValueOf(map[string]any{"i": int8(1), "u": uint64(math.MaxUint64), "f": float32(0.5),
		"ss": []string{"a"}, "m": map[string]string{"k": "v"}, "v": filter.StringValue("w")})
	require.NoError(t, err)
	assert.Equal(t, `{"f":0.5,"i":1,"m":{"k":"v"},"ss":["a"],"u":18446744073709551615,"v":"w"}`, v.String())
	for _, bad := range []any{struct{}{}, math.Inf(1), []any{make(chan int)}, map[string]any{"x": json.Number("x")}} {
		_, err := filter.ValueOf(bad)
		assert.Error(t, err, "%v", bad)
	}
}

// TestConcurrentMatch runs MatchJSON, whose decoders are pooled, from many
// goroutines (run with -race).
func TestConcurrentMatch(t *testing.T) {
	f, err := filter.Compile([]string{`{"detail": {"state": ["running"]}}`})
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
	v, err := filter.Decode([]byte(`{"s": "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00", "k\u0041": 1}`))
	require.NoError(t, err)
	f, err := filter.Compile([]string{"{\"s\": [\"a\\\"\\\\/\\b\\f\\n\\r\\té😀\uFFFDx\uFFFD\"], \"kA\": [1]}"})
	require.NoError(t, err)
	assert.True(t, f.Match(v), v.String())

	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	_, err = filter.Decode([]byte(deep))
	assert.ErrorContains(t, err, "nested deeper than 10000")
	_, err = filter.Decode([]byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)))
	assert.NoError(t, err)
	_, err = f.MatchJSON([]byte(`{"x": ` + deep + `}`))
	assert.ErrorContains(t, err, "nested deeper than 10000")

	for _, bad := range []string{`{"a": "\u12"}`, `{"a": "\u12g4"}`, `{"a": "x`, `{"a" 1}`, `{"a": 1,}`, `[1,]`, `{1: 2}`, `nul`, `{"a": [1 2]}`} {
		_, err := filter.Decode([]byte(bad))
		var syn *filter.SyntaxError
		assert.ErrorAs(t, err, &syn, bad)
		_, err = f.MatchJSON([]byte(bad))
		assert.Error(t, err, bad)
	}
}
