package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"
)

// DynamoDBStreamsAPI is the part of the DynamoDB Streams API the suite
// calls. *dynamodbstreams.Client and *esmtest.DynamoDBStreams satisfy it.
type DynamoDBStreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ DynamoDBStreamsAPI = (*dynamodbstreams.Client)(nil)

// DynamoDBKey is the partition key, a string, of the tables that
// [DynamoDBStreamsHarness.NewTable] creates.
const DynamoDBKey = "pk"

// DynamoDBStreamsHarness is a DynamoDB Streams target for
// [RunDynamoDBStreams]: the streams client, and the table writes that
// produce stream records. Every method fails t on error.
type DynamoDBStreamsHarness interface {
	Target
	// Streams returns the client under test.
	Streams() DynamoDBStreamsAPI
	// NewTable creates a table, new and named after t, with the string
	// partition key [DynamoDBKey] and an enabled NEW_AND_OLD_IMAGES stream,
	// and returns the table's name and the stream's ARN.
	NewTable(t *testing.T) (table, streamARN string)
	// PutItem writes item as DynamoDB's PutItem does.
	PutItem(t *testing.T, table string, item map[string]dtypes.AttributeValue)
	// UpdateItem sets the attributes in set on the item with key, as
	// UpdateItem with "SET a = :a, …" does.
	UpdateItem(t *testing.T, table string, key, set map[string]dtypes.AttributeValue)
	// DeleteItem deletes the item with key.
	DeleteItem(t *testing.T, table string, key map[string]dtypes.AttributeValue)
	// DisableStream disables the table's stream, as UpdateTable
	// StreamEnabled=false does: its shards close.
	DisableStream(t *testing.T, table, streamARN string)
	// Rollover closes the stream's open shards and opens one child for
	// each, naming it as ParentShardId, as DynamoDB does every few hours.
	// It is called only when the target provides [DynamoDBShardLineage].
	Rollover(t *testing.T, streamARN string)
}

// RunDynamoDBStreams runs the DynamoDB Streams conformance suite against h:
// INSERT, MODIFY and REMOVE records with their keys and images, sequence
// numbers that increase, every iterator type landing on the right record,
// the end of a closed shard (NextShardIterator nil), shard lineage and
// DescribeStream pagination, and ApproximateCreationDateTime.
func RunDynamoDBStreams(t *testing.T, h DynamoDBStreamsHarness) {
	t.Helper()
	runSuite(t, "DynamoDB Streams", h, []suiteTest[DynamoDBStreamsHarness]{
		{name: "RecordImages", run: ddbImages},
		{name: "IteratorTypes", run: ddbIteratorTypes},
		{name: "LatestOnEmptyShard", needs: []Capability{DynamoDBLatestOnEmptyShard}, run: ddbLatestOnEmptyShard},
		{name: "ClosedShardEnd", run: ddbClosedShard},
		{name: "ShardLineage", needs: []Capability{DynamoDBShardLineage}, run: ddbLineage},
		{name: "CreationTimeSeconds", needs: []Capability{DynamoDBCreationTimeSeconds}, run: ddbCreationTime},
		{name: "AtTimestampIterator", needs: []Capability{DynamoDBAtTimestampIterator}, run: ddbAtTimestamp},
	})
}

