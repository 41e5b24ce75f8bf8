package esmtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Limits and durations of Kinesis Data Streams that the fake enforces.
const (
	kinesisService            = "Kinesis"
	kinesisIteratorTTL        = 5 * time.Minute
	kinesisNextTokenTTL       = 300 * time.Second
	kinesisMaxLimit           = 10000    // GetRecords Limit
	kinesisMaxResponseBytes   = 10 << 20 // GetRecords answer
	kinesisMaxRecordBytes     = 1 << 20  // data + partition key of one record
	kinesisMaxPutRecords      = 500
	kinesisMaxPutRecordsBytes = 5 << 20
	kinesisReadCallsPerSecond = 5
	kinesisReadBytesPerSecond = 2 << 20
	kinesisListShardsPage     = 1000
	kinesisMaxListShards      = 10000
	kinesisDescribePage       = 100
	kinesisOnDemandShards     = 4
	kinesisMaxShards          = 10000
	kinesisRetentionHours     = 24
)

// Kinesis is an in-memory Amazon Kinesis Data Streams that satisfies the
// library's Kinesis client interfaces (shard.KinesisAPI,
// shard.KinesisFanOutAPI, shard.KinesisConsumerAPI) with the SDK's own
// signatures, input, output and error types. It is safe for concurrent use
// and starts no goroutines, but one per SubscribeToShard stream while the
// stream lasts.
//
// It implements CreateStream, DescribeStream, DescribeStreamSummary,
// ListShards, PutRecord, PutRecords, SplitShard, MergeShards,
// GetShardIterator and GetRecords, and enhanced fan-out
// (RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers,
// DeregisterStreamConsumer, SubscribeToShard: see [Kinesis.SubscribeToShard])
// as Kinesis does: partition keys are routed by the MD5 of the key over
// 128-bit hash ranges (or by ExplicitHashKey), shard IDs read
// shardId-000000000000, sequence numbers are 56-digit decimal strings that
// increase within a shard (and across the lineage: a child's numbers are
// greater than its parents'), iterators expire 5 minutes after they are
// issued, and the end of a closed shard is reported by a nil
// NextShardIterator with the ChildShards (by SubscribeToShard, by a last
// event with the ChildShards). Errors are the SDK's typed errors
// (such as *types.ResourceNotFoundException), wrapped as the SDK client wraps
// them, so errors.As finds them.
//
// Every operation first calls [Faults.Before] on the Faults field with its
// SDK name ("GetRecords", "ListShards", …), so a test can script failures and
// delays. The test helpers ([Kinesis.MustCreateStream], [Kinesis.Put], …)
// bypass the faults.
//
// Deviations: records are never trimmed (retention is reported as 24 hours
// but not applied), there are no write limits, encryption, tags or stream
// deletion, and an AT_TIMESTAMP iterator with a future timestamp is refused
// (as kinesis-local refuses it). Streams are unencrypted: records carry no
// EncryptionType, as real Kinesis returns them (kinesis-local says NONE).
// SubscribeToShard sends no event while a shard is idle (Kinesis may send
// empty ones).
type Kinesis struct {
	// Faults scripts failures and delays of the operations, by SDK operation
	// name. PutRecords entries are failed by partition key with
	// [Faults.FailEntries].
	Faults Faults

	clock      Clock
	region     string
	account    string
	readLimits bool
	delay      time.Duration

	mu      sync.Mutex
	streams map[string]*kStream // by name
	ordered []*kStream          // by ordinal, for iterators and tokens

	// sdkClient decodes SubscribeToShard streams (see Kinesis.sdk).
	sdkOnce   sync.Once
	sdkClient *kinesis.Client
}

// KinesisOption configures [NewKinesis].
type KinesisOption func(*Kinesis)

// WithKinesisClock makes the fake read time from c: it stamps
// ApproximateArrivalTimestamp and decides when iterators, ListShards tokens,
// read limits and transitions expire. The default is [RealClock] (the
// bubble's clock under testing/synctest).
func WithKinesisClock(c Clock) KinesisOption { return func(k *Kinesis) { k.clock = c } }

// WithKinesisRegion sets the region of stream ARNs
// (arn:aws:kinesis:<region>:<account>:stream/<name>). The default is
// [DefaultRegion].
func WithKinesisRegion(region string) KinesisOption { return func(k *Kinesis) { k.region = region } }

