package esm_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/invoke"
	"github.com/lambdaesm/lambdaesm/shard"
)

// arRunSQS runs an SQS mapping scenario in a synctest bubble.
func arRunSQS(t *testing.T, sc *arScenario) (map[string]any, error) {
	obs := map[string]any{}
	var err error
	synctest.Test(t, func(t *testing.T) {
		arAdvanceClock()
		err = arSQS(t, sc, obs)
	})
	return obs, err
}

func arSQS(t *testing.T, sc *arScenario, obs map[string]any) error {
	ctx := context.Background()
	q := esmtest.NewSQS()
	spec := sc.Queue
	if spec == nil {
		spec = &arQueue{}
	}
	suffix := ""
	if spec.FIFO {
		suffix = ".fifo"
	}
	attrs := maps.Clone(spec.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	var dlqURL string
	if spec.MaxReceiveCount > 0 {
		var dlqARN string
		dlqURL, dlqARN = q.MustCreateQueue(t, "event-dlq"+suffix, nil)
		policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": spec.MaxReceiveCount})
		attrs["RedrivePolicy"] = string(policy)
	}
	url, queueARN := q.MustCreateQueue(t, "source-queue"+suffix, attrs)

	cfg, err := arConfig(sc.Config, queueARN, "")
	if err != nil {
		return arConstructErr(err)
	}
	fn := newARLambda(sc.Function)
	progress := &esmtest.Progress{}
	progress.CountDeadLetters(q, url)
	m, err := esm.NewSQSMapping(cfg, q, invoke.Function[events.SQSEvent, events.SQSEventResponse](fn, "lambda_func"), esm.WithHooks(progress))
	if err != nil {
		return arConstructErr(err)
	}

	var sentIDs []string
	var stop func()
	for _, st := range sc.Steps {
		switch {
		case st.Start:
			stop = esmtest.Start(t, m)
		case len(st.Send) > 0:
			for _, msg := range st.Send {
				in := &sqs.SendMessageInput{QueueUrl: &url, MessageBody: new(msg.Body), MessageAttributes: arSQSAttributes(msg.Attributes)}
				if msg.Group != "" {
					in.MessageGroupId = new(msg.Group)
				}
				if msg.Dedup != "" {
					in.MessageDeduplicationId = new(msg.Dedup)
				}
				out, err := q.SendMessage(ctx, in)
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
				sentIDs = append(sentIDs, *out.MessageId)
			}
		case len(st.SendBatch) > 0:
			in := &sqs.SendMessageBatchInput{QueueUrl: &url}
			for i, msg := range st.SendBatch {
				e := sqstypes.SendMessageBatchRequestEntry{Id: new(fmt.Sprintf("message-%d", i+1)), MessageBody: new(msg.Body), MessageAttributes: arSQSAttributes(msg.Attributes)}
				if msg.Group != "" {
					e.MessageGroupId = new(msg.Group)
				}
				if msg.Dedup != "" {
					e.MessageDeduplicationId = new(msg.Dedup)
				}
				in.Entries = append(in.Entries, e)
			}
			out, err := q.SendMessageBatch(ctx, in)
			if err != nil || len(out.Failed) > 0 {
				t.Fatalf("SendMessageBatch: %v %v", err, out)
			}
			for _, e := range out.Successful {
				sentIDs = append(sentIDs, *e.MessageId)
			}
		case st.SleepSeconds > 0:
			time.Sleep(arSeconds(st.SleepSeconds))
		case st.WaitInvocations > 0:
			esmtest.WaitUntil(t, time.Hour, fmt.Sprintf("%d invocations", st.WaitInvocations), func() bool {
				return len(fn.Calls()) >= st.WaitInvocations
			})
		}
	}
	if stop == nil {
		return errors.New("the scenario has no start step")
	}
	progress.WaitFinished(t, len(sentIDs), 12*time.Hour)
	time.Sleep(arSeconds(cmp.Or(sc.SettleSeconds, 60)))
	stop()

	calls := fn.Calls()
	obs["invocations"] = len(calls)
	per, counts, messages, failed := []int{}, [][]string{}, [][]any{}, [][]any{}
	bodies := [][]string{}
	errs := []any{}
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
		var cs, bs []string
		var ms []any
		byID := map[string]any{}
		for _, r := range recs {
			if first == nil {
				first = r
			}
			attrs, _ := r["attributes"].(map[string]any)
			cs = append(cs, fmt.Sprint(attrs["ApproximateReceiveCount"]))
			body := fmt.Sprint(r["body"])
			bs = append(bs, body)
			label := arMessageLabel(body)
			ms = append(ms, label)
			byID[fmt.Sprint(r["messageId"])] = label
		}
		counts, bodies, messages = append(counts, cs), append(bodies, bs), append(messages, ms)
		if c.Error != nil {
			errs = append(errs, *c.Error)
		} else {
			errs = append(errs, nil)
		}
		var resp events.SQSEventResponse
		var fs []any
		if json.Unmarshal(c.Response, &resp) == nil {
			for _, f := range resp.BatchItemFailures {
				fs = append(fs, byID[f.ItemIdentifier])
			}
		}
		failed = append(failed, fs)
	}
	obs["recordsPerInvocation"] = per
	obs["receiveCounts"] = counts
	obs["invocationBodies"] = bodies
	obs["invocationMessages"] = messages
	obs["invocationFailedMessages"] = failed
	obs["invocationErrors"] = errs
	obs["maxConcurrency"] = fn.MaxConcurrency()
	if minGap >= 0 {
		obs["minSecondsBetweenInvocations"] = minGap
	}
	if first != nil {
		obs["event.record"] = arNormSQSRecord(first, queueARN)
	}
	obs["sourceQueueEmpty"] = len(q.Messages(url)) == 0
	if dlqURL != "" {
		dlq := q.Messages(dlqURL)
		slices.SortFunc(dlq, func(a, b sqstypes.Message) int { return strings.Compare(*a.Body, *b.Body) })
		var dbodies []any
		keepsID := len(dlq) > 0
		for _, msg := range dlq {
			dbodies = append(dbodies, arMaybeJSON(*msg.Body))
			keepsID = keepsID && slices.Contains(sentIDs, *msg.MessageId)
		}
		if dbodies == nil {
			dbodies = []any{}
		}
		obs["dlqBodies"] = dbodies
		obs["dlqKeepsMessageId"] = keepsID
	}
	return nil
}