func ddbImages(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	key := ddbKey("a")
	h.PutItem(t, table, ddbItem("a", "1"))
	h.UpdateItem(t, table, key, map[string]dtypes.AttributeValue{"v": &dtypes.AttributeValueMemberN{Value: "2"}})
	h.PutItem(t, table, ddbItem("a", "2")) // identical: no record
	h.DeleteItem(t, table, key)
	h.PutItem(t, table, ddbItem("b", "1"))

	shard := ddbOpenShard(ctx, t, c, arn)
	recs, _ := ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 4)
	require.Len(t, recs, 4, "an identical overwrite writes no record")
	want := []struct {
		name     dtypes.OperationType
		pk       string
		old, new map[string]dtypes.AttributeValue
	}{
		{dtypes.OperationTypeInsert, "a", nil, ddbItem("a", "1")},
		{dtypes.OperationTypeModify, "a", ddbItem("a", "1"), ddbItem("a", "2")},
		{dtypes.OperationTypeRemove, "a", ddbItem("a", "2"), nil},
		{dtypes.OperationTypeInsert, "b", nil, ddbItem("b", "1")},
	}
	region := strings.Split(arn, ":")[3]
	ids := map[string]bool{}
	for i, r := range recs {
		w := want[i]
		require.Equal(t, w.name, r.EventName, "record %d", i)
		sr := r.Dynamodb
		require.NotNil(t, sr, "record %d has a Dynamodb member", i)
		require.Equal(t, ddbKey(w.pk), sr.Keys, "record %d: Keys", i)
		require.Equal(t, w.new, sr.NewImage, "record %d: NewImage", i)
		require.Equal(t, w.old, sr.OldImage, "record %d: OldImage", i)
		require.Equal(t, dtypes.StreamViewTypeNewAndOldImages, sr.StreamViewType, "record %d", i)
		require.Positive(t, deref(sr.SizeBytes), "record %d: SizeBytes", i)
		require.NotNil(t, sr.ApproximateCreationDateTime, "record %d: ApproximateCreationDateTime", i)
		require.Equal(t, "aws:dynamodb", deref(r.EventSource))
		require.Equal(t, "1.1", deref(r.EventVersion))
		require.Equal(t, region, deref(r.AwsRegion), "awsRegion is the stream's region")
		require.NotEmpty(t, deref(r.EventID))
		require.False(t, ids[*r.EventID], "record %d: EventID %s is unique", i, *r.EventID)
		ids[*r.EventID] = true
		if i > 0 {
			require.Positive(t, decimal(t, *sr.SequenceNumber).Cmp(decimal(t, *recs[i-1].Dynamodb.SequenceNumber)),
				"sequence numbers increase: %s then %s", *recs[i-1].Dynamodb.SequenceNumber, *sr.SequenceNumber)
		}
	}
}

func ddbIteratorTypes(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	shard := ddbOpenShard(ctx, t, c, arn)
	h.PutItem(t, table, ddbItem("a", "1"))
	ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 1)
	latestBefore := ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeLatest, "")
	for _, k := range []string{"b", "c", "d"} {
		h.PutItem(t, table, ddbItem(k, "1"))
	}
	all, _ := ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 4)
	require.Equal(t, []string{"a", "b", "c", "d"}, ddbKeys(all), "TRIM_HORIZON reads every record from the oldest")
	got, _ := ddbReadN(ctx, t, c, latestBefore, 3)
	require.Equal(t, []string{"b", "c", "d"}, ddbKeys(got), "a LATEST iterator reads the records written after it was taken")

	seq := *all[2].Dynamodb.SequenceNumber
	got, _ = ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeAtSequenceNumber, seq), 2)
	require.Equal(t, []string{"c", "d"}, ddbKeys(got), "AT_SEQUENCE_NUMBER starts at that record")
	got, _ = ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeAfterSequenceNumber, seq), 1)
	require.Equal(t, []string{"d"}, ddbKeys(got), "AFTER_SEQUENCE_NUMBER starts after that record")

	out := ddbGet(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeLatest, ""), 0)
	require.Empty(t, out.Records, "LATEST reads nothing until a new record arrives")
	require.NotNil(t, out.NextShardIterator, "an open shard always has a next iterator")
	h.PutItem(t, table, ddbItem("e", "1"))
	got, _ = ddbReadN(ctx, t, c, out.NextShardIterator, 1)
	require.Equal(t, []string{"e"}, ddbKeys(got), "the next iterator of an empty read reads the records written after it")

	limited := ddbGet(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 2)
	require.Equal(t, []string{"a", "b"}, ddbKeys(limited.Records), "Limit caps the records of one GetRecords")
}

func ddbLatestOnEmptyShard(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	shard := ddbOpenShard(ctx, t, c, arn)
	latest := ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeLatest, "")
	other, _ := h.NewTable(t) // other streams' writes do not disturb this shard
	h.PutItem(t, other, ddbItem("x", "1"))
	h.PutItem(t, table, ddbItem("a", "1"))
	h.PutItem(t, table, ddbItem("b", "1"))
	got, _ := ddbReadN(ctx, t, c, latest, 2)
	require.Equal(t, []string{"a", "b"}, ddbKeys(got), "a LATEST iterator taken on an empty shard reads the first records")
}

