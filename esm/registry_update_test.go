package esm_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
)

func TestApplyUpdateJSON(t *testing.T) {
	const stream = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	base := esm.Config{
		EventSourceArn: stream, FunctionName: "fn", StartingPosition: esm.Latest, BatchSize: 50,
		FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
		FilterCriteria:        &esm.FilterCriteria{Filters: []esm.Filter{{Pattern: `{"partitionKey": ["a"]}`}}},
		DestinationConfig:     &esm.DestinationConfig{OnFailure: &esm.Destination{Destination: "arn:aws:sqs:us-east-1:123456789012:dlq"}},
	}
	for _, tc := range []struct {
		name  string
		body  string
		check func(t *testing.T, c esm.Config)
		typ   string
		msg   string
	}{
		{name: "empty body changes nothing", body: ``, check: func(t *testing.T, c esm.Config) { require.Equal(t, base, c) }},
		{name: "settings", body: `{"BatchSize": 200, "MaximumBatchingWindowInSeconds": 5, "ParallelizationFactor": 3,
			"MaximumRetryAttempts": 2, "MaximumRecordAgeInSeconds": 3600, "BisectBatchOnFunctionError": true, "Enabled": false,
			"FunctionTimeoutInSeconds": 30}`,
			check: func(t *testing.T, c esm.Config) {
				require.Equal(t, 200, c.BatchSize)
				require.Equal(t, 5*time.Second, c.MaximumBatchingWindow)
				require.Equal(t, 3, c.ParallelizationFactor)
				require.Equal(t, 2, c.RetryAttempts())
				require.Equal(t, time.Hour, c.MaximumRecordAge)
				require.True(t, c.BisectBatchOnFunctionError)
				require.False(t, c.IsEnabled())
				require.Equal(t, 30*time.Second, c.FunctionTimeout)
				require.Equal(t, esm.Latest, c.StartingPosition, "kept")
				require.Equal(t, base.FilterPatterns(), c.FilterPatterns(), "kept")
			}},
		{name: "null restores the default", body: `{"BatchSize": null}`, check: func(t *testing.T, c esm.Config) { require.Zero(t, c.BatchSize) }},
		{name: "removals", body: `{"FunctionResponseTypes": [], "FilterCriteria": {}, "DestinationConfig": {"OnFailure": {}}}`,
			check: func(t *testing.T, c esm.Config) {
				require.False(t, c.ReportsBatchItemFailures())
				require.Empty(t, c.FilterPatterns())
				require.Empty(t, c.OnFailureDestination())
			}},
		{name: "function", body: `{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:other:live"}`,
			check: func(t *testing.T, c esm.Config) {
				require.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:other:live", c.FunctionName)
			}},
		{name: "the same source again is no change", body: `{"EventSourceArn": "` + stream + `", "BatchSize": 7}`,
			check: func(t *testing.T, c esm.Config) { require.Equal(t, 7, c.BatchSize) }},
		{name: "ignored fields of other sources", body: `{"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k", "SourceAccessConfigurations": []}`,
			check: func(t *testing.T, c esm.Config) { require.Equal(t, base, c) }},
		{name: "another source", body: `{"EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/other"}`,
			typ: esm.ErrorInvalidParameterValue, msg: "EventSourceArn cannot be updated: create a new event source mapping for another source."},
		{name: "another starting position", body: `{"StartingPosition": "TRIM_HORIZON"}`,
			typ: esm.ErrorInvalidParameterValue, msg: "StartingPosition cannot be updated: the mapping resumes from its checkpoints; create a new event source mapping to start elsewhere."},
		{name: "unknown field", body: `{"BatchSise": 5}`, typ: esm.ErrorInvalidParameterValue,
			msg: "Unknown parameter in the request: BatchSise (UpdateEventSourceMapping takes BatchSize, BisectBatchOnFunctionError, DestinationConfig, Enabled, FilterCriteria, FunctionName, FunctionResponseTypes, FunctionTimeoutInSeconds, MaximumBatchingWindowInSeconds, MaximumRecordAgeInSeconds, MaximumRetryAttempts, MetricsConfig, ParallelizationFactor, ScalingConfig, TumblingWindowInSeconds)"},
		{name: "not an object", body: `[1]`, typ: esm.ErrorInvalidParameterValue,
			msg: "The request body is not a JSON object: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{name: "wrong type", body: `{"BatchSize": "ten"}`, typ: esm.ErrorInvalidParameterValue, msg: `BatchSize = "ten": must be an integer`},
		{name: "out of range", body: `{"ParallelizationFactor": 11}`, typ: esm.ErrorInvalidParameterValue, msg: "ParallelizationFactor = 11: must be between 1 and 10"},
		{name: "a setting of another source", body: `{"ScalingConfig": {"MaximumConcurrency": 5}}`, typ: esm.ErrorInvalidParameterValue,
			msg: "Unsupported 'scalingConfig' parameter for given event source mapping type. (SQS only)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := esm.ApplyUpdateJSON(base, []byte(tc.body))
			if tc.typ != "" {
				ae := apiErr(t, err)
				require.Equal(t, tc.typ, ae.Type)
				require.Equal(t, tc.msg, ae.Message)
				return
			}
			require.NoError(t, err)
			tc.check(t, got)
		})
	}
}

