package esm

import (
	"time"

	"github.com/lambdaesm/lambdaesm/internal/limits"
	"github.com/lambdaesm/lambdaesm/retry"

	"github.com/lambdaesm/lambdaesm/filter"
)

// Infinite is AWS's −1: "no limit". Use it for [Config.MaximumRecordAge]
// (MaximumRecordAge: esm.Infinite) and [Config.MaximumRetryAttempts]
// (MaximumRetryAttempts: new(esm.Infinite)). It is untyped so that it fits
// both a time.Duration and an int.
const Infinite = retry.Infinite

// StartingPosition is where a stream mapping starts reading a shard that has
// no checkpoint yet. It corresponds to the CreateEventSourceMapping parameter
// StartingPosition and uses AWS's strings.
type StartingPosition string

// The starting positions Lambda accepts.
const (
	// TrimHorizon starts at the oldest record in the shard.
	TrimHorizon StartingPosition = "TRIM_HORIZON"
	// Latest starts just after the most recent record: new records only.
	Latest StartingPosition = "LATEST"
	// AtTimestamp starts at [Config.StartingPositionTimestamp]. Kinesis only.
	AtTimestamp StartingPosition = "AT_TIMESTAMP"
)

// FunctionResponseType is a value of the CreateEventSourceMapping parameter
// FunctionResponseTypes.
type FunctionResponseType string

// ReportBatchItemFailures makes the mapping honour the batchItemFailures of
// the handler's response (partial batch response). It is the only
// FunctionResponseType Lambda has.
const ReportBatchItemFailures FunctionResponseType = "ReportBatchItemFailures"

// Metric is a value of MetricsConfig.Metrics.
type Metric string

// MetricEventCount asks for Lambda's event-count metrics (PolledEventCount,
// FilteredOutEventCount, …), which this library reports through [Hooks]. It
// is the only metric group Lambda offers for Kinesis, DynamoDB Streams and SQS
// (ErrorCount and KafkaMetrics are for Kafka sources).
const MetricEventCount Metric = "EventCount"

// Defaults Lambda applies (package internal/limits keeps them).
const (
	defaultStreamBatchSize = limits.DefaultStreamBatchSize
	defaultSQSBatchSize    = limits.DefaultSQSBatchSize
	defaultParallelization = limits.DefaultParallelization
	defaultFunctionTimeout = limits.DefaultFunctionTimeout
)

