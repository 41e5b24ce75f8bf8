package esmtest

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
)

// Limits and durations of DynamoDB Streams that the fake enforces.
const (
	ddbStreamsService   = "DynamoDB Streams"
	ddbIteratorTTL      = 15 * time.Minute
	ddbMaxLimit         = 1000    // GetRecords Limit
	ddbMaxResponseBytes = 1 << 20 // GetRecords answer
	ddbDescribePage     = 100
	ddbSeqDigits        = 21 // sequence numbers look like DynamoDB Local's 000000000000000000001
)

// DynamoDBStreams is an in-memory DynamoDB Streams that satisfies the
// library's DynamoDB Streams client interface with the SDK's own signatures,
// input, output and error types. It is safe for concurrent use and starts no
// goroutines.
//
// The stream side implements DescribeStream (paginated by Limit and
// ExclusiveStartShardId, with the CHILD_SHARDS filter), GetShardIterator
// (TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER,
// AT_TIMESTAMP; iterators expire after 15 minutes) and GetRecords (at most
// 1000 records or 1 MB; NextShardIterator nil at the end of a closed shard).
// Every one of them first calls [Faults.Before] on the Faults field with its
// SDK name.
//
// The table side writes the records: [DynamoDBStreams.CreateStream] enables a
// stream on a table, [DynamoDBStreams.PutItem], [DynamoDBStreams.UpdateItem]
// and [DynamoDBStreams.DeleteItem] change items and emit INSERT, MODIFY and
// REMOVE records with the images the StreamViewType asks for (an identical
// overwrite emits nothing, as in DynamoDB), and [DynamoDBStreams.Append]
// writes a hand-made record. [DynamoDBStreams.Rollover] and
// [DynamoDBStreams.SplitShard] close shards and open children that name them
// as ParentShardId: the shard lineage that DynamoDB Local never produces.
// These helpers bypass Faults.
//
// Records are routed to the open shard whose (internal) hash range holds the
// MD5 of the item's partition key, so an item's records follow one lineage.
// Deviations: records are never trimmed, SizeBytes is an estimate from
// DynamoDB's item-size rules, and there is no ListStreams or throttling (use
// Faults).
type DynamoDBStreams struct {
	// Faults scripts failures and delays of DescribeStream, GetShardIterator
	// and GetRecords.
	Faults Faults

	clock   Clock
	region  string
	account string

	mu      sync.Mutex
	tables  map[string]*dTable
	streams map[string]*dStream // by ARN
	ordered []*dStream          // by ordinal, for iterators
}

// DynamoDBStreamsOption configures [NewDynamoDBStreams].
type DynamoDBStreamsOption func(*DynamoDBStreams)

// WithDynamoDBStreamsClock makes the fake read time from c: it stamps
// ApproximateCreationDateTime and stream labels, and expires iterators. The
// default is [RealClock] (the bubble's clock under testing/synctest).
func WithDynamoDBStreamsClock(c Clock) DynamoDBStreamsOption {
	return func(d *DynamoDBStreams) { d.clock = c }
}

// WithDynamoDBStreamsRegion sets the region of stream ARNs
// (arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>) and of
// each record's awsRegion. The default is [DefaultRegion].
func WithDynamoDBStreamsRegion(region string) DynamoDBStreamsOption {
	return func(d *DynamoDBStreams) { d.region = region }
}

// WithDynamoDBStreamsAccount sets the account ID of stream ARNs. The default
// is [DefaultAccount].
func WithDynamoDBStreamsAccount(account string) DynamoDBStreamsOption {
	return func(d *DynamoDBStreams) { d.account = account }
}