func arSQSAttributes(attrs map[string]arAttribute) map[string]sqstypes.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range attrs {
		out[k] = sqstypes.MessageAttributeValue{DataType: new(v.DataType), StringValue: new(v.StringValue)}
	}
	return out
}

// arMessageLabel names a message by the "message" member of its JSON body,
// or by its body.
func arMessageLabel(body string) any {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) == nil {
		if v, ok := m["message"]; ok {
			return v
		}
	}
	return body
}

// arMaybeJSON decodes a body that is JSON, as LocalStack's snapshots show
// them; other bodies stay strings.
func arMaybeJSON(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}

var (
	arEpochMillisPattern = regexp.MustCompile(`^\d{13}$`)
	arMD5Pattern         = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// arNormSQSRecord replaces an SQS record's changing values by placeholders:
// <message-id>, <receipt-handle>, <md5> (of the body), <queue-arn>,
// <region>, <epoch-ms>, <sender-id>, <sqs-sequence-number>.
func arNormSQSRecord(rec map[string]any, queueARN string) map[string]any {
	out := maps.Clone(rec)
	if s, _ := out["messageId"].(string); s != "" {
		out["messageId"] = "<message-id>"
	}
	if s, _ := out["receiptHandle"].(string); s != "" {
		out["receiptHandle"] = "<receipt-handle>"
	}
	if s, _ := out["md5OfBody"].(string); arMD5Pattern.MatchString(s) {
		out["md5OfBody"] = "<md5>"
	}
	if out["eventSourceARN"] == queueARN {
		out["eventSourceARN"] = "<queue-arn>"
	}
	if out["awsRegion"] == esmtest.DefaultRegion {
		out["awsRegion"] = "<region>"
	}
	if a, ok := rec["attributes"].(map[string]any); ok {
		a = maps.Clone(a)
		for _, k := range []string{"SentTimestamp", "ApproximateFirstReceiveTimestamp"} {
			if s, _ := a[k].(string); arEpochMillisPattern.MatchString(s) {
				a[k] = "<epoch-ms>"
			}
		}
		if s, _ := a["SenderId"].(string); s != "" {
			a["SenderId"] = "<sender-id>"
		}
		if s, _ := a["SequenceNumber"].(string); s != "" {
			a["SequenceNumber"] = "<sqs-sequence-number>"
		}
		out["attributes"] = a
	}
	return out
}

// arRunAsyncDeadLetter invokes a failing function asynchronously (package
// invoke) with an SQS dead-letter queue.
func arRunAsyncDeadLetter(t *testing.T, sc *arScenario) (map[string]any, error) {
	obs := map[string]any{}
	synctest.Test(t, func(t *testing.T) {
		arAdvanceClock()
		q := esmtest.NewSQS()
		dlqURL, dlqARN := q.MustCreateQueue(t, "dlq", nil)
		dl, err := destination.NewSQS(q, dlqARN)
		if err != nil {
			t.Fatal(err)
		}
		fn := newARLambda(sc.Function)
		h := invoke.Function[json.RawMessage, json.RawMessage](fn, "lambda-fn")
		inv, err := invoke.New(h, invoke.Config{MaximumRetryAttempts: new(0), DeadLetter: dl})
		if err != nil {
			t.Fatal(err)
		}
		stop := esmtest.Start(t, inv)
		id, err := inv.Invoke(context.Background(), sc.Payload)
		if err != nil {
			t.Fatal(err)
		}
		esmtest.WaitUntil(t, time.Hour, "the dead-letter message", func() bool { return len(q.Messages(dlqURL)) > 0 })
		time.Sleep(10 * time.Minute)
		stop()
		msgs := q.Messages(dlqURL)
		obs["invocations"] = len(fn.Calls())
		obs["dlq.count"] = len(msgs)
		m := msgs[0]
		obs["dlq.body"] = arMaybeJSON(*m.Body)
		attrs := map[string]any{}
		for name, a := range m.MessageAttributes {
			v := *a.StringValue
			if name == destination.RequestIDAttribute && v == id {
				v = "<request-id>"
			}
			attrs[name] = map[string]any{"DataType": *a.DataType, "StringValue": v}
		}
		obs["dlq.messageAttributes"] = attrs
	})
	return obs, nil
}

// arRefusal is how the library answers a configuration: the error of
// ParseConfig, of the mapping constructor, or of Run's start-up checks
// (bounded to a minute of fake time), or "accepted".
func arRefusal(t *testing.T, source string, raw json.RawMessage) (refusal string, cfg esm.Config, sourceARN string) {
	var client any
	synctest.Test(t, func(t *testing.T) {
		arAdvanceClock()
		switch source {
		case "kinesis":
			k := esmtest.NewKinesis()
			sourceARN, client = k.MustCreateStream(t, "test-stream", 1), k
		case "dynamodb":
			d := esmtest.NewDynamoDBStreams()
			sourceARN, client = d.MustCreateStream(t, "test-table", "NEW_IMAGE", "id"), d
		case "sqs":
			q := esmtest.NewSQS()
			_, sourceARN = q.MustCreateQueue(t, "queue", nil)
			client = q
		default:
			t.Fatalf("unknown source %q", source)
		}
		var err error
		cfg, err = arConfig(raw, sourceARN, "")
		if err != nil {
			refusal = err.Error()
			return
		}
		refusal = arRunRefusal(t, cfg, client)
	})
	return refusal, cfg, sourceARN
}

// arRunRefusal builds a mapping of cfg over client and runs it for a
// minute of fake time: its error, or "accepted".
func arRunRefusal(t *testing.T, cfg esm.Config, client any) string {
	h := invoke.Function[events.KinesisEvent, events.KinesisEventResponse](newARLambda(arFunction{Kind: "echo"}), "fn")
	var (
		m   esm.Mapping
		err error
	)
	opts := []esm.StreamOption{esm.WithStore(shard.NewMemoryStore())}
	switch c := client.(type) {
	case *esmtest.Kinesis:
		m, err = esm.NewKinesisMapping(cfg, c, h, opts...)
	case *esmtest.DynamoDBStreams:
		m, err = esm.NewDynamoDBMapping(cfg, c, invoke.Function[events.DynamoDBEvent, events.DynamoDBEventResponse](newARLambda(arFunction{Kind: "echo"}), "fn"), opts...)
	case *esmtest.SQS:
		m, err = esm.NewSQSMapping(cfg, c, invoke.Function[events.SQSEvent, events.SQSEventResponse](newARLambda(arFunction{Kind: "echo"}), "fn"))
	}
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		return err.Error()
	}
	return "accepted"
}

