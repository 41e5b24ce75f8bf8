package esm_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
)

// Requests as `aws lambda create-event-source-mapping --cli-input-json` takes
// them, including fields that do not apply here (Tags, KMSKeyArn).
const (
	kinesisRequestJSON = `{
    "FunctionName": "process-orders",
    "EventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
    "Enabled": true,
    "BatchSize": 500,
    "MaximumBatchingWindowInSeconds": 5,
    "ParallelizationFactor": 4,
    "StartingPosition": "AT_TIMESTAMP",
    "StartingPositionTimestamp": 1717200000.25,
    "DestinationConfig": {
        "OnFailure": {
            "Destination": "arn:aws:sqs:eu-west-1:123456789012:orders-dlq"
        }
    },
    "MaximumRecordAgeInSeconds": 3600,
    "BisectBatchOnFunctionError": true,
    "MaximumRetryAttempts": 3,
    "TumblingWindowInSeconds": 0,
    "FunctionResponseTypes": [
        "ReportBatchItemFailures"
    ],
    "FilterCriteria": {
        "Filters": [
            {
                "Pattern": "{\"data\": {\"type\": [\"order\"]}}"
            }
        ]
    },
    "MetricsConfig": {
        "Metrics": [
            "EventCount"
        ]
    },
    "Tags": {
        "team": "payments"
    },
    "KMSKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}`

	dynamoDBRequestJSON = `{
    "FunctionName": "arn:aws:lambda:us-west-2:123456789012:function:audit:live",
    "EventSourceArn": "arn:aws:dynamodb:us-west-2:123456789012:table/Accounts/stream/2024-05-01T12:00:00.123",
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": 1000,
    "MaximumBatchingWindowInSeconds": 1,
    "ParallelizationFactor": 1,
    "BisectBatchOnFunctionError": true,
    "MaximumRecordAgeInSeconds": -1,
    "MaximumRetryAttempts": 0,
    "TumblingWindowInSeconds": 120,
    "DestinationConfig": {
        "OnFailure": {
            "Destination": "arn:aws:sns:us-west-2:123456789012:audit-failures"
        }
    },
    "FilterCriteria": {
        "Filters": [
            {"Pattern": "{\"eventName\": [\"INSERT\", \"MODIFY\"]}"},
            {"Pattern": "{\"dynamodb\": {\"NewImage\": {\"status\": {\"S\": [\"closed\"]}}}}"}
        ]
    },
    "Enabled": false
}`

	sqsRequestJSON = `{
    "FunctionName": "resize-images",
    "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:images",
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 10,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "ScalingConfig": {
        "MaximumConcurrency": 50
    },
    "FilterCriteria": {
        "Filters": [
            {"Pattern": "{\"body\": {\"kind\": [\"thumbnail\"]}}"}
        ]
    },
    "FunctionTimeoutInSeconds": 30,
    "Enabled": true,
    "ProvisionedPollerConfig": null
}`

	// The output of `aws lambda get-event-source-mapping` for a Kinesis mapping.
	kinesisResponseJSON = `{
    "UUID": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
    "StartingPosition": "LATEST",
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 0,
    "ParallelizationFactor": 1,
    "EventSourceArn": "arn:aws:kinesis:us-east-2:123456789012:stream/clicks",
    "FunctionArn": "arn:aws:lambda:us-east-2:123456789012:function:count-clicks",
    "LastModified": 1569284520.333,
    "LastProcessingResult": "No records processed",
    "State": "Enabled",
    "StateTransitionReason": "User action",
    "DestinationConfig": {
        "OnFailure": {}
    },
    "MaximumRecordAgeInSeconds": -1,
    "BisectBatchOnFunctionError": false,
    "MaximumRetryAttempts": -1,
    "TumblingWindowInSeconds": 0,
    "FunctionResponseTypes": [],
    "EventSourceMappingArn": "arn:aws:lambda:us-east-2:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
}`
)

// requireRoundTrip checks that c, valid, marshals to JSON that loads back
// into c.
func requireRoundTrip(t *testing.T, c esm.Config) {
	t.Helper()
	out, err := json.Marshal(c)
	require.NoError(t, err)
	again, err := esm.ParseConfig(out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, c, again, "%s", out)
}

