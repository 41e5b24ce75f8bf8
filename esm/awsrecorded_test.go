package esm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAWSRecorded replays on the esmtest fakes the event source mapping
// cases that LocalStack recorded against real AWS (localstack/localstack,
// tests/aws/services/lambda_/event_source_mapping/*.snapshot.json) and
// compares the outcome with what AWS recorded. The cases are data, one file
// per LocalStack source file, under testdata/aws-recorded (see its
// README.md). Every recorded case is in the data:
//
//   - a case the library cannot express yet (a feature not built: resource
//     tags, FilterCriteria while the mapping constructors refuse it, …) is
//     skipped with its reason and counted;
//   - a case marked knownDifference is run and its differences from AWS are
//     logged, not failed (they are being fixed); once it matches AWS, the
//     test says the mark can go;
//   - any other difference fails the test.
//
// The last line of the -v output is the tally:
// "aws-recorded: N of M cases reproduced, K not expressible". With
// AWS_RECORDED_DUMP=1 in the environment, each case logs what it observed.
func TestAWSRecorded(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "aws-recorded", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded cases under testdata/aws-recorded")
	tally := &arTally{}
	for _, path := range files {
		f := arLoad(t, path)
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			for _, c := range f.Cases {
				t.Run(arCaseName(c.Key), func(t *testing.T) { arRunCase(t, f, c, tally) })
			}
		})
	}
	tally.report(t)
}

// arFile is one data file: the cases of one LocalStack snapshot file.
type arFile struct {
	// Snapshot is the recorded file, in localstack/localstack, and
	// SnapshotCommit the version read; TestFile the test that produced it.
	Snapshot       string   `json:"snapshot"`
	SnapshotCommit string   `json:"snapshotCommit"`
	TestFile       string   `json:"testFile"`
	TestCommit     string   `json:"testCommit"`
	Notes          []string `json:"notes,omitempty"`
	Cases          []arCase `json:"cases"`
}

// arCase is one recorded case (one key of the snapshot file).
type arCase struct {
	// Key is the snapshot key, RecordedDate its "recorded-date".
	Key          string `json:"key"`
	RecordedDate string `json:"recordedDate"`
	// Recorded says in words what AWS recorded.
	Recorded string `json:"recorded"`
	// NotExpressible is the reason the library cannot express the case
	// yet, and Feature the feature not built. Cases with a Feature but no
	// NotExpressible run when the library accepts them (FilterCriteria:
	// they are skipped only while the mapping constructors refuse it).
	NotExpressible string `json:"notExpressible,omitempty"`
	Feature        string `json:"feature,omitempty"`
	// KnownDifference marks a case known to differ from AWS today (being
	// fixed): its differences are logged, not failed.
	KnownDifference string `json:"knownDifference,omitempty"`
	// Note explains choices: disagreements between recordings, what stands
	// in for what.
	Note string `json:"note,omitempty"`
	// Scenario is how the case runs on the fakes.
	Scenario *arScenario `json:"scenario,omitempty"`
	// Expect holds what AWS recorded, by observation name (see
	// testdata/aws-recorded/README.md). A name ending in ">=" is a lower
	// bound.
	Expect map[string]json.RawMessage `json:"expect,omitempty"`
}

// arScenario is a case's setup on the fakes.
type arScenario struct {
	// Kind is stream (Kinesis or DynamoDB Streams mapping), sqs (SQS
	// mapping), asyncDeadLetter (asynchronous invocation with a dead-letter
	// queue), validate (configurations refused or accepted),
	// missingSource (a mapping of a stream that does not exist) or
	// lifecycle (Lambda's event-source-mapping API over a Registry: Ops).
	Kind   string `json:"kind"`
	Source string `json:"source,omitempty"` // kinesis, dynamodb, sqs
	// Stream sources.
	Shards       int    `json:"shards,omitempty"`
	StreamView   string `json:"streamView,omitempty"`
	KeyAttribute string `json:"keyAttribute,omitempty"`
	// Label names Kinesis records by "partitionKey" (default) or "data" in
	// observations.
	Label string `json:"label,omitempty"`
	// Config is the CreateEventSourceMapping request (AWS's JSON, plus this
	// library's FunctionTimeoutInSeconds); "<source-arn>" and
	// "<destination-arn>" are filled in. Function is the function.
	Config   json.RawMessage `json:"config,omitempty"`
	Function arFunction      `json:"function"`
	// Mappings, when set, replaces Config and Function: several mappings
	// of one source.
	Mappings []arMappingSpec `json:"mappings,omitempty"`
	// Destination is the on-failure destination: sqs, sns or s3.
	Destination string `json:"destination,omitempty"`
	// Queue is the SQS source queue.
	Queue *arQueue `json:"queue,omitempty"`
	// Steps run in order; the mappings start at the step "start".
	Steps []arStep `json:"steps,omitempty"`
	// SettleSeconds is the fake time waited after the mappings finished
	// with every record, for invocations that should not happen (default
	// 60).
	SettleSeconds float64 `json:"settleSeconds,omitempty"`
	// Validations are the configurations of a validate scenario.
	Validations []arValidation `json:"validations,omitempty"`
	// Payload is the event of an asyncDeadLetter scenario; the ARN that of
	// a missingSource scenario.
	Payload json.RawMessage `json:"payload,omitempty"`
	ARN     string          `json:"arn,omitempty"`
	// Ops are the operations of a lifecycle scenario, and Placeholders
	// the recording's names for the fakes' resources: by resource name
	// (test-queue, test-table, test-stream, lambda_func, lambda_func:1…),
	// $streamLabel for the DynamoDB stream's label, $uuid1, $uuid2… for the
	// mappings created, in order.
	Ops          []arOp            `json:"ops,omitempty"`
	Placeholders map[string]string `json:"placeholders,omitempty"`
}

