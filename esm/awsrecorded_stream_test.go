package esm_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// arRoleARN stands in for the function's execution role, which Lambda
// puts in the invokeIdentityArn of Kinesis events.
const arRoleARN = "arn:aws:iam::000000000000:role/lambda-role"

// arRunStream runs a Kinesis or DynamoDB Streams scenario in a synctest
// bubble and returns its observations.
func arRunStream(t *testing.T, sc *arScenario) (map[string]any, error) {
	obs := map[string]any{}
	var err error
	synctest.Test(t, func(t *testing.T) {
		arAdvanceClock()
		err = arStream(t, sc, obs)
	})
	return obs, err
}

type arStreamMapping struct {
	fn       *arLambda
	m        esm.Mapping
	progress *esmtest.Progress
	stop     func()
}

func arStream(t *testing.T, sc *arScenario, obs map[string]any) error {
	const table = "test-table"
	var (
		k   *esmtest.Kinesis
		d   *esmtest.DynamoDBStreams
		arn string
	)
	keyAttr := cmp.Or(sc.KeyAttribute, "my_partition_key")
	switch sc.Source {
	case "kinesis":
		k = esmtest.NewKinesis()
		arn = k.MustCreateStream(t, "test-stream", max(1, sc.Shards))
	case "dynamodb":
		d = esmtest.NewDynamoDBStreams()
		arn = d.MustCreateStream(t, table, dstypes.StreamViewType(cmp.Or(sc.StreamView, "NEW_IMAGE")), keyAttr)
	default:
		return fmt.Errorf("unknown stream source %q", sc.Source)
	}
	dest := arNewDestination(t, sc.Destination)
	specs := sc.Mappings
	if len(specs) == 0 {
		specs = []arMappingSpec{{Config: sc.Config, Function: sc.Function}}
	}
	var ms []*arStreamMapping
	for i, spec := range specs {
		cfg, err := arConfig(spec.Config, arn, dest.arn)
		if err != nil {
			return arConstructErr(err)
		}
		r := &arStreamMapping{fn: newARLambda(spec.Function), progress: &esmtest.Progress{}}
		// The default retry backoff's mean delays (3/4 of each step, jitter
		// 0.5) without the jitter (1e-9 of it, as zero means the default):
		// the invocations a record gets before it expires (8 in 60 s, as
		// AWS recorded) then do not vary from run to run, as they did by
		// one with random jitter.
		steady := retry.DefaultBackoff
		steady.Initial = steady.Initial * 3 / 4
		steady.Jitter = 1e-9
		opts := []esm.StreamOption{esm.WithStore(shard.NewMemoryStore()), esm.WithName(fmt.Sprintf("mapping-%d", i+1)), esm.WithHooks(r.progress), esm.WithRetryBackoff(steady)}
		if dest.clients != nil {
			opts = append(opts, esm.WithDestinationClients(*dest.clients))
		}
		if k != nil {
			opts = append(opts, esm.WithInvokeIdentityARN(arRoleARN))
			r.m, err = esm.NewKinesisMapping(cfg, k, invoke.Function[events.KinesisEvent, events.KinesisEventResponse](r.fn, "lambda_func"), opts...)
		} else {
			r.m, err = esm.NewDynamoDBMapping(cfg, d, invoke.Function[events.DynamoDBEvent, events.DynamoDBEventResponse](r.fn, "lambda_func"), opts...)
		}
		if err != nil {
			return arConstructErr(err)
		}
		ms = append(ms, r)
	}

	records := 0
	for _, st := range sc.Steps {
		switch {
		case st.Start:
			for _, r := range ms {
				r.stop = esmtest.Start(t, r.m)
			}
		case len(st.Put) > 0:
			records += arPutStream(t, k, d, arn, table, keyAttr, st)
		case st.SleepSeconds > 0:
			time.Sleep(arSeconds(st.SleepSeconds))
		case st.WaitInvocations > 0:
			esmtest.WaitUntil(t, time.Hour, fmt.Sprintf("%d invocations", st.WaitInvocations), func() bool {
				return len(ms[0].fn.Calls()) >= st.WaitInvocations
			})
		}
	}
	for _, r := range ms {
		if r.stop == nil {
			return fmt.Errorf("the scenario has no start step")
		}
		r.progress.WaitFinished(t, records, 12*time.Hour)
	}
	time.Sleep(arSeconds(cmp.Or(sc.SettleSeconds, 60)))
	for _, r := range ms {
		r.stop()
	}

	lab := &arLabels{source: sc.Source, by: sc.Label, keyAttr: keyAttr, seq: map[string]string{}, arn: arn}
	if k != nil {
		for i := range max(1, sc.Shards) {
			for _, rec := range k.Records(t, arn, fmt.Sprintf("shardId-%012d", i)) {
				lab.seq[*rec.SequenceNumber] = lab.kinesisLabel(*rec.PartitionKey, rec.Data)
			}
		}
	}
	for _, r := range ms {
		for _, c := range r.fn.Calls() {
			for _, rec := range arRecords(c.Payload) {
				lab.learn(rec)
			}
		}
	}
	for i, r := range ms {
		prefix := ""
		if i > 0 {
			prefix = fmt.Sprintf("m%d.", i+1)
		}
		arObserveStreamCalls(obs, prefix, r.fn.Calls(), lab)
	}
	dest.observe(t, obs, lab)
	return nil
}

