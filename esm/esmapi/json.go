package esmapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/lambdaesm/lambdaesm/esm"
)

// mappingJSON is Lambda's EventSourceMappingConfiguration, the fields in the
// order AWS writes them.
type mappingJSON struct {
	UUID                           string                     `json:"UUID"`
	StartingPosition               esm.StartingPosition       `json:"StartingPosition,omitempty"`
	StartingPositionTimestamp      json.Number                `json:"StartingPositionTimestamp,omitempty"`
	BatchSize                      int                        `json:"BatchSize"`
	MaximumBatchingWindowInSeconds int64                      `json:"MaximumBatchingWindowInSeconds"`
	ParallelizationFactor          *int                       `json:"ParallelizationFactor,omitempty"`
	EventSourceArn                 string                     `json:"EventSourceArn,omitempty"`
	FilterCriteria                 *esm.FilterCriteria        `json:"FilterCriteria,omitempty"`
	FunctionArn                    string                     `json:"FunctionArn"`
	LastModified                   json.Number                `json:"LastModified"`
	LastProcessingResult           string                     `json:"LastProcessingResult,omitempty"`
	State                          esm.State                  `json:"State"`
	StateTransitionReason          string                     `json:"StateTransitionReason"`
	DestinationConfig              *esm.DestinationConfig     `json:"DestinationConfig,omitempty"`
	MaximumRecordAgeInSeconds      *int64                     `json:"MaximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError     *bool                      `json:"BisectBatchOnFunctionError,omitempty"`
	MaximumRetryAttempts           *int                       `json:"MaximumRetryAttempts,omitempty"`
	TumblingWindowInSeconds        *int64                     `json:"TumblingWindowInSeconds,omitempty"`
	FunctionResponseTypes          []esm.FunctionResponseType `json:"FunctionResponseTypes"`
	ScalingConfig                  *esm.ScalingConfig         `json:"ScalingConfig,omitempty"`
	MetricsConfig                  *esm.MetricsConfig         `json:"MetricsConfig,omitempty"`
	EventSourceMappingArn          string                     `json:"EventSourceMappingArn,omitempty"`
}

// Mapping renders a mapping as Lambda's EventSourceMappingConfiguration
// JSON: the body of GetEventSourceMapping, and what `aws lambda
// get-event-source-mapping` prints (which esm.LoadConfig reads back).
func Mapping(info esm.MappingInfo) ([]byte, error) { return json.Marshal(render(info)) }

func render(info esm.MappingInfo) mappingJSON {
	c := info.Config
	m := mappingJSON{
		UUID:                           info.UUID,
		BatchSize:                      c.BatchSize,
		MaximumBatchingWindowInSeconds: int64(c.MaximumBatchingWindow / time.Second),
		EventSourceArn:                 c.EventSourceArn,
		FilterCriteria:                 c.FilterCriteria,
		FunctionArn:                    c.FunctionArn,
		LastModified:                   unixSeconds(info.LastModified),
		LastProcessingResult:           info.LastProcessingResult,
		State:                          info.State,
		StateTransitionReason:          info.StateTransitionReason,
		FunctionResponseTypes:          c.FunctionResponseTypes,
		MetricsConfig:                  c.MetricsConfig,
		EventSourceMappingArn:          info.EventSourceMappingArn,
	}
	if m.FunctionResponseTypes == nil {
		m.FunctionResponseTypes = []esm.FunctionResponseType{}
	}
	if m.FilterCriteria != nil && len(m.FilterCriteria.Filters) == 0 {
		m.FilterCriteria = nil
	}
	if m.EventSourceArn == "" { // a queue named by URL: its ARN, where the URL tells it
		if src, err := c.EventSource(); err == nil && src.Region != "" && src.AccountID != "" {
			m.EventSourceArn = "arn:aws:sqs:" + src.Region + ":" + src.AccountID + ":" + src.Name
		}
	}
	if info.Kind == esm.SQS {
		if sc := c.ScalingConfig; sc != nil && sc.MaximumConcurrency > 0 {
			m.ScalingConfig = sc
		}
		return m
	}
	m.StartingPosition = c.StartingPosition
	if !c.StartingPositionTimestamp.IsZero() {
		m.StartingPositionTimestamp = unixSeconds(c.StartingPositionTimestamp)
	}
	m.ParallelizationFactor = new(c.ParallelizationFactor)
	dc := &esm.DestinationConfig{OnFailure: &esm.Destination{}}
	if d := c.OnFailureDestination(); d != "" {
		dc.OnFailure.Destination = d
	}
	m.DestinationConfig = dc
	age := int64(-1)
	if a := c.RecordAgeLimit(); a > 0 {
		age = int64(a / time.Second)
	}
	m.MaximumRecordAgeInSeconds = &age
	m.BisectBatchOnFunctionError = new(c.BisectBatchOnFunctionError)
	m.MaximumRetryAttempts = new(c.RetryAttempts())
	m.TumblingWindowInSeconds = new(int64(c.TumblingWindow / time.Second))
	return m
}

// unixSeconds writes t as Lambda writes timestamps: Unix seconds with
// milliseconds.
func unixSeconds(t time.Time) json.Number {
	ms := t.UnixMilli()
	s := strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
	return json.Number(s)
}