func ddbClosedShard(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	shard := ddbOpenShard(ctx, t, c, arn)
	h.PutItem(t, table, ddbItem("a", "1"))
	h.PutItem(t, table, ddbItem("b", "1"))
	before := ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, "")
	ddbReadN(ctx, t, c, before, 2) // both records are in the stream before it closes

	h.DisableStream(t, table, arn)
	var desc *dtypes.StreamDescription
	eventually(ctx, t, "stream "+arn+" DISABLED", func() (bool, error) {
		out, err := c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
		if err != nil {
			return false, err
		}
		desc = out.StreamDescription
		return desc.StreamStatus == dtypes.StreamStatusDisabled, nil
	})
	require.Len(t, desc.Shards, 1)
	end := desc.Shards[0].SequenceNumberRange.EndingSequenceNumber
	require.NotNil(t, end, "a disabled stream's shard is closed")

	for _, it := range []*string{before, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, "")} {
		recs := ddbReadToEnd(ctx, t, c, it)
		require.Equal(t, []string{"a", "b"}, ddbKeys(recs), "a closed shard keeps its records and then ends")
		require.LessOrEqual(t, decimal(t, *recs[1].Dynamodb.SequenceNumber).Cmp(decimal(t, *end)), 0, "records are within the shard's range")
	}
}

func ddbLineage(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	parent := ddbOpenShard(ctx, t, c, arn)
	h.PutItem(t, table, ddbItem("a", "1"))
	h.Rollover(t, arn)
	h.PutItem(t, table, ddbItem("b", "1"))

	shards := ddbShards(ctx, t, c, arn, 1)
	require.Len(t, shards, 2, "a rollover adds a child shard")
	require.Equal(t, parent, *shards[0].ShardId, "DescribeStream lists the parent before its child")
	require.NotNil(t, shards[0].SequenceNumberRange.EndingSequenceNumber, "the parent is closed")
	child := *shards[1].ShardId
	require.Equal(t, parent, deref(shards[1].ParentShardId), "the child names its parent")
	require.Nil(t, shards[1].SequenceNumberRange.EndingSequenceNumber, "the child is open")

	recs := ddbReadToEnd(ctx, t, c, ddbIterator(ctx, t, c, arn, parent, dtypes.ShardIteratorTypeTrimHorizon, ""))
	require.Equal(t, []string{"a"}, ddbKeys(recs), "the parent ends after its records")
	got, _ := ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, child, dtypes.ShardIteratorTypeTrimHorizon, ""), 1)
	require.Equal(t, []string{"b"}, ddbKeys(got), "new records go to the child")
	require.Positive(t, decimal(t, *got[0].Dynamodb.SequenceNumber).Cmp(decimal(t, *recs[0].Dynamodb.SequenceNumber)),
		"a child's records come after its parent's")
}

func ddbCreationTime(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	shard := ddbOpenShard(ctx, t, c, arn)
	before := time.Now().Truncate(time.Second)
	h.PutItem(t, table, ddbItem("a", "1"))
	after := time.Now()
	recs, _ := ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 1)
	at := *recs[0].Dynamodb.ApproximateCreationDateTime
	require.Equal(t, at.Truncate(time.Second), at, "ApproximateCreationDateTime is whole seconds")
	require.False(t, at.Before(before) || at.After(after), "ApproximateCreationDateTime %v is the second of the write (%v to %v)", at, before, after)
}

