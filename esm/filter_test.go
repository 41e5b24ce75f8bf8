package esm_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// progressHooks counts the records filtered out.
type progressHooks struct {
	mu sync.Mutex
	n  int
}

func (h *progressHooks) OnRecordsFilteredOut(_ lambdaesm.Source, n int) {
	h.mu.Lock()
	h.n += n
	h.mu.Unlock()
}

func (h *progressHooks) filtered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func firstDynamoShard(t *testing.T, ds *esmtest.DynamoDBStreams, arn string) string {
	t.Helper()
	out, err := ds.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	require.NoError(t, err)
	return aws.ToString(out.StreamDescription.Shards[0].ShardId)
}

// seen collects what a handler was given, in order.
type seen struct {
	mu   sync.Mutex
	keys []string
}

func (s *seen) add(keys ...string) {
	s.mu.Lock()
	s.keys = append(s.keys, keys...)
	s.mu.Unlock()
}

func (s *seen) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func withFilters(cfg esm.Config, patterns ...string) esm.Config {
	cfg.FilterCriteria = &esm.FilterCriteria{}
	for _, p := range patterns {
		cfg.FilterCriteria.Filters = append(cfg.FilterCriteria.Filters, esm.Filter{Pattern: p})
	}
	return cfg
}

// Kinesis: records no filter matches are skipped and checkpointed past, even
// a batch of nothing but filtered records; what matches arrives in order.
func TestFilterKinesis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "orders", 1)
		var got seen
		hooks := &progressHooks{}
		cfg := withFilters(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 10},
			`{"data": {"type": ["order"], "amount": [{"numeric": [">", 100]}]}}`, `{"partitionKey": [{"prefix": "vip-"}]}`)
		store := shard.NewMemoryStore()
		m, err := esm.NewKinesisMapping(cfg, k, esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			for _, r := range ev.Records {
				got.add(string(r.Kinesis.Data))
			}
			return nil
		}), esm.WithStore(store), esm.WithHooks(hooks))
		require.NoError(t, err)
		stop := start(t, m)
		var want []string
		var last string
		for i := range 30 {
			var data, pk string
			switch i % 3 {
			case 0:
				data, pk = `{"type":"order","amount":`+strconv.Itoa(50+10*i)+`}`, "k"
			case 1:
				data, pk = `not json `+strconv.Itoa(i), "vip-"+strconv.Itoa(i)
			default:
				data, pk = `{"type":"refund","amount":500}`, "k"
			}
			_, last = k.Put(t, arn, pk, []byte(data))
			if (i%3 == 0 && 50+10*i > 100) || i%3 == 1 {
				want = append(want, data)
			}
		}
		time.Sleep(10 * time.Second)
		require.Equal(t, want, got.get())
		// Only filtered records at the end: the checkpoint still passes them.
		for range 5 {
			_, last = k.Put(t, arn, "k", []byte(`{"type":"refund"}`))
		}
		time.Sleep(10 * time.Second)
		cp, _, _ := store.Load(t.Context(), "esm|"+arn, "shardId-000000000000")
		require.Equal(t, last, cp.SequenceNumber, "the checkpoint moves past filtered-out records")
		stop()
		require.Equal(t, 35-len(want), hooks.filtered())
	})
}

// DynamoDB Streams: patterns on eventName and the images in DynamoDB JSON.
func TestFilterDynamoDB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ds := esmtest.NewDynamoDBStreams()
		arn := ds.MustCreateStream(t, "orders", dbtypes.StreamViewTypeNewAndOldImages, "id")
		var got seen
		cfg := withFilters(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon},
			`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}`)
		store := shard.NewMemoryStore()
		m, err := esm.NewDynamoDBMapping(cfg, ds, esm.HandleDynamoDB(func(_ context.Context, ev events.DynamoDBEvent) error {
			for _, r := range ev.Records {
				got.add(r.EventName + ":" + r.Change.Keys["id"].String())
			}
			return nil
		}), esm.WithStore(store))
		require.NoError(t, err)
		stop := start(t, m)
		put := func(id, status string) {
			require.NoError(t, ds.PutItem("orders", map[string]dbtypes.AttributeValue{
				"id": &dbtypes.AttributeValueMemberS{Value: id}, "status": &dbtypes.AttributeValueMemberS{Value: status}}))
		}
		put("1", "paid")
		put("2", "open")
		put("2", "paid") // MODIFY: filtered out
		put("3", "paid")
		time.Sleep(10 * time.Second)
		stop()
		require.Equal(t, []string{"INSERT:1", "INSERT:3"}, got.get())
		cp, ok, _ := store.Load(t.Context(), "esm|"+arn, firstDynamoShard(t, ds, arn))
		require.True(t, ok)
		require.NotEmpty(t, cp.SequenceNumber)
	})
}