// arConfig reads a scenario's CreateEventSourceMapping JSON, with the
// source's and the destination's ARNs filled in.
func arConfig(raw json.RawMessage, sourceARN, destinationARN string) (esm.Config, error) {
	s := strings.ReplaceAll(string(raw), "<source-arn>", sourceARN)
	s = strings.ReplaceAll(s, "<destination-arn>", destinationARN)
	return esm.ParseConfig([]byte(s))
}

// arConstructErr turns the refusal of a feature not built yet into
// arNotExpressible.
func arConstructErr(err error) error {
	if strings.Contains(err.Error(), "not supported yet") {
		return &arNotExpressible{reason: "the library refuses it: " + err.Error()}
	}
	return err
}

func arSeconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// arPutStream writes one step's records and returns how many stream
// records that made (an identical PutItem makes none).
func arPutStream(t *testing.T, k *esmtest.Kinesis, d *esmtest.DynamoDBStreams, arn, table, keyAttr string, st arStep) int {
	t.Helper()
	ctx := context.Background()
	if k != nil {
		if len(st.Put) == 1 {
			r := st.Put[0]
			_, err := k.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: &arn, PartitionKey: &r.PartitionKey, Data: []byte(r.Data)})
			if err != nil {
				t.Fatalf("PutRecord: %v", err)
			}
			return 1
		}
		entries := make([]ktypes.PutRecordsRequestEntry, len(st.Put))
		for i, r := range st.Put {
			entries[i] = ktypes.PutRecordsRequestEntry{PartitionKey: new(r.PartitionKey), Data: []byte(r.Data)}
		}
		if _, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries}); err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		return len(st.Put)
	}
	n := 0
	for i, r := range st.Put {
		if i > 0 && st.IntervalSeconds > 0 {
			time.Sleep(arSeconds(st.IntervalSeconds))
		}
		item, err := arItem(r.Item)
		if err != nil {
			t.Fatalf("item %s: %v", r.Item, err)
		}
		before := d.Item(table, map[string]dstypes.AttributeValue{keyAttr: item[keyAttr]})
		if err := d.PutItem(table, item); err != nil {
			t.Fatalf("PutItem: %v", err)
		}
		if !arSameItem(before, item) {
			n++
		}
	}
	return n
}

func arSameItem(a, b map[string]dstypes.AttributeValue) bool {
	if a == nil {
		return false
	}
	ja, _ := json.Marshal(arFromItem(a))
	jb, _ := json.Marshal(arFromItem(b))
	return bytes.Equal(ja, jb)
}