// Shutdown while an update drains the old run starts no new run: the
// updated mapping neither starts nor invokes the function.
func TestShutdownDuringAnUpdateStartsNoNewRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		var calls atomic.Int32
		f.define("fn", esm.Function{Kinesis: esm.HandleKinesis(func(ctx context.Context, ev events.KinesisEvent) error {
			if calls.Add(1) == 1 {
				time.Sleep(2 * time.Second) // in flight when the update comes
			}
			return nil
		})})
		stream := f.k.MustCreateStream(t, "orders", 1)
		for i := range 10 {
			f.k.Put(t, stream, "k", fmt.Appendf(nil, "r%d", i))
		}
		var logs bytes.Buffer
		reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
			Resolver: f.resolve, Clients: esm.SourceClients{Kinesis: f.k}, Store: f.store, Checkpoints: f.cps,
			StreamOptions: []esm.StreamOption{esm.WithPolling(esm.FastestPolling)},
			Logger:        slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)),
		})
		require.NoError(t, err)
		errc := make(chan error, 1)
		go func() { errc <- reg.Run(context.Background()) }()
		m, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon, BatchSize: 1})
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond) // the first batch is in flight
		_, err = reg.Update(t.Context(), m.UUID, func(c *esm.Config) error { c.BatchSize = 5; return nil })
		require.NoError(t, err)
		synctest.Wait() // the old run drains its batch
		require.NoError(t, reg.Shutdown(context.Background()))
		require.NoError(t, <-errc)
		require.Equal(t, 1, strings.Count(logs.String(), `msg="mapping started"`), "only the first run started:\n%s", logs.String())
	})
}

// After the registry stopped, an update or a deletion is stored and
// settles at once, as before Run: nothing runs that could finish the
// transition, so the mapping is never left Updating or Deleting.
func TestChangesAfterTheRegistryStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		stream := f.k.MustCreateStream(t, "orders", 1)
		reg := f.open(t)
		stop := runRegistry(t, reg)
		a, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon})
		require.NoError(t, err)
		b, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: f.k.MustCreateStream(t, "more", 1), StartingPosition: esm.TrimHorizon})
		require.NoError(t, err)
		waitState(t, reg, a.UUID, esm.StateEnabled)
		waitState(t, reg, b.UUID, esm.StateEnabled)
		stop()

		up, err := reg.Update(t.Context(), a.UUID, func(c *esm.Config) error { c.BatchSize = 5; return nil })
		require.NoError(t, err)
		require.False(t, up.State.Transitional(), "settled at once, not %s", up.State)
		got, err := reg.Get(a.UUID)
		require.NoError(t, err)
		require.Equal(t, 5, int(got.Config.BatchSize))
		_, err = reg.Update(t.Context(), a.UUID, func(c *esm.Config) error { c.BatchSize = 6; return nil })
		require.NoError(t, err, "a second update is not refused as in use")

		_, err = reg.Delete(t.Context(), b.UUID)
		require.NoError(t, err)
		_, err = reg.Get(b.UUID)
		var apiErr *esm.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 404, apiErr.HTTPStatus)
	})
}
