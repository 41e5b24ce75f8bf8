package esm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
)

func TestNewSQSMappingChecksItsArguments(t *testing.T) {
	q := esmtest.NewSQS()
	h := esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })
	cfg := esm.Config{EventSourceArn: q.QueueARN("orders")}

	_, err := esm.NewSQSMapping(cfg, nil, nil)
	require.ErrorContains(t, err, "the client is nil")
	require.ErrorContains(t, err, "the handler is nil")

	_, err = esm.NewSQSMapping(esm.Config{EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/s", StartingPosition: esm.Latest}, q, h)
	require.ErrorContains(t, err, "is a Kinesis source, not SQS")

	withFilter := cfg
	withFilter.FilterCriteria = &esm.FilterCriteria{Filters: []esm.Filter{{Pattern: `{"body":{"a":[1]}}`}}}
	_, err = esm.NewSQSMapping(withFilter, q, h)
	require.NoError(t, err, "FilterCriteria is supported")
	withFilter.FilterCriteria = &esm.FilterCriteria{Filters: []esm.Filter{{Pattern: `{"eventSource":"aws:sqs"}`}, {Pattern: `{"eventSource":[]}`}}}
	_, err = esm.NewSQSMapping(withFilter, q, h)
	require.ErrorContains(t, err, "FilterCriteria.Filters[0].Pattern")
	require.ErrorContains(t, err, "FilterCriteria.Filters[1].Pattern")
	require.ErrorContains(t, err, "Invalid filter pattern definition.", "AWS's words for a non-array leaf and an empty array")

	// Lambda's quota is 5 patterns, 10 after a quota increase.
	withFilter.FilterCriteria = &esm.FilterCriteria{}
	for i := range 7 {
		withFilter.FilterCriteria.Filters = append(withFilter.FilterCriteria.Filters, esm.Filter{Pattern: fmt.Sprintf(`{"body":{"n":[%d]}}`, i)})
	}
	_, err = esm.NewSQSMapping(withFilter, q, h)
	require.ErrorContains(t, err, "must have at most 5 filters")
	_, err = esm.NewSQSMapping(withFilter, q, h, esm.WithFilterQuota(10))
	require.NoError(t, err)
	_, err = esm.NewSQSMapping(withFilter, q, h, esm.WithFilterQuota(11))
	require.ErrorContains(t, err, "WithFilterQuota(11): must be from 5 (the default) to 10")

	_, err = esm.NewSQSMapping(esm.Config{EventSourceArn: q.QueueARN("orders.fifo"), BatchSize: 11}, q, h)
	require.ErrorContains(t, err, "must be between 1 and 10 for a FIFO queue")

	_, err = esm.NewSQSMapping(cfg, q, h, esm.WithScaling(esm.Scaling{Initial: -1}))
	require.ErrorContains(t, err, "esm: WithScaling: Initial -1: must be from 0 (the default, 5) to 1250")

	_, err = esm.NewSQSMapping(esm.Config{EventSourceArn: cfg.EventSourceArn, ScalingConfig: &esm.ScalingConfig{MaximumConcurrency: 3}}, q, h, esm.WithScaling(esm.Scaling{Min: 5}))
	require.ErrorContains(t, err, "esm: WithScaling: Min 5 is above ScalingConfig.MaximumConcurrency 3")
}

func TestSQSMappingPartialBatchResponses(t *testing.T) {
	for _, rbif := range []bool{true, false} {
		t.Run("ReportBatchItemFailures="+strconv.FormatBool(rbif), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := esmtest.NewSQS()
				url, arn := q.MustCreateQueue(t, "orders", map[string]string{"VisibilityTimeout": "600"})
				ids := map[string]string{}
				for i := range 5 {
					ids[strconv.Itoa(i)] = q.Send(t, url, strconv.Itoa(i))
				}
				var mu sync.Mutex
				var seen []string
				h := esm.HandleSQS(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
					mu.Lock()
					defer mu.Unlock()
					var resp events.SQSEventResponse
					for _, r := range ev.Records {
						seen = append(seen, r.Body)
						if r.Body == "1" || r.Body == "3" {
							resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
						}
					}
					return resp, nil
				})
				cfg := esm.Config{EventSourceArn: arn}
				if rbif {
					cfg.FunctionResponseTypes = []esm.FunctionResponseType{esm.ReportBatchItemFailures}
				}
				logs := &syncWriter{w: &bytes.Buffer{}}
				m, err := esm.NewSQSMapping(cfg, q, h, esm.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), esm.WithScaling(esm.Scaling{Initial: 1, Min: 1}))
				require.NoError(t, err)
				stop := esmtest.Start(t, m)
				esmtest.WaitUntil(t, time.Minute, "five messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 5 })
				time.Sleep(time.Second)
				stop()
				if rbif {
					require.ElementsMatch(t, []string{"1", "3"}, q.Bodies(url), "the listed messages stay")
				} else {
					require.Empty(t, q.Bodies(url), "without ReportBatchItemFailures the response is ignored")
					require.Contains(t, logs.w.String(), "FunctionResponseTypes does not include ReportBatchItemFailures")
				}
			})
		})
	}
}