// arItem converts DynamoDB JSON ({"S": "x"}, {"B": "<base64>"}, …) into an
// item.
func arItem(raw json.RawMessage) (map[string]dstypes.AttributeValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := map[string]dstypes.AttributeValue{}
	for k, v := range m {
		av, err := arAttr(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func arAttr(raw json.RawMessage) (dstypes.AttributeValue, error) {
	var one map[string]json.RawMessage
	if err := json.Unmarshal(raw, &one); err != nil || len(one) != 1 {
		return nil, fmt.Errorf("not an attribute value: %s", raw)
	}
	for typ, v := range one {
		var s string
		switch typ {
		case "S", "N", "B":
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			switch typ {
			case "S":
				return &dstypes.AttributeValueMemberS{Value: s}, nil
			case "N":
				return &dstypes.AttributeValueMemberN{Value: s}, nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			return &dstypes.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &dstypes.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &dstypes.AttributeValueMemberNULL{Value: true}, nil
		case "M":
			m, err := arItem(v)
			return &dstypes.AttributeValueMemberM{Value: m}, err
		case "L":
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, err
			}
			out := &dstypes.AttributeValueMemberL{}
			for _, e := range list {
				av, err := arAttr(e)
				if err != nil {
					return nil, err
				}
				out.Value = append(out.Value, av)
			}
			return out, nil
		case "SS", "NS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			if typ == "SS" {
				return &dstypes.AttributeValueMemberSS{Value: ss}, nil
			}
			return &dstypes.AttributeValueMemberNS{Value: ss}, nil
		}
		return nil, fmt.Errorf("attribute type %s not supported here", typ)
	}
	return nil, nil
}

// arFromItem is the inverse of arItem, for comparisons.
func arFromItem(item map[string]dstypes.AttributeValue) map[string]any {
	out := map[string]any{}
	for k, v := range item {
		switch v := v.(type) {
		case *dstypes.AttributeValueMemberS:
			out[k] = map[string]any{"S": v.Value}
		case *dstypes.AttributeValueMemberN:
			out[k] = map[string]any{"N": v.Value}
		case *dstypes.AttributeValueMemberB:
			out[k] = map[string]any{"B": v.Value}
		case *dstypes.AttributeValueMemberBOOL:
			out[k] = map[string]any{"BOOL": v.Value}
		case *dstypes.AttributeValueMemberM:
			out[k] = map[string]any{"M": arFromItem(v.Value)}
		default:
			out[k] = fmt.Sprintf("%T %v", v, v)
		}
	}
	return out
}

// arLabels names records in observations: a Kinesis record by its
// partition key (or data), a DynamoDB record by its key attribute; and
// sequence numbers by the record they belong to ("<seq:test_5>").
type arLabels struct {
	source, by, keyAttr, arn string
	seq                      map[string]string
}

func (l *arLabels) kinesisLabel(pk string, data []byte) string {
	if l.by == "data" {
		return string(data)
	}
	return pk
}

// label names a record of an event (decoded with UseNumber).
func (l *arLabels) label(rec map[string]any) string {
	switch l.source {
	case "kinesis":
		k, _ := rec["kinesis"].(map[string]any)
		data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(k["data"]))
		return l.kinesisLabel(fmt.Sprint(k["partitionKey"]), data)
	case "dynamodb":
		d, _ := rec["dynamodb"].(map[string]any)
		keys, _ := d["Keys"].(map[string]any)
		v, _ := keys[l.keyAttr].(map[string]any)
		for _, x := range v {
			return fmt.Sprint(x)
		}
	}
	return "?"
}

func (l *arLabels) learn(rec map[string]any) {
	if s := arSequenceOf(rec); s != "" {
		l.seq[s] = l.label(rec)
	}
}

func arSequenceOf(rec map[string]any) string {
	if k, ok := rec["kinesis"].(map[string]any); ok {
		return fmt.Sprint(k["sequenceNumber"])
	}
	if d, ok := rec["dynamodb"].(map[string]any); ok {
		return fmt.Sprint(d["SequenceNumber"])
	}
	return ""
}

// seqOf shows a sequence number as the record it belongs to.
func (l *arLabels) seqOf(s any) any {
	str, ok := s.(string)
	if !ok {
		return s
	}
	if name, ok := l.seq[str]; ok {
		return "<seq:" + name + ">"
	}
	return "<seq:unknown " + str + ">"
}

// arRecords decodes the records of an event payload (numbers kept as
// json.Number).
func arRecords(payload []byte) []map[string]any {
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	_ = dec.Decode(&ev)
	return ev.Records
}

// arObserveStreamCalls records what a stream function received.
func arObserveStreamCalls(obs map[string]any, prefix string, calls []arCall, lab *arLabels) {
	per := []int{}
	keySets := [][]string{}
	eventNames := [][]string{}
	deliveries := map[string]int{}
	data := []string{}
	var first map[string]any
	minGap := -1.0
	for i, c := range calls {
		if i > 0 {
			gap := c.At.Sub(calls[i-1].At).Seconds()
			if minGap < 0 || gap < minGap {
				minGap = gap
			}
		}
		recs := arRecords(c.Payload)
		per = append(per, len(recs))
		var set, names []string
		for _, rec := range recs {
			if first == nil {
				first = rec
			}
			name := lab.label(rec)
			deliveries[name]++
			if !slices.Contains(set, name) {
				set = append(set, name)
			}
			if en, ok := rec["eventName"].(string); ok && lab.source == "dynamodb" {
				names = append(names, en)
			}
			if k, ok := rec["kinesis"].(map[string]any); ok {
				b, _ := base64.StdEncoding.DecodeString(fmt.Sprint(k["data"]))
				data = append(data, string(b))
			}
		}
		keySets = append(keySets, set)
		eventNames = append(eventNames, names)
	}
	slices.Sort(data)
	obs[prefix+"invocations"] = len(calls)
	obs[prefix+"recordsPerInvocation"] = per
	obs[prefix+"invocationKeySets"] = keySets
	obs[prefix+"deliveries"] = deliveries
	if lab.source == "kinesis" {
		obs[prefix+"deliveredData"] = data
	} else {
		obs[prefix+"invocationEventNames"] = eventNames
	}
	if minGap >= 0 {
		obs[prefix+"minSecondsBetweenInvocations"] = minGap
	}
	if first != nil {
		obs[prefix+"event.record"] = arNormStreamRecord(first, lab)
		if d, ok := first["dynamodb"].(map[string]any); ok {
			if n, ok := d["ApproximateCreationDateTime"].(json.Number); ok {
				obs[prefix+"event.dynamodb.ApproximateCreationDateTime.isFloat"] = strings.ContainsAny(n.String(), ".eE")
			}
		}
	}
}

// arNormStreamRecord replaces the values that change from run to run by
// placeholders, as LocalStack's snapshots do: <region>, <stream-arn>,
// <role-arn>, <seq:record>, <epoch-seconds> (a number with 10 digits before
// the point, which the recorded tests check), <event-id>.
func arNormStreamRecord(rec map[string]any, lab *arLabels) map[string]any {
	out := maps.Clone(rec)
	if out["awsRegion"] == esmtest.DefaultRegion {
		out["awsRegion"] = "<region>"
	}
	if out["eventSourceARN"] == lab.arn {
		out["eventSourceARN"] = "<stream-arn>"
	}
	if out["invokeIdentityArn"] == arRoleARN {
		out["invokeIdentityArn"] = "<role-arn>"
	}
	epoch := func(v any) any {
		if n, ok := v.(json.Number); ok && arIntegerDigits(n) == 10 {
			return "<epoch-seconds>"
		}
		return v
	}
	if k, ok := rec["kinesis"].(map[string]any); ok {
		k = maps.Clone(k)
		seq := fmt.Sprint(k["sequenceNumber"])
		if id, ok := out["eventID"].(string); ok {
			if sh, s, ok := strings.Cut(id, ":"); ok && s == seq {
				out["eventID"] = sh + ":" + fmt.Sprint(lab.seqOf(seq))
			}
		}
		k["sequenceNumber"] = lab.seqOf(seq)
		k["approximateArrivalTimestamp"] = epoch(k["approximateArrivalTimestamp"])
		out["kinesis"] = k
	}
	if d, ok := rec["dynamodb"].(map[string]any); ok {
		d = maps.Clone(d)
		if id, ok := out["eventID"].(string); ok && id != "" {
			out["eventID"] = "<event-id>"
		}
		d["SequenceNumber"] = lab.seqOf(d["SequenceNumber"])
		d["ApproximateCreationDateTime"] = epoch(d["ApproximateCreationDateTime"])
		out["dynamodb"] = d
	}
	return out
}

var (
	arUUIDPattern        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	arFunctionARNPattern = regexp.MustCompile(`^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+$`)
	arMillisPattern      = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	arSecondsPattern     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	arS3KeyPattern       = regexp.MustCompile(`^aws/lambda/[0-9a-f-]{36}/([^/]+)/(\d{4}/\d\d/\d\d)/(\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d)-[0-9a-f-]{36}$`)
)

// arTimestamp shows a failure record's time by its format: <timestamp-ms>
// (2022-07-13T13:48:01.000Z) or <timestamp-s> (2022-07-13T13:48:01Z).
func arTimestamp(v any) any {
	s, _ := v.(string)
	switch {
	case arMillisPattern.MatchString(s):
		return "<timestamp-ms>"
	case arSecondsPattern.MatchString(s):
		return "<timestamp-s>"
	}
	return v
}

// arNormFailure replaces a failure record's changing values by
// placeholders: <uuid>, <function-arn>, <timestamp-ms>/<timestamp-s>,
// <seq:record>, <stream-arn>, <shard-id> (DynamoDB).
func arNormFailure(rec map[string]any, lab *arLabels) map[string]any {
	out := maps.Clone(rec)
	if rc, ok := rec["requestContext"].(map[string]any); ok {
		rc = maps.Clone(rc)
		if s, _ := rc["requestId"].(string); arUUIDPattern.MatchString(s) {
			rc["requestId"] = "<uuid>"
		}
		if s, _ := rc["functionArn"].(string); arFunctionARNPattern.MatchString(s) {
			rc["functionArn"] = "<function-arn>"
		}
		out["requestContext"] = rc
	}
	if _, ok := out["timestamp"]; ok {
		out["timestamp"] = arTimestamp(out["timestamp"])
	}
	for _, name := range []string{"KinesisBatchInfo", "DDBStreamBatchInfo"} {
		bi, ok := rec[name].(map[string]any)
		if !ok {
			continue
		}
		bi = maps.Clone(bi)
		if s, _ := bi["shardId"].(string); name == "DDBStreamBatchInfo" && s != "" {
			bi["shardId"] = "<shard-id>"
		}
		for _, f := range []string{"startSequenceNumber", "endSequenceNumber"} {
			if v, ok := bi[f]; ok {
				bi[f] = lab.seqOf(v)
			}
		}
		for _, f := range []string{"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"} {
			if v, ok := bi[f]; ok {
				bi[f] = arTimestamp(v)
			}
		}
		if bi["streamArn"] == lab.arn {
			bi["streamArn"] = "<stream-arn>"
		}
		out[name] = bi
	}
	return out
}

// arKeyOrder lists the keys of a JSON object in the order written.
func arKeyOrder(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, fmt.Sprint(t))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// arObserveFailure records the first of the failure records (as sent, JSON)
// under "failure.": the record with placeholders and its key order at
// every level.
func arObserveFailure(obs map[string]any, bodies [][]byte, lab *arLabels) {
	obs["failure.count"] = len(bodies)
	if len(bodies) == 0 {
		return
	}
	raw := bodies[0]
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		obs["failure.body"] = "not JSON: " + string(raw)
		return
	}
	obs["failure.body"] = arNormFailure(rec, lab)
	obs["failure.keyOrder"] = arKeyOrder(raw)
	var parts map[string]json.RawMessage
	_ = json.Unmarshal(raw, &parts)
	for name, part := range parts {
		switch name {
		case "requestContext", "responseContext":
			obs["failure."+name+".keyOrder"] = arKeyOrder(part)
		case "KinesisBatchInfo", "DDBStreamBatchInfo":
			obs["failure.batchInfo.keyOrder"] = arKeyOrder(part)
		}
	}
}

