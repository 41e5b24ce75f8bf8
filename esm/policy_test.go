package esm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// failureRecord is the AWS stream failure record, read back field by field.
type failureRecord struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext *struct {
		StatusCode      int     `json:"statusCode"`
		ExecutedVersion string  `json:"executedVersion"`
		FunctionError   *string `json:"functionError"`
	} `json:"responseContext"`
	Version          string `json:"version"`
	Timestamp        string `json:"timestamp"`
	KinesisBatchInfo *struct {
		ShardID                         string `json:"shardId"`
		StartSequenceNumber             string `json:"startSequenceNumber"`
		EndSequenceNumber               string `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int    `json:"batchSize"`
		StreamArn                       string `json:"streamArn"`
	} `json:"KinesisBatchInfo"`
}

func decodeFailure(t *testing.T, b []byte) failureRecord {
	t.Helper()
	var f failureRecord
	require.NoError(t, json.Unmarshal(b, &f))
	return f
}

// A poison record with bisect and two retries: the handler sees the batch
// split down to the poison record, which is tried three times and then lands
// as an AWS-shaped failure record; the rest of the shard goes on.
func TestPoisonRecordIsBisectedAndReportedToDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		var seqs []string
		for i := range 8 {
			_, seq := k.Put(t, arn, "key", fmt.Appendf(nil, "r%d", i))
			seqs = append(seqs, seq)
		}
		var mu sync.Mutex
		var calls [][]string
		ok := map[string]bool{}
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			var data []string
			for _, r := range ev.Records {
				data = append(data, string(r.Kinesis.Data))
			}
			calls = append(calls, data)
			for _, r := range ev.Records {
				if string(r.Kinesis.Data) == "r5" {
					return errors.New("poison")
				}
			}
			for _, d := range data {
				ok[d] = true
			}
			return nil
		})
		dest := &destination.Memory{}
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 8,
			BisectBatchOnFunctionError: true, MaximumRetryAttempts: new(2), FunctionName: "orders-fn"}
		store := shard.NewMemoryStore()
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(store), esm.WithOnFailure(dest))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "the failure record", func() bool { return len(dest.Messages()) == 1 })
		waitFor(t, "the other records", func() bool { mu.Lock(); defer mu.Unlock(); return len(ok) == 7 })
		stop()

		require.Equal(t, [][]string{
			{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"},
			{"r0", "r1", "r2", "r3"},
			{"r4", "r5", "r6", "r7"},
			{"r4", "r5"},
			{"r4"},
			{"r5"}, {"r5"}, {"r5"},
			{"r6", "r7"},
		}, calls)
		f := decodeFailure(t, dest.Messages()[0].Record)
		require.Equal(t, "RetryAttemptsExhausted", f.RequestContext.Condition)
		require.Equal(t, 3, f.RequestContext.ApproximateInvokeCount, "retries + 1")
		require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:orders-fn", f.RequestContext.FunctionArn)
		require.NotNil(t, f.ResponseContext)
		require.Equal(t, "Unhandled", *f.ResponseContext.FunctionError)
		require.Equal(t, 200, f.ResponseContext.StatusCode)
		require.Equal(t, "$LATEST", f.ResponseContext.ExecutedVersion)
		require.Equal(t, "1.0", f.Version)
		require.Equal(t, seqs[5], f.KinesisBatchInfo.StartSequenceNumber)
		require.Equal(t, seqs[5], f.KinesisBatchInfo.EndSequenceNumber)
		require.Equal(t, 1, f.KinesisBatchInfo.BatchSize)
		require.Equal(t, arn, f.KinesisBatchInfo.StreamArn)
		require.Equal(t, "shardId-000000000000", f.KinesisBatchInfo.ShardID)

		cp, _, _ := store.Load(t.Context(), "esm|"+arn, "shardId-000000000000")
		require.Equal(t, seqs[7], cp.SequenceNumber, "the checkpoint passes the delivered poison record")
	})
}

// Records older than MaximumRecordAge are discarded before an attempt, with
// a RecordAgeExceeded record that has no responseContext.
func TestRecordAgeExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		k.Put(t, arn, "key", []byte("old"))
		time.Sleep(2 * time.Minute)
		k.Put(t, arn, "key", []byte("new"))
		var mu sync.Mutex
		var got []string
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				got = append(got, string(r.Kinesis.Data))
			}
			return nil
		})
		dest := &destination.Memory{}
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, MaximumRecordAge: time.Minute}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(shard.NewMemoryStore()), esm.WithOnFailure(dest))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "new record", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
		stop()
		require.Equal(t, []string{"new"}, got)
		require.Len(t, dest.Messages(), 1)
		f := decodeFailure(t, dest.Messages()[0].Record)
		require.Equal(t, "RecordAgeExceeded", f.RequestContext.Condition)
		require.Equal(t, 1, f.RequestContext.ApproximateInvokeCount, "expired before the first invocation")
		require.Nil(t, f.ResponseContext, "no responseContext for expired records")
	})
}

// Records retried until they expire carry the invocations they had, as AWS
// recorded (approximateInvokeCount 8 after 60 s of retries), not 1.
func TestRecordAgeExceededCountsInvocations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		k.Put(t, arn, "key", []byte("poison"))
		var mu sync.Mutex
		calls := 0
		h := esm.HandleKinesis(func(context.Context, events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return errors.New("always fails")
		})
		dest := &destination.Memory{}
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, MaximumRecordAge: time.Minute}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(shard.NewMemoryStore()), esm.WithOnFailure(dest),
			esm.WithRetryBackoff(retry.Backoff{Initial: 8 * time.Second, Max: 8 * time.Second}))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "the expired record", func() bool { return len(dest.Messages()) == 1 })
		stop()
		f := decodeFailure(t, dest.Messages()[0].Record)
		require.Equal(t, "RecordAgeExceeded", f.RequestContext.Condition)
		mu.Lock()
		defer mu.Unlock()
		require.Greater(t, calls, 1)
		require.Equal(t, calls, f.RequestContext.ApproximateInvokeCount, "the invocations the batch received")
		require.Nil(t, f.ResponseContext, "no responseContext for RecordAgeExceeded")
		require.Contains(t, string(dest.Messages()[0].Payload), `"data":"cG9pc29u"`, "a Memory destination gets the payload the S3 sender would")
	})
}

// The destination fails for a while: the checkpoint does not move past the
// discarded record, and nothing is lost once it recovers.
func TestFailingDestinationHoldsTheCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		_, poison := k.Put(t, arn, "key", []byte("poison"))
		var mu sync.Mutex
		handled := 0
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			if string(ev.Records[0].Kinesis.Data) == "poison" {
				return errors.New("poison")
			}
			mu.Lock()
			handled += len(ev.Records)
			mu.Unlock()
			return nil
		})
		dest := &destination.Memory{}
		dest.FailAlways(errors.New("queue unavailable"))
		store := shard.NewMemoryStore()
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 1, MaximumRetryAttempts: new(0)}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(store), esm.WithOnFailure(dest))
		require.NoError(t, err)
		stop := start(t, m)
		k.Put(t, arn, "key", []byte("after"))
		waitFor(t, "several delivery attempts", func() bool { return dest.Attempts() >= 5 })
		_, ok, _ := store.Load(t.Context(), "esm|"+arn, "shardId-000000000000")
		require.False(t, ok, "no checkpoint past an undelivered record")
		mu.Lock()
		require.Zero(t, handled, "the lane is held: order is kept")
		mu.Unlock()

		dest.FailAlways(nil)
		waitFor(t, "recovery", func() bool { mu.Lock(); defer mu.Unlock(); return handled == 1 })
		stop()
		require.Len(t, dest.Messages(), 1)
		f := decodeFailure(t, dest.Messages()[0].Record)
		require.Equal(t, poison, f.KinesisBatchInfo.StartSequenceNumber)
	})
}

// A partial batch response with bisect: the batch splits at the returned
// sequence number and only the remaining records are retried.
func TestPartialBatchResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		for i := range 6 {
			k.Put(t, arn, "key", fmt.Appendf(nil, "r%d", i))
		}
		var mu sync.Mutex
		var calls [][]string
		failed := map[string]bool{"r3": true}
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			var data []string
			var resp events.KinesisEventResponse
			for _, r := range ev.Records {
				data = append(data, string(r.Kinesis.Data))
				if failed[string(r.Kinesis.Data)] {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
				}
			}
			calls = append(calls, data)
			if len(calls) == 2 {
				delete(failed, "r3") // succeeds on retry
			}
			return resp, nil
		})
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon,
			FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures}}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(shard.NewMemoryStore()), esm.WithRetryBackoff(retry.Backoff{Initial: time.Second}))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "three calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(calls) == 3 })
		stop()
		require.Equal(t, [][]string{{"r0", "r1", "r2", "r3", "r4", "r5"}, {"r3", "r4", "r5"}, {"r3", "r4", "r5"}}, calls[:3])
	})
}

// Integration on kinesis-local + fauxqs: a poison record in a busy shard lands
// as an AWS-shaped failure record in an SQS queue while the rest goes on.
func TestIntegrationPoisonRecordToSQSDestination(t *testing.T) {
	awstest.Integration(t)
	kc := awstest.Kinesis(t)
	sc := awstest.SQS(t)
	_, arn := awstest.NewStream(t, kc, 1)
	qURL, qARN := awstest.NewQueue(t, sc, nil)
	ctx := t.Context()

	entries := make([]ktypes.PutRecordsRequestEntry, 50)
	for i := range entries {
		entries[i] = ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("k", i%5)), Data: fmt.Appendf(nil, "r%d", i)}
	}
	out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries})
	require.NoError(t, err)
	poisonSeq := *out.Records[17].SequenceNumber

	var mu sync.Mutex
	handled := map[string]bool{}
	h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
		for _, r := range ev.Records {
			if string(r.Kinesis.Data) == "r17" {
				return errors.New("poison")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			handled[string(r.Kinesis.Data)] = true
		}
		return nil
	})
	cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 10,
		BisectBatchOnFunctionError: true, MaximumRetryAttempts: new(1),
		DestinationConfig: &esm.DestinationConfig{OnFailure: &esm.Destination{Destination: qARN}}}
	m, err := esm.NewKinesisMapping(cfg, kc, h, esm.WithStore(shard.NewMemoryStore()),
		esm.WithDestinationClients(destination.Clients{SQS: sc}), esm.WithPolling(esm.Polling{Idle: 200 * time.Millisecond}),
		esm.WithRetryBackoff(retry.Backoff{Initial: 50 * time.Millisecond}))
	require.NoError(t, err)
	stop := start(t, m)
	waitReal(t, "49 records", 60*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(handled) == 49 })
	stop()

	recv, err := sc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &qURL, WaitTimeSeconds: 5})
	require.NoError(t, err)
	require.Len(t, recv.Messages, 1)
	f := decodeFailure(t, []byte(*recv.Messages[0].Body))
	require.Equal(t, "RetryAttemptsExhausted", f.RequestContext.Condition)
	require.Equal(t, 2, f.RequestContext.ApproximateInvokeCount)
	require.Len(t, f.RequestContext.RequestID, 36)
	require.Equal(t, "Unhandled", *f.ResponseContext.FunctionError)
	require.Equal(t, "1.0", f.Version)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, f.Timestamp)
	require.Equal(t, poisonSeq, f.KinesisBatchInfo.StartSequenceNumber)
	require.Equal(t, poisonSeq, f.KinesisBatchInfo.EndSequenceNumber)
	require.Equal(t, 1, f.KinesisBatchInfo.BatchSize)
	require.Equal(t, arn, f.KinesisBatchInfo.StreamArn)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, f.KinesisBatchInfo.ApproximateArrivalOfFirstRecord)
}

// A call that never reached the function (a throttle of the Lambda service)
// is retried without using MaximumRetryAttempts, as Lambda does.
func TestNotInvokedDoesNotCountAsAnAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := esmtest.NewKinesis()
		arn := k.MustCreateStream(t, "s", 1)
		k.Put(t, arn, "key", []byte("r"))
		var mu sync.Mutex
		calls, handled := 0, 0
		h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls <= 3 {
				return &lambdaesm.NotInvokedError{Err: errors.New("TooManyRequestsException: Rate Exceeded")}
			}
			handled += len(ev.Records)
			return nil
		})
		dest := &destination.Memory{}
		cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, MaximumRetryAttempts: new(0)}
		m, err := esm.NewKinesisMapping(cfg, k, h, esm.WithStore(shard.NewMemoryStore()), esm.WithOnFailure(dest))
		require.NoError(t, err)
		stop := start(t, m)
		waitFor(t, "the record", func() bool { mu.Lock(); defer mu.Unlock(); return handled == 1 })
		stop()
		require.Empty(t, dest.Messages(), "throttles are not attempts: nothing discarded")
		require.Equal(t, 4, calls)
	})
}
