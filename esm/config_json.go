package esm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambdaesm/lambdaesm/filter"
)

// maxConfigSize bounds what [LoadConfig] reads.
const maxConfigSize = 1 << 20

// LoadConfig reads the JSON of a CreateEventSourceMapping request (see
// [Config.UnmarshalJSON]) and validates it. The error is a [*ConfigError]
// listing every problem, of decoding and of [Config.Validate], unless the
// input is not a JSON object at all. Defaults are not filled in (see
// [Config.WithDefaults]).
func LoadConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("esm: reading configuration: %w", err)
	}
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("esm: configuration larger than %d bytes", maxConfigSize)
	}
	return ParseConfig(data)
}

// ParseConfig is [LoadConfig] for a byte slice.
func ParseConfig(data []byte) (Config, error) {
	c, vs, err := decodeConfig(data)
	if err != nil {
		return Config{}, err
	}
	for _, v := range c.violations(filter.DefaultMaxFilters) {
		// A field that did not decode is zero: do not blame it twice.
		if !slices.ContainsFunc(vs, func(failed Violation) bool { return within(v.Field, failed.Field) }) {
			vs = append(vs, v)
		}
	}
	if len(vs) > 0 {
		return Config{}, &ConfigError{Violations: vs}
	}
	return c, nil
}

// within reports whether field is path or inside it (path.X, path[i]).
func within(field, path string) bool {
	rest, ok := strings.CutPrefix(field, path)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// UnmarshalJSON reads the JSON of a CreateEventSourceMapping request, with
// AWS's field names and units: BatchSize, MaximumBatchingWindowInSeconds,
// StartingPositionTimestamp (Unix seconds, or an RFC 3339 string; a string
// without zone is UTC), MaximumRecordAgeInSeconds (-1 is [Infinite]),
// TumblingWindowInSeconds, and so on, and this library's FunctionTimeoutInSeconds,
// FunctionArn and QueueURL. The output of `aws lambda get-event-source-mapping`
// loads too. Field names are case-sensitive, as in AWS.
//
// Request and response fields that do not apply to Kinesis, DynamoDB Streams
// or SQS mappings run in process are ignored: Tags, KMSKeyArn, Topics, Queues,
// SourceAccessConfigurations, SelfManagedEventSource, the Kafka and DocumentDB
// configurations, ProvisionedPollerConfig (SQS provisioned mode), LoggingConfig,
// and the read-only UUID, EventSourceMappingArn, State, StateTransitionReason,
// LastModified, LastProcessingResult and FilterCriteriaError. Any other key
// is an error, as is a value of the wrong JSON type, or 0 where AWS's minimum
// is above 0 (BatchSize, ParallelizationFactor, MaximumRecordAgeInSeconds,
// MaximumConcurrency; omit the field for the default). Rules are not checked
// here: see [LoadConfig] and [Config.Validate]. The error is a [*ConfigError]
// listing every problem; on error c is unchanged.
func (c *Config) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil // as encoding/json does for null
	}
	d, vs, err := decodeConfig(data)
	if err != nil {
		return err
	}
	if len(vs) > 0 {
		return &ConfigError{Violations: vs}
	}
	*c = d
	return nil
}

// ignoredKeys are the CreateEventSourceMapping request fields and
// EventSourceMappingConfiguration response fields that do not apply here.
var ignoredKeys = map[string]bool{
	"Tags": true, "KMSKeyArn": true, "Topics": true, "Queues": true,
	"SourceAccessConfigurations": true, "SelfManagedEventSource": true,
	"AmazonManagedKafkaEventSourceConfig": true, "SelfManagedKafkaEventSourceConfig": true,
	"DocumentDBEventSourceConfig": true, "ProvisionedPollerConfig": true, "LoggingConfig": true,
	"UUID": true, "EventSourceMappingArn": true, "State": true, "StateTransitionReason": true,
	"LastModified": true, "LastProcessingResult": true, "FilterCriteriaError": true,
}

