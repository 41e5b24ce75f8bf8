package filter

import (
	"testing"
)

// TestMatchAllocations checks that matching a record allocates nothing:
// the decoder, the fields built and the strings unescaped come from a
// pooled arena, and keys are compared as the record writes them.
func TestMatchAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	data := `{"k\u0069nd": "order", "x": [1, {"y": "\"z"}], "skip": {"a": [true, null, -1.5e3, "\u00e9"]}}`
	kf := mustCompile(t, SourceKinesis, `{"partitionKey": ["pk"], "data": {"kind": ["order"], "x": {"y": ["\"z"]}}}`)
	rec := kinesisRecord("pk", data)
	sf := mustCompile(t, SourceSQS, `{"body": {"kind": ["order"]}, "attributes": {"SenderId": [{"exists": true}], "Missing": [{"exists": false}]}}`)
	msg := sqsMessage(data)
	df := mustCompile(t, SourceDynamoDB, `{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}}`)
	ddb := ddbRecord("INSERT", customer("Pat Candella", "60 days"), nil)
	jf := mustCompile(t, AnySource, `{"kind": ["order"], "x": {"y": ["\"z"]}}`)
	js := []byte(data)
	for _, c := range []struct {
		name  string
		match func() bool
	}{
		{"MatchKinesisRecord", func() bool { return kf.MatchKinesisRecord(rec) }},
		{"MatchSQSMessage", func() bool { return sf.MatchSQSMessage(msg) }},
		{"MatchDynamoDBRecord", func() bool { return df.MatchDynamoDBRecord(ddb) }},
		{"MatchJSON", func() bool { ok, _ := jf.MatchJSON(js); return ok }},
	} {
		if !c.match() {
			t.Fatalf("%s: no match", c.name)
		}
		if n := testing.AllocsPerRun(100, func() { c.match() }); n != 0 {
			t.Errorf("%s: %v allocations per record, want 0", c.name, n)
		}
	}
}