func ddbAtTimestamp(ctx context.Context, t *testing.T, h DynamoDBStreamsHarness) {
	c := h.Streams()
	table, arn := h.NewTable(t)
	shard := ddbOpenShard(ctx, t, c, arn)
	h.PutItem(t, table, ddbItem("a", "1"))
	first, _ := ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 1)
	// Creation times are whole seconds: write the next records a second later.
	time.Sleep(time.Until(first[0].Dynamodb.ApproximateCreationDateTime.Add(time.Second + 50*time.Millisecond)))
	h.PutItem(t, table, ddbItem("b", "1"))
	h.PutItem(t, table, ddbItem("c", "1"))
	all, _ := ddbReadN(ctx, t, c, ddbIterator(ctx, t, c, arn, shard, dtypes.ShardIteratorTypeTrimHorizon, ""), 3)
	ts := *all[1].Dynamodb.ApproximateCreationDateTime
	require.True(t, ts.After(*all[0].Dynamodb.ApproximateCreationDateTime))

	out, err := c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: &arn, ShardId: &shard, ShardIteratorType: dtypes.ShardIteratorTypeAtTimestamp, Timestamp: &ts,
	})
	require.NoError(t, err, "GetShardIterator AT_TIMESTAMP")
	got, _ := ddbReadN(ctx, t, c, out.ShardIterator, 2)
	require.Equal(t, []string{"b", "c"}, ddbKeys(got), "AT_TIMESTAMP starts at the first record created at or after it")
}

// ---------------------------------------------------------------- helpers

func ddbKey(pk string) map[string]dtypes.AttributeValue {
	return map[string]dtypes.AttributeValue{DynamoDBKey: &dtypes.AttributeValueMemberS{Value: pk}}
}

// ddbItem is an item with partition key pk and the number attribute v.
func ddbItem(pk, v string) map[string]dtypes.AttributeValue {
	return map[string]dtypes.AttributeValue{DynamoDBKey: &dtypes.AttributeValueMemberS{Value: pk}, "v": &dtypes.AttributeValueMemberN{Value: v}}
}

// ddbKeys returns the partition keys of records.
func ddbKeys(recs []dtypes.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		if s, ok := r.Dynamodb.Keys[DynamoDBKey].(*dtypes.AttributeValueMemberS); ok {
			out[i] = s.Value
		}
	}
	return out
}

// ddbShards lists every shard of a stream, page limit shards at a time
// (0: the default page).
func ddbShards(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI, arn string, limit int32) []dtypes.Shard {
	t.Helper()
	var shards []dtypes.Shard
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, Limit: optional(limit)}
	for range 100 {
		out, err := c.DescribeStream(ctx, in)
		require.NoError(t, err)
		if limit > 0 {
			require.LessOrEqual(t, len(out.StreamDescription.Shards), int(limit), "Limit caps a page")
		}
		shards = append(shards, out.StreamDescription.Shards...)
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return shards
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
	t.Fatalf("DescribeStream of %s did not end after 100 pages", arn)
	return nil
}

// ddbOpenShard returns the only shard of a new stream.
func ddbOpenShard(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI, arn string) string {
	t.Helper()
	shards := ddbShards(ctx, t, c, arn, 0)
	require.Len(t, shards, 1, "a new stream has one shard")
	require.Nil(t, shards[0].SequenceNumberRange.EndingSequenceNumber, "a new stream's shard is open")
	return *shards[0].ShardId
}

func ddbIterator(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI, arn, shard string, typ dtypes.ShardIteratorType, seq string) *string {
	t.Helper()
	out, err := c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: &arn, ShardId: &shard, ShardIteratorType: typ, SequenceNumber: optional(seq),
	})
	require.NoError(t, err, "GetShardIterator %s", typ)
	require.NotNil(t, out.ShardIterator)
	return out.ShardIterator
}

func ddbGet(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI, it *string, limit int32) *dynamodbstreams.GetRecordsOutput {
	t.Helper()
	out, err := c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: optional(limit)})
	require.NoError(t, err)
	return out
}

func ddbPage(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI) func(it *string) ([]dtypes.Record, *string) {
	return func(it *string) ([]dtypes.Record, *string) {
		out := ddbGet(ctx, t, c, it, 0)
		return out.Records, out.NextShardIterator
	}
}

func ddbReadN(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI, it *string, n int) ([]dtypes.Record, *string) {
	t.Helper()
	return readN(ctx, t, it, n, ddbPage(ctx, t, c))
}

func ddbReadToEnd(ctx context.Context, t *testing.T, c DynamoDBStreamsAPI, it *string) []dtypes.Record {
	t.Helper()
	return readToEnd(ctx, t, it, ddbPage(ctx, t, c))
}
