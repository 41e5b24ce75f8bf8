package filter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matchCase is one pattern against events that match it and events that do
// not.
type matchCase struct {
	name    string
	pattern string
	match   []string
	noMatch []string
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Compile([]string{c.pattern})
			require.NoError(t, err)
			for _, e := range c.match {
				got, err := f.MatchJSON([]byte(e))
				require.NoError(t, err, e)
				assert.True(t, got, "should match: %s", e)
				v, err := decode([]byte(e))
				require.NoError(t, err)
				assert.True(t, f.matchValue(v), "Match(Decode) should match: %s", e)
			}
			for _, e := range c.noMatch {
				got, err := f.MatchJSON([]byte(e))
				require.NoError(t, err, e)
				assert.False(t, got, "should not match: %s", e)
				v, err := decode([]byte(e))
				require.NoError(t, err)
				assert.False(t, f.matchValue(v), "Match(Decode) should not match: %s", e)
			}
		})
	}
}

// ec2Event is the EC2 state-change event of the EventBridge guide and of
// event-ruler's README.
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

func TestEventBridgeGuideExamples(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"simple matching", `{
			"detail-type": ["EC2 Instance State-change Notification"],
			"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
			"detail": {"state": ["initializing", "running"]}}`,
			[]string{ec2Event},
			[]string{`{"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}}`}},
		{"complex example", `{
			"time": [{"prefix": "2017-10-02"}],
			"detail": {
				"state": [{"anything-but": "initializing"}],
				"c-count": [{"numeric": [">", 0, "<=", 5]}],
				"d-count": [{"numeric": ["<", 10]}],
				"x-limit": [{"anything-but": [100, 200, 300]}],
				"source-ip": [{"cidr": "10.0.0.0/8"}]}}`,
			[]string{ec2Event},
			[]string{`{"time": "2017-10-02T00:00:00Z", "detail": {"state": "initializing", "c-count": 5, "d-count": 3, "x-limit": 1, "source-ip": "10.0.0.1"}}`,
				`{"time": "2017-10-02T00:00:00Z", "detail": {"state": "running", "c-count": 6, "d-count": 3, "x-limit": 1, "source-ip": "10.0.0.1"}}`,
				`{"time": "2017-10-02T00:00:00Z", "detail": {"state": "running", "c-count": 5, "d-count": 3, "x-limit": 300, "source-ip": "10.0.0.1"}}`,
				`{"time": "2017-10-02T00:00:00Z", "detail": {"state": "running", "c-count": 5, "d-count": 3, "x-limit": 1, "source-ip": "11.0.0.1"}}`}},
		{"numeric matching", `{"detail": {
				"c-count": [{"numeric": [">", 0, "<=", 5]}],
				"d-count": [{"numeric": ["<", 10]}],
				"x-limit": [{"numeric": ["=", 3.018e2]}]}}`,
			[]string{ec2Event},
			[]string{`{"detail": {"c-count": 0, "d-count": 3, "x-limit": 301.8}}`,
				`{"detail": {"c-count": 5, "d-count": 10, "x-limit": 301.8}}`,
				`{"detail": {"c-count": 5, "d-count": 3, "x-limit": "301.8"}}`}},
		{"exists false on a leaf", `{"detail": {"c-count": [{"exists": false}]}}`,
			[]string{`{"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}}`,
				// c-count is not a leaf node: exists does not see it.
				`{"detail": {"state": "running", "c-count": {"c1": 100}}}`},
			[]string{ec2Event}},
		{"exists true", `{"detail": {"state": [{"exists": true}]}}`,
			[]string{ec2Event},
			[]string{`{"detail": {"c-count": {"c1": 100}}}`, `{"detail": {"state": {"s": "x"}}}`}},
		{"arrays: intersection of the pattern's and the event's", `{"resources": [
				"arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
				"arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
				"arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`,
			[]string{`{"resources": ["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate", "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`},
			[]string{`{"resources": ["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"]}`, `{"resources": []}`}},
		{"duplicate keys: the last one counts", `{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}`,
			[]string{`{"detail": {"location": "eu-west"}}`, `{"detail": {"location": "us-west"}}`},
			[]string{`{"detail": {"location": "us-east"}}`}},
	})
}

