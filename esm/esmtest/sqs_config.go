package esmtest

import (
	"encoding/json"
	"maps"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sqsQueueConfig is a queue's attributes: values holds them as the service
// reports them, the other fields are parsed from it.
type sqsQueueConfig struct {
	values       map[string]string
	fifo         bool
	contentDedup bool
	groupDedup   bool // DeduplicationScope=messageGroup
	visibility   time.Duration
	delay        time.Duration
	retention    time.Duration
	maxSize      int
	wait         time.Duration
	redrive      *sqsRedrive
}

// sqsRedrive is a parsed RedrivePolicy.
type sqsRedrive struct {
	target     string // dead-letter queue ARN
	maxReceive int
}

// sqsIntAttributes lists the numeric queue attributes with their ranges.
var sqsIntAttributes = map[string][2]int{
	"VisibilityTimeout":             {0, 43200},
	"DelaySeconds":                  {0, 900},
	"MessageRetentionPeriod":        {60, 1209600},
	"MaximumMessageSize":            {1024, 1048576},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"KmsDataKeyReusePeriodSeconds":  {60, 86400},
}

// sqsOtherAttributes lists the settable attributes that are not numbers.
var sqsOtherAttributes = map[string]bool{
	"RedrivePolicy":             true,
	"RedriveAllowPolicy":        true,
	"Policy":                    true,
	"KmsMasterKeyId":            true,
	"SqsManagedSseEnabled":      true,
	"FifoQueue":                 true,
	"ContentBasedDeduplication": true,
	"DeduplicationScope":        true,
	"FifoThroughputLimit":       true,
}

// sqsReadOnlyAttributes lists attributes GetQueueAttributes reports but no
// call sets.
var sqsReadOnlyAttributes = map[string]bool{
	"ApproximateNumberOfMessages":           true,
	"ApproximateNumberOfMessagesNotVisible": true,
	"ApproximateNumberOfMessagesDelayed":    true,
	"CreatedTimestamp":                      true,
	"LastModifiedTimestamp":                 true,
	"QueueArn":                              true,
}

func sqsKnownAttribute(n string) bool {
	_, num := sqsIntAttributes[n]
	return num || sqsOtherAttributes[n] || sqsReadOnlyAttributes[n]
}

// sqsDefaultConfig is the configuration of a new queue without attributes.
func sqsDefaultConfig(fifo bool) sqsQueueConfig {
	v := map[string]string{
		"VisibilityTimeout":             "30",
		"DelaySeconds":                  "0",
		"MessageRetentionPeriod":        "345600",
		"MaximumMessageSize":            "1048576",
		"ReceiveMessageWaitTimeSeconds": "0",
		"SqsManagedSseEnabled":          "true",
	}
	if fifo {
		v["FifoQueue"] = "true"
		v["ContentBasedDeduplication"] = "false"
		v["DeduplicationScope"] = "queue"
		v["FifoThroughputLimit"] = "perQueue"
	}
	c := sqsQueueConfig{values: v}
	c.parse()
	return c
}

func (c sqsQueueConfig) clone() sqsQueueConfig {
	c.values = maps.Clone(c.values)
	return c
}

// parse derives the typed fields from values, which are already valid.
func (c *sqsQueueConfig) parse() {
	sec := func(k string) time.Duration {
		n, _ := strconv.Atoi(c.values[k])
		return time.Duration(n) * time.Second
	}
	c.fifo = c.values["FifoQueue"] == "true"
	c.contentDedup = c.values["ContentBasedDeduplication"] == "true"
	c.groupDedup = c.values["DeduplicationScope"] == "messageGroup"
	c.visibility = sec("VisibilityTimeout")
	c.delay = sec("DelaySeconds")
	c.retention = sec("MessageRetentionPeriod")
	c.wait = sec("ReceiveMessageWaitTimeSeconds")
	c.maxSize, _ = strconv.Atoi(c.values["MaximumMessageSize"])
}

// applyAttributes validates attrs and sets them on c. The caller holds s.mu
// (a RedrivePolicy's target must exist).
func (s *SQS) applyAttributes(c *sqsQueueConfig, attrs map[string]string) error {
	for k, v := range attrs {
		if r, ok := sqsIntAttributes[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < r[0] || n > r[1] {
				return &types.InvalidAttributeValue{Message: new("Invalid value for the parameter " + k + ".")}
			}
			c.values[k] = strconv.Itoa(n)
			continue
		}
		if !sqsOtherAttributes[k] {
			return &types.InvalidAttributeName{Message: new("Unknown Attribute " + k + ".")}
		}
		switch k {
		case "RedrivePolicy":
			if v == "" {
				delete(c.values, k)
				c.redrive = nil
				continue
			}
			rp, norm, err := s.parseRedrive(v, c.fifo)
			if err != nil {
				return err
			}
			c.redrive, c.values[k] = rp, norm
			continue
		case "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit":
			if !c.fifo {
				return &types.InvalidAttributeName{Message: new("Unknown Attribute " + k + ".")}
			}
			allowed := map[string][]string{
				"ContentBasedDeduplication": {"true", "false"},
				"DeduplicationScope":        {"queue", "messageGroup"},
				"FifoThroughputLimit":       {"perQueue", "perMessageGroupId"},
			}[k]
			if v != allowed[0] && v != allowed[1] {
				return &types.InvalidAttributeValue{Message: new("Invalid value for the parameter " + k + ".")}
			}
		case "FifoQueue":
			if !c.fifo {
				continue // "false" on a standard queue is accepted and not reported
			}
		}
		c.values[k] = v
	}
	c.parse()
	return nil
}

// parseRedrive validates a RedrivePolicy and returns it with its normalized
// JSON form, as the service reports it.
func (s *SQS) parseRedrive(v string, fifo bool) (*sqsRedrive, string, error) {
	var raw struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	bad := func(reason string) error {
		return sqsInvalidParameter("Value " + v + " for parameter RedrivePolicy is invalid. Reason: " + reason)
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, "", bad("Redrive policy is not a valid JSON map.")
	}
	ms := string(raw.Max)
	if uq, err := strconv.Unquote(ms); err == nil {
		ms = uq
	}
	n, err := strconv.Atoi(ms)
	if err != nil || n < 1 || n > 1000 {
		return nil, "", bad("Invalid value for maxReceiveCount: " + ms + ", valid values are from 1 to 1000 both inclusive.")
	}
	dlq := s.byARN[raw.Target]
	if dlq == nil {
		return nil, "", bad("Dead letter target does not exist.")
	}
	if dlq.cfg.fifo != fifo {
		return nil, "", bad("Dead-letter queue must be same type of queue as the source.")
	}
	norm, _ := json.Marshal(struct {
		Target string `json:"deadLetterTargetArn"`
		Max    int    `json:"maxReceiveCount"`
	}{raw.Target, n})
	return &sqsRedrive{target: raw.Target, maxReceive: n}, string(norm), nil
}
