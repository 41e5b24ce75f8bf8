package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmprom"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

// worker is what run runs: the mappings, the metrics registry and, in
// memory, the producer.
type worker struct {
	mode     string
	mappings []namedMapping
	reg      *prometheus.Registry
	produce  func(ctx context.Context) // nil against AWS
}

// order and email are what the example handlers receive.
type order struct {
	ID     int    `json:"id"`
	Amount int    `json:"amount"`
	Key    string `json:"key"`
}

type email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// handlers are the business logic: an existing Lambda handler would do.
func ordersHandler(log *slog.Logger, work time.Duration) func(context.Context, events.KinesisEvent) error {
	return func(ctx context.Context, ev events.KinesisEvent) error {
		for _, r := range ev.Records {
			var o order
			if err := json.Unmarshal(r.Kinesis.Data, &o); err != nil {
				log.WarnContext(ctx, "not an order; skipped", "sequenceNumber", r.Kinesis.SequenceNumber, "err", err)
				continue
			}
			log.DebugContext(ctx, "order", "id", o.ID, "amount", o.Amount, "eventID", r.EventID)
		}
		return pretendToWork(ctx, work)
	}
}

func emailsHandler(log *slog.Logger, work time.Duration) func(context.Context, events.SQSEvent) error {
	return func(ctx context.Context, ev events.SQSEvent) error {
		for _, r := range ev.Records {
			var e email
			if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
				log.WarnContext(ctx, "not an email; skipped", "messageId", r.MessageId, "err", err)
				continue
			}
			log.DebugContext(ctx, "email", "to", e.To, "subject", e.Subject)
		}
		return pretendToWork(ctx, work)
	}
}

func pretendToWork(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setup builds the mappings: on the in-memory fakes, or on AWS SDK clients
// when a stream or queue is named.
func setup(ctx context.Context, f flags, log *slog.Logger) (*worker, error) {
	w := &worker{reg: prometheus.NewRegistry()}
	w.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ordersMetrics, err := w.metrics("orders")
	if err != nil {
		return nil, err
	}
	emailsMetrics, err := w.metrics("emails")
	if err != nil {
		return nil, err
	}
	common := func(name string, metrics *esmprom.Metrics) []esm.Option {
		return []esm.Option{esm.WithName(name), esm.WithLogger(log), esm.WithHooks(metrics)}
	}
	orders, emails := esm.HandleKinesis(ordersHandler(log, f.work)), esm.HandleSQS(emailsHandler(log, f.work))

	if !f.useAWS() {
		w.mode = "in-memory"
		k, q := esmtest.NewKinesis(), esmtest.NewSQS()
		if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(2)}); err != nil {
			return nil, err
		}
		// A queue with a dead-letter queue, as in production: a message
		// that fails 5 times goes there instead of coming back forever.
		if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("emails-dlq")}); err != nil {
			return nil, err
		}
		redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":5}`, q.QueueARN("emails-dlq"))
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("emails"),
			Attributes: map[string]string{"RedrivePolicy": redrive, "VisibilityTimeout": "30"}})
		if err != nil {
			return nil, err
		}
		streamARN, queueURL := k.StreamARN("orders"), aws.ToString(out.QueueUrl)
		kcfg, scfg := f.kinesis, f.sqs
		if !f.hasKinesisCfg {
			kcfg = esm.Config{StartingPosition: esm.TrimHorizon, BatchSize: 100}
		}
		if !f.hasSQSCfg {
			scfg = esm.Config{BatchSize: 10}
		}
		kcfg.EventSourceArn, scfg.EventSourceArn = streamARN, q.QueueARN("emails")
		// The fakes answer at once: poll faster than Lambda, and long-poll
		// SQS for a second so that shutdown is quick.
		km, err := esm.NewKinesisMapping(kcfg, k, orders, append(streamOpts(common("orders", ordersMetrics)),
			esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.Polling{Idle: 50 * time.Millisecond, Busy: 20 * time.Millisecond}))...)
		if err != nil {
			return nil, err
		}
		sm, err := esm.NewSQSMapping(scfg, q, emails, append(sqsOpts(common("emails", emailsMetrics)), esm.WithLongPoll(time.Second))...)
		if err != nil {
			return nil, err
		}
		w.mappings = []namedMapping{{"orders", km}, {"emails", sm}}
		w.produce = producer(k, streamARN, q, queueURL, f.produceEvery, log)
		return w, nil
	}

	w.mode = "aws"
	var loadOpts []func(*config.LoadOptions) error
	if f.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(f.region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if f.runKinesis() {
		kcfg := f.kinesis
		if !f.hasKinesisCfg {
			kcfg.StartingPosition = esm.Latest
		}
		var store shard.Store = shard.NewFileStore(f.checkpointDir)
		if f.leaseTable != "" {
			if store, err = dynamolease.New(dynamodb.NewFromConfig(awsCfg), dynamolease.WithTable(f.leaseTable)); err != nil {
				return nil, err
			}
		}
		km, err := esm.NewKinesisMapping(kcfg, kinesis.NewFromConfig(awsCfg), orders, append(streamOpts(common("orders", ordersMetrics)), esm.WithStore(store))...)
		if err != nil {
			return nil, err
		}
		w.mappings = append(w.mappings, namedMapping{"orders", km})
	}
	if f.runSQS() {
		sm, err := esm.NewSQSMapping(f.sqs, sqs.NewFromConfig(awsCfg), emails, sqsOpts(common("emails", emailsMetrics))...)
		if err != nil {
			return nil, err
		}
		w.mappings = append(w.mappings, namedMapping{"emails", sm})
	}
	return w, nil
}

// metrics registers the Prometheus metrics of a mapping.
func (w *worker) metrics(name string) (*esmprom.Metrics, error) {
	m, err := esmprom.New(name)
	if err != nil {
		return nil, err
	}
	return m, w.reg.Register(m)
}

// loadConfig reads a CreateEventSourceMapping JSON file, if there is one.
func loadConfig(path string) (c esm.Config, ok bool, err error) {
	if path == "" {
		return esm.Config{}, false, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return esm.Config{}, false, err
	}
	defer fh.Close()
	if c, err = esm.LoadConfig(fh); err != nil {
		return esm.Config{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return c, true, nil
}

func streamOpts(opts []esm.Option) []esm.StreamOption {
	out := make([]esm.StreamOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

func sqsOpts(opts []esm.Option) []esm.SQSOption {
	out := make([]esm.SQSOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

// producer returns the in-memory mode's producer: every tick, an order on
// the stream and an email on the queue, until ctx ends.
func producer(k *esmtest.Kinesis, streamARN string, q *esmtest.SQS, queueURL string, every time.Duration, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(every)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			key := "customer-" + strconv.Itoa(n%16)
			o, _ := json.Marshal(order{ID: n, Amount: n % 100, Key: key})
			if _, err := k.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: &streamARN, PartitionKey: &key, Data: o}); err != nil && ctx.Err() == nil {
				log.Warn("producer: put failed", "err", err)
			}
			e, _ := json.Marshal(email{To: key + "@example.com", Subject: "order " + strconv.Itoa(n)})
			if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String(string(e))}); err != nil && ctx.Err() == nil {
				log.Warn("producer: send failed", "err", err)
			}
		}
	}
}