func TestOperators(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"equals", `{"Name": ["Alice"]}`,
			[]string{`{"Name": "Alice"}`, `{"Name": ["Bob", "Alice"]}`},
			[]string{`{"Name": "alice"}`, `{"Name": "Alice "}`, `{"name": "Alice"}`, `{}`, `{"Name": {"x": "Alice"}}`}},
		{"empty string", `{"LastName": [""]}`,
			[]string{`{"LastName": ""}`},
			[]string{`{"LastName": null}`, `{}`, `{"LastName": " "}`}},
		{"null", `{"UserID": [null]}`,
			[]string{`{"UserID": null}`, `{"UserID": [1, null]}`},
			[]string{`{}`, `{"UserID": "null"}`, `{"UserID": ""}`}},
		{"true and false", `{"a": [true], "b": [false]}`,
			[]string{`{"a": true, "b": false}`},
			[]string{`{"a": "true", "b": false}`, `{"a": true, "b": null}`}},
		{"numbers compare by value", `{"Price": [300]}`,
			[]string{`{"Price": 300}`, `{"Price": 300.0}`, `{"Price": 3.0e2}`, `{"Price": 3e+2}`},
			[]string{`{"Price": "300"}`, `{"Price": 301}`}},
		{"numbers beyond the numeric range compare by literal", `{"account": [123456789012]}`,
			[]string{`{"account": 123456789012}`},
			[]string{`{"account": 1.23456789012e11}`, `{"account": "123456789012"}`}},
		{"or in a list", `{"PaymentType": ["Credit", "Debit"]}`,
			[]string{`{"PaymentType": "Credit"}`, `{"PaymentType": "Debit"}`},
			[]string{`{"PaymentType": "Cash"}`}},
		{"and across fields", `{"Location": ["New York"], "Day": ["Monday"]}`,
			[]string{`{"Location": "New York", "Day": "Monday"}`},
			[]string{`{"Location": "New York", "Day": "Tuesday"}`, `{"Location": "New York"}`}},
		{"exactly", `{"a": [{"exactly": "10.0.0.1"}]}`,
			[]string{`{"a": "10.0.0.1"}`},
			[]string{`{"a": "10.000.0.1"}`, `{"a": 10}`}},
		{"prefix", `{"Region": [{"prefix": "us-"}]}`,
			[]string{`{"Region": "us-east-1"}`, `{"Region": "us-"}`},
			[]string{`{"Region": "eu-west-1"}`, `{"Region": "US-east-1"}`, `{"Region": 5}`}},
		{"empty prefix matches any string", `{"a": [{"prefix": ""}]}`,
			[]string{`{"a": ""}`, `{"a": "x"}`},
			[]string{`{"a": 1}`, `{"a": null}`, `{}`}},
		{"prefix ignoring case", `{"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}`,
			[]string{`{"service": "EventBridge"}`, `{"service": "eventbus"}`, `{"service": "EVENTB"}`},
			[]string{`{"service": "Event"}`, `{"service": "xeventb"}`}},
		{"suffix", `{"FileName": [{"suffix": ".png"}]}`,
			[]string{`{"FileName": "image.png"}`},
			[]string{`{"FileName": "image.PNG"}`, `{"FileName": "png"}`}},
		{"suffix ignoring case", `{"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}`,
			[]string{`{"FileName": "image.png"}`, `{"FileName": "IMAGE.PNG"}`},
			[]string{`{"FileName": "image.jpg"}`}},
		{"equals ignoring case", `{"Name": [{"equals-ignore-case": "alice"}]}`,
			[]string{`{"Name": "Alice"}`, `{"Name": "ALICE"}`, `{"Name": "alice"}`},
			[]string{`{"Name": "Alicia"}`}},
		{"equals ignoring case, beyond ASCII", `{"city": [{"equals-ignore-case": "ÉCOLE"}]}`,
			[]string{`{"city": "école"}`},
			[]string{`{"city": "ecole"}`}},
		{"wildcard", `{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}`,
			[]string{`{"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}`},
			[]string{`{"EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/default"}`}},
		{"wildcard in the middle", `{"FileName": [{"wildcard": "dir/*.png"}]}`,
			[]string{`{"FileName": "dir/a.png"}`, `{"FileName": "dir/.png"}`, `{"FileName": "dir/x/y.png"}`},
			[]string{`{"FileName": "dir/a.jpg"}`, `{"FileName": "other/a.png"}`}},
		{"wildcard escapes", `{"a": [{"wildcard": "a\\*b*"}]}`,
			[]string{`{"a": "a*b"}`, `{"a": "a*bc"}`},
			[]string{`{"a": "axb"}`, `{"a": "ab"}`}},
		{"wildcard alone matches every string", `{"a": [{"wildcard": "*"}]}`,
			[]string{`{"a": ""}`, `{"a": "x"}`},
			[]string{`{"a": 1}`, `{}`}},
		{"wildcard without star is equality", `{"a": [{"wildcard": "abc"}]}`,
			[]string{`{"a": "abc"}`},
			[]string{`{"a": "abcd"}`}},
		{"anything-but", `{"state": [{"anything-but": "initializing"}]}`,
			[]string{`{"state": "running"}`, `{"state": 5}`, `{"state": null}`, `{"state": ["initializing", "x"]}`},
			[]string{`{"state": "initializing"}`, `{}`, `{"state": {"a": 1}}`, `{"state": []}`}},
		{"anything-but a list of strings", `{"Weather": [{"anything-but": ["Raining", "Snowing"]}]}`,
			[]string{`{"Weather": "Sunny"}`},
			[]string{`{"Weather": "Raining"}`, `{"Weather": "Snowing"}`}},
		{"anything-but numbers", `{"x-limit": [{"anything-but": [100, 200, 300]}]}`,
			[]string{`{"x-limit": 301.8}`, `{"x-limit": "100"}`, `{"x-limit": true}`},
			[]string{`{"x-limit": 100}`, `{"x-limit": 2e2}`, `{"x-limit": 300.0}`}},
		{"anything-but a number", `{"x-limit": [{"anything-but": 123}]}`,
			[]string{`{"x-limit": 124}`},
			[]string{`{"x-limit": 123}`}},
		{"anything-but prefix", `{"Region": [{"anything-but": {"prefix": "us-"}}]}`,
			[]string{`{"Region": "eu-west-1"}`, `{"Region": 7}`},
			[]string{`{"Region": "us-east-1"}`}},
		{"anything-but a list of prefixes", `{"Region": [{"anything-but": {"prefix": ["us-", "eu-"]}}]}`,
			[]string{`{"Region": "ap-south-1"}`},
			[]string{`{"Region": "us-east-1"}`, `{"Region": "eu-west-1"}`}},
		{"anything-but suffix", `{"FileName": [{"anything-but": {"suffix": ".png"}}]}`,
			[]string{`{"FileName": "a.jpg"}`},
			[]string{`{"FileName": "a.png"}`}},
		{"anything-but ignoring case", `{"state": [{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}]}`,
			[]string{`{"state": "running"}`, `{"state": 1}`},
			[]string{`{"state": "INITIALIZING"}`, `{"state": "Stopped"}`}},
		{"anything-but wildcard", `{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}`,
			[]string{`{"FilePath": "/usr/bin/x"}`},
			[]string{`{"FilePath": "/usr/lib/x"}`}},
		{"numeric equals", `{"Price": [{"numeric": ["=", 100]}]}`,
			[]string{`{"Price": 100}`, `{"Price": 1e2}`, `{"Price": 100.000}`},
			[]string{`{"Price": "100"}`, `{"Price": 100.5}`}},
		{"numeric range", `{"Price": [{"numeric": [">", 10, "<=", 20]}]}`,
			[]string{`{"Price": 10.5}`, `{"Price": 20}`, `{"Price": [1, 15]}`},
			[]string{`{"Price": 10}`, `{"Price": 20.000001}`, `{"Price": "15"}`}},
		{"numeric bounds", `{"a": [{"numeric": [">=", -5.5, "<", 0]}]}`,
			[]string{`{"a": -5.5}`, `{"a": -0.000001}`},
			[]string{`{"a": 0}`, `{"a": -5.6}`}},
		{"numeric beyond the range", `{"a": [{"numeric": [">", 0]}]}`,
			[]string{`{"a": 5e9}`},
			[]string{`{"a": 5.000001e9}`, `{"a": 1e300}`}},
		{"exists and does not exist", `{"ProductName": [{"exists": true}], "Discontinued": [{"exists": false}]}`,
			[]string{`{"ProductName": "x"}`, `{"ProductName": null}`, `{"ProductName": [1], "Discontinued": {"a": 1}}`},
			[]string{`{"ProductName": "x", "Discontinued": false}`, `{"ProductName": {"a": 1}}`, `{"ProductName": []}`}},
		{"cidr IPv4", `{"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}`,
			[]string{`{"sourceIPAddress": "10.0.0.0"}`, `{"sourceIPAddress": "10.0.0.255"}`},
			[]string{`{"sourceIPAddress": "10.0.1.0"}`, `{"sourceIPAddress": "not an ip"}`, `{"sourceIPAddress": "::ffff:10.0.0.1"}`}},
		{"cidr starts at the address as written", `{"ip": [{"cidr": "10.0.0.5/24"}]}`,
			[]string{`{"ip": "10.0.0.5"}`, `{"ip": "10.0.0.255"}`},
			[]string{`{"ip": "10.0.0.4"}`}},
		{"cidr IPv6", `{"ip": [{"cidr": "2001:db8::/32"}]}`,
			[]string{`{"ip": "2001:db8::1"}`, `{"ip": "2001:DB8:FFFF::"}`},
			[]string{`{"ip": "2001:db9::1"}`, `{"ip": "10.0.0.1"}`}},
		{"an exact IP address matches its other spellings", `{"ip": ["2001:db8::1"]}`,
			[]string{`{"ip": "2001:db8::1"}`, `{"ip": "2001:0db8:0:0:0:0:0:1"}`},
			[]string{`{"ip": "2001:db8::2"}`}},
		{"or", `{"source": ["aws.cloudwatch"], "$or": [
				{"metricName": ["CPUUtilization", "ReadLatency"]},
				{"namespace": ["AWS/EC2", "AWS/ES"]}]}`,
			[]string{`{"source": "aws.cloudwatch", "metricName": "ReadLatency"}`,
				`{"source": "aws.cloudwatch", "namespace": "AWS/ES"}`},
			[]string{`{"source": "aws.cloudwatch", "metricName": "x", "namespace": "y"}`,
				`{"source": "aws.ec2", "metricName": "ReadLatency"}`}},
		{"nested or", `{"source": ["aws.cloudwatch"], "$or": [
				{"metricName": ["CPUUtilization", "ReadLatency"]},
				{"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"],
				 "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
				{"scope": ["Service"]}]}`,
			[]string{`{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}`,
				`{"source": "aws.cloudwatch", "scope": "Service"}`},
			[]string{`{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"}`}},
		{"parallel or in a nested object", `{"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
				"detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]}}`,
			[]string{`{"namespace": "AWS/EC2", "detail": {"detail-type": "CloudWatch Alarm State Change"}}`},
			[]string{`{"namespace": "AWS/EC2", "detail": {"source": "x"}}`}},
		{"exists false or a value", `{"a": ["x", {"exists": false}]}`,
			[]string{`{"a": "x"}`, `{}`, `{"a": {"b": 1}}`},
			[]string{`{"a": "y"}`}},
		{"or inside a nested object", `{"detail": {"$or": [{"a": [1]}, {"b": [2]}]}}`,
			[]string{`{"detail": {"b": 2}}`},
			[]string{`{"detail": {"$or": 1}}`}},
	})
}

