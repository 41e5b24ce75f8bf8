package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
)

// keyOrder is a Kinesis function that checks per-key order: records are
// "key n", n counting from 0 per key. It counts what each process (the
// path it was called on) handled.
type keyOrder struct {
	mu      sync.Mutex
	next    map[string]int
	by      map[string]int
	dups    int
	errs    []string
	handled int
}

func (k *keyOrder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev events.KinesisEvent
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(20 * time.Millisecond) // batches are in flight when things change
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, rec := range ev.Records {
		var key string
		var n int
		fmt.Sscanf(string(rec.Kinesis.Data), "%s %d", &key, &n)
		switch want := k.next[key]; {
		case n == want:
			k.next[key]++
			k.handled++
			k.by[r.URL.Path]++
		case n < want:
			k.dups++
		default:
			k.errs = append(k.errs, fmt.Sprintf("%s: %d before %d", key, n, want))
		}
	}
	_, _ = w.Write([]byte(`{"batchItemFailures":[]}`))
}

func (k *keyOrder) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.handled
}

// putRecords writes n records over keys keys, continuing each key's count.
func putRecords(t *testing.T, c *kinesis.Client, stream string, sent map[string]int, keys, n int) {
	t.Helper()
	var entries []ktypes.PutRecordsRequestEntry
	flush := func() {
		if len(entries) == 0 {
			return
		}
		out, err := c.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamARN: &stream, Records: entries})
		require.NoError(t, err)
		require.Zero(t, aws.ToInt32(out.FailedRecordCount))
		entries = nil
	}
	for i := range n {
		key := fmt.Sprintf("key-%d", i%keys)
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: fmt.Appendf(nil, "%s %d", key, sent[key])})
		sent[key]++
		if len(entries) == 100 {
			flush() // in order per key: one call after another
		}
	}
	flush()
}

// leaseOwners returns the owners of a mapping's shard leases in the lease
// table.
func leaseOwners(t *testing.T, c *dynamodb.Client, table, mapping string) map[string]int {
	t.Helper()
	out, err := c.Query(t.Context(), &dynamodb.QueryInput{
		TableName: &table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("mapping = :m AND begins_with(id, :p)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":m": &ddbtypes.AttributeValueMemberS{Value: mapping}, ":p": &ddbtypes.AttributeValueMemberS{Value: "shard/"},
		},
	})
	if err != nil { // the table is created on first use
		return nil
	}
	n := map[string]int{}
	for _, it := range out.Items {
		if o, ok := it["leaseOwner"].(*ddbtypes.AttributeValueMemberS); ok && o.Value != "" {
			n[o.Value]++
		}
	}
	return n
}