type arMappingSpec struct {
	Config   json.RawMessage `json:"config"`
	Function arFunction      `json:"function"`
}

// arStep is one step of a scenario.
type arStep struct {
	Start bool `json:"start,omitempty"`
	// Put writes stream records: Kinesis records (one PutRecord, or one
	// PutRecords for several) or DynamoDB items (PutItem each), with
	// IntervalSeconds between items.
	Put             []arRecord `json:"put,omitempty"`
	IntervalSeconds float64    `json:"intervalSeconds,omitempty"`
	// Send sends SQS messages one by one; SendBatch with one
	// SendMessageBatch (Ids message-1, message-2, …).
	Send      []arMessage `json:"send,omitempty"`
	SendBatch []arMessage `json:"sendBatch,omitempty"`
	// SleepSeconds waits (fake time).
	SleepSeconds float64 `json:"sleepSeconds,omitempty"`
	// WaitInvocations waits until the (first) function was invoked this
	// many times.
	WaitInvocations int `json:"waitInvocations,omitempty"`
}

type arRecord struct {
	PartitionKey string          `json:"partitionKey,omitempty"`
	Data         string          `json:"data,omitempty"`
	Item         json.RawMessage `json:"item,omitempty"` // DynamoDB JSON
}

type arMessage struct {
	Body       string                 `json:"body"`
	Group      string                 `json:"group,omitempty"`
	Dedup      string                 `json:"dedup,omitempty"`
	Attributes map[string]arAttribute `json:"attributes,omitempty"`
}

type arAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue"`
}