func TestArrays(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"an object pattern sees inside arrays of objects", `{"employees": {"firstName": ["Anna"]}}`,
			[]string{`{"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]}`,
				`{"employees": [[{"firstName": "John"}, {"firstName": "Anna"}], [{"firstName": "Peter"}]]}`},
			[]string{`{"employees": [{"firstName": "John"}]}`}},
		{"array consistency: fields from one element", `{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}`,
			[]string{`{"employees": [{"firstName": "Anna", "lastName": "Jones"}]}`},
			[]string{`{"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}, {"firstName": "Peter", "lastName": "Jones"}]}`,
				`{"employees": [[{"firstName": "Anna", "lastName": "Smith"}], [{"firstName": "Peter", "lastName": "Jones"}]]}`}},
		{"nested arrays of values", `{"a": [3]}`,
			[]string{`{"a": [[1, 2], [3]]}`},
			[]string{`{"a": [[1, 2], [4]]}`}},
		{"exists false needs absence in every element", `{"a": {"b": [{"exists": false}]}}`,
			[]string{`{"a": [{"c": 1}, {"c": 2}]}`, `{"a": []}`, `{"a": 5}`, `{}`},
			[]string{`{"a": [{"c": 1}, {"b": 2}]}`}},
		{"exists false in the element another field picks", `{"a": {"b": [{"exists": false}], "c": [1]}}`,
			[]string{`{"a": [{"b": 0}, {"c": 1}]}`},
			[]string{`{"a": [{"b": 0, "c": 1}]}`}},
		{"exists false across unpinned arrays", `{"x": [1], "a": {"b": [{"exists": false}]}}`,
			[]string{`{"x": 1, "a": [{"c": 1}]}`},
			[]string{`{"x": 1, "a": [{"c": 1}, {"b": 1}]}`}},
		{"or inside an array element", `{"a": {"$or": [{"b": [1]}, {"c": [2]}], "d": [3]}}`,
			[]string{`{"a": [{"b": 1, "d": 3}]}`, `{"a": [{"c": 2, "d": 3}]}`},
			[]string{`{"a": [{"b": 1}, {"d": 3}]}`}},
		{"or alternatives with and without values", `{"a": {"$or": [{"b": [1]}, {"c": [{"exists": false}]}]}}`,
			[]string{`{"a": [{"b": 1, "c": 0}]}`, `{"a": [{"x": 1}, {"y": 2}]}`},
			[]string{`{"a": [{"c": 1}, {"b": 2}]}`}},
		{"fields of an or alternative and of the pattern pick the same element", `{"a": {"b": [1]}, "$or": [{"a": {"c": [2]}}, {"x": [1]}]}`,
			[]string{`{"a": [{"b": 1, "c": 2}]}`, `{"a": [{"b": 1}], "x": 1}`},
			[]string{`{"a": [{"b": 1}, {"c": 2}]}`}},
		{"a value and fields below it come from one element", `{"a": [5], "$or": [{"a": {"b": [1]}}, {"c": [1]}]}`,
			[]string{`{"a": [5, {"b": 1}], "c": 1}`},
			[]string{`{"a": [5, {"b": 1}]}`, `{"a": [[5, {"b": 1}]]}`}},
		{"a value, and no field below it in the same element", `{"a": [5], "$or": [{"a": {"b": [{"exists": false}]}}, {"c": [1]}]}`,
			[]string{`{"a": [5, {"b": 1}]}`},
			[]string{`{"a": [{"b": 1}]}`}},
	})
}