// NewDynamoDBStreams returns an empty fake DynamoDB Streams.
func NewDynamoDBStreams(opts ...DynamoDBStreamsOption) *DynamoDBStreams {
	d := &DynamoDBStreams{
		clock:   RealClock,
		region:  DefaultRegion,
		account: DefaultAccount,
		tables:  map[string]*dTable{},
		streams: map[string]*dStream{},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

type dTable struct {
	name   string
	keys   []string                                   // partition key, then sort key
	items  map[string]map[string]types.AttributeValue // by encoded key
	stream *dStream                                   // the enabled stream, if any
}

type dStream struct {
	ordinal   int
	arn       string
	label     string
	table     *dTable
	view      types.StreamViewType
	created   time.Time
	status    types.StreamStatus
	next      uint64 // sequence counter, shared by the shards
	lastShard int64  // creation time (Unix ms) in the last shard ID
	shards    []*dShard
}

type dShard struct {
	index    int
	id       string
	rng      hashRange
	parent   *string
	startSeq string
	endSeq   *string // set when closed
	children []int
	recs     []types.Record
	ctrs     seqLog
}

func (sh *dShard) open() bool { return sh.endSeq == nil }

func (sh *dShard) owns(h hash128) bool { return sh.open() && sh.rng.contains(h) }

func ddbValidation(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func ddbNotFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: new("Requested resource not found: " + fmt.Sprintf(format, args...))}
}

// CreateStream enables a stream on table (created on first use, with key
// naming its partition key and optional sort key) and returns the stream ARN.
// The stream has one open shard. A table has at most one enabled stream:
// [DynamoDBStreams.DisableStream] the old one first.
func (d *DynamoDBStreams) CreateStream(table string, view types.StreamViewType, key ...string) (string, error) {
	if len(key) < 1 || len(key) > 2 {
		return "", fmt.Errorf("esmtest: table %s needs a partition key and at most one sort key", table)
	}
	if !validName(table, 255) || len(table) < 3 {
		return "", fmt.Errorf("esmtest: invalid table name %q", table)
	}
	if !slices.Contains(view.Values(), view) {
		return "", fmt.Errorf("esmtest: unknown StreamViewType %q", view)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	tb := d.tables[table]
	switch {
	case tb == nil:
		tb = &dTable{name: table, keys: key, items: map[string]map[string]types.AttributeValue{}}
		d.tables[table] = tb
	case strings.Join(tb.keys, ",") != strings.Join(key, ","):
		return "", fmt.Errorf("esmtest: table %s has key %v, not %v", table, tb.keys, key)
	case tb.stream != nil:
		return "", fmt.Errorf("esmtest: table %s already has an enabled stream", table)
	}
	now := sdkTime(d.clock.Now())
	s := &dStream{ordinal: len(d.ordered), table: tb, view: view, status: types.StreamStatusEnabled, next: 1}
	for {
		s.label = now.Format("2006-01-02T15:04:05.000")
		s.arn = "arn:aws:dynamodb:" + d.region + ":" + d.account + ":table/" + table + "/stream/" + s.label
		if d.streams[s.arn] == nil {
			break
		}
		now = now.Add(time.Millisecond)
	}
	s.created = now
	s.addShard(hashRange{hash128{}, maxHash}, nil, now)
	tb.stream = s
	d.streams[s.arn] = s
	d.ordered = append(d.ordered, s)
	return s.arn, nil
}

// MustCreateStream is [DynamoDBStreams.CreateStream] that fails t on error.
func (d *DynamoDBStreams) MustCreateStream(t testing.TB, table string, view types.StreamViewType, key ...string) (streamARN string) {
	t.Helper()
	arn, err := d.CreateStream(table, view, key...)
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

// DisableStream disables a stream as UpdateTable StreamEnabled=false does:
// its open shards close, its status becomes DISABLED, and its table stops
// writing to it. Its records stay readable.
func (d *DynamoDBStreams) DisableStream(streamARN string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.streams[streamARN]
	if s == nil {
		return fmt.Errorf("esmtest: no stream %s", streamARN)
	}
	for _, sh := range s.shards {
		if sh.open() {
			s.closeShard(sh)
		}
	}
	s.status = types.StreamStatusDisabled
	if s.table.stream == s {
		s.table.stream = nil
	}
	return nil
}

// Rollover closes the named open shards of a stream (every open shard when
// none is named) and opens one child for each, with the closed shard as
// ParentShardId, as DynamoDB does every few hours. It returns the children's
// IDs in the order of their parents.
func (d *DynamoDBStreams) Rollover(streamARN string, shardIDs ...string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, shards, err := d.openShards(streamARN, shardIDs)
	if err != nil {
		return nil, err
	}
	now := d.clock.Now()
	var ids []string
	for _, sh := range shards {
		s.closeShard(sh)
		ids = append(ids, s.addShard(sh.rng, sh, now).id)
	}
	return ids, nil
}

// SplitShard closes an open shard and opens two children, both with the
// closed shard as ParentShardId, that share its keys (as when a table
// partition splits). It returns the children's IDs.
func (d *DynamoDBStreams) SplitShard(streamARN, shardID string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, shards, err := d.openShards(streamARN, []string{shardID})
	if err != nil {
		return nil, err
	}
	sh := shards[0]
	if sh.rng.start == sh.rng.end {
		return nil, fmt.Errorf("esmtest: shard %s is too small to split", shardID)
	}
	m := sh.rng.start.big()
	mid := hashFromBig(m.Add(m, sh.rng.end.big()).Rsh(m, 1))
	now := d.clock.Now()
	s.closeShard(sh)
	lo := s.addShard(hashRange{sh.rng.start, mid}, sh, now)
	hi := s.addShard(hashRange{mid.add(1), sh.rng.end}, sh, now)
	return []string{lo.id, hi.id}, nil
}

// openShards resolves a stream and some of its open shards (all of them when
// ids is empty).
func (d *DynamoDBStreams) openShards(streamARN string, ids []string) (*dStream, []*dShard, error) {
	s := d.streams[streamARN]
	if s == nil {
		return nil, nil, fmt.Errorf("esmtest: no stream %s", streamARN)
	}
	if s.status != types.StreamStatusEnabled {
		return nil, nil, fmt.Errorf("esmtest: stream %s is %s", streamARN, s.status)
	}
	var out []*dShard
	for _, sh := range s.shards {
		if sh.open() && (len(ids) == 0 || slices.Contains(ids, sh.id)) {
			out = append(out, sh)
		}
	}
	if len(ids) > 0 && len(out) != len(ids) {
		return nil, nil, fmt.Errorf("esmtest: stream %s has no open shards %v", streamARN, ids)
	}
	return s, out, nil
}

// addShard opens a shard. Shard IDs look like DynamoDB's
// (shardId-00000001414562045508-2bac9cd2) and sort in creation order.
func (s *dStream) addShard(r hashRange, parent *dShard, now time.Time) *dShard {
	ms := max(now.UnixMilli(), s.lastShard+1)
	s.lastShard = ms
	i := len(s.shards)
	sum := md5.Sum([]byte(s.arn + "/" + strconv.Itoa(i)))
	sh := &dShard{
		index:    i,
		id:       fmt.Sprintf("shardId-%020d-%08x", ms, binary.BigEndian.Uint32(sum[:4])),
		rng:      r,
		startSeq: s.seq(s.nextSeq()),
	}
	if parent != nil {
		sh.parent = new(parent.id)
		parent.children = append(parent.children, i)
	}
	s.shards = append(s.shards, sh)
	return sh
}

func (s *dStream) closeShard(sh *dShard) { sh.endSeq = new(s.seq(s.nextSeq())) }

func (s *dStream) nextSeq() uint64 {
	c := s.next
	s.next++
	return c
}

func (s *dStream) seq(c uint64) string { return string(appendPadded(nil, c, ddbSeqDigits)) }

// parseDDBSeq reads a sequence number back into its counter.
func parseDDBSeq(seq string) (uint64, bool) {
	if len(seq) != ddbSeqDigits {
		return 0, false
	}
	v, err := strconv.ParseUint(seq, 10, 64)
	return v, err == nil
}

func (s *dStream) shard(id string) *dShard {
	for _, sh := range s.shards {
		if sh.id == id {
			return sh
		}
	}
	return nil
}

// DescribeStream describes a stream and up to Limit (default and at most 100)
// of its shards, closed ones included, in creation order after
// ExclusiveStartShardId. LastEvaluatedShardId is set when more shards remain.
// ShardFilter CHILD_SHARDS lists the children of ShardFilter.ShardId.
func (d *DynamoDBStreams) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return call(ctx, &d.Faults, ddbStreamsService, "DescribeStream", in, d.describeStream)
}

func (d *DynamoDBStreams) describeStream(in *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
	if err := missingParams("DescribeStreamInput", param{"StreamArn", in.StreamArn != nil}); err != nil {
		return nil, err
	}
	limit, ok := limitOf(in.Limit, ddbDescribePage, ddbDescribePage)
	if !ok {
		return nil, ddbValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *in.Limit, ddbDescribePage)
	}
	var parent *string
	if f := in.ShardFilter; f != nil {
		if f.Type != types.ShardFilterTypeChildShards || f.ShardId == nil {
			return nil, ddbValidation("ShardFilter must have Type CHILD_SHARDS and a ShardId")
		}
		parent = f.ShardId
	}
	after := ""
	if in.ExclusiveStartShardId != nil {
		after = *in.ExclusiveStartShardId
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.streams[*in.StreamArn]
	if s == nil {
		return nil, ddbNotFound("Stream: %s not found", *in.StreamArn)
	}
	shards := []types.Shard{}
	var last *string
	for _, sh := range s.shards {
		if sh.id <= after || (parent != nil && (sh.parent == nil || *sh.parent != *parent)) {
			continue
		}
		if len(shards) == limit {
			last = new(*shards[limit-1].ShardId)
			break
		}
		shards = append(shards, sh.sdk())
	}
	keySchema := []types.KeySchemaElement{{AttributeName: new(s.table.keys[0]), KeyType: types.KeyTypeHash}}
	if len(s.table.keys) > 1 {
		keySchema = append(keySchema, types.KeySchemaElement{AttributeName: new(s.table.keys[1]), KeyType: types.KeyTypeRange})
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &types.StreamDescription{
		StreamArn:               new(s.arn),
		StreamLabel:             new(s.label),
		StreamStatus:            s.status,
		StreamViewType:          s.view,
		CreationRequestDateTime: new(sdkTime(s.created)),
		TableName:               new(s.table.name),
		KeySchema:               keySchema,
		Shards:                  shards,
		LastEvaluatedShardId:    last,
	}}, nil
}

// sdk describes the shard; the strings are copies.
func (sh *dShard) sdk() types.Shard {
	out := types.Shard{
		ShardId:             new(sh.id),
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: new(sh.startSeq)},
	}
	if sh.parent != nil {
		out.ParentShardId = new(*sh.parent)
	}
	if sh.endSeq != nil {
		out.SequenceNumberRange.EndingSequenceNumber = new(*sh.endSeq)
	}
	return out
}

// GetShardIterator returns an iterator, valid for 15 minutes, at a position
// of a shard: TRIM_HORIZON (the oldest record), LATEST (after the newest),
// AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER (a sequence number within the
// shard's range), or AT_TIMESTAMP (the first record whose
// ApproximateCreationDateTime is at or after Timestamp).
func (d *DynamoDBStreams) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	return call(ctx, &d.Faults, ddbStreamsService, "GetShardIterator", in, d.getShardIterator)
}