// arDestination is a scenario's on-failure destination on the fakes.
type arDestination struct {
	kind, arn string
	clients   *destination.Clients
	capture   *esmtest.Capture
	sqs       *esmtest.SQS
	queueURL  string
	s3        *arS3
}

func arNewDestination(t *testing.T, kind string) *arDestination {
	d := &arDestination{kind: kind}
	switch kind {
	case "sqs":
		d.capture = esmtest.NewCapture()
		d.arn = "arn:aws:sqs:" + esmtest.DefaultRegion + ":" + esmtest.DefaultAccount + ":failure-queue"
		d.clients = &destination.Clients{SQS: d.capture}
	case "sns":
		d.sqs = esmtest.NewSQS()
		topics := esmtest.NewSNS(d.sqs)
		d.arn = topics.MustCreateTopic(t, "failure-topic", nil)
		var queueARN string
		d.queueURL, queueARN = d.sqs.MustCreateQueue(t, "failure-subscriber", nil)
		topics.MustSubscribe(t, d.arn, queueARN, false)
		d.clients = &destination.Clients{SNS: topics}
	case "s3":
		d.s3 = &arS3{}
		d.arn = "arn:aws:s3:::failure-bucket"
		d.clients = &destination.Clients{S3: d.s3}
	}
	return d
}