// Config is one event source mapping: the parameters of Lambda's
// CreateEventSourceMapping request, for a Kinesis data stream, a DynamoDB
// stream or an SQS queue. The source is given by EventSourceArn (or, for SQS,
// QueueURL); [Config.Source] tells which. Settings that do not apply to that
// source must be left unset, as AWS rejects them.
//
// The zero value of every optional field means "AWS's default", which
// [Config.WithDefaults] fills in. Windows and ages are time.Duration in Go and
// whole seconds in JSON, where the fields carry AWS's names and units
// (MaximumBatchingWindowInSeconds, …), so the JSON of a real
// CreateEventSourceMapping request, or of `aws lambda get-event-source-mapping`,
// loads as it is (see [LoadConfig] and [Config.UnmarshalJSON]).
//
// FunctionTimeout, FunctionArn and QueueURL are this library's own fields;
// everything else is AWS's. [Config.Validate] reports every violated rule.
type Config struct {
	// EventSourceArn is the ARN of the source: a Kinesis data stream
	// (arn:aws:kinesis:<region>:<account>:stream/<name>), a Kinesis stream
	// consumer (…:stream/<name>/consumer/<consumer>:<timestamp>, as
	// RegisterStreamConsumer returns it: the mapping then reads with
	// enhanced fan-out, SubscribeToShard), a DynamoDB stream
	// (arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>) or an
	// SQS queue (arn:aws:sqs:<region>:<account>:<queue>). Partitions aws,
	// aws-cn, aws-us-gov and the isolated ones are accepted; the region is not
	// checked against a list (DynamoDB Local uses "ddblocal"). ARNs of other
	// services are not supported. Required, unless QueueURL names an SQS
	// queue. AWS: EventSourceArn.
	EventSourceArn string

	// QueueURL names an SQS queue by URL instead of ARN
	// (https://sqs.<region>.amazonaws.com/<account>/<queue>, or the URL an
	// emulator issued). If EventSourceArn is set as well, both must name the
	// same queue. The SQS engine uses this URL as it is; without it, it asks
	// GetQueueUrl. Ours, not AWS's; JSON: QueueURL.
	QueueURL string

	// FunctionName names the handler in failure records and logs, as
	// Lambda's function name: a name ("my-function"), optionally with a
	// version or alias ("my-function:prod"), a partial ARN
	// ("123456789012:function:my-function") or a function ARN. Optional
	// (AWS requires it; there is no Lambda function here).
	// AWS: FunctionName.
	FunctionName string

	// FunctionArn is the function ARN reported in on-failure destination
	// records (requestContext.functionArn). Default: derived from
	// FunctionName in the source's partition, region and account
	// (arn:aws:lambda:<region>:<account>:function:<name>); with no
	// FunctionName, the mapping constructors derive it from the mapping's
	// name (see [EventSource.FunctionARN]). Ours, not a request parameter
	// (GetEventSourceMapping returns it); JSON: FunctionArn.
	FunctionArn string

	// FunctionTimeout bounds each handler call, standing in for the Lambda
	// function's timeout: when it passes, the call's context is cancelled
	// and the batch fails as a timed-out invocation. Default 3s (Lambda's
	// default). Range 1s–900s, whole seconds. Ours; JSON:
	// FunctionTimeoutInSeconds.
	FunctionTimeout time.Duration

	// Enabled tells whether the mapping polls. nil means true (AWS's
	// default); false creates the mapping paused.
	// AWS: Enabled.
	Enabled *bool

	// BatchSize is the largest number of records per handler call. Default
	// 100 for Kinesis and DynamoDB Streams, 10 for SQS. Range 1–10000; at
	// most 10 for SQS FIFO queues. For SQS, more than 10 requires a
	// MaximumBatchingWindow of at least 1s.
	// AWS: BatchSize.
	BatchSize int

	// MaximumBatchingWindow is how long records are gathered before the
	// handler is called with fewer than BatchSize. Default 0 (call as soon as
	// records are there). Range 0–300s, whole seconds. Not for SQS FIFO
	// queues.
	// AWS: MaximumBatchingWindowInSeconds.
	MaximumBatchingWindow time.Duration

	// ParallelizationFactor is the number of batches processed at the same
	// time per shard (records with the same partition key stay in order).
	// Default 1. Range 1–10. Kinesis and DynamoDB Streams only.
	// AWS: ParallelizationFactor.
	ParallelizationFactor int

	// StartingPosition is where reading starts in a shard without
	// checkpoint: TrimHorizon, Latest, or (Kinesis only) AtTimestamp.
	// Required for Kinesis and DynamoDB Streams; must be empty for SQS.
	// AWS: StartingPosition.
	StartingPosition StartingPosition

	// StartingPositionTimestamp is the time to start reading from. Required
	// with AtTimestamp, not allowed otherwise, and not in the future (by the
	// local clock, allowing a minute of skew; Kinesis refuses a future
	// timestamp too). JSON: Unix seconds (a number, fractions allowed), or an
	// RFC 3339 string.
	// AWS: StartingPositionTimestamp.
	StartingPositionTimestamp time.Time

	// BisectBatchOnFunctionError splits a failed batch in two and retries
	// the halves (a split does not count as a retry). Default false. Kinesis
	// and DynamoDB Streams only.
	// AWS: BisectBatchOnFunctionError.
	BisectBatchOnFunctionError bool

	// MaximumRecordAge discards records older than this instead of
	// retrying them. 0 means the default, [Infinite]. Allowed: Infinite, or
	// 60s–604800s (7 days) in whole seconds. Kinesis and DynamoDB Streams
	// only.
	// AWS: MaximumRecordAgeInSeconds (−1 is Infinite).
	MaximumRecordAge time.Duration

	// MaximumRetryAttempts is how many times a failed batch is retried
	// before its records are discarded. nil means the default, −1
	// ([Infinite]: retry until the records expire). 0 means no retry; write
	// new(0), new(3) or new(esm.Infinite). Range −1–10000. Kinesis and
	// DynamoDB Streams only.
	// AWS: MaximumRetryAttempts.
	MaximumRetryAttempts *int

	// TumblingWindow is the length of the tumbling window whose state the
	// handler carries from batch to batch. Default 0 (no window). Range
	// 0–900s, whole seconds; ParallelizationFactor must then be 1. Kinesis
	// and DynamoDB Streams only, with NewKinesisWindowMapping or
	// NewDynamoDBWindowMapping (see "Tumbling windows" in the package
	// documentation).
	// AWS: TumblingWindowInSeconds.
	TumblingWindow time.Duration

	// FunctionResponseTypes lists the response types the handler may
	// return; the only one is [ReportBatchItemFailures] (partial batch
	// response). Default none: a response is ignored and an error fails the
	// whole batch. At most one item.
	// AWS: FunctionResponseTypes.
	FunctionResponseTypes []FunctionResponseType

	// DestinationConfig says where records discarded after failed retries
	// are reported. Kinesis and DynamoDB Streams: OnFailure only. SQS
	// mappings have no destinations (use the queue's redrive policy).
	// Default none.
	// AWS: DestinationConfig.
	DestinationConfig *DestinationConfig

	// FilterCriteria selects the records the handler sees. Default none
	// (every record). At most 5 filters.
	// AWS: FilterCriteria.
	FilterCriteria *FilterCriteria

	// ScalingConfig caps the concurrent handler calls of an SQS mapping.
	// Default none. SQS only.
	// AWS: ScalingConfig.
	ScalingConfig *ScalingConfig

	// MetricsConfig asks for event-count metrics. It is kept and validated;
	// this library always reports them through [Hooks], so it changes
	// nothing. Default none.
	// AWS: MetricsConfig.
	MetricsConfig *MetricsConfig
}