func (d *DynamoDBStreams) getShardIterator(in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if err := missingParams("GetShardIteratorInput",
		param{"StreamArn", in.StreamArn != nil}, param{"ShardId", in.ShardId != nil}, param{"ShardIteratorType", in.ShardIteratorType != ""}); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	s := d.streams[*in.StreamArn]
	if s == nil {
		return nil, ddbNotFound("Stream: %s not found", *in.StreamArn)
	}
	sh := s.shard(*in.ShardId)
	if sh == nil {
		return nil, ddbNotFound("Shard: %s in Stream: %s not found", *in.ShardId, s.arn)
	}
	var pos int
	switch t := in.ShardIteratorType; t {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		pos = len(sh.recs)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		if in.SequenceNumber == nil {
			return nil, ddbValidation("SequenceNumber is required for ShardIteratorType %s", t)
		}
		c, ok := parseDDBSeq(*in.SequenceNumber)
		first, _ := parseDDBSeq(sh.startSeq)
		last := s.next - 1
		if sh.endSeq != nil {
			last, _ = parseDDBSeq(*sh.endSeq)
		}
		if !ok || c < first || c > last {
			return nil, ddbValidation("Invalid SequenceNumber %s for shard %s", *in.SequenceNumber, sh.id)
		}
		pos = sh.ctrs.at(c, t == types.ShardIteratorTypeAfterSequenceNumber)
	case types.ShardIteratorTypeAtTimestamp:
		if in.Timestamp == nil {
			return nil, ddbValidation("Timestamp is required for ShardIteratorType AT_TIMESTAMP")
		}
		if in.Timestamp.After(now) {
			return nil, ddbValidation("The Timestamp %s is in the future", in.Timestamp.UTC().Format(time.RFC3339Nano))
		}
		pos = len(sh.recs)
		for i, r := range sh.recs {
			if !r.Dynamodb.ApproximateCreationDateTime.Before(*in.Timestamp) {
				pos = i
				break
			}
		}
	default:
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: %v", t, t.Values())
	}
	it := iterToken{stream: s.ordinal, shard: sh.index, pos: pos, issued: now.UnixMilli()}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: new(s.iterator(it))}, nil
}