// decoder turns JSON into a Config, collecting a violation per bad field.
type decoder struct{ vs []Violation }

func (d *decoder) add(field, value, rule string) {
	d.vs = append(d.vs, Violation{field, value, rule})
}

// fields maps JSON keys to the function that decodes the value.
type fields map[string]func(raw json.RawMessage)

// object decodes raw as a JSON object (null is fine: nothing to do), calling
// fs for each known key in key order. path prefixes the Field of unknown keys.
func (d *decoder) object(path string, raw json.RawMessage, fs fields, ignored map[string]bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		d.add(strings.TrimSuffix(path, "."), shortJSON(raw), "must be a JSON object")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch set, ok := fs[k]; {
		case ok:
			set(m[k])
		case ignored[k]:
		default:
			rule := "unknown field"
			for known := range fs {
				if strings.EqualFold(k, known) {
					rule += "; field names are case-sensitive: " + path + known
				}
			}
			d.add(path+k, shortJSON(m[k]), rule)
		}
	}
}

// value decodes raw into dst (a pointer); want names the JSON type for the
// violation. JSON null leaves dst unchanged.
func (d *decoder) value(field string, raw json.RawMessage, dst any, want string) bool {
	if err := json.Unmarshal(raw, dst); err != nil {
		d.add(field, shortJSON(raw), "must be "+want)
		return false
	}
	return true
}

// positive decodes an integer that AWS requires to be at least 1 (or 2) into
// dst; an explicit 0 is a violation, since 0 means "default" in Go.
func (d *decoder) positive(field string, raw json.RawMessage, dst *int, rule string) {
	var n *int
	if !d.value(field, raw, &n, "an integer") || n == nil {
		return
	}
	if *n == 0 {
		d.add(field, "0", rule+" (omit the field for the default)")
		return
	}
	*dst = *n
}

// maxJSONSeconds keeps second counts far from time.Duration's overflow.
const maxJSONSeconds = 1 << 32

// seconds decodes a whole number of seconds into dst. With zeroInvalid, an
// explicit 0 is a violation; with infinite, -1 decodes to [Infinite].
func (d *decoder) seconds(field string, raw json.RawMessage, dst *time.Duration, rule string, zeroInvalid, infinite bool) {
	var n *int64
	switch {
	case !d.value(field, raw, &n, "a whole number of seconds") || n == nil:
	case *n == 0 && zeroInvalid:
		d.add(field, "0s", rule+" (omit the field for the default)")
	case *n == -1 && infinite:
		*dst = Infinite
	case *n > maxJSONSeconds || *n < -maxJSONSeconds:
		d.add(field, strconv.FormatInt(*n, 10)+"s", rule)
	default:
		*dst = time.Duration(*n) * time.Second
	}
}

