package esmtest_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

// BenchmarkSQSReceive10 measures one ReceiveMessage of 10 messages (every
// system and message attribute requested, as Lambda does) plus the
// DeleteMessageBatch of those 10: the fake's cost per batch in an engine
// benchmark.
func BenchmarkSQSReceive10(b *testing.B) {
	benchReceive10(b, "bench", func(q *esmtest.SQS, url string, i int) {
		q.SendAttributes(b, url, `{"order":`+strconv.Itoa(i)+`,"item":"something of a realistic size"}`, map[string]types.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("order")},
		})
	})
}

// BenchmarkSQSReceive10FIFO is BenchmarkSQSReceive10 on a FIFO queue with
// 100 message groups.
func BenchmarkSQSReceive10FIFO(b *testing.B) {
	benchReceive10(b, "bench.fifo", func(q *esmtest.SQS, url string, i int) {
		q.SendFIFO(b, url, strconv.Itoa(i%100), `{"order":`+strconv.Itoa(i)+`}`)
	})
}

func benchReceive10(b *testing.B, name string, send func(q *esmtest.SQS, url string, i int)) {
	q := esmtest.NewSQS()
	url, _ := q.MustCreateQueue(b, name, nil)
	ctx := context.Background()
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    &url,
		MaxNumberOfMessages:         10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	del := &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: make([]types.DeleteMessageBatchRequestEntry, 10)}
	for i := range del.Entries {
		del.Entries[i].Id = aws.String(strconv.Itoa(i))
	}
	const refill = 100 // batches sent at a time, outside the timer
	sent := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%refill == 0 {
			b.StopTimer()
			for range refill * 10 {
				send(q, url, sent)
				sent++
			}
			b.StartTimer()
		}
		out, err := q.ReceiveMessage(ctx, in)
		if err != nil || len(out.Messages) != 10 {
			b.Fatalf("receive: %v, %d messages", err, len(out.Messages))
		}
		for j, m := range out.Messages {
			del.Entries[j].ReceiptHandle = m.ReceiptHandle
		}
		res, err := q.DeleteMessageBatch(ctx, del)
		if err != nil || len(res.Failed) > 0 {
			b.Fatalf("delete: %v, %v", err, res.Failed)
		}
	}
}