// Two lambdaesm processes given the same --mapping-table and --lease-table
// share the work: a mapping created through one runs in both, which split
// the stream's shards; an update through the other reaches the first; when
// one stops (SIGTERM), the other reads its shards on; every record is
// handled once, in order per key; a deletion through either removes the
// mapping from the table.
func TestCommandProcessesShareTables(t *testing.T) {
	awstest.Integration(t)
	dir := t.TempDir()
	bin := buildCommand(t, dir)
	fn := &keyOrder{next: map[string]int{}, by: map[string]int{}}
	srv := httptest.NewServer(fn)
	t.Cleanup(srv.Close)
	kc := awstest.Kinesis(t)
	_, stream := awstest.NewStream(t, kc, 4)
	ddb := awstest.DynamoDB(t)
	mappingTable, leaseTable := awstest.UniqueName(t, "mappings"), awstest.UniqueName(t, "leases")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, name := range []string{mappingTable, leaseTable} {
			_, _ = ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	})
	start := func(name string) *process {
		return startCommand(t, bin, "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, name),
			"--lambda=false", "--function", "fn="+srv.URL+"/"+name,
			"--mapping-table", mappingTable, "--lease-table", leaseTable, "--mapping-poll-interval", "200ms")
	}
	a, b := start("a"), start("b")
	client := func(p *process) *lambda.Client {
		return lambda.NewFromConfig(awstest.Config(t), func(o *lambda.Options) { o.BaseEndpoint = aws.String(p.api) })
	}
	ca, cb := client(a), client(b)

	created, err := ca.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("fn"), EventSourceArn: aws.String(stream),
		StartingPosition: lambdatypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(10),
	})
	require.NoError(t, err)
	uuid := aws.ToString(created.UUID)
	waitUntil(t, time.Minute, "B to run the mapping A created", func() bool {
		got, err := cb.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: &uuid})
		return err == nil && aws.ToString(got.State) == "Enabled" && aws.ToInt32(got.BatchSize) == 10
	})
	_, err = cb.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("fn"), EventSourceArn: aws.String(stream), StartingPosition: lambdatypes.EventSourcePositionLatest,
	})
	var conflict *lambdatypes.ResourceConflictException
	require.ErrorAs(t, err, &conflict, "one mapping of a function and stream, whichever process is asked")
	require.Contains(t, aws.ToString(conflict.Message), "Please update or delete the existing mapping with UUID "+uuid)

	engineMapping := uuid + "|" + stream // the name the engines lease shards under
	waitUntil(t, 3*time.Minute, "the processes to split the shards", func() bool {
		n := leaseOwners(t, ddb, leaseTable, engineMapping)
		for _, shards := range n {
			if shards != 2 {
				return false
			}
		}
		return len(n) == 2
	})
	sent := map[string]int{}
	putRecords(t, kc, stream, sent, 10, 200)
	waitUntil(t, 3*time.Minute, "the first records", func() bool { return fn.count() == 200 })

	// An update through B reaches A.
	up, err := cb.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: &uuid, BatchSize: aws.Int32(5)})
	require.NoError(t, err)
	require.Equal(t, "Updating", aws.ToString(up.State))
	waitUntil(t, time.Minute, "A to apply B's update", func() bool {
		got, err := ca.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: &uuid})
		return err == nil && aws.ToInt32(got.BatchSize) == 5 && aws.ToString(got.State) == "Enabled"
	})

	// A stops in mid-stream: B reads its shards on.
	putRecords(t, kc, stream, sent, 10, 200)
	waitUntil(t, 3*time.Minute, "some of the new records", func() bool { return fn.count() >= 250 })
	a.stop(t)
	waitUntil(t, 3*time.Minute, "every record", func() bool { return fn.count() == 400 })
	// A hands its leases to B as it stops; one it took during its drain
	// may reach B only at B's next lease round.
	waitUntil(t, 30*time.Second, "one process to hold every lease", func() bool {
		return len(leaseOwners(t, ddb, leaseTable, engineMapping)) == 1
	})

	// A deletion through B empties the table.
	del, err := cb.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: &uuid})
	require.NoError(t, err)
	require.Equal(t, "Deleting", aws.ToString(del.State))
	waitUntil(t, time.Minute, "the mapping to go", func() bool {
		_, err := cb.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: &uuid})
		var nf *lambdatypes.ResourceNotFoundException
		return errors.As(err, &nf)
	})
	store, err := esm.NewDynamoDBMappingStore(ddb, mappingTable)
	require.NoError(t, err)
	recs, err := store.LoadMappings(t.Context())
	require.NoError(t, err)
	require.Empty(t, recs)
	status, health, body := getJSON(b.ops + "/healthz")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, true, health["mappingTable"].(map[string]any)["healthy"])
	b.stop(t)

	fn.mu.Lock()
	defer fn.mu.Unlock()
	t.Logf("handled by process: %v; delivered again: %d", fn.by, fn.dups)
	require.Empty(t, fn.errs, "per-key order")
	require.Equal(t, 400, fn.handled, "every record")
	require.Positive(t, fn.by["/a"], "A read its share")
	require.Positive(t, fn.by["/b"], "B read its share")
	if lapsed := strings.Contains(a.logText()+b.logText(), "lease lost"); lapsed {
		// A process whose lease rounds were held up past the lease duration
		// (a loaded machine) lost a lease without a final checkpoint: the
		// records after its last one come again, as Lambda's would.
		t.Logf("a lease lapsed: %d records delivered again", fn.dups)
	} else {
		require.Zero(t, fn.dups, "graceful hand-offs deliver nothing twice")
	}
	require.Contains(t, a.logText(), "mapping updated by another process")
	require.Contains(t, b.logText(), "mapping created by another process")
}
