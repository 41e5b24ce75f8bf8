package esm_test

import (
	"testing"
	"time"

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