// decodeConfig decodes data. err is set only when data is not a JSON value;
// every other problem is a violation.
func decodeConfig(data []byte) (Config, []Violation, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v) // says where the syntax breaks
		return Config{}, nil, fmt.Errorf("esm: configuration is not valid JSON: %w", err)
	}
	if t := bytes.TrimSpace(data); t[0] != '{' && !isNull(t) {
		return Config{}, nil, errors.New("esm: configuration must be a JSON object")
	}
	var c Config
	d := &decoder{}
	d.object("", data, fields{
		"EventSourceArn": func(r json.RawMessage) { d.value("EventSourceArn", r, &c.EventSourceArn, "a string") },
		"QueueURL":       func(r json.RawMessage) { d.value("QueueURL", r, &c.QueueURL, "a string") },
		"FunctionName":   func(r json.RawMessage) { d.value("FunctionName", r, &c.FunctionName, "a string") },
		"FunctionArn":    func(r json.RawMessage) { d.value("FunctionArn", r, &c.FunctionArn, "a string") },
		"FunctionTimeoutInSeconds": func(r json.RawMessage) {
			d.seconds("FunctionTimeout", r, &c.FunctionTimeout, ruleTimeout, true, false)
		},
		"Enabled":   func(r json.RawMessage) { d.value("Enabled", r, &c.Enabled, "true or false") },
		"BatchSize": func(r json.RawMessage) { d.positive("BatchSize", r, &c.BatchSize, ruleBatchSize) },
		"MaximumBatchingWindowInSeconds": func(r json.RawMessage) {
			d.seconds("MaximumBatchingWindow", r, &c.MaximumBatchingWindow, ruleWindow, false, false)
		},
		"ParallelizationFactor": func(r json.RawMessage) {
			d.positive("ParallelizationFactor", r, &c.ParallelizationFactor, rulePF)
		},
		"StartingPosition": func(r json.RawMessage) {
			d.value("StartingPosition", r, &c.StartingPosition, "a string")
		},
		"StartingPositionTimestamp": func(r json.RawMessage) { d.timestamp(r, &c.StartingPositionTimestamp) },
		"BisectBatchOnFunctionError": func(r json.RawMessage) {
			d.value("BisectBatchOnFunctionError", r, &c.BisectBatchOnFunctionError, "true or false")
		},
		"MaximumRecordAgeInSeconds": func(r json.RawMessage) {
			d.seconds("MaximumRecordAge", r, &c.MaximumRecordAge, ruleRecordAge, true, true)
		},
		"MaximumRetryAttempts": func(r json.RawMessage) {
			d.value("MaximumRetryAttempts", r, &c.MaximumRetryAttempts, "an integer")
		},
		"TumblingWindowInSeconds": func(r json.RawMessage) {
			d.seconds("TumblingWindow", r, &c.TumblingWindow, ruleTumbling, false, false)
		},
		"FunctionResponseTypes": func(r json.RawMessage) {
			d.value("FunctionResponseTypes", r, &c.FunctionResponseTypes, "a list of strings")
			c.FunctionResponseTypes = nilIfEmpty(c.FunctionResponseTypes)
		},
		"DestinationConfig": func(r json.RawMessage) { c.DestinationConfig = d.destinationConfig(r) },
		"FilterCriteria":    func(r json.RawMessage) { c.FilterCriteria = d.filterCriteria(r) },
		"ScalingConfig":     func(r json.RawMessage) { c.ScalingConfig = d.scalingConfig(r) },
		"MetricsConfig":     func(r json.RawMessage) { c.MetricsConfig = d.metricsConfig(r) },
	}, ignoredKeys)
	return c, d.vs, nil
}

// nilIfEmpty makes an empty JSON list nil, as an absent one, so that a
// loaded Config compares equal after a round trip.
func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// nested decodes an optional object at path: nil for null, else a new T
// whose fields fs decodes.
func nested[T any](d *decoder, path string, raw json.RawMessage, fs func(t *T) fields) *T {
	if isNull(raw) {
		return nil
	}
	t := new(T)
	d.object(path+".", raw, fs(t), nil)
	return t
}

func (d *decoder) destinationConfig(raw json.RawMessage) *DestinationConfig {
	return nested(d, "DestinationConfig", raw, func(dc *DestinationConfig) fields {
		return fields{
			"OnSuccess": func(r json.RawMessage) { dc.OnSuccess = d.destination("DestinationConfig.OnSuccess", r) },
			"OnFailure": func(r json.RawMessage) { dc.OnFailure = d.destination("DestinationConfig.OnFailure", r) },
		}
	})
}

func (d *decoder) destination(path string, raw json.RawMessage) *Destination {
	return nested(d, path, raw, func(dst *Destination) fields {
		return fields{
			"Destination": func(r json.RawMessage) { d.value(path+".Destination", r, &dst.Destination, "a string") },
		}
	})
}