// observe records what reached the destination: the failure records, and
// the SNS envelope or the S3 object around them.
func (d *arDestination) observe(t *testing.T, obs map[string]any, lab *arLabels) {
	switch d.kind {
	case "sqs":
		var bodies [][]byte
		for _, c := range d.capture.Sent() {
			bodies = append(bodies, []byte(c.Body))
		}
		arObserveFailure(obs, bodies, lab)
	case "sns":
		var bodies [][]byte
		msgs := d.sqs.Messages(d.queueURL)
		obs["sns.count"] = len(msgs)
		for i, m := range msgs {
			var env map[string]any
			if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
				t.Errorf("SNS delivery is not an envelope: %s", *m.Body)
				continue
			}
			if i == 0 {
				obs["sns.envelope.keys"] = slices.Sorted(maps.Keys(env))
				obs["sns.Type"] = env["Type"]
				obs["sns.SignatureVersion"] = env["SignatureVersion"]
				obs["sns.TopicArnIsDestination"] = env["TopicArn"] == d.arn
				obs["sns.TimestampFormat"] = arTimestamp(env["Timestamp"])
			}
			msg, _ := env["Message"].(string)
			bodies = append(bodies, []byte(msg))
		}
		arObserveFailure(obs, bodies, lab)
	case "s3":
		objs := d.s3.Objects()
		obs["failure.count"] = len(objs)
		if len(objs) == 0 {
			return
		}
		o := objs[0]
		dec := json.NewDecoder(bytes.NewReader(o.Body))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			obs["failure.body"] = "not JSON: " + string(o.Body)
			return
		}
		obs["s3.keysSorted"] = arKeysSorted(o.Body)
		payload, isString := body["payload"].(string)
		obs["s3.payloadIsString"] = isString
		if isString {
			recs := arRecords([]byte(payload))
			obs["s3.payload.recordCount"] = len(recs)
			if len(recs) > 0 {
				obs["s3.payload.record"] = arNormStreamRecord(recs[0], lab)
			}
		}
		delete(body, "payload")
		obs["failure.body"] = arNormFailure(body, lab)
		m := arS3KeyPattern.FindStringSubmatch(o.Key)
		obs["s3.keyMatchesLambdaFormat"] = m != nil
		if m != nil {
			ts, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(body["timestamp"]))
			var shardID string
			for _, name := range []string{"KinesisBatchInfo", "DDBStreamBatchInfo"} {
				if bi, ok := body[name].(map[string]any); ok {
					shardID = fmt.Sprint(bi["shardId"])
				}
			}
			obs["s3.keyMatchesRecord"] = m[1] == shardID && m[2] == ts.UTC().Format("2006/01/02") && m[3] == ts.UTC().Format("2006-01-02T15.04.05")
		}
	}
}

// arKeysSorted reports whether every object in a JSON document has its
// keys in sorted order.
func arKeysSorted(raw []byte) bool {
	keys := arKeyOrder(raw)
	if keys == nil {
		return true
	}
	if !slices.IsSorted(keys) {
		return false
	}
	var parts map[string]json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return true
	}
	for _, p := range parts {
		if bytes.HasPrefix(bytes.TrimSpace(p), []byte("{")) && !arKeysSorted(p) {
			return false
		}
	}
	return true
}
