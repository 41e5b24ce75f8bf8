package esmtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

// An SQS fake with a manual clock: a message not deleted within its
// visibility timeout is delivered again, with a higher receive count.
func ExampleSQS() {
	ctx := context.Background()
	clock := esmtest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	q := esmtest.NewSQS(esmtest.WithSQSClock(clock))
	// In a test: url, arn := q.MustCreateQueue(t, "orders", attrs) and
	// q.Send(t, url, body) do the same in one line each.
	created, _ := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String("orders"),
		Attributes: map[string]string{"VisibilityTimeout": "30"},
	})
	url := *created.QueueUrl
	_, _ = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(`{"order":1}`)})

	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	}
	out, _ := q.ReceiveMessage(ctx, in)
	fmt.Println(*out.Messages[0].Body, "receive count", out.Messages[0].Attributes["ApproximateReceiveCount"])

	clock.Advance(30 * time.Second) // not deleted in time
	out, _ = q.ReceiveMessage(ctx, in)
	fmt.Println(*out.Messages[0].Body, "receive count", out.Messages[0].Attributes["ApproximateReceiveCount"])

	_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle})
	fmt.Println("left:", len(q.Messages(url)))
	// Output:
	// {"order":1} receive count 1
	// {"order":1} receive count 2
	// left: 0
}

// A Capture stands in for a mapping's destination clients and shows what
// was sent, field by field.
func ExampleCapture() {
	c := esmtest.NewCapture()
	ctx := context.Background()
	url, _ := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("on-failure")})
	// The library would send this; here the example sends it itself.
	_, _ = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url.QueueUrl,
		MessageBody: aws.String(`{"requestContext":{"condition":"RetryAttemptsExhausted"}}`)})
	fmt.Println(c.Values("requestContext.condition"))
	// Output: [RetryAttemptsExhausted]
}
