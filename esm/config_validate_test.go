package esm_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
)

const (
	kinesisARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	ddbARN     = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024-01-01T00:00:00.000"
	sqsARN     = "arn:aws:sqs:us-east-1:123456789012:jobs"
	fifoARN    = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"
	queueDLQ   = "arn:aws:sqs:us-east-1:123456789012:dlq"
)

func kinesisCfg() esm.Config {
	return esm.Config{EventSourceArn: kinesisARN, StartingPosition: esm.TrimHorizon}
}

func ddbCfg() esm.Config { return esm.Config{EventSourceArn: ddbARN, StartingPosition: esm.Latest} }

func sqsCfg() esm.Config { return esm.Config{EventSourceArn: sqsARN} }

func fifoCfg() esm.Config { return esm.Config{EventSourceArn: fifoARN} }

// with returns base changed by f.
func with(base esm.Config, f func(c *esm.Config)) esm.Config {
	f(&base)
	return base
}

func onFailure(arn string) *esm.DestinationConfig {
	return &esm.DestinationConfig{OnFailure: &esm.Destination{Destination: arn}}
}

func filters(patterns ...string) *esm.FilterCriteria {
	fc := &esm.FilterCriteria{}
	for _, p := range patterns {
		fc.Filters = append(fc.Filters, esm.Filter{Pattern: p})
	}
	return fc
}

// violations returns the *ConfigError of err, failing the test if there is none.
func violations(t *testing.T, err error) *esm.ConfigError {
	t.Helper()
	var ce *esm.ConfigError
	require.ErrorAs(t, err, &ce)
	return ce
}

