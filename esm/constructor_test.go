package esm_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Bad arguments to the mapping constructors are errors that say what is
// wrong, never a panic (then or later in Run), and every problem is reported
// at once.
func TestConstructorsRefuseBadArguments(t *testing.T) {
	kh := esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })
	dh := esm.HandleDynamoDB(func(context.Context, events.DynamoDBEvent) error { return nil })
	sh := esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })
	kc, dc, qc := esmtest.NewKinesis(), esmtest.NewDynamoDBStreams(), esmtest.NewSQS()
	kcfg, dcfg, qcfg := kinesisCfg(), ddbCfg(), sqsCfg()
	mem := esm.WithStore(shard.NewMemoryStore())

	kin := func(opts ...esm.StreamOption) func() error {
		return func() error {
			_, err := esm.NewKinesisMapping(kcfg, kc, kh, append([]esm.StreamOption{mem}, opts...)...)
			return err
		}
	}
	sqsm := func(opts ...esm.SQSOption) func() error {
		return func() error { _, err := esm.NewSQSMapping(qcfg, qc, sh, opts...); return err }
	}
	kinCfg := func(cfg esm.Config) func() error {
		return func() error { _, err := esm.NewKinesisMapping(cfg, kc, kh, mem); return err }
	}

	tests := []struct {
		name string
		call func() error
		want []string // each is in the error
	}{
		// Typed-nil clients and handlers used to pass and panic in Run.
		{"typed-nil *kinesis.Client", func() error {
			var c *kinesis.Client
			_, err := esm.NewKinesisMapping(kcfg, c, kh, mem)
			return err
		}, []string{"esm: the client is nil", "*kinesis.Client"}},
		{"typed-nil *dynamodbstreams.Client", func() error {
			var c *dynamodbstreams.Client
			_, err := esm.NewDynamoDBMapping(dcfg, c, dh, mem)
			return err
		}, []string{"esm: the client is nil", "*dynamodbstreams.Client"}},
		{"typed-nil *sqs.Client", func() error {
			var c *sqs.Client
			_, err := esm.NewSQSMapping(qcfg, c, sh)
			return err
		}, []string{"esm: the client is nil", "*sqs.Client"}},
		{"typed-nil fake client", func() error {
			var c *esmtest.Kinesis
			_, err := esm.NewKinesisMapping(kcfg, c, kh, mem)
			return err
		}, []string{"esm: the client is nil", "*esmtest.Kinesis"}},
		{"nil handler function", func() error {
			var f func(context.Context, events.KinesisEvent) error
			_, err := esm.NewKinesisMapping(kcfg, kc, esm.HandleKinesis(f), mem)
			return err
		}, []string{"esm: the handler is nil"}},
		{"nil HandlerFunc", func() error {
			_, err := esm.NewDynamoDBMapping(dcfg, dc, esm.HandlerFunc[events.DynamoDBEvent, events.DynamoDBEventResponse](nil), mem)
			return err
		}, []string{"esm: the handler is nil"}},
		{"typed-nil client and handler at once", func() error {
			var c *sqs.Client
			var f func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
			_, err := esm.NewSQSMapping(qcfg, c, esm.HandleSQS(f))
			return err
		}, []string{"the client is nil", "the handler is nil"}},

		// A nil Option used to panic in the constructor.
		{"nil option", kin(nil), []string{"esm: option 2 of 2 is nil"}},
		{"nil option, SQS", sqsm(esm.WithLongPoll(time.Second), nil), []string{"esm: option 2 of 2 is nil"}},
		{"typed-nil store", kin(esm.WithStore((*shard.MemoryStore)(nil))), []string{"esm: WithStore", "nil"}},
		{"typed-nil hooks", sqsm(esm.WithHooks((*esmtest.Progress)(nil))), []string{"esm: WithHooks", "nil"}},
		{"typed-nil failure sender", kin(esm.WithOnFailure((*destination.Memory)(nil))), []string{"esm: WithOnFailure", "nil"}},
		{"empty name", kin(esm.WithName("")), []string{"esm: WithName", "empty"}},

		// Durations and numbers out of range.
		{"negative checkpoint interval", kin(esm.WithCheckpointInterval(-time.Second)), []string{"esm: WithCheckpointInterval(-1s)", "0 (the default, 1s) or positive, at most 1h"}},
		{"absurd checkpoint interval", kin(esm.WithCheckpointInterval(48 * time.Hour)), []string{"esm: WithCheckpointInterval(48h0m0s)"}},
		{"negative lease interval", kin(esm.WithLeaseInterval(-time.Second)), []string{"esm: WithLeaseInterval(-1s)", "0 (the default, 1s) or from 10ms to 1m"}},
		{"absurd lease interval", kin(esm.WithLeaseInterval(24 * time.Hour)), []string{"esm: WithLeaseInterval(24h0m0s)"}},
		{"negative idle poll", kin(esm.WithPolling(esm.Polling{Idle: -time.Second})), []string{"esm: WithPolling: Idle -1s", "0 (the default) or from 1ms to 5m"}},
		{"negative busy poll", kin(esm.WithPolling(esm.Polling{Busy: -time.Millisecond})), []string{"esm: WithPolling: Busy -1ms"}},
		{"negative discovery", kin(esm.WithPolling(esm.Polling{Discovery: -time.Minute})), []string{"esm: WithPolling: Discovery -1m0s", "0 (the default, 30s) or from 10ms to 1h"}},
		{"absurd polling", kin(esm.WithPolling(esm.Polling{Idle: time.Hour, Busy: time.Nanosecond, Discovery: 48 * time.Hour})), []string{"Idle 1h0m0s", "Busy 1ns", "Discovery 48h0m0s"}},
		{"long poll 0", sqsm(esm.WithLongPoll(0)), []string{"esm: WithLongPoll(0s)", "whole seconds from 1s to 20s"}},
		{"long poll 1.5s", sqsm(esm.WithLongPoll(1500 * time.Millisecond)), []string{"esm: WithLongPoll(1.5s)"}},
		{"long poll 21s", sqsm(esm.WithLongPoll(21 * time.Second)), []string{"esm: WithLongPoll(21s)"}},
		{"negative heartbeat", sqsm(esm.WithVisibilityHeartbeat(-time.Second)), []string{"esm: WithVisibilityHeartbeat(-1s)", "0 (half the queue's visibility timeout) or from 1s to 12h"}},
		{"sub-second heartbeat", sqsm(esm.WithVisibilityHeartbeat(time.Millisecond)), []string{"esm: WithVisibilityHeartbeat(1ms)"}},
		{"negative backoff", kin(esm.WithRetryBackoff(retry.Backoff{Initial: -time.Second, Max: -time.Second})), []string{
			"esm: WithRetryBackoff: Initial -1s", "esm: WithRetryBackoff: Max -1s"}},
		{"backoff Max below Initial", kin(esm.WithRetryBackoff(retry.Backoff{Initial: 2 * time.Second, Max: time.Second})), []string{
			"esm: WithRetryBackoff: Max 1s is below Initial 2s"}},
		{"backoff Max below the default Initial", kin(esm.WithRetryBackoff(retry.Backoff{Max: 100 * time.Millisecond})), []string{
			"esm: WithRetryBackoff: Max 100ms is below Initial 500ms"}},
		{"absurd backoff", kin(esm.WithRetryBackoff(retry.Backoff{Max: 30 * 24 * time.Hour, Multiplier: 0.5, Jitter: 2})), []string{
			"Max 720h0m0s", "Multiplier 0.5", "Jitter 2"}},
		{"NaN backoff", kin(esm.WithRetryBackoff(retry.Backoff{Multiplier: math.NaN(), Jitter: math.NaN()})), []string{"Multiplier NaN", "Jitter NaN"}},
		{"failure backoff beyond 12h", sqsm(esm.WithFailureBackoff(retry.Backoff{Initial: 13 * time.Hour, Max: 13 * time.Hour})), []string{
			"esm: WithFailureBackoff: Initial 13h0m0s", "esm: WithFailureBackoff: Max 13h0m0s", "12h"}},
		{"negative failure backoff", sqsm(esm.WithFailureBackoff(retry.Backoff{Initial: -1})), []string{"esm: WithFailureBackoff: Initial -1ns"}},
		{"negative scaling", sqsm(esm.WithScaling(esm.Scaling{Initial: -1, PerMinute: -2, Min: -3})), []string{
			"esm: WithScaling: Initial -1", "esm: WithScaling: PerMinute -2", "esm: WithScaling: Min -3"}},
		{"absurd scaling", sqsm(esm.WithScaling(esm.Scaling{Initial: 5000, PerMinute: 1_000_000, Min: 2000})), []string{"Initial 5000", "PerMinute 1000000", "Min 2000"}},

		// Options of the other kind of source used to be ignored; the
		// compiler refuses them now (TestOptionsBySource), except a
		// Kinesis-only option on a DynamoDB mapping.
		{"Kinesis option on DynamoDB", func() error {
			_, err := esm.NewDynamoDBMapping(dcfg, dc, dh, mem, esm.WithInvokeIdentityARN("arn:aws:iam::123456789012:role/r"))
			return err
		}, []string{"esm: WithInvokeIdentityARN applies to Kinesis mappings only"}},
		{"invoke identity on DynamoDB", func() error {
			_, err := esm.NewDynamoDBMapping(dcfg, dc, dh, mem, esm.WithInvokeIdentityARN("arn:aws:iam::123456789012:role/r"))
			return err
		}, []string{"esm: WithInvokeIdentityARN applies to Kinesis mappings only"}},
		{"invoke identity not an ARN", kin(esm.WithInvokeIdentityARN("my-role")), []string{"esm: WithInvokeIdentityARN(\"my-role\")", "ARN"}},

		// Configuration.
		{"S3 bucket as the source", kinCfg(esm.Config{EventSourceArn: "arn:aws:s3:::bucket", StartingPosition: esm.TrimHorizon}),
			[]string{"EventSourceArn", `unsupported event source: service "s3"`}},
		{"future starting timestamp", kinCfg(esm.Config{EventSourceArn: kinesisARN, StartingPosition: esm.AtTimestamp,
			StartingPositionTimestamp: time.Now().Add(time.Hour)}), []string{"StartingPositionTimestamp", "must not be in the future"}},

		// Every problem at once.
		{"everything at once", func() error {
			var c *kinesis.Client
			_, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: kinesisARN, BatchSize: -1}, c, nil,
				nil, esm.WithLeaseInterval(-1), esm.WithPolling(esm.Polling{Idle: -1}))
			return err
		}, []string{"the client is nil", "the handler is nil", "BatchSize", "StartingPosition", "option 1 of 3 is nil",
			"WithLeaseInterval(-1ns)", "WithPolling: Idle -1ns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tt.call() })
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// The options within their ranges are accepted, at their bounds too.
func TestConstructorsAcceptOptionsInRange(t *testing.T) {
	kh := esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })
	sh := esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })
	_, err := esm.NewKinesisMapping(kinesisCfg(), esmtest.NewKinesis(), kh,
		esm.WithStore(shard.NewMemoryStore()), esm.WithStore(nil), esm.WithHooks(nil), esm.WithOnFailure(nil), esm.WithLogger(nil),
		esm.WithLeaseInterval(0), esm.WithLeaseInterval(10*time.Millisecond), esm.WithLeaseInterval(time.Minute),
		esm.WithPolling(esm.Polling{}), esm.WithPolling(esm.Polling{Idle: time.Millisecond, Busy: time.Millisecond, Discovery: 10 * time.Millisecond}), esm.WithPolling(esm.Polling{Idle: 5 * time.Minute, Busy: 5 * time.Minute, Discovery: time.Hour}),
		esm.WithRetryBackoff(retry.Backoff{}), esm.WithRetryBackoff(retry.Backoff{Initial: time.Hour, Max: time.Hour, Multiplier: 10, Jitter: 1}),
		esm.WithRetryBackoff(retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Multiplier: 1}),
		esm.WithInvokeIdentityARN(""), esm.WithInvokeIdentityARN("arn:aws:iam::123456789012:role/r"),
		esm.WithCheckpointInterval(0), esm.WithCheckpointInterval(time.Nanosecond), esm.WithCheckpointInterval(time.Hour))
	require.NoError(t, err)
	_, err = esm.NewSQSMapping(sqsCfg(), esmtest.NewSQS(), sh,
		esm.WithLongPoll(time.Second), esm.WithLongPoll(20*time.Second),
		esm.WithVisibilityHeartbeat(0), esm.WithVisibilityHeartbeat(time.Second), esm.WithVisibilityHeartbeat(12*time.Hour),
		esm.WithFailureBackoff(retry.Backoff{Initial: 12 * time.Hour, Max: 12 * time.Hour}),
		esm.WithScaling(esm.Scaling{}), esm.WithScaling(esm.Scaling{Initial: 1250, PerMinute: 60000, Min: 1250}))
	require.NoError(t, err)
}

