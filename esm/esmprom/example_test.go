package esmprom_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmprom"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

// An SQS mapping reports to a registry; a program serves it with
// promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on /metrics.
func Example() {
	ctx := context.Background()
	q := esmtest.NewSQS() // an in-memory SQS queue; *sqs.Client in production
	out, _ := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("emails")})
	for _, body := range []string{"a", "b", "c"} {
		q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String(body)})
	}

	metrics, err := esmprom.New("emails")
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

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

	families, _ := reg.Gather()
	for _, f := range families {
		switch f.GetName() {
		case "lambdaesm_polled_events_total", "lambdaesm_invoked_events_total", "lambdaesm_deleted_events_total":
			s := f.GetMetric()[0]
			fmt.Print(f.GetName(), "{")
			for i, l := range s.GetLabel() {
				if i > 0 {
					fmt.Print(",")
				}
				fmt.Printf("%s=%q", l.GetName(), l.GetValue())
			}
			fmt.Println("}", s.GetCounter().GetValue())
		}
	}
	// Output:
	// lambdaesm_deleted_events_total{event_source_arn="arn:aws:sqs:us-east-1:000000000000:emails",mapping="emails"} 3
	// lambdaesm_invoked_events_total{event_source_arn="arn:aws:sqs:us-east-1:000000000000:emails",mapping="emails"} 3
	// lambdaesm_polled_events_total{event_source_arn="arn:aws:sqs:us-east-1:000000000000:emails",mapping="emails"} 3
}