// DestinationConfig says where invocation records go.
// AWS: DestinationConfig.
type DestinationConfig struct {
	// OnSuccess is not supported by Kinesis, DynamoDB Streams or SQS
	// mappings; setting it is a violation, as in AWS.
	// AWS: DestinationConfig.OnSuccess.
	OnSuccess *Destination `json:"OnSuccess,omitempty"`
	// OnFailure receives a record describing each batch discarded after
	// its retries or record age ran out (stream mappings only).
	// AWS: DestinationConfig.OnFailure.
	OnFailure *Destination `json:"OnFailure,omitempty"`
}

// Destination is one destination of a [DestinationConfig].
// AWS: OnFailure / OnSuccess.
type Destination struct {
	// Destination is the ARN of an SQS queue, an SNS topic or an S3 bucket.
	// Empty means no destination.
	// AWS: Destination.
	Destination string `json:"Destination,omitempty"`
}

// FilterCriteria holds the event filters of a mapping.
// AWS: FilterCriteria.
type FilterCriteria struct {
	// Filters are OR'ed: a record passes if any filter matches. At most 5.
	// AWS: Filters.
	Filters []Filter `json:"Filters,omitempty"`
}

// Filter is one event filter.
// AWS: Filter.
type Filter struct {
	// Pattern is an EventBridge-style event pattern: a JSON object of at
	// most 4096 characters.
	// AWS: Pattern.
	Pattern string `json:"Pattern,omitempty"`
}

// ScalingConfig caps an SQS mapping's concurrency.
// AWS: ScalingConfig.
type ScalingConfig struct {
	// MaximumConcurrency is the largest number of handler calls in flight.
	// Range 2–1000; 0 means no cap.
	// AWS: MaximumConcurrency.
	MaximumConcurrency int `json:"MaximumConcurrency,omitempty"`
}

// MetricsConfig lists the metric groups a mapping produces.
// AWS: EventSourceMappingMetricsConfig.
type MetricsConfig struct {
	// Metrics may hold [MetricEventCount].
	// AWS: Metrics.
	Metrics []Metric `json:"Metrics,omitempty"`
}

// WithDefaults validates c and returns it with every default filled in for
// its source: BatchSize (100 for streams, 10 for SQS), FunctionTimeout (3s),
// Enabled (true), FunctionArn (from FunctionName, when set) and, for Kinesis
// and DynamoDB Streams, ParallelizationFactor (1), MaximumRetryAttempts (−1)
// and MaximumRecordAge ([Infinite]). Settings that do not apply to the source
// stay unset, so the result validates too. Pointer fields of the result are
// fresh: changing them does not change c. The error is a [*ConfigError].
func (c Config) WithDefaults() (Config, error) { return c.withDefaults(filter.DefaultMaxFilters) }

