package esmotel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmotel"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

// An SQS mapping records with a MeterProvider; a program gives it the
// readers and exporters it exports with (OTLP, Prometheus, …), here a
// ManualReader.
func Example() {
	ctx := context.Background()
	q := esmtest.NewSQS() // an in-memory SQS queue; *sqs.Client in production
	out, _ := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("emails")})
	for _, body := range []string{"a", "b", "c"} {
		q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String(body)})
	}

	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx)
	metrics, err := esmotel.New("emails", esmotel.WithMeterProvider(provider))
	if err != nil {
		panic(err)
	}
	defer metrics.Close()

	progress := &esmtest.Progress{}
	m, err := esm.NewSQSMapping(esm.Config{QueueURL: *out.QueueUrl}, q,
		esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }),
		esm.WithHooks(metrics, progress), esm.WithLongPoll(time.Second))
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); progress.Finished() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	_ = m.Shutdown(ctx)
	<-done

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch mt.Name {
			case "lambdaesm.events.polled", "lambdaesm.events.invoked", "lambdaesm.events.deleted":
				p := mt.Data.(metricdata.Sum[int64]).DataPoints[0]
				arn, _ := p.Attributes.Value(esmotel.EventSourceARNKey)
				fmt.Printf("%s %d %s (%s)\n", mt.Name, p.Value, mt.Unit, arn.AsString())
			}
		}
	}
	// Unordered output:
	// lambdaesm.events.polled 3 {event} (arn:aws:sqs:us-east-1:000000000000:emails)
	// lambdaesm.events.invoked 3 {event} (arn:aws:sqs:us-east-1:000000000000:emails)
	// lambdaesm.events.deleted 3 {event} (arn:aws:sqs:us-east-1:000000000000:emails)
}
