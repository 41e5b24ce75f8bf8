package esm

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
)

// updateKeys are the request fields of UpdateEventSourceMapping that a
// mapping here has (and this library's FunctionTimeoutInSeconds).
var updateKeys = map[string]bool{
	"FunctionName": true, "Enabled": true, "BatchSize": true, "MaximumBatchingWindowInSeconds": true,
	"ParallelizationFactor": true, "BisectBatchOnFunctionError": true, "MaximumRecordAgeInSeconds": true,
	"MaximumRetryAttempts": true, "TumblingWindowInSeconds": true, "FunctionResponseTypes": true,
	"DestinationConfig": true, "FilterCriteria": true, "ScalingConfig": true, "MetricsConfig": true,
	"FunctionTimeoutInSeconds": true,
}

// updateIgnored are the request fields of UpdateEventSourceMapping for
// sources and features this library does not have (Kafka, Amazon MQ,
// DocumentDB, provisioned pollers, KMS, logging): accepted and ignored, as
// LoadConfig ignores them.
var updateIgnored = map[string]bool{
	"SourceAccessConfigurations": true, "AmazonManagedKafkaEventSourceConfig": true,
	"SelfManagedKafkaEventSourceConfig": true, "DocumentDBEventSourceConfig": true, "KMSKeyArn": true,
	"ProvisionedPollerConfig": true, "LoggingConfig": true, "UUID": true,
}

// updateFixed are fields a mapping has that an update cannot change.
var updateFixed = map[string]string{
	"EventSourceArn":            "EventSourceArn cannot be updated: create a new event source mapping for another source.",
	"QueueURL":                  "EventSourceArn cannot be updated: create a new event source mapping for another source.",
	"StartingPosition":          "StartingPosition cannot be updated: the mapping resumes from its checkpoints; create a new event source mapping to start elsewhere.",
	"StartingPositionTimestamp": "StartingPosition cannot be updated: the mapping resumes from its checkpoints; create a new event source mapping to start elsewhere.",
}

// ApplyUpdateJSON applies the JSON body of an UpdateEventSourceMapping
// request to c, as Lambda does: each field present replaces c's (a null
// restores the default), absent fields are kept; an empty list of
// FunctionResponseTypes, FilterCriteria {} and DestinationConfig
// {"OnFailure": {}} remove what they held. Field names and units are AWS's
// (see [Config.UnmarshalJSON]). The result is validated. Errors are
// [*APIError]s: a body that is not a JSON object, an unknown field, a field
// that cannot change (EventSourceArn, StartingPosition,
// StartingPositionTimestamp), an invalid result. Use it as the change of
// [Registry.Update]:
//
//	reg.Update(ctx, uuid, func(c *esm.Config) (err error) { *c, err = esm.ApplyUpdateJSON(*c, body); return err })
func ApplyUpdateJSON(c Config, body []byte) (Config, error) {
	var patch map[string]json.RawMessage
	if t := bytes.TrimSpace(body); len(t) > 0 {
		if err := json.Unmarshal(t, &patch); err != nil {
			return Config{}, errInvalid("The request body is not a JSON object: %v", err)
		}
	}
	base, err := c.MarshalJSON()
	if err != nil {
		return Config{}, configAPIError(err)
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return Config{}, errService(err, "%v", err)
	}
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		switch {
		case updateFixed[k] != "":
			var old any
			if raw, ok := merged[k]; ok {
				_ = json.Unmarshal(raw, &old)
			}
			var now any
			_ = json.Unmarshal(patch[k], &now)
			if !sameJSON(old, now) { // the same value again is no change
				return Config{}, errInvalid("%s", updateFixed[k])
			}
		case updateKeys[k]:
			merged[k] = patch[k]
		case updateIgnored[k]:
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return Config{}, errInvalid("Unknown parameter in the request: %s (UpdateEventSourceMapping takes %s)",
			strings.Join(unknown, ", "), strings.Join(slices.Sorted(maps.Keys(updateKeys)), ", "))
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return Config{}, errService(err, "%v", err)
	}
	next, err := ParseConfig(data)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return Config{}, configAPIError(err)
		}
		return Config{}, errInvalid("%s", strings.TrimPrefix(err.Error(), "esm: "))
	}
	return next, nil
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