// Options of one kind of source are refused by the compiler on another: an
// SQS-only option is no StreamOption, a stream-only one no SQSOption.
func TestOptionsBySource(t *testing.T) {
	sqsOnly := []any{esm.WithLongPoll(time.Second), esm.WithVisibilityHeartbeat(0), esm.WithFailureBackoff(retry.Backoff{}), esm.WithScaling(esm.Scaling{})}
	streamOnly := []any{esm.WithStore(shard.NewMemoryStore()), esm.WithPolling(esm.FastestPolling), esm.WithLeaseInterval(0),
		esm.WithCheckpointInterval(0), esm.WithRetryBackoff(retry.Backoff{}), esm.WithOnFailure(&destination.Memory{}),
		esm.WithDestinationClients(destination.Clients{}), esm.WithInvokeIdentityARN("arn:aws:iam::123456789012:role/r"), esm.WithStreamConsumer("app")}
	anyKind := []any{esm.WithName("n"), esm.WithLogger(nil), esm.WithHooks(), esm.WithFilterQuota(5)}
	for _, o := range sqsOnly {
		_, stream := o.(esm.StreamOption)
		_, sqs := o.(esm.SQSOption)
		require.True(t, sqs && !stream, "%T is an SQS option only", o)
	}
	for _, o := range streamOnly {
		_, stream := o.(esm.StreamOption)
		_, sqs := o.(esm.SQSOption)
		require.True(t, stream && !sqs, "%T is a stream option only", o)
	}
	for _, o := range anyKind {
		_, ok := o.(esm.Option)
		require.True(t, ok, "%T fits every mapping", o)
	}
}