// WithKinesisAccount sets the account ID of stream ARNs. The default is
// [DefaultAccount].
func WithKinesisAccount(account string) KinesisOption {
	return func(k *Kinesis) { k.account = account }
}

// WithKinesisReadLimits enforces the read limits of a provisioned shard: at
// most 5 GetRecords calls in any second, and 2 MB per second (a 10 MB answer
// makes the calls of the next 5 seconds fail). A call over a limit fails with
// *types.ProvisionedThroughputExceededException. By default there is no
// limit.
func WithKinesisReadLimits() KinesisOption { return func(k *Kinesis) { k.readLimits = true } }

// WithKinesisTransitionDelay keeps a new stream CREATING, and a resharded one
// UPDATING, for d by the Clock. A CREATING stream refuses reads and writes
// with *types.ResourceInUseException, as Kinesis does; an UPDATING one
// refuses further SplitShard and MergeShards. By default every change is
// ACTIVE at once.
func WithKinesisTransitionDelay(d time.Duration) KinesisOption {
	return func(k *Kinesis) { k.delay = d }
}

// NewKinesis returns an empty fake Kinesis.
func NewKinesis(opts ...KinesisOption) *Kinesis {
	k := &Kinesis{
		clock:   RealClock,
		region:  DefaultRegion,
		account: DefaultAccount,
		streams: map[string]*kStream{},
	}
	for _, o := range opts {
		o(k)
	}
	return k
}

type kStream struct {
	ordinal  int
	name     string
	arn      string
	mode     types.StreamMode
	created  time.Time
	readyAt  time.Time // CREATING until then
	updating time.Time // UPDATING until then
	tag      string    // 14 digits that make the stream's sequence numbers its own
	next     uint64    // sequence counter, shared by the shards of the stream
	shards   []*kShard // by index
	// consumers are the registered stream consumers (enhanced fan-out),
	// in registration order.
	consumers []*kConsumer
}

type kShard struct {
	index    int
	id       string
	rng      hashRange
	startKey string
	endKey   string
	parent   *string
	adjacent *string
	startSeq string
	endSeq   *string // set when closed
	created  time.Time
	closed   time.Time // when endSeq was set
	children []int

	recs []types.Record
	ctrs seqLog

	calls   [kinesisReadCallsPerSecond]time.Time // ring of the last successful GetRecords
	nCalls  int
	readyAt time.Time // when the 2 MB/s read budget is paid back

	// changed is closed (and cleared) when a record is added or the shard
	// closes; SubscribeToShard streams wait on it (see kShard.watch).
	changed chan struct{}
}

// watch returns a channel closed at the shard's next change. Callers hold
// k.mu.
func (sh *kShard) watch() <-chan struct{} {
	if sh.changed == nil {
		sh.changed = make(chan struct{})
	}
	return sh.changed
}

// notify wakes the watchers of the shard. Callers hold k.mu.
func (sh *kShard) notify() {
	if sh.changed != nil {
		close(sh.changed)
		sh.changed = nil
	}
}

func (sh *kShard) open() bool { return sh.endSeq == nil }

func (sh *kShard) owns(h hash128) bool { return sh.open() && sh.rng.contains(h) }

func invalidArg(format string, args ...any) error {
	return &types.InvalidArgumentException{Message: new(fmt.Sprintf(format, args...))}
}

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: new(fmt.Sprintf(format, args...))}
}

func inUse(format string, args ...any) error {
	return &types.ResourceInUseException{Message: new(fmt.Sprintf(format, args...))}
}

// call runs operation op of a fake: scripted faults first, then fn on the
// input (an empty one when nil, as the SDK does), shaping errors like the SDK.
func call[In, Out any](ctx context.Context, f *Faults, service, op string, in *In, fn func(*In) (*Out, error)) (*Out, error) {
	if err := begin(ctx, f, service, op); err != nil {
		return nil, err
	}
	if in == nil {
		in = new(In)
	}
	out, err := fn(in)
	if err != nil {
		return nil, sdkError(service, op, err)
	}
	return out, nil
}

