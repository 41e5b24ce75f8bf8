package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileRefuses(t *testing.T) {
	cases := []struct {
		name, pattern string
		path, reason  string // reason is a substring
	}{
		// Recorded against AWS by LocalStack (test_sqs_invalid_event_filter,
		// test_dynamodb_invalid_event_filter): InvalidParameterValueException
		// "Invalid filter pattern definition."
		{"empty", ``, "", "the pattern is empty"},
		{"blank", " \n\t", "", "the pattern is empty"},
		{"not JSON", `simple string`, "", "not valid JSON"},
		{"not JSON either", `single-string`, "", "not valid JSON"},
		{"broken JSON", `[{"eventName": ["INSERT"=123}]`, "", "not valid JSON"},
		{"a leaf that is not a list", `{"eventSource": "aws:sqs"}`, "eventSource", `must be a list of values like ["a"] or an object of fields, not the string "aws:sqs"`},
		{"empty array", `{"eventSource": []}`, "eventSource", "empty arrays are not allowed"},

		{"not an object", `["a"]`, "", "must be a JSON object, not an array"},
		{"a string", `"a"`, "", "must be a JSON object"},
		{"trailing data", `{"a": [1]} x`, "", "not valid JSON"},
		{"empty object", `{}`, "", "empty objects are not allowed"},
		{"nested empty object", `{"a": {}}`, "a", "empty objects are not allowed"},
		{"number leaf", `{"a": 5}`, "a", "not the number 5"},
		{"null leaf", `{"a": {"b": null}}`, "a.b", "not null"},
		{"nested list", `{"a": [[1]]}`, "a[0]", "not an array"},
		{"unknown operator", `{"a": [{"regex": "x"}]}`, "a[0]", `unknown operator "regex"`},
		{"empty operator", `{"a": [{}]}`, "a[0]", "an empty object is not an operator"},
		{"two operators", `{"a": [{"prefix": "x", "suffix": "y"}]}`, "a[0]", "exactly one operator, found 2"},
		{"prefix not a string", `{"a": [{"prefix": 5}]}`, "a[0].prefix", "prefix must be a string, not the number 5"},
		{"prefix bad object", `{"a": [{"prefix": {"wildcard": "x"}}]}`, "a[0].prefix", `prefix takes a string or {"equals-ignore-case": string}`},
		{"prefix ignore case not a string", `{"a": [{"prefix": {"equals-ignore-case": 1}}]}`, "a[0].prefix.equals-ignore-case", "must be a string"},
		{"suffix not a string", `{"a": [{"suffix": ["x"]}]}`, "a[0].suffix", "suffix must be a string, not an array"},
		{"equals-ignore-case not a string", `{"a": [{"equals-ignore-case": true}]}`, "a[0].equals-ignore-case", "must be a string, not true"},
		{"exactly not a string", `{"a": [{"exactly": 1}]}`, "a[0].exactly", "exactly must be a string"},
		{"wildcard not a string", `{"a": [{"wildcard": null}]}`, "a[0].wildcard", "wildcard must be a string"},
		{"wildcard consecutive stars", `{"a": [{"wildcard": "a**b"}]}`, "a[0].wildcard", "consecutive wildcard characters at position 1"},
		{"wildcard bad escape", `{"a": [{"wildcard": "a\\b"}]}`, "a[0].wildcard", "invalid escape at position 1"},
		{"wildcard trailing backslash", `{"a": [{"wildcard": "a\\"}]}`, "a[0].wildcard", "invalid escape"},
		{"exists not a boolean", `{"a": [{"exists": "true"}]}`, "a[0].exists", `exists must be true or false, not the string "true"`},
		{"cidr not a string", `{"a": [{"cidr": 10}]}`, "a[0].cidr", "cidr must be a string"},
		{"cidr without prefix length", `{"a": [{"cidr": "10.0.0.0"}]}`, "a[0].cidr", "one '/'"},
		{"cidr two slashes", `{"a": [{"cidr": "10.0.0.0/8/8"}]}`, "a[0].cidr", "one '/'"},
		{"cidr bad length", `{"a": [{"cidr": "10.0.0.0/x"}]}`, "a[0].cidr", "must be an integer"},
		{"cidr negative length", `{"a": [{"cidr": "10.0.0.0/-1"}]}`, "a[0].cidr", "must not be negative"},
		{"cidr bad address", `{"a": [{"cidr": "10.0.0.256/8"}]}`, "a[0].cidr", "invalid IP address"},
		{"cidr hostname", `{"a": [{"cidr": "example.com/8"}]}`, "a[0].cidr", "invalid IP address"},
		{"cidr IPv4 /32", `{"a": [{"cidr": "10.0.0.1/32"}]}`, "a[0].cidr", "below 32"},
		{"cidr IPv6 /128", `{"a": [{"cidr": "::1/128"}]}`, "a[0].cidr", "below 128"},
		{"anything-but null", `{"a": [{"anything-but": null}]}`, "a[0].anything-but", "anything-but takes a string, a number"},
		{"anything-but boolean", `{"a": [{"anything-but": true}]}`, "a[0].anything-but", "not true"},
		{"anything-but empty list", `{"a": [{"anything-but": []}]}`, "a[0].anything-but", "empty arrays are not allowed"},
		{"anything-but mixed list", `{"a": [{"anything-but": ["a", 1]}]}`, "a[0].anything-but", "only strings or only numbers, not both"},
		{"anything-but list with null", `{"a": [{"anything-but": ["a", null]}]}`, "a[0].anything-but[1]", "only strings or only numbers"},
		{"anything-but number out of range", `{"a": [{"anything-but": 6e9}]}`, "a[0].anything-but", "out of range"},
		{"anything-but unknown operator", `{"a": [{"anything-but": {"exists": true}}]}`, "a[0].anything-but.exists", "supports prefix, suffix, equals-ignore-case and wildcard"},
		{"anything-but two operators", `{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}`, "a[0].anything-but", "found 2 keys"},
		{"anything-but empty operator", `{"a": [{"anything-but": {}}]}`, "a[0].anything-but", "found 0 keys"},
		{"anything-but empty prefix", `{"a": [{"anything-but": {"prefix": ""}}]}`, "a[0].anything-but.prefix", "must not be empty"},
		{"anything-but empty suffix in a list", `{"a": [{"anything-but": {"suffix": ["x", ""]}}]}`, "a[0].anything-but.suffix", "must not be empty"},
		{"anything-but prefix number", `{"a": [{"anything-but": {"prefix": 1}}]}`, "a[0].anything-but.prefix", "takes a string or a list of strings"},
		{"anything-but ignore-case numbers", `{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}`, "a[0].anything-but.equals-ignore-case[0]", "takes strings, not the number 1"},
		{"anything-but prefix empty list", `{"a": [{"anything-but": {"prefix": []}}]}`, "a[0].anything-but.prefix", "empty arrays are not allowed"},
		{"anything-but bad wildcard", `{"a": [{"anything-but": {"wildcard": "**"}}]}`, "a[0].anything-but.wildcard", "consecutive wildcard"},
		{"numeric not an array", `{"a": [{"numeric": 5}]}`, "a[0].numeric", "numeric takes an array"},
		{"numeric empty", `{"a": [{"numeric": []}]}`, "a[0].numeric", "needs an operator and a number"},
		{"numeric without operator", `{"a": [{"numeric": [5]}]}`, "a[0].numeric[0]", "must start with an operator"},
		{"numeric unknown operator", `{"a": [{"numeric": ["!=", 5]}]}`, "a[0].numeric[0]", `unknown numeric operator "!="`},
		{"numeric missing value", `{"a": [{"numeric": [">"]}]}`, "a[0].numeric", "needs a number after it"},
		{"numeric string value", `{"a": [{"numeric": [">", "5"]}]}`, "a[0].numeric[1]", `the value after ">" must be a number, not the string "5"`},
		{"numeric equals two values", `{"a": [{"numeric": ["=", 5, 6]}]}`, "a[0].numeric", "takes one number"},
		{"numeric upper bound first", `{"a": [{"numeric": ["<", 10, ">", 0]}]}`, "a[0].numeric", "write the lower bound first"},
		{"numeric bad second operator", `{"a": [{"numeric": [">", 0, ">", 5]}]}`, "a[0].numeric[2]", "upper bound operator"},
		{"numeric second value missing", `{"a": [{"numeric": [">", 0, "<"]}]}`, "a[0].numeric", `"<" needs a number`},
		{"numeric too many elements", `{"a": [{"numeric": [">", 0, "<", 5, 6]}]}`, "a[0].numeric", "at most four elements"},
		{"numeric empty range", `{"a": [{"numeric": [">=", 5, "<=", 5]}]}`, "a[0].numeric", "lower bound 5 must be less than the upper bound 5"},
		{"numeric reversed range", `{"a": [{"numeric": [">", 10, "<", 5]}]}`, "a[0].numeric", "must be less than"},
		{"numeric out of range", `{"a": [{"numeric": [">", 5000000001]}]}`, "a[0].numeric[1]", "out of range"},
		{"numeric huge", `{"a": [{"numeric": ["<", 1e400]}]}`, "a[0].numeric[1]", "out of range"},
		{"or not an array", `{"$or": {"a": [1]}}`, "$or", "$or must be an array of at least two objects, not an object"},
		{"or with one object", `{"$or": [{"a": [1]}]}`, "$or", "at least two objects, found 1"},
		{"or with a non-object", `{"$or": [{"a": [1]}, ["b"]]}`, "$or[1]", "every element of $or must be an object"},
		{"or with an empty object", `{"$or": [{"a": [1]}, {}]}`, "$or[1]", "empty objects are not allowed"},
		{"reserved word inside or", `{"$or": [{"numeric": [1]}, {"b": ["a"]}]}`, "$or[0].numeric", `"numeric" is a reserved word`},
		{"reserved word deep inside or", `{"x": {"$or": [{"a": {"cidr": [1]}}, {"b": [2]}]}}`, "x.$or[0].a.cidr", "reserved word"},
		{"nested or problem", `{"a": {"$or": [{"b": [1]}, {"c": []}]}}`, "a.$or[1].c", "empty arrays"},
		{"too long", `{"a": ["` + strings.Repeat("x", MaxPatternLength) + `"]}`, "", "at most 4096 are allowed"},
		{"invalid UTF-8", "{\"a\": [\"\xff\"]}", "", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile([]string{`{"ok": ["pattern"]}`, c.pattern})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidPattern)
			assert.True(t, strings.HasPrefix(err.Error(), "Invalid filter pattern definition."), err.Error())
			var ce *Error
			require.ErrorAs(t, err, &ce)
			require.Len(t, ce.Problems, 1, "%v", err)
			p := ce.Problems[0]
			assert.Equal(t, 1, p.Index)
			assert.Equal(t, c.path, p.Path)
			assert.Contains(t, p.Reason, c.reason)
			assert.True(t, strings.HasPrefix(p.Error(), "Invalid filter pattern definition. (pattern 1"), p.Error())
			var pe *PatternError
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, pe, ErrInvalidPattern)
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, p := range []string{
		// Lambda's operator table.
		`{"UserID": [null]}`,
		`{"LastName": [""]}`,
		`{"Name": ["Alice"]}`,
		`{"Location": ["New York"], "Day": ["Monday"]}`,
		`{"PaymentType": ["Credit", "Debit"]}`,
		`{"Weather": [{"anything-but": ["Raining"]}]}`,
		`{"Price": [{"numeric": ["=", 100]}]}`,
		`{"Price": [{"numeric": [">", 10, "<=", 20]}]}`,
		`{"ProductName": [{"exists": true}]}`,
		`{"ProductName": [{"exists": false}]}`,
		`{"Region": [{"prefix": "us-"}]}`,
		// EventBridge's, beyond Lambda's table.
		`{"Region": [{"anything-but": {"prefix": "us-"}}]}`,
		`{"FileName": [{"anything-but": {"suffix": ".png"}}]}`,
		`{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}`,
		`{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}`,
		`{"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}`,
		`{"Name": [{"equals-ignore-case": "alice"}]}`,
		`{"FileName": [{"suffix": ".png"}]}`,
		`{"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]}`,
		`{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}`,
		`{"FileName": [{"wildcard": "dir/*.png"}]}`,
		`{"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}`,
		`{"ip": [{"cidr": "2001:db8::/64"}]}`,
		`{"x": [{"anything-but": 123}]}`,
		`{"x": [{"anything-but": ["a"]}, {"anything-but": [1, 2]}]}`,
		`{"x": [{"anything-but": {"prefix": ["a", "b"]}}]}`,
		`{"x": [{"numeric": [">=", -5e9, "<=", 5e9]}]}`,
		`{"x": [{"numeric": ["<", 0.5]}]}`,
		`{"x": [{"exactly": "a"}]}`,
		`{"x": [{"wildcard": "\\*\\\\"}]}`,
		`{"x": [1, "1", true, false, null, {"exists": false}]}`,
		`{"x": [123456789012345678901234567890]}`,
		// Whitespace around the object is fine.
		" \n{\"a\": [1]}\n ",
		`{"a": [1], "a": {"b": [1]}}`,
		`{"` + strings.Repeat("x", MaxPatternLength-10) + `": [1]}`,
	} {
		_, err := Compile([]string{p})
		assert.NoError(t, err, p)
	}
}