func TestParseConfigPastedRequests(t *testing.T) {
	tests := []struct {
		name string
		json string
		want esm.Config
		kind esm.SourceKind
	}{
		{"Kinesis", kinesisRequestJSON, esm.Config{
			FunctionName:               "process-orders",
			EventSourceArn:             "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
			Enabled:                    new(true),
			BatchSize:                  500,
			MaximumBatchingWindow:      5 * time.Second,
			ParallelizationFactor:      4,
			StartingPosition:           esm.AtTimestamp,
			StartingPositionTimestamp:  time.Date(2024, 6, 1, 0, 0, 0, 250_000_000, time.UTC),
			DestinationConfig:          onFailure("arn:aws:sqs:eu-west-1:123456789012:orders-dlq"),
			MaximumRecordAge:           time.Hour,
			BisectBatchOnFunctionError: true,
			MaximumRetryAttempts:       new(3),
			FunctionResponseTypes:      []esm.FunctionResponseType{esm.ReportBatchItemFailures},
			FilterCriteria:             filters(`{"data": {"type": ["order"]}}`),
			MetricsConfig:              &esm.MetricsConfig{Metrics: []esm.Metric{esm.MetricEventCount}},
		}, esm.Kinesis},
		{"DynamoDB Streams", dynamoDBRequestJSON, esm.Config{
			FunctionName:               "arn:aws:lambda:us-west-2:123456789012:function:audit:live",
			EventSourceArn:             "arn:aws:dynamodb:us-west-2:123456789012:table/Accounts/stream/2024-05-01T12:00:00.123",
			StartingPosition:           esm.TrimHorizon,
			BatchSize:                  1000,
			MaximumBatchingWindow:      time.Second,
			ParallelizationFactor:      1, // a tumbling window needs 1
			BisectBatchOnFunctionError: true,
			MaximumRecordAge:           esm.Infinite,
			MaximumRetryAttempts:       new(0),
			TumblingWindow:             2 * time.Minute,
			DestinationConfig:          onFailure("arn:aws:sns:us-west-2:123456789012:audit-failures"),
			FilterCriteria: filters(`{"eventName": ["INSERT", "MODIFY"]}`,
				`{"dynamodb": {"NewImage": {"status": {"S": ["closed"]}}}}`),
			Enabled: new(false),
		}, esm.DynamoDBStreams},
		{"SQS", sqsRequestJSON, esm.Config{
			FunctionName:          "resize-images",
			EventSourceArn:        "arn:aws:sqs:us-east-1:123456789012:images",
			BatchSize:             100,
			MaximumBatchingWindow: 10 * time.Second,
			FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
			ScalingConfig:         &esm.ScalingConfig{MaximumConcurrency: 50},
			FilterCriteria:        filters(`{"body": {"kind": ["thumbnail"]}}`),
			FunctionTimeout:       30 * time.Second,
			Enabled:               new(true),
		}, esm.SQS},
		{"Kinesis, get-event-source-mapping output", kinesisResponseJSON, esm.Config{
			StartingPosition:      esm.Latest,
			BatchSize:             100,
			ParallelizationFactor: 1,
			EventSourceArn:        "arn:aws:kinesis:us-east-2:123456789012:stream/clicks",
			FunctionArn:           "arn:aws:lambda:us-east-2:123456789012:function:count-clicks",
			DestinationConfig:     &esm.DestinationConfig{OnFailure: &esm.Destination{}},
			MaximumRecordAge:      esm.Infinite,
			MaximumRetryAttempts:  new(esm.Infinite),
		}, esm.Kinesis},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := esm.LoadConfig(strings.NewReader(tt.json))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			kind, err := got.Source()
			require.NoError(t, err)
			require.Equal(t, tt.kind, kind)

			var viaUnmarshal esm.Config
			require.NoError(t, json.Unmarshal([]byte(tt.json), &viaUnmarshal))
			require.Equal(t, tt.want, viaUnmarshal)

			requireRoundTrip(t, got)
			d, err := got.WithDefaults()
			require.NoError(t, err)
			requireRoundTrip(t, d)
		})
	}
}