// CreateStream creates a stream with ShardCount shards whose hash ranges split
// the key space evenly. Without ShardCount the stream is ON_DEMAND with 4
// shards.
func (k *Kinesis) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, _ ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "CreateStream", in, k.createStream)
}

func (k *Kinesis) createStream(in *kinesis.CreateStreamInput) (*kinesis.CreateStreamOutput, error) {
	if err := missingParams("CreateStreamInput", param{"StreamName", in.StreamName != nil}); err != nil {
		return nil, err
	}
	name := *in.StreamName
	if !validName(name, 128) {
		return nil, invalidArg("Stream name %q must be 1 to 128 characters of [a-zA-Z0-9_.-].", name)
	}
	mode := types.StreamModeProvisioned
	if d := in.StreamModeDetails; (d != nil && d.StreamMode == types.StreamModeOnDemand) || (d == nil && in.ShardCount == nil) {
		mode = types.StreamModeOnDemand
	}
	n := kinesisOnDemandShards
	switch {
	case in.ShardCount != nil:
		n = int(*in.ShardCount)
	case mode == types.StreamModeProvisioned:
		return nil, invalidArg("ShardCount is required for a PROVISIONED stream.")
	}
	if n < 1 {
		return nil, invalidArg("ShardCount must be at least 1.")
	}
	if n > kinesisMaxShards {
		return nil, &types.LimitExceededException{Message: new(fmt.Sprintf("ShardCount %d exceeds the limit of %d.", n, kinesisMaxShards))}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.streams[name] != nil {
		return nil, inUse("Stream %s under account %s already exists.", name, k.account)
	}
	now := sdkTime(k.clock.Now())
	s := &kStream{
		ordinal: len(k.ordered),
		name:    name,
		arn:     "arn:aws:kinesis:" + k.region + ":" + k.account + ":stream/" + name,
		mode:    mode,
		created: now,
		readyAt: now.Add(k.delay),
		next:    1,
	}
	tag := now.UnixMilli() % 1e11
	if tag < 0 {
		tag = -tag
	}
	s.tag = fmt.Sprintf("%011d%03d", tag, s.ordinal%1000)
	for _, r := range evenRanges(n) {
		s.addShard(r, nil, nil, now)
	}
	k.streams[name] = s
	k.ordered = append(k.ordered, s)
	return &kinesis.CreateStreamOutput{}, nil
}

// validName reports whether s is 1 to max characters of [a-zA-Z0-9_.-].
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// nextSeq takes the next sequence counter of the stream.
func (s *kStream) nextSeq() uint64 {
	c := s.next
	s.next++
	return c
}

// seq formats counter c of shard index as a Kinesis sequence number: "49",
// the stream's tag, the shard index and the counter, 56 digits in all, so
// that numbers compare as strings and as integers alike.
func (s *kStream) seq(shard int, c uint64) string {
	b := make([]byte, 0, 56)
	b = append(b, "49"...)
	b = append(b, s.tag...)
	b = appendPadded(b, uint64(shard), 10)
	b = appendPadded(b, c, 30)
	return string(b)
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	digits := strconv.AppendUint(d[:0], v, 10)
	for range width - len(digits) {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// parseSeq reads a sequence number of this stream back into its shard index
// and counter.
func (s *kStream) parseSeq(seq string) (shard int, c uint64, ok bool) {
	if len(seq) != 56 || seq[:2] != "49" || seq[2:16] != s.tag {
		return 0, 0, false
	}
	idx, err1 := strconv.ParseUint(seq[16:26], 10, 31)
	c, err2 := strconv.ParseUint(seq[26:], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return int(idx), c, true
}

func (s *kStream) addShard(r hashRange, parent, adjacent *kShard, now time.Time) *kShard {
	i := len(s.shards)
	sh := &kShard{
		index:    i,
		id:       fmt.Sprintf("shardId-%012d", i),
		rng:      r,
		startKey: r.start.String(),
		endKey:   r.end.String(),
		created:  now,
	}
	sh.startSeq = s.seq(i, s.nextSeq())
	if parent != nil {
		sh.parent = new(parent.id)
		parent.children = append(parent.children, i)
	}
	if adjacent != nil {
		sh.adjacent = new(adjacent.id)
		adjacent.children = append(adjacent.children, i)
	}
	s.shards = append(s.shards, sh)
	return sh
}

func (s *kStream) closeShard(sh *kShard, now time.Time) {
	sh.closed = now
	sh.endSeq = new(s.seq(sh.index, s.nextSeq()))
	sh.notify()
}

func (s *kStream) status(now time.Time) types.StreamStatus {
	switch {
	case now.Before(s.readyAt):
		return types.StreamStatusCreating
	case now.Before(s.updating):
		return types.StreamStatusUpdating
	}
	return types.StreamStatusActive
}

// shard finds a shard by ID.
func (s *kStream) shard(id string) *kShard {
	n, ok := strings.CutPrefix(id, "shardId-")
	if !ok || len(n) != 12 {
		return nil
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(s.shards) {
		return nil
	}
	return s.shards[i]
}

func (k *Kinesis) shardNotFound(s *kStream, id string) error {
	return notFound("Shard %s in stream %s under account %s does not exist.", id, s.name, k.account)
}

// stream resolves the StreamName or StreamARN of a request. Callers hold k.mu.
func (k *Kinesis) stream(name, arn *string) (*kStream, error) {
	if arn == nil {
		if name == nil {
			return nil, invalidArg("Either StreamName or StreamARN must be provided.")
		}
		if s := k.streams[*name]; s != nil {
			return s, nil
		}
		return nil, notFound("Stream %s under account %s not found.", *name, k.account)
	}
	parts := strings.SplitN(*arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" || !strings.HasPrefix(parts[5], "stream/") {
		return nil, invalidArg("StreamARN %s is not a valid Kinesis stream ARN.", *arn)
	}
	n := strings.TrimPrefix(parts[5], "stream/")
	if name != nil && *name != n {
		return nil, invalidArg("StreamARN %s and StreamName %s do not match.", *arn, *name)
	}
	if s := k.streams[n]; s != nil && s.arn == *arn {
		return s, nil
	}
	return nil, notFound("Stream %s under account %s not found.", n, parts[4])
}

// readable resolves a stream that must have finished creating.
func (k *Kinesis) readable(name, arn *string, now time.Time) (*kStream, error) {
	s, err := k.stream(name, arn)
	if err == nil && s.status(now) == types.StreamStatusCreating {
		err = inUse("Stream %s under account %s is not ACTIVE, instead in state CREATING.", s.name, k.account)
	}
	return s, err
}

// DescribeStreamSummary describes a stream without its shards.
func (k *Kinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "DescribeStreamSummary", in, k.describeStreamSummary)
}

func (k *Kinesis) describeStreamSummary(in *kinesis.DescribeStreamSummaryInput) (*kinesis.DescribeStreamSummaryOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := k.stream(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: s.summary(k.clock.Now())}, nil
}

func (s *kStream) summary(now time.Time) *types.StreamDescriptionSummary {
	open := 0
	for _, sh := range s.shards {
		if sh.open() {
			open++
		}
	}
	return &types.StreamDescriptionSummary{
		StreamName:              new(s.name),
		StreamARN:               new(s.arn),
		StreamStatus:            s.status(now),
		StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
		StreamCreationTimestamp: new(sdkTime(s.created)),
		RetentionPeriodHours:    new(int32(kinesisRetentionHours)),
		EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		EncryptionType:          types.EncryptionTypeNone,
		OpenShardCount:          new(int32(open)),
		ConsumerCount:           new(int32(len(s.consumers))),
		MaxRecordSizeInKiB:      new(int32(kinesisMaxRecordBytes >> 10)),
	}
}

// PutRecord writes one record to the open shard whose hash range holds the
// MD5 of PartitionKey, or ExplicitHashKey when set.
func (k *Kinesis) PutRecord(ctx context.Context, in *kinesis.PutRecordInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "PutRecord", in, k.putRecord)
}

func (k *Kinesis) putRecord(in *kinesis.PutRecordInput) (*kinesis.PutRecordOutput, error) {
	if err := missingParams("PutRecordInput", param{"Data", in.Data != nil}); err != nil {
		return nil, err
	}
	h, err := recordHash(in.PartitionKey, in.ExplicitHashKey, in.Data)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	s, err := k.readable(in.StreamName, in.StreamARN, now)
	if err != nil {
		return nil, err
	}
	sh, seq := s.append(h, *in.PartitionKey, in.Data, now)
	return &kinesis.PutRecordOutput{ShardId: new(sh.id), SequenceNumber: new(seq), EncryptionType: types.EncryptionTypeNone}, nil
}

// recordHash validates a record and returns the hash key that routes it.
func recordHash(pk, explicit *string, data []byte) (hash128, error) {
	if pk == nil {
		return hash128{}, invalidArg("PartitionKey is required.")
	}
	if n := utf8.RuneCountInString(*pk); n < 1 || n > 256 {
		return hash128{}, invalidArg("PartitionKey must be 1 to 256 characters long.")
	}
	if len(data)+len(*pk) > kinesisMaxRecordBytes {
		return hash128{}, invalidArg("The size of the data and the partition key exceeds %d bytes.", kinesisMaxRecordBytes)
	}
	if explicit == nil {
		return md5Hash(*pk), nil
	}
	h, ok := parseHash(*explicit)
	if !ok {
		return hash128{}, invalidArg("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s.", *explicit)
	}
	return h, nil
}

// append stores a record in the open shard that owns hash key h.
func (s *kStream) append(h hash128, pk string, data []byte, now time.Time) (*kShard, string) {
	sh := owner(s.shards, h)
	c := s.nextSeq()
	seq := s.seq(sh.index, c)
	sh.recs = append(sh.recs, types.Record{
		Data:                        append([]byte{}, data...),
		PartitionKey:                new(pk),
		SequenceNumber:              new(seq),
		ApproximateArrivalTimestamp: new(sdkTime(now)),
		// No EncryptionType: real Kinesis returns none on the records of an
		// unencrypted stream (kinesis-local says NONE).
	})
	sh.ctrs = append(sh.ctrs, c)
	sh.notify()
	return sh, seq
}

// PutRecords writes up to 500 records (5 MB in all), each routed like
// PutRecord. An entry whose partition key was scripted with
// Faults.FailEntries("PutRecords", err, partitionKey) is not written and
// reports err's code and message instead.
func (k *Kinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return call(ctx, &k.Faults, kinesisService, "PutRecords", in, k.putRecords)
}

func (k *Kinesis) putRecords(in *kinesis.PutRecordsInput) (*kinesis.PutRecordsOutput, error) {
	var missing []param
	for i, e := range in.Records {
		missing = append(missing, param{fmt.Sprintf("Records[%d].Data", i), e.Data != nil})
	}
	if err := missingParams("PutRecordsInput", append(missing, param{"Records", in.Records != nil})...); err != nil {
		return nil, err
	}
	if len(in.Records) < 1 || len(in.Records) > kinesisMaxPutRecords {
		return nil, invalidArg("Records must hold 1 to %d entries.", kinesisMaxPutRecords)
	}
	hashes := make([]hash128, len(in.Records))
	total := 0
	for i, e := range in.Records {
		h, err := recordHash(e.PartitionKey, e.ExplicitHashKey, e.Data)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
		total += len(e.Data) + len(*e.PartitionKey)
	}
	if total > kinesisMaxPutRecordsBytes {
		return nil, invalidArg("Records exceed the request limit of %d bytes.", kinesisMaxPutRecordsBytes)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	s, err := k.readable(in.StreamName, in.StreamARN, now)
	if err != nil {
		return nil, err
	}
	out := &kinesis.PutRecordsOutput{
		Records:           make([]types.PutRecordsResultEntry, len(in.Records)),
		EncryptionType:    types.EncryptionTypeNone,
		FailedRecordCount: new(int32(0)),
	}
	for i, e := range in.Records {
		if ferr := k.Faults.EntryError("PutRecords", *e.PartitionKey); ferr != nil {
			code, msg := "InternalFailure", ferr.Error()
			if ae, ok := ferr.(smithy.APIError); ok {
				code, msg = ae.ErrorCode(), ae.ErrorMessage()
			}
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: new(code), ErrorMessage: new(msg)}
			*out.FailedRecordCount++
			continue
		}
		sh, seq := s.append(hashes[i], *e.PartitionKey, e.Data, now)
		out.Records[i] = types.PutRecordsResultEntry{ShardId: new(sh.id), SequenceNumber: new(seq)}
	}
	return out, nil
}