func TestCompileLimits(t *testing.T) {
	six := []string{`{"a": [1]}`, `{"a": [2]}`, `{"a": [3]}`, `{"a": [4]}`, `{"a": [5]}`, `{"a": [6]}`}
	_, err := Compile(six[:5])
	require.NoError(t, err)
	_, err = Compile(six)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Problems, 1)
	assert.Equal(t, -1, ce.Problems[0].Index)
	assert.Equal(t, "6 filters; at most 5 are allowed", ce.Problems[0].Reason)
	assert.Equal(t, "Invalid filter pattern definition. (6 filters; at most 5 are allowed)", ce.Problems[0].Error())

	f, err := Compile(six, WithMaxFilters(10))
	require.NoError(t, err)
	assert.Equal(t, 6, f.Len())
	_, err = Compile(append(six, six...), WithMaxFilters(10))
	assert.ErrorIs(t, err, ErrInvalidPattern)

	for _, bad := range []int{-1, 0, 11} {
		_, err = Compile(six, WithMaxFilters(bad))
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrInvalidPattern, "a bad option is not a bad pattern")
	}
	_, err = Compile(nil, WithSource(9))
	assert.Error(t, err)

	// The length is in characters, as AWS counts.
	long := `{"a": ["` + strings.Repeat("é", MaxPatternLength-12) + `"]}`
	assert.Greater(t, len(long), MaxPatternLength)
	_, err = Compile([]string{long})
	assert.NoError(t, err)
}