// arRunValidate answers each configuration of a validate scenario. A
// refusal is observed as AWS's message when the library's error contains
// it, else as the library's error.
func arRunValidate(t *testing.T, sc *arScenario, expect map[string]json.RawMessage) (map[string]any, error) {
	obs := map[string]any{}
	for _, v := range sc.Validations {
		got, cfg, sourceARN := arRefusal(t, v.Source, v.Config)
		var want string
		_ = json.Unmarshal(expect["refusal."+v.Name], &want)
		// AWS wraps a ValidationException's sentence in "1 validation
		// error detected: ", the counterpart of ConfigError's list of
		// violations: the sentence is what must match.
		sentence := strings.TrimPrefix(want, "1 validation error detected: ")
		if want != "" && want != "accepted" && strings.Contains(got, strings.ReplaceAll(sentence, "<source-arn>", sourceARN)) {
			got = want
		} else if strings.Contains(got, "not supported yet") {
			return nil, &arNotExpressible{reason: v.Name + ": the library refuses it: " + got}
		}
		obs["refusal."+v.Name] = got
		if got == "accepted" {
			if d, err := cfg.WithDefaults(); err == nil {
				obs["defaults."+v.Name+".BatchSize"] = d.BatchSize
			}
		}
	}
	return obs, nil
}

