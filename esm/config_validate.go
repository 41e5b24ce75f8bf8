package esm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/lambdaesm/lambdaesm/filter"
	"github.com/lambdaesm/lambdaesm/internal/limits"
)

// Violation is one broken rule of a [Config].
type Violation struct {
	// Field is the Go path of the field at fault, e.g. "BatchSize",
	// "DestinationConfig.OnFailure.Destination" or
	// "FilterCriteria.Filters[2].Pattern". For an unknown JSON key it is the
	// key as written.
	Field string
	// Value is the offending value as text: a number, a quoted string, a
	// duration in seconds ("301s"), or "(unset)".
	Value string
	// Rule says what is allowed, in AWS's own words where AWS has them.
	Rule string
}

// String returns "Field = Value: Rule".
func (v Violation) String() string { return v.Field + " = " + v.Value + ": " + v.Rule }

// ConfigError is the error of [Config.Validate], [Config.WithDefaults],
// [LoadConfig] and [Config.UnmarshalJSON]: every violated rule, in field
// order. Get it with errors.As.
type ConfigError struct {
	Violations []Violation
}

// Error lists the violations, one per line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("esm: invalid configuration:")
	for _, v := range e.Violations {
		b.WriteString("\n\t")
		b.WriteString(v.String())
	}
	return b.String()
}

// Fields returns the Field of each violation, in order.
func (e *ConfigError) Fields() []string {
	fs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		fs[i] = v.Field
	}
	return fs
}

// Limits of the settings (package internal/limits keeps them).
const (
	maxBatchSize          = limits.MaxBatchSize
	maxFIFOBatchSize      = limits.MaxFIFOBatchSize
	maxBatchingWindow     = limits.MaxBatchingWindow
	maxParallelization    = limits.MaxParallelization
	minRecordAge          = limits.MinRecordAge
	maxRecordAge          = limits.MaxRecordAge
	maxRetryAttempts      = limits.MaxRetryAttempts
	maxTumblingWindow     = limits.MaxTumblingWindow
	minMaximumConcurrency = limits.MinMaximumConcurrency
	maxMaximumConcurrency = limits.MaxMaximumConcurrency
	maxFunctionTimeout    = limits.MaxFunctionTimeout
)

// Rules shared by Validate and the JSON decoder.
const (
	ruleBatchSize     = "must be between 1 and 10000"
	ruleWindow        = "must be between 0s and 300s, in whole seconds"
	rulePF            = "must be between 1 and 10"
	ruleRecordAge     = "must be Infinite (-1) or between 60s and 604800s, in whole seconds"
	ruleRetries       = "must be between -1 (Infinite) and 10000"
	ruleTumbling      = "must be between 0s and 900s, in whole seconds"
	ruleConcurrency   = "must be between 2 and 1000"
	ruleTimeout       = "must be between 1s and 900s, in whole seconds"
	ruleDestination   = "Unsupported DestinationConfig parameter for given event source mapping type."
	ruleNullPosition  = "Value null at 'startingPosition' failed to satisfy constraint: Member must not be null"
	ruleSQSPosition   = "StartingPosition is not valid for SQS event sources."
	ruleNeedTimestamp = "Need to specify a timestamp (StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP)"
	ruleTimestampOnly = "Timestamp only valid with StartingPosition AT_TIMESTAMP"
	ruleFutureTime    = "must not be in the future (by this machine's clock, allowing 1m of skew)"
	// AWS's answer to a timestamp before 1970 (recorded, test_api.py).
	rulePreEpoch      = "Received Exception while reading from provided stream. class java.lang.Long can not be converted to a Timestamp"
	ruleNoSource      = "Unrecognized event source. (EventSourceArn is required, or QueueURL for an SQS queue.)"
	ruleWindowFor10   = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
	ruleFIFOWindow    = "Batching window is not supported for FIFO queues"
	ruleFIFOBatchSize = "must be between 1 and 10 for a FIFO queue"
	// AWS refuses a tumbling window with a ParallelizationFactor above 1;
	// its message was not recorded, so this one is ours.
	ruleWindowPF = "must be 1 with a TumblingWindow (a tumbling window's state is one per shard)"
)