func TestEmptyAndNilFilters(t *testing.T) {
	var nilFilter *Filter
	assert.True(t, nilFilter.matchValue(objectValue()))
	assert.Equal(t, 0, nilFilter.Len())
	f, err := Compile(nil)
	require.NoError(t, err)
	ok, err := f.MatchJSON([]byte(`{"a": 1}`))
	require.NoError(t, err)
	assert.True(t, ok)
	_, err = f.MatchJSON([]byte(`{"a": `))
	var syn *SyntaxError
	assert.ErrorAs(t, err, &syn)
}

func TestMatchJSONRefusesNonObjects(t *testing.T) {
	f, err := Compile([]string{`{"a": [{"exists": false}]}`})
	require.NoError(t, err)
	for _, in := range []string{``, `[]`, `"x"`, `5`, `null`, `{"a":1} {}`, `{"a":01}`, "{\"a\":\"\x01\"}", `{"a":"\x"}`} {
		ok, err := f.MatchJSON([]byte(in))
		assert.Error(t, err, "%q", in)
		assert.False(t, ok)
	}
	assert.False(t, f.matchValue(stringValue("x")), "a record that is not an object matches nothing")
	assert.True(t, f.matchValue(objectValue()))
}

func TestMatchedPatterns(t *testing.T) {
	f, err := Compile([]string{
		`{"a": [1]}`, `{"b": [{"exists": true}]}`, `{"a": [{"numeric": [">", 0]}]}`,
	})
	require.NoError(t, err)
	got, err := f.MatchedPatternsJSON(nil, []byte(`{"a": 1}`))
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2}, got)
	v, err := decode([]byte(`{"a": 2, "b": null}`))
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, f.matchedPatterns(nil, v))
	assert.Equal(t, 3, f.Len())
	assert.Len(t, f.Patterns(), 3)
}