func TestMarshalJSON(t *testing.T) {
	c := esm.Config{
		EventSourceArn:            kinesisARN,
		FunctionTimeout:           10 * time.Second,
		MaximumBatchingWindow:     2 * time.Second,
		StartingPosition:          esm.AtTimestamp,
		StartingPositionTimestamp: time.Date(2024, 6, 1, 0, 0, 0, 1_500_000, time.UTC),
		MaximumRecordAge:          esm.Infinite,
		MaximumRetryAttempts:      new(0),
		TumblingWindow:            time.Minute,
		Enabled:                   new(false),
	}
	out, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"EventSourceArn": "`+kinesisARN+`",
		"FunctionTimeoutInSeconds": 10,
		"Enabled": false,
		"MaximumBatchingWindowInSeconds": 2,
		"StartingPosition": "AT_TIMESTAMP",
		"StartingPositionTimestamp": 1717200000.0015,
		"MaximumRecordAgeInSeconds": -1,
		"MaximumRetryAttempts": 0,
		"TumblingWindowInSeconds": 60
	}`, string(out))

	out, err = json.Marshal(esm.Config{})
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(out))

	_, err = json.Marshal(esm.Config{MaximumBatchingWindow: 1500 * time.Millisecond, TumblingWindow: time.Millisecond})
	require.Error(t, err)
	var ce *esm.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []string{"MaximumBatchingWindow", "TumblingWindow"}, ce.Fields())
}

func TestStartingPositionTimestampJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{`1717200000`, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
		{`1717200000.123456789`, time.Date(2024, 6, 1, 0, 0, 0, 123456789, time.UTC)},
		{`1717200000.1234567899`, time.Date(2024, 6, 1, 0, 0, 0, 123456789, time.UTC)},
		{`1.7172e9`, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
		{`-0.5`, time.Unix(0, -500_000_000).UTC()},
		{`"2024-06-01T02:00:00+02:00"`, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
		{`"2024-06-01T00:00:00.25Z"`, time.Date(2024, 6, 1, 0, 0, 0, 250_000_000, time.UTC)},
		{`"2024-06-01T00:00:00"`, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}, // the AWS CLI skeleton's form
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var c esm.Config
			require.NoError(t, json.Unmarshal([]byte(`{"StartingPositionTimestamp": `+tt.in+`}`), &c))
			require.True(t, tt.want.Equal(c.StartingPositionTimestamp), "got %v", c.StartingPositionTimestamp)
			out, err := json.Marshal(c)
			require.NoError(t, err)
			var back esm.Config
			require.NoError(t, json.Unmarshal(out, &back))
			require.Equal(t, c, back, "%s", out)
		})
	}
	for _, bad := range []string{`"yesterday"`, `true`, `1e300`, `99999999999999`, `"10000-01-01T00:00:00Z"`} {
		var c esm.Config
		err := json.Unmarshal([]byte(`{"StartingPositionTimestamp": `+bad+`}`), &c)
		require.Equal(t, []string{"StartingPositionTimestamp"}, violations(t, err).Fields(), bad)
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name   string
		json   string
		fields []string
		rule   string
	}{
		{"unknown field", `{"EventSourceArn": "` + sqsARN + `", "BatchSzie": 5}`, []string{"BatchSzie"}, "unknown field"},
		{"field names are case-sensitive", `{"EventSourceArn": "` + sqsARN + `", "batchSize": 5}`, []string{"batchSize"}, "case-sensitive: BatchSize"},
		{"unknown nested field", `{"EventSourceArn": "` + sqsARN + `", "ScalingConfig": {"MaxConcurrency": 5}}`, []string{"ScalingConfig.MaxConcurrency"}, "unknown field"},
		{"wrong types", `{"EventSourceArn": 5, "BatchSize": "10", "Enabled": "yes", "MaximumBatchingWindowInSeconds": 1.5}`,
			[]string{"EventSourceArn", "BatchSize", "Enabled", "MaximumBatchingWindow"}, ""},
		{"explicit zeros AWS rejects", `{"EventSourceArn": "` + kinesisARN + `", "StartingPosition": "LATEST", "BatchSize": 0,
			"ParallelizationFactor": 0, "MaximumRecordAgeInSeconds": 0, "FunctionTimeoutInSeconds": 0}`,
			[]string{"BatchSize", "ParallelizationFactor", "MaximumRecordAge", "FunctionTimeout"}, "omit the field for the default"},
		{"zero MaximumConcurrency", `{"EventSourceArn": "` + sqsARN + `", "ScalingConfig": {"MaximumConcurrency": 0}}`,
			[]string{"ScalingConfig.MaximumConcurrency"}, "between 2 and 1000"},
		{"decoding and rule violations together", `{"EventSourceArn": "` + kinesisARN + `", "BatchSize": "many", "ParallelizationFactor": 20,
			"MaximumRecordAgeInSeconds": 30, "TumblingWindowInSeconds": 99999999999999, "Topics": ["ignored"]}`,
			[]string{"BatchSize", "TumblingWindow", "ParallelizationFactor", "StartingPosition", "MaximumRecordAge"}, ""},
		{"SQS with stream settings", `{"EventSourceArn": "` + sqsARN + `", "StartingPosition": "LATEST", "BatchSize": 50,
			"DestinationConfig": {"OnSuccess": {"Destination": "` + queueDLQ + `"}}}`,
			[]string{"MaximumBatchingWindow", "StartingPosition", "DestinationConfig.OnSuccess"}, ""},
		{"filters not objects", `{"EventSourceArn": "` + sqsARN + `", "FilterCriteria": {"Filters": ["{}", {"Pattern": 5}]}}`,
			[]string{"FilterCriteria.Filters[0]", "FilterCriteria.Filters[1].Pattern"}, ""},
		{"nested wrong types", `{"EventSourceArn": "` + kinesisARN + `", "StartingPosition": "LATEST", "DestinationConfig": [],
			"FilterCriteria": {"Filters": {}}, "MetricsConfig": {"Metrics": "EventCount"}, "FunctionResponseTypes": "ReportBatchItemFailures"}`,
			[]string{"DestinationConfig", "FilterCriteria.Filters", "MetricsConfig.Metrics", "FunctionResponseTypes"}, ""},
		{"empty object", `{}`, []string{"EventSourceArn"}, "required"},
		{"null", `null`, []string{"EventSourceArn"}, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := esm.ParseConfig([]byte(tt.json))
			ce := violations(t, err)
			require.ElementsMatch(t, tt.fields, ce.Fields(), "%v", err)
			if tt.rule != "" {
				require.Contains(t, ce.Violations[0].Rule, tt.rule)
			}
		})
	}

	for _, notObject := range []string{``, `{`, `[]`, `"x"`, `{"a":1}x`} {
		_, err := esm.ParseConfig([]byte(notObject))
		require.Error(t, err, notObject)
		var ce *esm.ConfigError
		require.False(t, errors.As(err, &ce), "not a violation list: %v", err)
	}
}

func TestUnmarshalJSONLeavesConfigOnError(t *testing.T) {
	c := sqsCfg()
	err := json.Unmarshal([]byte(`{"EventSourceArn": "x", "Nope": 1}`), &c)
	require.Equal(t, []string{"Nope"}, violations(t, err).Fields())
	require.Equal(t, sqsCfg(), c)
	require.NoError(t, json.Unmarshal([]byte(`null`), &c))
	require.Equal(t, sqsCfg(), c)
}

func TestLoadConfigReader(t *testing.T) {
	_, err := esm.LoadConfig(iotest.ErrReader(errors.New("disk on fire")))
	require.ErrorContains(t, err, "disk on fire")
	_, err = esm.LoadConfig(strings.NewReader(`{"EventSourceArn":"` + strings.Repeat(" ", 1<<20) + `"}`))
	require.ErrorContains(t, err, "larger than")
}

func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{kinesisRequestJSON, dynamoDBRequestJSON, sqsRequestJSON, kinesisResponseJSON,
		`{}`, `null`, `{"StartingPositionTimestamp": -1.5e3}`, `{"QueueURL": "http://sqs.x.localhost/000000000000/q.fifo"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var u esm.Config
		_ = json.Unmarshal(data, &u)
		_ = u.Validate()
		c, err := esm.ParseConfig(data)
		if err != nil {
			return
		}
		requireRoundTrip(t, c)
		d, err := c.WithDefaults()
		require.NoError(t, err)
		require.NoError(t, d.Validate())
	})
}