func TestCompileReportsEveryProblem(t *testing.T) {
	patterns := []string{
		`{"ok": [1]}`,
		`{"a": [], "b": "x", "c": [{"prefix": 1}, {"numeric": [">"]}]}`,
		`nope`,
		`{"ok": [2]}`,
		`{"d": [{"wildcard": "**"}]}`,
		`{"a": [1]}`,
	}
	_, err := Compile(patterns)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	var where []string
	for _, p := range ce.Problems {
		where = append(where, fmt.Sprintf("%d:%s", p.Index, p.Path))
	}
	assert.Equal(t, []string{"-1:", "1:a", "1:b", "1:c[0].prefix", "1:c[1].numeric", "2:", "4:d[0].wildcard"}, where)
	assert.Equal(t, []int{-1, 1, 2, 4}, ce.Indexes())
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "Invalid filter pattern definition.\n\t6 filters; at most 5 are allowed\n\tpattern 1 at a: empty arrays are not allowed\n"), msg)
	assert.Len(t, ce.Unwrap(), len(ce.Problems))
}

func TestCompileTooComplex(t *testing.T) {
	// Eleven $or of two alternatives expand to 2048 alternatives.
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 11; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%d": {"$or": [{"a": [1]}, {"b": [1]}]}`, i)
	}
	b.WriteString("}")
	_, err := Compile([]string{b.String()})
	var pe *PatternError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Reason, "too complex")

	// Nine expand to 512: fine.
	nine := strings.Replace(b.String(), `,"f9": {"$or": [{"a": [1]}, {"b": [1]}]},"f10": {"$or": [{"a": [1]}, {"b": [1]}]}`, "", 1)
	f, err := Compile([]string{nine})
	require.NoError(t, err)
	ok, err := f.MatchJSON([]byte(`{"f0":{"a":1},"f1":{"b":1},"f2":{"a":1},"f3":{"a":1},"f4":{"a":1},"f5":{"a":1},"f6":{"a":1},"f7":{"a":1},"f8":{"b":1}}`))
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestSourceRules(t *testing.T) {
	cases := []struct {
		source  Source
		pattern string
		ok      bool
	}{
		// Kinesis and DynamoDB: "Lambda throws an exception at the time of the
		// event source mapping creation or update" for a non-JSON data pattern.
		{SourceKinesis, `{"data": ["plain"]}`, false},
		{SourceKinesis, `{"data": [{"prefix": "x"}]}`, false},
		{SourceKinesis, `{"$or": [{"data": ["x"]}, {"partitionKey": ["1"]}]}`, false},
		{SourceKinesis, `{"data": {"a": ["x"]}}`, true},
		{SourceKinesis, `{"partitionKey": ["1"]}`, true},
		{SourceKinesis, `{"x": {"data": ["nested, not the data key"]}}`, true},
		{SourceDynamoDB, `{"dynamodb": [{"exists": true}]}`, false},
		{SourceDynamoDB, `{"dynamodb": {"Keys": {"id": {"S": ["1"]}}}}`, true},
		{SourceDynamoDB, `{"data": ["x"]}`, true},
		// SQS: both formats are patterns; the body decides at match time.
		{SourceSQS, `{"body": ["plain"]}`, true},
		{SourceSQS, `{"body": {"a": [1]}}`, true},
		{AnySource, `{"data": ["plain"]}`, true},
	}
	for _, c := range cases {
		_, err := Compile([]string{c.pattern}, WithSource(c.source))
		if c.ok {
			assert.NoError(t, err, "%s %s", c.source, c.pattern)
			continue
		}
		var pe *PatternError
		if assert.ErrorAs(t, err, &pe, "%s %s", c.source, c.pattern) {
			assert.Contains(t, pe.Reason, "must be a JSON object")
		}
	}
	assert.Equal(t, "Kinesis", SourceKinesis.String())
	assert.Equal(t, "any source", AnySource.String())
}

func TestErrorIsMatchesOnlyRefusals(t *testing.T) {
	assert.False(t, errors.Is(errors.New("x"), ErrInvalidPattern))
	_, err := decode([]byte(`{`))
	assert.NotErrorIs(t, err, ErrInvalidPattern)
}