func TestSQSMappingPanicAndErrorDeleteNothing(t *testing.T) {
	for name, fail := range map[string]func(){
		"panic": func() { panic("kaboom") },
		"error": func() {},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := esmtest.NewSQS()
				url, _ := q.MustCreateQueue(t, "orders", map[string]string{"VisibilityTimeout": "600"})
				q.Send(t, url, "x")
				var calls atomic.Int32
				h := esm.HandleSQS(func(context.Context, events.SQSEvent) error {
					calls.Add(1)
					fail()
					return errors.New("failed")
				})
				hooks := &recordingHooks{}
				m, err := esm.NewSQSMapping(esm.Config{QueueURL: url}, q, h, esm.WithHooks(hooks))
				require.NoError(t, err)
				stop := esmtest.Start(t, m)
				esmtest.WaitUntil(t, time.Minute, "the invocation", func() bool { return calls.Load() == 1 })
				synctest.Wait()
				stop()
				require.Equal(t, []string{"x"}, q.Bodies(url))
				require.Len(t, hooks.errs, 1)
				if name == "panic" {
					var pe *esm.PanicError
					require.ErrorAs(t, hooks.errs[0], &pe)
				}
			})
		})
	}
}

func TestSQSMappingOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := esmtest.NewSQS()
		url, arn := q.MustCreateQueue(t, "slow", map[string]string{"VisibilityTimeout": "10"})
		for i := range 30 {
			q.Send(t, url, strconv.Itoa(i))
		}
		var inFlight, most, handled atomic.Int32
		h := esm.HandleSQS(func(ctx context.Context, ev events.SQSEvent) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-time.After(25 * time.Second): // longer than the visibility timeout
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			handled.Add(int32(len(ev.Records)))
			return nil
		})
		cfg := esm.Config{EventSourceArn: arn, FunctionTimeout: time.Minute, BatchSize: 5, ScalingConfig: &esm.ScalingConfig{MaximumConcurrency: 2}}
		// Without the heartbeat, Lambda's check refuses the queue.
		m, err := esm.NewSQSMapping(cfg, q, h)
		require.NoError(t, err)
		require.ErrorContains(t, m.Run(context.Background()), "Queue visibility timeout: 10 seconds is less than Function timeout: 60 seconds")

		m, err = esm.NewSQSMapping(cfg, q, h, esm.WithVisibilityHeartbeat(0), esm.WithFailureBackoff(retry.Backoff{Initial: time.Second}))
		require.NoError(t, err)
		stop := esmtest.Start(t, m)
		esmtest.WaitUntil(t, 10*time.Minute, "every message", func() bool { return handled.Load() == 30 })
		synctest.Wait()
		stop()
		require.Empty(t, q.Bodies(url))
		require.Equal(t, int32(2), most.Load(), "MaximumConcurrency caps the concurrent batches")
	})
}

// An SQS mapping over the in-memory fake: the handler's partial batch
// response leaves one message in the queue.
func ExampleNewSQSMapping() {
	q := esmtest.NewSQS()
	created, _ := q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("orders")})
	for _, body := range []string{"apple", "pear", "plum"} {
		_, _ = q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: created.QueueUrl, MessageBody: aws.String(body)})
	}
	handler := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			if m.Body == "pear" { // not ripe yet: try again later
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return resp, nil
	}
	progress := &esmtest.Progress{}
	m, err := esm.NewSQSMapping(esm.Config{
		EventSourceArn:        q.QueueARN("orders"),
		FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
	}, q, esm.HandleSQS(handler), esm.WithHooks(progress), esm.WithLongPoll(time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() { _ = m.Run(context.Background()) }()
	for progress.Finished() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("shutdown:", m.Shutdown(context.Background()))
	fmt.Println("left in the queue:", q.Bodies("orders"))
	// Output:
	// shutdown: <nil>
	// left in the queue: [pear]
}