// arRunMissingSource runs a mapping of a stream that does not exist and
// observes how Run refuses it.
func arRunMissingSource(t *testing.T, sc *arScenario, expect map[string]json.RawMessage) (map[string]any, error) {
	var got string
	synctest.Test(t, func(t *testing.T) {
		arAdvanceClock()
		cfg, err := arConfig(sc.Config, sc.ARN, "")
		if err != nil {
			got = err.Error()
			return
		}
		cfg.FunctionName = "fn"
		var clients esm.SourceClients
		var client any
		if sc.Source == "dynamodb" {
			d := esmtest.NewDynamoDBStreams()
			clients.DynamoDBStreams, client = d, d
		} else {
			k := esmtest.NewKinesis()
			clients.Kinesis, client = k, k
		}
		// Lambda refuses at creation: so does the registry, with AWS's type
		// and message.
		reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
			Resolver: func(context.Context, string) (esm.Function, error) {
				return esm.Function{
					Kinesis:  invoke.Function[events.KinesisEvent, events.KinesisEventResponse](newARLambda(arFunction{Kind: "echo"}), "fn"),
					DynamoDB: invoke.Function[events.DynamoDBEvent, events.DynamoDBEventResponse](newARLambda(arFunction{Kind: "echo"}), "fn"),
				}, nil
			},
			Clients: clients, Store: esm.NewMemoryMappingStore(), Checkpoints: shard.NewMemoryStore(),
		})
		if err != nil {
			got = err.Error()
			return
		}
		_, err = reg.Create(t.Context(), cfg)
		var ae *esm.APIError
		switch {
		case err == nil:
			got = "accepted"
			return
		case !errors.As(err, &ae) || ae.Type != esm.ErrorInvalidParameterValue:
			got = err.Error()
			return
		}
		got = ae.Message
		// A mapping built without the registry refuses when it starts,
		// in the same words.
		cfg.FunctionName = ""
		if run := arRunRefusal(t, cfg, client); !strings.Contains(run, got) {
			got = "Run: " + run
		}
	})
	return map[string]any{"refusal": got}, nil
}