func FuzzValidate(f *testing.F) {
	f.Add(kinesisARN, "", "TRIM_HORIZON", 100, int64(0), 1, int64(-1), -1, int64(0), int64(3), 0, `{"a":[1]}`, "arn:aws:s3:::b", "ReportBatchItemFailures")
	f.Add(fifoARN, "https://sqs.us-east-1.amazonaws.com/123456789012/jobs.fifo", "", 10, int64(1), 0, int64(0), 0, int64(0), int64(0), 5, ``, "", "")
	f.Fuzz(func(t *testing.T, arn, url, pos string, batch int, window int64, pf int, age int64, retries int, tumbling, timeout int64, conc int, pattern, dest, rt string) {
		c := esm.Config{
			EventSourceArn: arn, QueueURL: url, StartingPosition: esm.StartingPosition(pos),
			BatchSize: batch, MaximumBatchingWindow: time.Duration(window) * time.Second / 2, ParallelizationFactor: pf,
			MaximumRecordAge: time.Duration(age) * time.Second, MaximumRetryAttempts: &retries,
			TumblingWindow: time.Duration(tumbling), FunctionTimeout: time.Duration(timeout) * time.Second,
			ScalingConfig: &esm.ScalingConfig{MaximumConcurrency: conc}, FilterCriteria: filters(pattern),
			DestinationConfig:     &esm.DestinationConfig{OnFailure: &esm.Destination{Destination: dest}},
			FunctionResponseTypes: []esm.FunctionResponseType{esm.FunctionResponseType(rt)},
		}
		if err := c.Validate(); err != nil {
			var ce *esm.ConfigError
			require.ErrorAs(t, err, &ce)
			require.NotEmpty(t, ce.Violations)
			return
		}
		d, err := c.WithDefaults()
		require.NoError(t, err)
		require.NoError(t, d.Validate())
		_, _ = json.Marshal(d)
	})
}