// SQS: filtered-out messages are deleted without reaching the handler; a
// body that is not JSON is matched as a plain string.
func TestFilterSQS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, arn := q.MustCreateQueue(t, "orders", nil)
		var got seen
		cfg := withFilters(esm.Config{EventSourceArn: arn},
			`{"body": {"kind": ["thumbnail"]}}`, `{"body": [{"prefix": "urgent:"}]}`)
		m, err := esm.NewSQSMapping(cfg, q, esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) error {
			for _, r := range ev.Records {
				got.add(r.Body)
			}
			return nil
		}), esm.WithLongPoll(time.Second))
		require.NoError(t, err)
		stop := start(t, m)
		for _, b := range []string{`{"kind":"thumbnail"}`, `{"kind":"video"}`, `urgent: call`, `later`, `{"kind":["thumbnail","x"]}`} {
			q.Send(t, url, b)
		}
		time.Sleep(10 * time.Second)
		stop()
		require.ElementsMatch(t, []string{`{"kind":"thumbnail"}`, `urgent: call`, `{"kind":["thumbnail","x"]}`}, got.get())
		require.Empty(t, q.Messages(url), "filtered-out messages are deleted")
	})
}

// The same on the emulators, through the real SDK.
func TestIntegrationFilter(t *testing.T) {
	awstest.Integration(t)
	t.Run("sqs", func(t *testing.T) {
		c := awstest.SQS(t)
		url, arn := awstest.NewQueue(t, c, nil)
		var got seen
		m, err := esm.NewSQSMapping(withFilters(esm.Config{EventSourceArn: arn}, `{"body": {"keep": [true]}}`), c,
			esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) error {
				for _, r := range ev.Records {
					got.add(r.Body)
				}
				return nil
			}), esm.WithLongPoll(time.Second))
		require.NoError(t, err)
		stop := start(t, m)
		for i := range 6 {
			_, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(`{"i":` + strconv.Itoa(i) + `,"keep":` + strconv.FormatBool(i%2 == 0) + `}`)})
			require.NoError(t, err)
		}
		awaitReal(t, "three messages", 20*time.Second, func() bool { return len(got.get()) == 3 })
		awaitReal(t, "the queue to empty", 20*time.Second, func() bool {
			out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
			return err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
		})
		stop()
	})
	t.Run("kinesis", func(t *testing.T) {
		kc := awstest.Kinesis(t)
		name, arn := awstest.NewStream(t, kc, 1)
		var got seen
		store := shard.NewMemoryStore()
		m, err := esm.NewKinesisMapping(withFilters(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon}, `{"data": {"keep": [true]}}`), kc,
			esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
				for _, r := range ev.Records {
					got.add(string(r.Kinesis.Data))
				}
				return nil
			}), esm.WithStore(store), esm.WithPolling(esm.Polling{Idle: 100 * time.Millisecond}), esm.WithCheckpointInterval(10*time.Millisecond))
		require.NoError(t, err)
		stop := start(t, m)
		var last string
		for i := range 6 {
			out, err := kc.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: &name, PartitionKey: aws.String("k"),
				Data: []byte(`{"i":` + strconv.Itoa(i) + `,"keep":` + strconv.FormatBool(i < 3) + `}`)})
			require.NoError(t, err)
			last = aws.ToString(out.SequenceNumber)
		}
		awaitReal(t, "the checkpoint past the filtered records", 20*time.Second, func() bool {
			cp, _, _ := store.Load(t.Context(), "esm|"+arn, "shardId-000000000000")
			return cp.SequenceNumber == last
		})
		stop()
		require.Len(t, got.get(), 3)
	})
	t.Run("dynamodb", func(t *testing.T) {
		dc := awstest.DynamoDB(t)
		table, arn := awstest.NewStreamTable(t, dc)
		var got seen
		m, err := esm.NewDynamoDBMapping(withFilters(esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon}, `{"dynamodb": {"NewImage": {"keep": {"BOOL": [true]}}}}`),
			awstest.DynamoDBStreams(t), esm.HandleDynamoDB(func(_ context.Context, ev events.DynamoDBEvent) error {
				for _, r := range ev.Records {
					got.add(r.Change.Keys[awstest.StreamTableKey].String())
				}
				return nil
			}), esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.Polling{Idle: 100 * time.Millisecond}))
		require.NoError(t, err)
		stop := start(t, m)
		for i := range 6 {
			_, err := dc.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
				awstest.StreamTableKey: &ddbtypes.AttributeValueMemberS{Value: strconv.Itoa(i)},
				"keep":                 &ddbtypes.AttributeValueMemberBOOL{Value: i%2 == 1},
			}})
			require.NoError(t, err)
		}
		awaitReal(t, "three items", 20*time.Second, func() bool { return len(got.get()) == 3 })
		stop()
		require.Equal(t, []string{"1", "3", "5"}, got.get())
	})
}