// ruleEnumPosition is AWS's message for an unknown StartingPosition.
func ruleEnumPosition(pos StartingPosition) string {
	p := string(pos)
	if utf8.RuneCountInString(p) > 64 {
		p = string([]rune(p)[:61]) + "..."
	}
	return "Value '" + p + "' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
}

// clockSkew is how far in the future a StartingPositionTimestamp may be
// before it is refused: clocks of different machines disagree a little.
const clockSkew = time.Minute

// unset is the Value of a missing setting.
const unset = "(unset)"

// unsupported is AWS's message for a parameter that does not apply to the
// source, e.g. "Unsupported 'parallelizationFactor' parameter for given event
// source mapping type.", followed by where it applies.
func unsupported(awsParam, where string) string {
	return "Unsupported '" + awsParam + "' parameter for given event source mapping type. (" + where + " only)"
}

const streamsOnly = "Kinesis and DynamoDB Streams"

func quote(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		s = string([]rune(s)[:61]) + "..."
	}
	return strconv.Quote(s)
}

// seconds shows a duration as AWS would: "300s", "Infinite (-1)", or Go's
// form when it is not whole seconds.
func seconds(d time.Duration) string {
	switch {
	case d == Infinite:
		return "Infinite (-1)"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// wholeSecondsIn reports whether d is whole seconds within [min, max].
func wholeSecondsIn(d, min, max time.Duration) bool {
	return d%time.Second == 0 && d >= min && d <= max
}

// validator collects violations.
type validator struct{ vs []Violation }

func (v *validator) add(field, value, rule string) {
	v.vs = append(v.vs, Violation{field, value, rule})
}

// Validate checks c against Lambda's rules for its source and reports every
// violated rule at once, as a [*ConfigError]; nil when c is valid. Zero
// values mean "default" and are valid. Rules that depend on the source are
// skipped when EventSourceArn (or QueueURL) cannot be parsed.
func (c Config) Validate() error { return c.validate(filter.DefaultMaxFilters) }

// validate is Validate with a filter quota (WithFilterQuota).
func (c Config) validate(maxFilters int) error {
	if vs := c.violations(maxFilters); len(vs) > 0 {
		return &ConfigError{Violations: vs}
	}
	return nil
}

// violations lists every violated rule, in field order; maxFilters is the
// filter quota.
func (c Config) violations(maxFilters int) []Violation {
	src, vs := c.eventSource()
	v := &validator{vs: vs}
	c.validateFunction(v)
	c.validateBatching(v, src)
	c.validateStream(v, src.Kind)
	c.validateResponseTypes(v)
	c.validateDestinations(v, src.Kind)
	c.validateFilters(v, src.Kind, maxFilters)
	c.validateScaling(v, src.Kind)
	c.validateMetrics(v)
	return v.vs
}

func (c Config) validateFunction(v *validator) {
	if c.FunctionName != "" && !validFunctionName(c.FunctionName) {
		v.add("FunctionName", quote(c.FunctionName), "must be a function name (1 to 64 letters, digits, '-' or '_', optionally :<version or alias>), <account>:function:<name>, or a function ARN; at most 140 characters")
	}
	if c.FunctionArn != "" && !validFunctionARN(c.FunctionArn) {
		v.add("FunctionArn", quote(c.FunctionArn), "must be a Lambda function ARN: arn:aws:lambda:<region>:<account>:function:<name>")
	}
	if c.FunctionTimeout != 0 && !wholeSecondsIn(c.FunctionTimeout, time.Second, maxFunctionTimeout) {
		v.add("FunctionTimeout", seconds(c.FunctionTimeout), ruleTimeout)
	}
}

func (c Config) validateBatching(v *validator, src EventSource) {
	switch {
	case src.FIFO && (c.BatchSize < 0 || c.BatchSize > maxFIFOBatchSize):
		v.add("BatchSize", strconv.Itoa(c.BatchSize), ruleFIFOBatchSize)
	case c.BatchSize < 0 || c.BatchSize > maxBatchSize:
		v.add("BatchSize", strconv.Itoa(c.BatchSize), ruleBatchSize)
	}
	switch w := c.MaximumBatchingWindow; {
	case !wholeSecondsIn(w, 0, maxBatchingWindow):
		v.add("MaximumBatchingWindow", seconds(w), ruleWindow)
	case src.FIFO && w > 0:
		v.add("MaximumBatchingWindow", seconds(w), ruleFIFOWindow)
	case src.Kind == SQS && !src.FIFO && w == 0 && c.BatchSize > 10:
		// AWS documents this rule for streams too, but its own stream
		// default (BatchSize 100, no window) breaks it; Lambda enforces it
		// for SQS.
		v.add("MaximumBatchingWindow", seconds(w), ruleWindowFor10)
	}
	if c.ParallelizationFactor != 0 {
		switch {
		case src.Kind == SQS:
			v.add("ParallelizationFactor", strconv.Itoa(c.ParallelizationFactor), unsupported("parallelizationFactor", streamsOnly))
		case c.ParallelizationFactor < 1 || c.ParallelizationFactor > maxParallelization:
			v.add("ParallelizationFactor", strconv.Itoa(c.ParallelizationFactor), rulePF)
		case c.ParallelizationFactor > 1 && c.TumblingWindow > 0:
			v.add("ParallelizationFactor", strconv.Itoa(c.ParallelizationFactor), ruleWindowPF)
		}
	}
}

// validateStream checks the starting position and the stream-only error
// handling settings.
func (c Config) validateStream(v *validator, kind SourceKind) {
	pos := c.StartingPosition
	known := pos == TrimHorizon || pos == Latest || pos == AtTimestamp
	switch {
	case pos != "" && !known:
		// AWS checks the enum before the source, for SQS too.
		v.add("StartingPosition", quote(string(pos)), ruleEnumPosition(pos))
	case kind == SQS && pos != "":
		v.add("StartingPosition", quote(string(pos)), ruleSQSPosition)
	case kind.IsStream() && pos == "":
		v.add("StartingPosition", unset, ruleNullPosition)
	case kind == DynamoDBStreams && pos == AtTimestamp:
		v.add("StartingPosition", quote(string(pos)), "Unsupported starting position for arn type: "+c.EventSourceArn+" (AT_TIMESTAMP is Kinesis only)")
	}
	switch ts := c.StartingPositionTimestamp; {
	case pos == AtTimestamp && ts.IsZero() && (kind == Kinesis || kind == 0):
		v.add("StartingPositionTimestamp", unset, ruleNeedTimestamp)
	case pos != AtTimestamp && !ts.IsZero():
		v.add("StartingPositionTimestamp", ts.UTC().Format(time.RFC3339Nano), ruleTimestampOnly)
	case pos == AtTimestamp && (kind == Kinesis || kind == 0):
		if ts.Before(time.Unix(0, 0)) {
			v.add("StartingPositionTimestamp", ts.UTC().Format(time.RFC3339Nano), rulePreEpoch)
		}
		if ts.After(time.Now().Add(clockSkew)) {
			// Kinesis refuses it too: GetShardIterator answers "The
			// timestampInMillis parameter cannot be greater than the
			// currentTimestampInMillis."
			v.add("StartingPositionTimestamp", ts.UTC().Format(time.RFC3339Nano), ruleFutureTime)
		}
	}

	if kind == SQS {
		if c.BisectBatchOnFunctionError {
			v.add("BisectBatchOnFunctionError", "true", unsupported("bisectBatchOnFunctionError", streamsOnly))
		}
		if c.MaximumRecordAge != 0 {
			v.add("MaximumRecordAge", seconds(c.MaximumRecordAge), unsupported("maximumRecordAgeInSeconds", streamsOnly))
		}
		if c.MaximumRetryAttempts != nil {
			v.add("MaximumRetryAttempts", strconv.Itoa(*c.MaximumRetryAttempts), unsupported("maximumRetryAttempts", streamsOnly))
		}
		if c.TumblingWindow != 0 {
			v.add("TumblingWindow", seconds(c.TumblingWindow), unsupported("tumblingWindowInSeconds", streamsOnly))
		}
		return
	}
	if age := c.MaximumRecordAge; age != 0 && age != Infinite && !wholeSecondsIn(age, minRecordAge, maxRecordAge) {
		rule := ruleRecordAge
		if age == -time.Second {
			rule += "; for -1 write esm.Infinite, not -1s"
		}
		v.add("MaximumRecordAge", seconds(age), rule)
	}
	if n := c.MaximumRetryAttempts; n != nil && (*n < Infinite || *n > maxRetryAttempts) {
		v.add("MaximumRetryAttempts", strconv.Itoa(*n), ruleRetries)
	}
	if !wholeSecondsIn(c.TumblingWindow, 0, maxTumblingWindow) {
		v.add("TumblingWindow", seconds(c.TumblingWindow), ruleTumbling)
	}
}

func (c Config) validateResponseTypes(v *validator) {
	if len(c.FunctionResponseTypes) > 1 {
		v.add("FunctionResponseTypes", strconv.Itoa(len(c.FunctionResponseTypes))+" items", "must have at most 1 item")
	}
	for i, t := range c.FunctionResponseTypes {
		if t != ReportBatchItemFailures {
			v.add(fmt.Sprintf("FunctionResponseTypes[%d]", i), quote(string(t)), "must be ReportBatchItemFailures")
		}
	}
}

func (c Config) validateDestinations(v *validator, kind SourceKind) {
	dc := c.DestinationConfig
	if dc == nil {
		return
	}
	if d := dc.OnSuccess; d != nil && d.Destination != "" {
		// Lambda has OnSuccess for asynchronous invocations and Kafka
		// mappings only.
		v.add("DestinationConfig.OnSuccess", quote(d.Destination), ruleDestination)
	}
	d := dc.OnFailure
	switch {
	case d == nil || d.Destination == "":
	case kind == SQS:
		v.add("DestinationConfig.OnFailure", quote(d.Destination), ruleDestination+" (SQS mappings have none: use the queue's redrive policy)")
	default:
		if err := checkFailureDestination(d.Destination); err != nil {
			v.add("DestinationConfig.OnFailure.Destination", quote(d.Destination), err.Error())
		}
	}
}

// validateFilters checks FilterCriteria as Lambda does, with package
// filter's compiler: AWS's "Invalid filter pattern definition." and a
// precise reason for each pattern, and the quota on their number.
func (c Config) validateFilters(v *validator, kind SourceKind, maxFilters int) {
	if c.FilterCriteria == nil {
		return
	}
	fs := c.FilterCriteria.Filters
	if len(fs) > maxFilters {
		v.add("FilterCriteria.Filters", strconv.Itoa(len(fs))+" filters",
			fmt.Sprintf("must have at most %d filters (the Filters per event source mapping quota)", maxFilters))
	}
	opts := []filter.Option{filter.WithMaxFilters(filter.MaxFiltersLimit), filter.WithSource(filterSource(kind))}
	for i, f := range fs {
		field := fmt.Sprintf("FilterCriteria.Filters[%d].Pattern", i)
		if _, err := filter.Compile([]string{f.Pattern}, opts...); err != nil {
			var pe *filter.PatternError
			if errors.As(err, &pe) {
				pe.Index = -1 // the field already says which filter
				err = pe
			}
			v.add(field, quote(f.Pattern), err.Error())
		}
	}
}

// filterSource is the filter package's name for a source kind.
func filterSource(k SourceKind) filter.Source {
	switch k {
	case Kinesis:
		return filter.SourceKinesis
	case DynamoDBStreams:
		return filter.SourceDynamoDB
	case SQS:
		return filter.SourceSQS
	}
	return filter.AnySource
}

func (c Config) validateScaling(v *validator, kind SourceKind) {
	sc := c.ScalingConfig
	switch {
	case sc == nil:
	case kind.IsStream():
		v.add("ScalingConfig", fmt.Sprintf("{MaximumConcurrency: %d}", sc.MaximumConcurrency), unsupported("scalingConfig", "SQS"))
	case sc.MaximumConcurrency != 0 && (sc.MaximumConcurrency < minMaximumConcurrency || sc.MaximumConcurrency > maxMaximumConcurrency):
		v.add("ScalingConfig.MaximumConcurrency", strconv.Itoa(sc.MaximumConcurrency), ruleConcurrency)
	}
}

func (c Config) validateMetrics(v *validator) {
	if c.MetricsConfig == nil {
		return
	}
	for i, m := range c.MetricsConfig.Metrics {
		if m != MetricEventCount {
			v.add(fmt.Sprintf("MetricsConfig.Metrics[%d]", i), quote(string(m)), "must be EventCount (ErrorCount and KafkaMetrics are for Kafka sources)")
		}
	}
}

// validFunctionName applies Lambda's FunctionName rule: a name, a partial
// ARN (<account>:function:<name>) or a function ARN, each optionally with a
// version or alias; at most 140 characters.
func validFunctionName(s string) bool {
	if len(s) > 140 {
		return false
	}
	if strings.HasPrefix(s, "arn:") {
		return validFunctionARN(s)
	}
	if acct, rest, ok := strings.Cut(s, ":function:"); ok {
		if !validAccount(acct) {
			return false
		}
		s = rest
	}
	return validFunctionResource("function:" + s)
}

// validFunctionARN reports whether s is a Lambda function ARN, qualified or
// not.
func validFunctionARN(s string) bool {
	a, err := parseARN(s)
	return err == nil && a.Service == "lambda" && validFunctionResource(a.Resource)
}

// validFunctionResource checks the resource of a function ARN:
// function:<name>[:<version or alias>].
func validFunctionResource(res string) bool {
	parts := strings.Split(res, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "function" || !validName(parts[1], 1, 64, "") {
		return false
	}
	return len(parts) == 2 || parts[2] == "$LATEST" || validName(parts[2], 1, 128, "")
}

// checkFailureDestination accepts the ARN of an SQS queue, an SNS topic or an
// S3 bucket.
func checkFailureDestination(s string) error {
	const rule = "must be the ARN of an SQS queue, an SNS topic or an S3 bucket"
	if strings.HasPrefix(s, "arn:") {
		if a, err := arn.Parse(s); err == nil && a.Service == "s3" {
			if partitions[a.Partition] && a.Region == "" && a.AccountID == "" && validBucket(a.Resource) {
				return nil
			}
			return fmt.Errorf("%s (an S3 bucket ARN is arn:aws:s3:::<bucket>)", rule)
		}
	}
	a, err := parseARN(s)
	if err != nil {
		return fmt.Errorf("%s: %w", rule, err)
	}
	switch a.Service {
	case "sqs":
		if err := checkQueueName(a.Resource); err != nil {
			return fmt.Errorf("%s: %w", rule, err)
		}
	case "sns":
		if !validName(strings.TrimSuffix(a.Resource, ".fifo"), 1, 256, "") {
			return fmt.Errorf("%s: topic name %q: want 1 to 256 letters, digits, '-' or '_'", rule, a.Resource)
		}
	default:
		return fmt.Errorf("%s, not %s", rule, a.Service)
	}
	return nil
}

// validBucket applies S3's bucket naming rule, loosely: 3 to 63 lower-case
// letters, digits, '.' and '-'.
func validBucket(s string) bool {
	return len(s) >= 3 && len(s) <= 63 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == ""
}