func TestValidateRejects(t *testing.T) {
	ts := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		cfg    esm.Config
		fields []string
		rule   string // if set, the rule of the first violation contains it
	}{
		{"empty", esm.Config{}, []string{"EventSourceArn"}, "Unrecognized event source."},
		{"not an ARN", esm.Config{EventSourceArn: "orders"}, []string{"EventSourceArn"}, "not an ARN"},
		{"S3 bucket as source", esm.Config{EventSourceArn: "arn:aws:s3:::bucket"}, []string{"EventSourceArn"}, `unsupported event source: service "s3"`},
		{"SNS topic as source", esm.Config{EventSourceArn: "arn:aws:sns:us-east-1:123456789012:t"}, []string{"EventSourceArn"}, `unsupported event source: service "sns"`},
		{"unsupported service in an unknown partition", esm.Config{EventSourceArn: "arn:aws-moon:lambda::1:function:f"}, []string{"EventSourceArn"}, "unsupported event source"},
		{"DynamoDB table ARN", with(ddbCfg(), func(c *esm.Config) {
			c.EventSourceArn = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"
		}), []string{"EventSourceArn"}, "table ARN"},
		{"Kinesis consumer ARN without its timestamp", with(kinesisCfg(), func(c *esm.Config) {
			c.EventSourceArn = kinesisARN + "/consumer/app"
		}), []string{"EventSourceArn"}, "creation timestamp"},
		{"Kinesis consumer ARN with a bad name", with(kinesisCfg(), func(c *esm.Config) {
			c.EventSourceArn = kinesisARN + "/consumer/a b:1700000000"
		}), []string{"EventSourceArn"}, "consumer name"},
		{"Kinesis ARN without stream", with(kinesisCfg(), func(c *esm.Config) {
			c.EventSourceArn = "arn:aws:kinesis:us-east-1:123456789012:orders"
		}), []string{"EventSourceArn"}, ""},
		{"unknown partition", esm.Config{EventSourceArn: "arn:aws-moon:sqs:us-east-1:123456789012:q"}, []string{"EventSourceArn"}, "partition"},
		{"short account", esm.Config{EventSourceArn: "arn:aws:sqs:us-east-1:1234:q"}, []string{"EventSourceArn"}, "12 digits"},
		{"no region", esm.Config{EventSourceArn: "arn:aws:sqs::123456789012:q"}, []string{"EventSourceArn"}, "region"},
		{"bad queue name", esm.Config{EventSourceArn: "arn:aws:sqs:us-east-1:123456789012:my queue"}, []string{"EventSourceArn"}, "queue name"},
		{"QueueURL with a stream ARN", with(kinesisCfg(), func(c *esm.Config) {
			c.QueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
		}), []string{"QueueURL"}, "SQS only"},
		{"QueueURL names another queue", with(sqsCfg(), func(c *esm.Config) {
			c.QueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/other"
		}), []string{"QueueURL"}, "another queue"},
		{"QueueURL not http", esm.Config{QueueURL: "ftp://example.com/123456789012/jobs"}, []string{"QueueURL"}, ""},
		{"QueueURL without account", esm.Config{QueueURL: "http://localhost:4566/jobs"}, []string{"QueueURL"}, ""},
		{"Kinesis BatchSize above 10000", with(kinesisCfg(), func(c *esm.Config) { c.BatchSize = 10001 }), []string{"BatchSize"}, "between 1 and 10000"},
		{"negative BatchSize", with(sqsCfg(), func(c *esm.Config) { c.BatchSize = -1 }), []string{"BatchSize"}, ""},
		{"FIFO BatchSize above 10", with(fifoCfg(), func(c *esm.Config) { c.BatchSize = 11 }), []string{"BatchSize"}, "FIFO"},
		{"FIFO by URL BatchSize above 10", esm.Config{QueueURL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs.fifo", BatchSize: 20}, []string{"BatchSize"}, "FIFO"},
		{"window above 300s", with(kinesisCfg(), func(c *esm.Config) { c.MaximumBatchingWindow = 301 * time.Second }), []string{"MaximumBatchingWindow"}, "300s"},
		{"negative window", with(ddbCfg(), func(c *esm.Config) { c.MaximumBatchingWindow = -time.Second }), []string{"MaximumBatchingWindow"}, ""},
		{"window not whole seconds", with(kinesisCfg(), func(c *esm.Config) { c.MaximumBatchingWindow = 1500 * time.Millisecond }), []string{"MaximumBatchingWindow"}, "whole seconds"},
		{"SQS BatchSize above 10 without window", with(sqsCfg(), func(c *esm.Config) { c.BatchSize = 11 }), []string{"MaximumBatchingWindow"},
			"Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{"FIFO with window", with(fifoCfg(), func(c *esm.Config) { c.MaximumBatchingWindow = time.Second }), []string{"MaximumBatchingWindow"},
			"Batching window is not supported for FIFO queues"},
		{"FIFO with BatchSize 100 and window (real CloudFormation case)", with(fifoCfg(), func(c *esm.Config) {
			c.BatchSize, c.MaximumBatchingWindow = 100, 5*time.Second
		}), []string{"BatchSize", "MaximumBatchingWindow"}, ""},
		{"ParallelizationFactor 11", with(kinesisCfg(), func(c *esm.Config) { c.ParallelizationFactor = 11 }), []string{"ParallelizationFactor"}, "between 1 and 10"},
		{"ParallelizationFactor negative", with(ddbCfg(), func(c *esm.Config) { c.ParallelizationFactor = -1 }), []string{"ParallelizationFactor"}, ""},
		{"ParallelizationFactor on SQS", with(sqsCfg(), func(c *esm.Config) { c.ParallelizationFactor = 2 }), []string{"ParallelizationFactor"},
			"Unsupported 'parallelizationFactor' parameter for given event source mapping type."},
		{"Kinesis without StartingPosition", esm.Config{EventSourceArn: kinesisARN}, []string{"StartingPosition"},
			"Value null at 'startingPosition' failed to satisfy constraint: Member must not be null"},
		{"DynamoDB without StartingPosition", esm.Config{EventSourceArn: ddbARN}, []string{"StartingPosition"}, "must not be null"},
		{"DynamoDB AT_TIMESTAMP", with(ddbCfg(), func(c *esm.Config) {
			c.StartingPosition, c.StartingPositionTimestamp = esm.AtTimestamp, ts
		}), []string{"StartingPosition"}, "Unsupported starting position for arn type: " + ddbARN},
		{"unknown StartingPosition", with(kinesisCfg(), func(c *esm.Config) { c.StartingPosition = "EARLIEST" }), []string{"StartingPosition"},
			"Value 'EARLIEST' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"},
		{"unknown StartingPosition on SQS", with(sqsCfg(), func(c *esm.Config) { c.StartingPosition = "0" }), []string{"StartingPosition"},
			"Value '0' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"},
		{"SQS with StartingPosition", with(sqsCfg(), func(c *esm.Config) { c.StartingPosition = esm.Latest }), []string{"StartingPosition"},
			"StartingPosition is not valid for SQS event sources."},
		{"AT_TIMESTAMP without timestamp", with(kinesisCfg(), func(c *esm.Config) { c.StartingPosition = esm.AtTimestamp }), []string{"StartingPositionTimestamp"},
			"Need to specify a timestamp"},
		{"timestamp without AT_TIMESTAMP", with(kinesisCfg(), func(c *esm.Config) { c.StartingPositionTimestamp = ts }), []string{"StartingPositionTimestamp"},
			"Timestamp only valid with StartingPosition AT_TIMESTAMP"},
		{"timestamp in the future", with(kinesisCfg(), func(c *esm.Config) {
			c.StartingPosition, c.StartingPositionTimestamp = esm.AtTimestamp, time.Now().Add(time.Hour)
		}), []string{"StartingPositionTimestamp"}, "must not be in the future"},
		{"MaximumRecordAge 59s", with(kinesisCfg(), func(c *esm.Config) { c.MaximumRecordAge = 59 * time.Second }), []string{"MaximumRecordAge"}, "60s and 604800s"},
		{"MaximumRecordAge above a week", with(ddbCfg(), func(c *esm.Config) { c.MaximumRecordAge = 604801 * time.Second }), []string{"MaximumRecordAge"}, ""},
		{"MaximumRecordAge -1s instead of Infinite", with(kinesisCfg(), func(c *esm.Config) { c.MaximumRecordAge = -time.Second }), []string{"MaximumRecordAge"}, "esm.Infinite"},
		{"MaximumRecordAge not whole seconds", with(kinesisCfg(), func(c *esm.Config) { c.MaximumRecordAge = 90*time.Second + time.Millisecond }), []string{"MaximumRecordAge"}, ""},
		{"MaximumRetryAttempts -2", with(kinesisCfg(), func(c *esm.Config) { c.MaximumRetryAttempts = new(-2) }), []string{"MaximumRetryAttempts"}, "-1 (Infinite) and 10000"},
		{"MaximumRetryAttempts 10001", with(ddbCfg(), func(c *esm.Config) { c.MaximumRetryAttempts = new(10001) }), []string{"MaximumRetryAttempts"}, ""},
		{"TumblingWindow 901s", with(kinesisCfg(), func(c *esm.Config) { c.TumblingWindow = 901 * time.Second }), []string{"TumblingWindow"}, "900s"},
		{"TumblingWindow with ParallelizationFactor 2", with(ddbCfg(), func(c *esm.Config) {
			c.TumblingWindow, c.ParallelizationFactor = time.Minute, 2
		}), []string{"ParallelizationFactor"}, "must be 1 with a TumblingWindow"},
		{"stream-only settings on SQS", with(sqsCfg(), func(c *esm.Config) {
			c.BisectBatchOnFunctionError = true
			c.MaximumRecordAge = time.Hour
			c.MaximumRetryAttempts = new(0)
			c.TumblingWindow = time.Minute
		}), []string{"BisectBatchOnFunctionError", "MaximumRecordAge", "MaximumRetryAttempts", "TumblingWindow"}, "Unsupported 'bisectBatchOnFunctionError'"},
		{"unknown FunctionResponseType", with(sqsCfg(), func(c *esm.Config) {
			c.FunctionResponseTypes = []esm.FunctionResponseType{"ReportItemFailures"}
		}), []string{"FunctionResponseTypes[0]"}, "ReportBatchItemFailures"},
		{"two FunctionResponseTypes", with(kinesisCfg(), func(c *esm.Config) {
			c.FunctionResponseTypes = []esm.FunctionResponseType{esm.ReportBatchItemFailures, "Other"}
		}), []string{"FunctionResponseTypes", "FunctionResponseTypes[1]"}, "at most 1"},
		{"OnSuccess on Kinesis", with(kinesisCfg(), func(c *esm.Config) {
			c.DestinationConfig = &esm.DestinationConfig{OnSuccess: &esm.Destination{Destination: queueDLQ}}
		}), []string{"DestinationConfig.OnSuccess"}, "Unsupported DestinationConfig parameter for given event source mapping type."},
		{"OnFailure on SQS", with(sqsCfg(), func(c *esm.Config) { c.DestinationConfig = onFailure(queueDLQ) }), []string{"DestinationConfig.OnFailure"},
			"Unsupported DestinationConfig parameter for given event source mapping type."},
		{"OnFailure to a Lambda function", with(ddbCfg(), func(c *esm.Config) {
			c.DestinationConfig = onFailure("arn:aws:lambda:us-east-1:123456789012:function:f")
		}), []string{"DestinationConfig.OnFailure.Destination"}, "SQS queue, an SNS topic or an S3 bucket"},
		{"OnFailure to an S3 object", with(kinesisCfg(), func(c *esm.Config) { c.DestinationConfig = onFailure("arn:aws:s3:::bucket/key") }),
			[]string{"DestinationConfig.OnFailure.Destination"}, ""},
		{"OnFailure not an ARN", with(kinesisCfg(), func(c *esm.Config) { c.DestinationConfig = onFailure("dlq") }),
			[]string{"DestinationConfig.OnFailure.Destination"}, ""},
		{"six filters", with(sqsCfg(), func(c *esm.Config) {
			c.FilterCriteria = filters(`{"a":[1]}`, `{"a":[2]}`, `{"a":[3]}`, `{"a":[4]}`, `{"a":[5]}`, `{"a":[6]}`)
		}), []string{"FilterCriteria.Filters"}, "at most 5"},
		{"bad patterns", with(kinesisCfg(), func(c *esm.Config) {
			c.FilterCriteria = filters(`{"ok":["x"]}`, ``, `{"data":`, `["x"]`, `{"k":"`+strings.Repeat("x", 4096)+`"}`)
		}), []string{"FilterCriteria.Filters[1].Pattern", "FilterCriteria.Filters[2].Pattern", "FilterCriteria.Filters[3].Pattern", "FilterCriteria.Filters[4].Pattern"},
			"Invalid filter pattern definition."},
		{"ScalingConfig on Kinesis", with(kinesisCfg(), func(c *esm.Config) { c.ScalingConfig = &esm.ScalingConfig{MaximumConcurrency: 5} }),
			[]string{"ScalingConfig"}, "Unsupported 'scalingConfig'"},
		{"MaximumConcurrency 1", with(sqsCfg(), func(c *esm.Config) { c.ScalingConfig = &esm.ScalingConfig{MaximumConcurrency: 1} }),
			[]string{"ScalingConfig.MaximumConcurrency"}, "between 2 and 1000"},
		{"MaximumConcurrency 1001", with(fifoCfg(), func(c *esm.Config) { c.ScalingConfig = &esm.ScalingConfig{MaximumConcurrency: 1001} }),
			[]string{"ScalingConfig.MaximumConcurrency"}, ""},
		{"FunctionTimeout 500ms", with(sqsCfg(), func(c *esm.Config) { c.FunctionTimeout = 500 * time.Millisecond }), []string{"FunctionTimeout"}, "between 1s and 900s"},
		{"FunctionTimeout 901s", with(kinesisCfg(), func(c *esm.Config) { c.FunctionTimeout = 901 * time.Second }), []string{"FunctionTimeout"}, ""},
		{"FunctionName with a space", with(sqsCfg(), func(c *esm.Config) { c.FunctionName = "my function" }), []string{"FunctionName"}, ""},
		{"FunctionName ARN of another service", with(sqsCfg(), func(c *esm.Config) { c.FunctionName = sqsARN }), []string{"FunctionName"}, ""},
		{"FunctionArn not Lambda", with(sqsCfg(), func(c *esm.Config) { c.FunctionArn = sqsARN }), []string{"FunctionArn"}, "Lambda function ARN"},
		{"Kafka metric", with(ddbCfg(), func(c *esm.Config) {
			c.MetricsConfig = &esm.MetricsConfig{Metrics: []esm.Metric{esm.MetricEventCount, "KafkaMetrics"}}
		}), []string{"MetricsConfig.Metrics[1]"}, "Kafka"},
		{"many violations on Kinesis", with(kinesisCfg(), func(c *esm.Config) {
			c.StartingPosition = ""
			c.BatchSize = 20000
			c.MaximumBatchingWindow = 400 * time.Second
			c.ParallelizationFactor = 11
			c.MaximumRecordAge = 30 * time.Second
			c.MaximumRetryAttempts = new(-5)
			c.TumblingWindow = time.Hour
			c.FunctionTimeout = time.Hour
			c.DestinationConfig = &esm.DestinationConfig{OnSuccess: &esm.Destination{Destination: queueDLQ}, OnFailure: &esm.Destination{Destination: "x"}}
			c.ScalingConfig = &esm.ScalingConfig{MaximumConcurrency: 10}
		}), []string{
			"BatchSize", "MaximumBatchingWindow", "ParallelizationFactor", "StartingPosition", "MaximumRecordAge",
			"MaximumRetryAttempts", "TumblingWindow", "FunctionTimeout", "DestinationConfig.OnSuccess",
			"DestinationConfig.OnFailure.Destination", "ScalingConfig",
		}, ""},
		{"many violations on SQS", with(sqsCfg(), func(c *esm.Config) {
			c.BatchSize = 500
			c.StartingPosition = esm.TrimHorizon
			c.ParallelizationFactor = 1
			c.DestinationConfig = onFailure(queueDLQ)
			c.FunctionResponseTypes = []esm.FunctionResponseType{"ReportBatchItemFailure"}
		}), []string{"MaximumBatchingWindow", "ParallelizationFactor", "StartingPosition", "FunctionResponseTypes[0]", "DestinationConfig.OnFailure"}, ""},
		{"bad ARN skips rules of the source but checks the rest", esm.Config{
			EventSourceArn: "arn:aws:kinesis:us-east-1:123456789012:stream/",
			BatchSize:      20000,
			TumblingWindow: 1000 * time.Second,
		}, []string{"EventSourceArn", "BatchSize", "TumblingWindow"}, ""},
	}
	require.GreaterOrEqual(t, len(tests), 30)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			ce := violations(t, err)
			require.ElementsMatch(t, tt.fields, ce.Fields(), "violations:\n%v", err)
			if tt.rule != "" {
				require.Contains(t, ce.Violations[0].Rule, tt.rule)
			}
			for _, v := range ce.Violations {
				require.NotEmpty(t, v.Value, "%s has no value", v.Field)
				require.NotEmpty(t, v.Rule, "%s has no rule", v.Field)
				require.Contains(t, err.Error(), v.String())
			}
			_, err = tt.cfg.WithDefaults()
			require.Equal(t, ce, violations(t, err), "WithDefaults reports the same violations")
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	ts := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		cfg  esm.Config
	}{
		{"Kinesis minimal", kinesisCfg()},
		{"DynamoDB minimal", ddbCfg()},
		{"SQS minimal", sqsCfg()},
		{"SQS FIFO minimal", fifoCfg()},
		{"SQS by URL only (fauxqs)", esm.Config{QueueURL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs"}},
		{"SQS by ARN and URL", with(sqsCfg(), func(c *esm.Config) { c.QueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs" })},
		{"DynamoDB Local region", esm.Config{EventSourceArn: "arn:aws:dynamodb:ddblocal:000000000000:table/Music/stream/2024-06-01T10:11:12.123", StartingPosition: esm.TrimHorizon}},
		{"China partition", esm.Config{EventSourceArn: "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s", StartingPosition: esm.Latest}},
		{"GovCloud partition", esm.Config{EventSourceArn: "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"}},
		{"Kinesis AWS defaults written out", with(kinesisCfg(), func(c *esm.Config) {
			c.BatchSize, c.ParallelizationFactor = 100, 1
			c.MaximumRetryAttempts, c.MaximumRecordAge = new(esm.Infinite), esm.Infinite
			c.Enabled, c.FunctionTimeout = new(true), 3*time.Second
		})},
		{"SQS AWS defaults written out", with(sqsCfg(), func(c *esm.Config) { c.BatchSize, c.Enabled = 10, new(true) })},
		{"Kinesis AT_TIMESTAMP", with(kinesisCfg(), func(c *esm.Config) {
			c.StartingPosition, c.StartingPositionTimestamp = esm.AtTimestamp, ts
		})},
		{"Kinesis AT_TIMESTAMP now, or a little ahead (clock skew)", with(kinesisCfg(), func(c *esm.Config) {
			c.StartingPosition, c.StartingPositionTimestamp = esm.AtTimestamp, time.Now().Add(30*time.Second)
		})},
		{"stream upper bounds", with(kinesisCfg(), func(c *esm.Config) {
			c.BatchSize = 10000
			c.MaximumBatchingWindow = 300 * time.Second
			c.ParallelizationFactor = 10
			c.MaximumRecordAge = 604800 * time.Second
			c.MaximumRetryAttempts = new(10000)
			c.FunctionTimeout = 900 * time.Second
		})},
		{"tumbling window upper bound", with(kinesisCfg(), func(c *esm.Config) {
			c.TumblingWindow, c.ParallelizationFactor = 900*time.Second, 1
		})},
		{"stream lower bounds", with(ddbCfg(), func(c *esm.Config) {
			c.BatchSize = 1
			c.ParallelizationFactor = 1
			c.MaximumRecordAge = 60 * time.Second
			c.MaximumRetryAttempts = new(0)
			c.FunctionTimeout = time.Second
		})},
		{"Kinesis BatchSize 100 without window", with(kinesisCfg(), func(c *esm.Config) { c.BatchSize = 100 })},
		{"SQS BatchSize 10000 with 1s window", with(sqsCfg(), func(c *esm.Config) {
			c.BatchSize, c.MaximumBatchingWindow = 10000, time.Second
		})},
		{"FIFO BatchSize 10", with(fifoCfg(), func(c *esm.Config) { c.BatchSize = 10 })},
		{"SQS scaling bounds", with(sqsCfg(), func(c *esm.Config) { c.ScalingConfig = &esm.ScalingConfig{MaximumConcurrency: 2} })},
		{"SQS scaling 1000", with(sqsCfg(), func(c *esm.Config) { c.ScalingConfig = &esm.ScalingConfig{MaximumConcurrency: 1000} })},
		{"SQS empty ScalingConfig", with(sqsCfg(), func(c *esm.Config) { c.ScalingConfig = &esm.ScalingConfig{} })},
		{"on-failure SQS, SNS, S3", with(kinesisCfg(), func(c *esm.Config) { c.DestinationConfig = onFailure(queueDLQ) })},
		{"on-failure SNS", with(ddbCfg(), func(c *esm.Config) {
			c.DestinationConfig = onFailure("arn:aws:sns:us-east-1:123456789012:failures")
		})},
		{"on-failure S3", with(kinesisCfg(), func(c *esm.Config) { c.DestinationConfig = onFailure("arn:aws:s3:::my-failures") })},
		{"empty destinations", with(sqsCfg(), func(c *esm.Config) {
			c.DestinationConfig = &esm.DestinationConfig{OnSuccess: &esm.Destination{}, OnFailure: &esm.Destination{}}
		})},
		{"five filters, one of 4096 characters", with(sqsCfg(), func(c *esm.Config) {
			long := `{"body":{"k":["` + strings.Repeat("é", 4096-19) + `"]}}`
			require.Len(t, []rune(long), 4096)
			c.FilterCriteria = filters(long, `{"a":[2]}`, ` {"a":[3]} `, `{"a":[4]}`, `{"a":[5]}`)
		})},
		{"partial batch response", with(ddbCfg(), func(c *esm.Config) {
			c.FunctionResponseTypes = []esm.FunctionResponseType{esm.ReportBatchItemFailures}
			c.BisectBatchOnFunctionError = true
		})},
		{"function name forms", with(sqsCfg(), func(c *esm.Config) { c.FunctionName = "my-function:prod" })},
		{"partial function ARN", with(sqsCfg(), func(c *esm.Config) { c.FunctionName = "123456789012:function:my-function" })},
		{"function ARN as name", with(sqsCfg(), func(c *esm.Config) {
			c.FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"
			c.FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:f"
		})},
		{"metrics", with(kinesisCfg(), func(c *esm.Config) { c.MetricsConfig = &esm.MetricsConfig{Metrics: []esm.Metric{esm.MetricEventCount}} })},
		{"disabled", with(kinesisCfg(), func(c *esm.Config) { c.Enabled = new(false) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.cfg.Validate())
			d, err := tt.cfg.WithDefaults()
			require.NoError(t, err)
			require.NoError(t, d.Validate(), "defaults validate")
			again, err := d.WithDefaults()
			require.NoError(t, err)
			require.Equal(t, d, again, "WithDefaults is idempotent")
		})
	}
}

func TestWithDefaults(t *testing.T) {
	streamDefaults := func(src esm.Config) esm.Config {
		src.BatchSize = 100
		src.ParallelizationFactor = 1
		src.MaximumRetryAttempts = new(-1)
		src.MaximumRecordAge = esm.Infinite
		src.FunctionTimeout = 3 * time.Second
		src.Enabled = new(true)
		return src
	}
	sqsDefaults := func(src esm.Config) esm.Config {
		src.BatchSize = 10
		src.FunctionTimeout = 3 * time.Second
		src.Enabled = new(true)
		return src
	}
	tests := []struct {
		name string
		in   esm.Config
		want esm.Config
	}{
		{"Kinesis", kinesisCfg(), streamDefaults(kinesisCfg())},
		{"DynamoDB", ddbCfg(), streamDefaults(ddbCfg())},
		{"SQS", sqsCfg(), sqsDefaults(sqsCfg())},
		{"SQS FIFO", fifoCfg(), sqsDefaults(fifoCfg())},
		{"explicit values kept", with(kinesisCfg(), func(c *esm.Config) {
			c.BatchSize, c.ParallelizationFactor, c.MaximumRetryAttempts = 7, 3, new(0)
			c.MaximumRecordAge, c.FunctionTimeout, c.Enabled = time.Minute, time.Minute, new(false)
		}), with(kinesisCfg(), func(c *esm.Config) {
			c.BatchSize, c.ParallelizationFactor, c.MaximumRetryAttempts = 7, 3, new(0)
			c.MaximumRecordAge, c.FunctionTimeout, c.Enabled = time.Minute, time.Minute, new(false)
		})},
		{"FunctionArn from FunctionName", with(sqsCfg(), func(c *esm.Config) { c.FunctionName = "resize" }), with(sqsDefaults(sqsCfg()), func(c *esm.Config) {
			c.FunctionName = "resize"
			c.FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:resize"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.WithDefaults()
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("does not share pointers", func(t *testing.T) {
		in := with(kinesisCfg(), func(c *esm.Config) {
			c.MaximumRetryAttempts = new(2)
			c.DestinationConfig = onFailure(queueDLQ)
			c.FunctionResponseTypes = []esm.FunctionResponseType{esm.ReportBatchItemFailures}
		})
		got, err := in.WithDefaults()
		require.NoError(t, err)
		*got.MaximumRetryAttempts = 9
		got.DestinationConfig.OnFailure.Destination = "changed"
		got.FunctionResponseTypes[0] = "changed"
		require.Equal(t, 2, *in.MaximumRetryAttempts)
		require.Equal(t, queueDLQ, in.OnFailureDestination())
		require.True(t, in.ReportsBatchItemFailures())
	})
}

func TestConfigGetters(t *testing.T) {
	var zero esm.Config
	require.True(t, zero.IsEnabled())
	require.Equal(t, -1, zero.RetryAttempts())
	require.Equal(t, time.Duration(esm.Infinite), zero.RecordAgeLimit())
	require.False(t, zero.ReportsBatchItemFailures())
	require.Empty(t, zero.OnFailureDestination())
	require.Nil(t, zero.FilterPatterns())
	require.Zero(t, zero.MaximumConcurrency())

	c := esm.Config{
		Enabled:               new(false),
		MaximumRetryAttempts:  new(0),
		MaximumRecordAge:      time.Hour,
		FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
		DestinationConfig:     onFailure(queueDLQ),
		FilterCriteria:        filters(`{"a":[1]}`, `{"b":[2]}`),
		ScalingConfig:         &esm.ScalingConfig{MaximumConcurrency: 5},
	}
	require.False(t, c.IsEnabled())
	require.Equal(t, 0, c.RetryAttempts())
	require.Equal(t, time.Hour, c.RecordAgeLimit())
	require.True(t, c.ReportsBatchItemFailures())
	require.Equal(t, queueDLQ, c.OnFailureDestination())
	require.Equal(t, []string{`{"a":[1]}`, `{"b":[2]}`}, c.FilterPatterns())
	require.Equal(t, 5, c.MaximumConcurrency())
}

func TestEventSource(t *testing.T) {
	tests := []struct {
		name string
		cfg  esm.Config
		want esm.EventSource
	}{
		{"Kinesis", esm.Config{EventSourceArn: kinesisARN}, esm.EventSource{
			Kind: esm.Kinesis, ARN: kinesisARN, Partition: "aws", Region: "us-east-1", AccountID: "123456789012", Name: "orders", StreamARN: kinesisARN,
		}},
		{"Kinesis stream consumer", esm.Config{EventSourceArn: kinesisARN + "/consumer/app.v2:1700000000"}, esm.EventSource{
			Kind: esm.Kinesis, ARN: kinesisARN + "/consumer/app.v2:1700000000", Partition: "aws", Region: "us-east-1", AccountID: "123456789012",
			Name: "orders", StreamARN: kinesisARN, Consumer: "app.v2",
		}},
		{"DynamoDB Local", esm.Config{EventSourceArn: "arn:aws:dynamodb:ddblocal:000000000000:table/Music/stream/2024-06-01T10:11:12.123"}, esm.EventSource{
			Kind: esm.DynamoDBStreams, ARN: "arn:aws:dynamodb:ddblocal:000000000000:table/Music/stream/2024-06-01T10:11:12.123",
			Partition: "aws", Region: "ddblocal", AccountID: "000000000000", Name: "Music", StreamLabel: "2024-06-01T10:11:12.123",
			StreamARN: "arn:aws:dynamodb:ddblocal:000000000000:table/Music/stream/2024-06-01T10:11:12.123",
		}},
		{"SQS FIFO in China", esm.Config{EventSourceArn: "arn:aws-cn:sqs:cn-north-1:123456789012:jobs.fifo"}, esm.EventSource{
			Kind: esm.SQS, ARN: "arn:aws-cn:sqs:cn-north-1:123456789012:jobs.fifo", Partition: "aws-cn", Region: "cn-north-1",
			AccountID: "123456789012", Name: "jobs.fifo", FIFO: true,
		}},
		{"SQS by fauxqs URL", esm.Config{QueueURL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs"}, esm.EventSource{
			Kind: esm.SQS, QueueURL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs", Region: "us-east-1", AccountID: "000000000000", Name: "jobs",
		}},
		{"SQS by loopback URL", esm.Config{QueueURL: "http://127.0.0.1:4566/000000000000/jobs"}, esm.EventSource{
			Kind: esm.SQS, QueueURL: "http://127.0.0.1:4566/000000000000/jobs", AccountID: "000000000000", Name: "jobs",
		}},
		{"SQS by ARN and URL", esm.Config{EventSourceArn: sqsARN, QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}, esm.EventSource{
			Kind: esm.SQS, ARN: sqsARN, QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", Partition: "aws", Region: "us-east-1",
			AccountID: "123456789012", Name: "jobs",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.EventSource()
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			kind, err := tt.cfg.Source()
			require.NoError(t, err)
			require.Equal(t, tt.want.Kind, kind)
			if tt.cfg.EventSourceArn != "" {
				parsed, err := esm.ParseEventSourceARN(tt.cfg.EventSourceArn)
				require.NoError(t, err)
				require.Equal(t, tt.want.Kind, parsed.Kind)
			}
		})
	}

	_, err := esm.Config{EventSourceArn: "arn:aws:s3:::b"}.Source()
	require.Equal(t, []string{"EventSourceArn"}, violations(t, err).Fields())
	_, err = esm.ParseEventSourceARN("nope")
	require.ErrorContains(t, err, `esm: event source ARN "nope": not an ARN`)

	require.Equal(t, "Kinesis", esm.Kinesis.String())
	require.Equal(t, "DynamoDB Streams", esm.DynamoDBStreams.String())
	require.Equal(t, "SQS", esm.SQS.String())
	require.Equal(t, "SourceKind(0)", esm.SourceKind(0).String())
	require.True(t, esm.DynamoDBStreams.IsStream())
	require.False(t, esm.SQS.IsStream())
}

func TestFunctionARN(t *testing.T) {
	src, err := esm.ParseEventSourceARN("arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/s")
	require.NoError(t, err)
	require.Equal(t, "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", src.FunctionARN("f"))
	require.Equal(t, "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:prod", src.FunctionARN("f:prod"))
	require.Equal(t, "arn:aws-us-gov:lambda:us-gov-west-1:210987654321:function:f", src.FunctionARN("210987654321:function:f"))
	require.Equal(t, "arn:aws:lambda:eu-west-1:1:function:f", src.FunctionARN("arn:aws:lambda:eu-west-1:1:function:f"))
	byURL := esm.EventSource{Kind: esm.SQS, AccountID: "000000000000", Region: "us-east-1"}
	require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:f", byURL.FunctionARN("f"))
}

func TestConfigError(t *testing.T) {
	err := esm.Config{EventSourceArn: kinesisARN, BatchSize: 0, MaximumBatchingWindow: 1500 * time.Millisecond}.Validate()
	require.EqualError(t, err, "esm: invalid configuration:\n"+
		"\tMaximumBatchingWindow = 1.5s: must be between 0s and 300s, in whole seconds\n"+
		"\tStartingPosition = (unset): Value null at 'startingPosition' failed to satisfy constraint: Member must not be null")
	wrapped := errors.Join(errors.New("context"), err)
	ce := violations(t, wrapped)
	require.Equal(t, esm.Violation{Field: "StartingPosition", Value: "(unset)",
		Rule: "Value null at 'startingPosition' failed to satisfy constraint: Member must not be null"}, ce.Violations[1])
}