func (d *decoder) filterCriteria(raw json.RawMessage) *FilterCriteria {
	return nested(d, "FilterCriteria", raw, func(fc *FilterCriteria) fields {
		return fields{"Filters": func(r json.RawMessage) {
			var items []json.RawMessage
			if !d.value("FilterCriteria.Filters", r, &items, "a list of objects") || len(items) == 0 {
				return
			}
			fc.Filters = make([]Filter, len(items))
			for i, item := range items {
				path := fmt.Sprintf("FilterCriteria.Filters[%d]", i)
				d.object(path+".", item, fields{
					"Pattern": func(r json.RawMessage) { d.value(path+".Pattern", r, &fc.Filters[i].Pattern, "a string") },
				}, nil)
			}
		}}
	})
}

func (d *decoder) scalingConfig(raw json.RawMessage) *ScalingConfig {
	return nested(d, "ScalingConfig", raw, func(sc *ScalingConfig) fields {
		return fields{"MaximumConcurrency": func(r json.RawMessage) {
			d.positive("ScalingConfig.MaximumConcurrency", r, &sc.MaximumConcurrency, ruleConcurrency)
		}}
	})
}

func (d *decoder) metricsConfig(raw json.RawMessage) *MetricsConfig {
	return nested(d, "MetricsConfig", raw, func(mc *MetricsConfig) fields {
		return fields{"Metrics": func(r json.RawMessage) {
			d.value("MetricsConfig.Metrics", r, &mc.Metrics, "a list of strings")
			mc.Metrics = nilIfEmpty(mc.Metrics)
		}}
	})
}