// iterator formats an iterator as DynamoDB Streams does: the stream ARN, "|1|"
// and an opaque token.
func (s *dStream) iterator(it iterToken) string { return s.arn + "|1|" + it.encode('D') }

// decodeIterator finds the stream, shard and token of an iterator.
func (d *DynamoDBStreams) decodeIterator(iter string) (*dStream, *dShard, iterToken, bool) {
	arn, tok, ok := strings.Cut(iter, "|1|")
	if !ok {
		return nil, nil, iterToken{}, false
	}
	it, ok := decodeIter(tok, 'D')
	if !ok || it.stream >= len(d.ordered) || d.ordered[it.stream].arn != arn {
		return nil, nil, iterToken{}, false
	}
	s := d.ordered[it.stream]
	if it.shard >= len(s.shards) || it.pos > len(s.shards[it.shard].recs) {
		return nil, nil, iterToken{}, false
	}
	return s, s.shards[it.shard], it, true
}

// GetRecords returns up to Limit (default and at most 1000) records, at most
// 1 MB of them, from an iterator's position, and the next iterator. At the
// end of a closed shard NextShardIterator is nil. An iterator older than 15
// minutes fails with *types.ExpiredIteratorException.
func (d *DynamoDBStreams) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	return call(ctx, &d.Faults, ddbStreamsService, "GetRecords", in, d.getRecords)
}