// arQueue is an SQS source queue: its attributes and, with
// MaxReceiveCount, a dead-letter queue in its RedrivePolicy.
type arQueue struct {
	FIFO            bool              `json:"fifo,omitempty"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	MaxReceiveCount int               `json:"maxReceiveCount,omitempty"`
}

// arValidation is one configuration of a validate scenario. Source picks
// the ARN put in "<source-arn>".
type arValidation struct {
	Name   string          `json:"name"`
	Source string          `json:"source"`
	Config json.RawMessage `json:"config"`
}

// arNotExpressible is returned by a scenario that finds the library
// refusing a feature it does not have yet.
type arNotExpressible struct{ reason string }

func (e *arNotExpressible) Error() string { return e.reason }

func arLoad(t *testing.T, path string) arFile {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f arFile
	require.NoError(t, dec.Decode(&f), path)
	require.NotEmpty(t, f.Cases, path)
	seen := map[string]bool{}
	for _, c := range f.Cases {
		require.False(t, seen[c.Key], "%s: case %s twice", path, c.Key)
		seen[c.Key] = true
		require.NotEmpty(t, c.Recorded, "%s: %s says nothing of what AWS recorded", path, c.Key)
		if c.NotExpressible == "" {
			require.NotNil(t, c.Scenario, "%s: %s has no scenario", path, c.Key)
			require.NotEmpty(t, c.Expect, "%s: %s expects nothing", path, c.Key)
		} else {
			require.NotEmpty(t, c.Feature, "%s: %s: name the feature not built", path, c.Key)
		}
	}
	return f
}

// arCaseName is the subtest name of a snapshot key: the part after the
// file name.
func arCaseName(key string) string {
	if _, after, ok := strings.Cut(key, ".py::"); ok {
		return after
	}
	return key
}

// arTally counts the outcomes for the summary line.
type arTally struct {
	mu             sync.Mutex
	total          int
	reproduced     int
	notExpressible []string
	differences    []string
}

func (ta *arTally) add(f func(*arTally)) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	f(ta)
}

func (ta *arTally) report(t *testing.T) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	for _, s := range ta.differences {
		t.Logf("aws-recorded: known difference: %s", s)
	}
	for _, s := range ta.notExpressible {
		t.Logf("aws-recorded: not expressible: %s", s)
	}
	t.Logf("aws-recorded: %d known differences (marked knownDifference: logged, not failed)", len(ta.differences))
	t.Logf("aws-recorded: %d of %d cases reproduced, %d not expressible", ta.reproduced, ta.total, len(ta.notExpressible))
}

func arRunCase(t *testing.T, f arFile, c arCase, tally *arTally) {
	tally.add(func(ta *arTally) { ta.total++ })
	skip := func(feature, reason string) {
		tally.add(func(ta *arTally) {
			ta.notExpressible = append(ta.notExpressible, fmt.Sprintf("%s [%s]: %s", arCaseName(c.Key), feature, reason))
		})
		t.Skipf("not expressible (%s): %s", feature, reason)
	}
	if c.NotExpressible != "" {
		skip(c.Feature, c.NotExpressible)
	}
	obs, err := arObserve(t, c)
	if ne := (*arNotExpressible)(nil); errors.As(err, &ne) {
		feature := c.Feature
		if feature == "" {
			feature = "not built"
		}
		skip(feature, ne.reason)
	}
	require.NoError(t, err)
	if os.Getenv("AWS_RECORDED_DUMP") != "" {
		b, _ := json.MarshalIndent(obs, "", "  ")
		t.Logf("observed:\n%s", b)
	}
	diffs := arCompare(c.Expect, obs)
	source := f.Snapshot + " " + c.Key
	switch {
	case len(diffs) == 0:
		tally.add(func(ta *arTally) { ta.reproduced++ })
		if c.KnownDifference != "" {
			t.Logf("matches AWS now: remove knownDifference %q from the data of %s", c.KnownDifference, c.Key)
		}
	case c.KnownDifference != "":
		tally.add(func(ta *arTally) {
			ta.differences = append(ta.differences, fmt.Sprintf("%s (%s)", arCaseName(c.Key), c.KnownDifference))
		})
		t.Logf("KNOWN DIFFERENCE (%s) from AWS (%s):\n\t%s", c.KnownDifference, source, strings.Join(diffs, "\n\t"))
	default:
		t.Errorf("differs from what AWS recorded (%s):\n\t%s", source, strings.Join(diffs, "\n\t"))
	}
}

// arObserve runs a case's scenario and returns what happened, by
// observation name.
func arObserve(t *testing.T, c arCase) (map[string]any, error) {
	sc := c.Scenario
	switch sc.Kind {
	case "stream":
		return arRunStream(t, sc)
	case "sqs":
		return arRunSQS(t, sc)
	case "asyncDeadLetter":
		return arRunAsyncDeadLetter(t, sc)
	case "validate":
		return arRunValidate(t, sc, c.Expect)
	case "missingSource":
		return arRunMissingSource(t, sc, c.Expect)
	case "lifecycle":
		return arRunLifecycle(t, sc)
	}
	return nil, fmt.Errorf("unknown scenario kind %q", sc.Kind)
}

// arCompare lists the differences between what AWS recorded and what was
// observed, one line each.
func arCompare(expect map[string]json.RawMessage, obs map[string]any) []string {
	names := make([]string, 0, len(expect))
	for k := range expect {
		names = append(names, k)
	}
	sort.Strings(names)
	var diffs []string
	for _, k := range names {
		name, atLeast := strings.CutSuffix(k, ">=")
		want := arDecode(expect[k])
		got, ok := obs[name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: AWS recorded %s; not observed", name, arShow(want)))
			continue
		}
		got = arNormalizeJSON(got)
		if atLeast {
			w, wok := want.(float64)
			g, gok := got.(float64)
			if !wok || !gok || g < w {
				diffs = append(diffs, fmt.Sprintf("%s: AWS recorded at least %s, got %s", name, arShow(want), arShow(got)))
			}
			continue
		}
		arDiff(name, want, got, &diffs)
	}
	return diffs
}

// arDiff appends the differences between want and got, by path.
func arDiff(path string, want, got any, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range keys {
				if !yield(k) {
					return
				}
			}
		}) {
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !gok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: AWS recorded %s; missing", path, k, arShow(wv)))
			case !wok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: not in AWS's recording; got %s", path, k, arShow(gv)))
			default:
				arDiff(path+"."+k, wv, gv, diffs)
			}
		}
		return
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			arDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], diffs)
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		*diffs = append(*diffs, fmt.Sprintf("%s: AWS recorded %s, got %s", path, arShow(want), arShow(got)))
	}
}

func arDecode(raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid JSON in the data: " + err.Error()
	}
	return v
}

// arNormalizeJSON gives an observed value the shape of decoded JSON.
func arNormalizeJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unencodable %T: %v", v, err)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func arShow(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// arAdvanceClock moves a synctest bubble's clock, which starts at
// 2000-01-01 (946684800: nine digits), to the recordings' time, so that
// epoch timestamps have the ten digits the recorded tests check.
func arAdvanceClock() {
	time.Sleep(time.Until(time.Date(2024, 10, 12, 12, 0, 0, 0, time.UTC)))
}

// arIntegerDigits is the number of digits before the decimal point of a
// JSON number, as the recorded tests check timestamps
// (int(math.log10(timestamp)) == 9: seconds, not milliseconds).
func arIntegerDigits(n json.Number) int {
	f, err := n.Float64()
	if err != nil || f < 1 {
		return 0
	}
	return int(math.Log10(f)) + 1
}