// Timestamps must stay within what RFC 3339 can write.
var (
	minTimestamp = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// timestamp decodes StartingPositionTimestamp: Unix seconds as a JSON number
// (fractions kept to the nanosecond), or a string in RFC 3339 or, as the AWS
// CLI's skeleton writes it, without zone (UTC).
func (d *decoder) timestamp(raw json.RawMessage, dst *time.Time) {
	const field, rule = "StartingPositionTimestamp", "must be Unix seconds (a number) or an RFC 3339 time (a string)"
	raw = bytes.TrimSpace(raw)
	var t time.Time
	var err error
	switch {
	case isNull(raw):
		return
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err = json.Unmarshal(raw, &s); err == nil {
			t, err = parseTimeString(s)
		}
	default:
		t, err = parseUnixSeconds(string(raw))
	}
	if err != nil || t.Before(minTimestamp) || t.After(maxTimestamp) {
		d.add(field, shortJSON(raw), rule)
		return
	}
	*dst = t
}

func parseTimeString(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", s)
}

// parseUnixSeconds parses a JSON number of seconds since the Unix epoch,
// exactly when written without exponent.
func parseUnixSeconds(s string) (time.Time, error) {
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(f) > 1e12 {
			return time.Time{}, errors.New("out of range")
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64(math.Round((f-sec)*1e9))).UTC(), nil
	}
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > 1e12 {
		return time.Time{}, errors.New("out of range")
	}
	var nsec int64
	if frac != "" {
		digits := (frac + "000000000")[:9] // finer than a nanosecond is cut
		if nsec, err = strconv.ParseInt(digits, 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// formatUnixSeconds writes t as Unix seconds with up to nine decimals.
func formatUnixSeconds(t time.Time) string {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	sign := ""
	if sec < 0 && nsec > 0 { // t = sec + nsec: write -(|sec+1| + (1e9-nsec))
		sign, sec, nsec = "-", sec+1, 1e9-nsec
	}
	s := sign + strconv.FormatInt(sec, 10)
	if sign != "" && sec == 0 {
		s = "-0"
	}
	if nsec > 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", nsec), "0")
	}
	return s
}

// shortJSON shows a JSON value in a violation, cut to a readable length.
func shortJSON(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return s
}

// configJSON is the wire form written by MarshalJSON.
type configJSON struct {
	EventSourceArn                 string                 `json:"EventSourceArn,omitempty"`
	QueueURL                       string                 `json:"QueueURL,omitempty"`
	FunctionName                   string                 `json:"FunctionName,omitempty"`
	FunctionArn                    string                 `json:"FunctionArn,omitempty"`
	FunctionTimeoutInSeconds       int64                  `json:"FunctionTimeoutInSeconds,omitempty"`
	Enabled                        *bool                  `json:"Enabled,omitempty"`
	BatchSize                      int                    `json:"BatchSize,omitempty"`
	MaximumBatchingWindowInSeconds int64                  `json:"MaximumBatchingWindowInSeconds,omitempty"`
	ParallelizationFactor          int                    `json:"ParallelizationFactor,omitempty"`
	StartingPosition               StartingPosition       `json:"StartingPosition,omitempty"`
	StartingPositionTimestamp      json.Number            `json:"StartingPositionTimestamp,omitempty"`
	BisectBatchOnFunctionError     bool                   `json:"BisectBatchOnFunctionError,omitempty"`
	MaximumRecordAgeInSeconds      int64                  `json:"MaximumRecordAgeInSeconds,omitempty"`
	MaximumRetryAttempts           *int                   `json:"MaximumRetryAttempts,omitempty"`
	TumblingWindowInSeconds        int64                  `json:"TumblingWindowInSeconds,omitempty"`
	FunctionResponseTypes          []FunctionResponseType `json:"FunctionResponseTypes,omitempty"`
	DestinationConfig              *DestinationConfig     `json:"DestinationConfig,omitempty"`
	FilterCriteria                 *FilterCriteria        `json:"FilterCriteria,omitempty"`
	ScalingConfig                  *ScalingConfig         `json:"ScalingConfig,omitempty"`
	MetricsConfig                  *MetricsConfig         `json:"MetricsConfig,omitempty"`
}

// MarshalJSON writes c with AWS's field names and units, as
// [Config.UnmarshalJSON] reads it, leaving out unset fields. A duration that
// is not whole seconds cannot be written and is an error.
func (c Config) MarshalJSON() ([]byte, error) {
	var bad []Violation
	secs := func(field string, d time.Duration) int64 {
		if d == Infinite && field == "MaximumRecordAge" {
			return -1
		}
		if d%time.Second != 0 {
			bad = append(bad, Violation{field, seconds(d), "cannot be written as whole seconds"})
		}
		return int64(d / time.Second)
	}
	w := configJSON{
		EventSourceArn:                 c.EventSourceArn,
		QueueURL:                       c.QueueURL,
		FunctionName:                   c.FunctionName,
		FunctionArn:                    c.FunctionArn,
		FunctionTimeoutInSeconds:       secs("FunctionTimeout", c.FunctionTimeout),
		Enabled:                        c.Enabled,
		BatchSize:                      c.BatchSize,
		MaximumBatchingWindowInSeconds: secs("MaximumBatchingWindow", c.MaximumBatchingWindow),
		ParallelizationFactor:          c.ParallelizationFactor,
		StartingPosition:               c.StartingPosition,
		BisectBatchOnFunctionError:     c.BisectBatchOnFunctionError,
		MaximumRecordAgeInSeconds:      secs("MaximumRecordAge", c.MaximumRecordAge),
		MaximumRetryAttempts:           c.MaximumRetryAttempts,
		TumblingWindowInSeconds:        secs("TumblingWindow", c.TumblingWindow),
		FunctionResponseTypes:          c.FunctionResponseTypes,
		DestinationConfig:              c.DestinationConfig,
		FilterCriteria:                 c.FilterCriteria,
		ScalingConfig:                  c.ScalingConfig,
		MetricsConfig:                  c.MetricsConfig,
	}
	if len(bad) > 0 {
		return nil, &ConfigError{Violations: bad}
	}
	if !c.StartingPositionTimestamp.IsZero() {
		w.StartingPositionTimestamp = json.Number(formatUnixSeconds(c.StartingPositionTimestamp))
	}
	return json.Marshal(w)
}