func (d *DynamoDBStreams) getRecords(in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
	if err := missingParams("GetRecordsInput", param{"ShardIterator", in.ShardIterator != nil}); err != nil {
		return nil, err
	}
	limit, ok := limitOf(in.Limit, ddbMaxLimit, ddbMaxLimit)
	if !ok {
		return nil, ddbValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *in.Limit, ddbMaxLimit)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	s, sh, it, ok := d.decodeIterator(*in.ShardIterator)
	if !ok {
		return nil, ddbValidation("Invalid ShardIterator")
	}
	if now.UnixMilli()-it.issued > ddbIteratorTTL.Milliseconds() {
		return nil, &types.ExpiredIteratorException{Message: new("Iterator expired: it was issued more than 15 minutes ago")}
	}
	end, size := it.pos, int64(0)
	for end < len(sh.recs) && end-it.pos < limit {
		n := *sh.recs[end].Dynamodb.SizeBytes
		if end > it.pos && size+n > ddbMaxResponseBytes {
			break
		}
		size += n
		end++
	}
	out := &dynamodbstreams.GetRecordsOutput{Records: make([]types.Record, end-it.pos)}
	copy(out.Records, sh.recs[it.pos:end])
	if !sh.open() && end == len(sh.recs) {
		return out, nil
	}
	it.pos, it.issued = end, now.UnixMilli()
	out.NextShardIterator = new(s.iterator(it))
	return out, nil
}
