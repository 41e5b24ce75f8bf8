package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// Capability names a behaviour of the real service that a target may lack.
// A [Target] declares the capabilities it lacks; the tests that need one
// are skipped for that target, with the reason in the output.
type Capability string

// Capabilities of Kinesis Data Streams.
const (
	// KinesisAtTrimHorizonFilter: ListShards with ShardFilter AT_TRIM_HORIZON
	// lists only the shards that were open at the trim horizon, not their
	// descendants.
	KinesisAtTrimHorizonFilter Capability = "kinesis/list-shards-at-trim-horizon"
	// KinesisInvalidIteratorError: GetRecords with a malformed shard
	// iterator fails with InvalidArgumentException (HTTP 400), which the SDK
	// does not retry.
	KinesisInvalidIteratorError Capability = "kinesis/invalid-iterator-error"
)

// Capabilities of DynamoDB Streams.
const (
	// DynamoDBShardLineage: a stream's shards close and are succeeded by
	// child shards that name them as ParentShardId (DynamoDB rolls shards
	// over every few hours).
	DynamoDBShardLineage Capability = "dynamodb/shard-lineage"
	// DynamoDBLatestOnEmptyShard: a LATEST iterator taken on a shard that
	// has no records yet reads the first records written to it, whatever
	// other streams are written meanwhile.
	DynamoDBLatestOnEmptyShard Capability = "dynamodb/latest-on-empty-shard"
	// DynamoDBCreationTimeSeconds: ApproximateCreationDateTime is the time
	// of the write rounded down to the second.
	DynamoDBCreationTimeSeconds Capability = "dynamodb/creation-time-seconds"
	// DynamoDBAtTimestampIterator: GetShardIterator accepts AT_TIMESTAMP and
	// lands on the first record created at or after Timestamp.
	DynamoDBAtTimestampIterator Capability = "dynamodb/at-timestamp-iterator"
)

// Capabilities of SQS.
const (
	// SQSFIFOBatchPerGroup: a FIFO ReceiveMessage returns several
	// consecutive messages of one message group in one answer.
	SQSFIFOBatchPerGroup Capability = "sqs/fifo-several-per-group"
	// SQSDeleteBatchFailures: DeleteMessageBatch reports an entry with an
	// invalid receipt handle in Failed instead of deleting nothing silently.
	SQSDeleteBatchFailures Capability = "sqs/delete-batch-failures"
	// SQSReceiveAttemptID: a FIFO ReceiveMessage retried with the same
	// ReceiveRequestAttemptId returns the same messages again.
	SQSReceiveAttemptID Capability = "sqs/receive-request-attempt-id"
	// SQSRequestedAttributesOnly: ReceiveMessage returns message attributes
	// only when MessageAttributeNames asks for them.
	SQSRequestedAttributesOnly Capability = "sqs/requested-attributes-only"
)

var capabilities = map[string][]Capability{
	"Kinesis":          {KinesisAtTrimHorizonFilter, KinesisInvalidIteratorError},
	"Kinesis fan-out":  {KinesisFanOutChildShards, KinesisFanOutPush, KinesisFanOutTakeOver},
	"DynamoDB Streams": {DynamoDBShardLineage, DynamoDBLatestOnEmptyShard, DynamoDBCreationTimeSeconds, DynamoDBAtTimestampIterator},
	"SQS":              {SQSFIFOBatchPerGroup, SQSDeleteBatchFailures, SQSReceiveAttemptID, SQSRequestedAttributesOnly},
}

// Capabilities returns the capabilities a suite of service ("Kinesis",
// "Kinesis fan-out", "DynamoDB Streams" or "SQS") checks, in the order of
// their declaration.
func Capabilities(service string) []Capability {
	return slices.Clone(capabilities[service])
}

// Target is what every harness tells about the implementation under test.
type Target interface {
	// Name names the target in test output, such as "esmtest" or
	// "kinesis-local 0.6.2".
	Name() string
	// Lacks returns the capabilities the target does not provide, each
	// with the reason (one line); nil when it provides them all.
	Lacks() map[Capability]string
}

// Synctester is implemented by a harness whose target takes its time only
// from package time (time.Now, timers), as esmtest's fakes do with their
// default clock. When Synctest reports true, each test runs in its own
// testing/synctest bubble, where the suite's waits (visibility timeouts,
// long polls) pass at once in fake time. The target's resources must then
// be created by the harness inside the test that uses them, as they are.
type Synctester interface {
	// Synctest reports whether the target's tests may run in synctest
	// bubbles.
	Synctest() bool
}

// testTimeout bounds each test of a suite.
const testTimeout = 60 * time.Second

// pollInterval spaces the reads of a test that waits for data to appear.
const pollInterval = 20 * time.Millisecond

// suiteTest is one behavioural test of a suite.
type suiteTest[H Target] struct {
	name  string
	needs []Capability
	run   func(ctx context.Context, t *testing.T, h H)
}

// runSuite logs what target h lacks, checks that it declares only
// capabilities of service, and runs each test in parallel, skipping those
// that need a capability h lacks.
func runSuite[H Target](t *testing.T, service string, h H, tests []suiteTest[H]) {
	t.Helper()
	lacks := h.Lacks()
	known := capabilities[service]
	names := slices.Sorted(maps.Keys(lacks))
	for _, c := range names {
		if !slices.Contains(known, c) {
			t.Errorf("conformance: %s declares capability %q, which the %s suite does not know (known: %v)", h.Name(), c, service, known)
		}
	}
	if len(names) == 0 {
		t.Logf("conformance: %s on %s: provides every capability", service, h.Name())
	} else {
		list := make([]string, len(names))
		for i, c := range names {
			list[i] = string(c)
		}
		t.Logf("conformance: %s on %s: lacks %d of %d capabilities: %s", service, h.Name(), len(names), len(known), strings.Join(list, ", "))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range tc.needs {
				if reason, ok := lacks[c]; ok {
					t.Skipf("capability %s not provided by %s: %s", c, h.Name(), reason)
				}
			}
			body := func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
				defer cancel()
				tc.run(ctx, t, h)
			}
			if st, ok := any(h).(Synctester); ok && st.Synctest() {
				synctest.Test(t, body)
			} else {
				body(t)
			}
		})
	}
}

// eventually calls try every pollInterval until it reports done, failing t
// with what when ctx ends first.
func eventually(ctx context.Context, t *testing.T, what string, try func() (done bool, err error)) {
	t.Helper()
	var last error
	for {
		done, err := try()
		if done && err == nil {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("conformance: %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// readN reads a shard from iterator it with get (one GetRecords call: its
// records and next iterator) until it has n records, and returns them with
// the next iterator. The shard must not end first.
func readN[R any](ctx context.Context, t *testing.T, it *string, n int, get func(it *string) ([]R, *string)) ([]R, *string) {
	t.Helper()
	var recs []R
	eventually(ctx, t, fmt.Sprintf("read %d records", n), func() (bool, error) {
		for len(recs) < n {
			require.NotNil(t, it, "the shard ended after %d of %d records", len(recs), n)
			page, next := get(it)
			recs, it = append(recs, page...), next
			if len(page) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	return recs, it
}

// readToEnd reads a closed shard from iterator it with get until the next
// iterator is nil, and returns the records.
func readToEnd[R any](ctx context.Context, t *testing.T, it *string, get func(it *string) ([]R, *string)) []R {
	t.Helper()
	var recs []R
	eventually(ctx, t, "read a closed shard to its end", func() (bool, error) {
		for it != nil {
			page, next := get(it)
			recs, it = append(recs, page...), next
			if it != nil && len(page) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	return recs
}