// withDefaults is WithDefaults with a filter quota (WithFilterQuota).
func (c Config) withDefaults(maxFilters int) (Config, error) {
	if err := c.validate(maxFilters); err != nil {
		return Config{}, err
	}
	src, _ := c.EventSource() // valid: Validate checked it
	d := c.clone()
	if d.FunctionTimeout == 0 {
		d.FunctionTimeout = defaultFunctionTimeout
	}
	if d.Enabled == nil {
		d.Enabled = new(true)
	}
	if d.FunctionArn == "" && d.FunctionName != "" {
		d.FunctionArn = src.FunctionARN(d.FunctionName)
	}
	if src.Kind == SQS {
		if d.BatchSize == 0 {
			d.BatchSize = defaultSQSBatchSize
		}
		return d, nil
	}
	if d.BatchSize == 0 {
		d.BatchSize = defaultStreamBatchSize
	}
	if d.ParallelizationFactor == 0 {
		d.ParallelizationFactor = defaultParallelization
	}
	if d.MaximumRetryAttempts == nil {
		d.MaximumRetryAttempts = new(Infinite)
	}
	if d.MaximumRecordAge == 0 {
		d.MaximumRecordAge = Infinite
	}
	return d, nil
}

// clone returns a deep copy of c: no pointer or slice is shared.
func (c Config) clone() Config {
	d := c
	d.Enabled = clonePtr(c.Enabled)
	d.MaximumRetryAttempts = clonePtr(c.MaximumRetryAttempts)
	d.FunctionResponseTypes = cloneSlice(c.FunctionResponseTypes)
	if c.DestinationConfig != nil {
		d.DestinationConfig = &DestinationConfig{
			OnSuccess: clonePtr(c.DestinationConfig.OnSuccess),
			OnFailure: clonePtr(c.DestinationConfig.OnFailure),
		}
	}
	if c.FilterCriteria != nil {
		d.FilterCriteria = &FilterCriteria{Filters: cloneSlice(c.FilterCriteria.Filters)}
	}
	d.ScalingConfig = clonePtr(c.ScalingConfig)
	if c.MetricsConfig != nil {
		d.MetricsConfig = &MetricsConfig{Metrics: cloneSlice(c.MetricsConfig.Metrics)}
	}
	return d
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return new(*p)
}

func cloneSlice[S ~[]E, E any](s S) S {
	if s == nil {
		return nil
	}
	return append(S{}, s...)
}

// IsEnabled reports whether the mapping polls: Enabled, or true when unset.
func (c Config) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// RetryAttempts returns MaximumRetryAttempts, or −1 ([Infinite]) when unset.
func (c Config) RetryAttempts() int {
	if c.MaximumRetryAttempts == nil {
		return Infinite
	}
	return *c.MaximumRetryAttempts
}

// RecordAgeLimit returns MaximumRecordAge, or [Infinite] when unset. Infinite
// as a time.Duration is -1ns: test for it with == Infinite (or < 0).
func (c Config) RecordAgeLimit() time.Duration {
	if c.MaximumRecordAge == 0 {
		return Infinite
	}
	return c.MaximumRecordAge
}

// ReportsBatchItemFailures reports whether FunctionResponseTypes holds
// [ReportBatchItemFailures], that is whether the handler's batchItemFailures
// are honoured.
func (c Config) ReportsBatchItemFailures() bool {
	for _, t := range c.FunctionResponseTypes {
		if t == ReportBatchItemFailures {
			return true
		}
	}
	return false
}

// OnFailureDestination returns the ARN of the on-failure destination, or ""
// when there is none.
func (c Config) OnFailureDestination() string {
	if c.DestinationConfig == nil || c.DestinationConfig.OnFailure == nil {
		return ""
	}
	return c.DestinationConfig.OnFailure.Destination
}

// FilterPatterns returns the filter patterns, nil when there are none.
func (c Config) FilterPatterns() []string {
	if c.FilterCriteria == nil {
		return nil
	}
	var ps []string
	for _, f := range c.FilterCriteria.Filters {
		ps = append(ps, f.Pattern)
	}
	return ps
}

// MaximumConcurrency returns ScalingConfig.MaximumConcurrency, or 0 (no cap)
// when unset.
func (c Config) MaximumConcurrency() int {
	if c.ScalingConfig == nil {
		return 0
	}
	return c.ScalingConfig.MaximumConcurrency
}
