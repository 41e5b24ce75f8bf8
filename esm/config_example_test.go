package esm_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lambdaesm/lambdaesm/esm"
)

// Validate reports every violated rule at once, each with the field, the
// value and what is allowed, in AWS's words where AWS has them.
func ExampleConfig_Validate() {
	cfg := esm.Config{
		EventSourceArn:        "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
		BatchSize:             20000,
		ParallelizationFactor: 11,
		MaximumRecordAge:      30 * time.Second,
		MaximumRetryAttempts:  new(3),
		DestinationConfig: &esm.DestinationConfig{
			OnSuccess: &esm.Destination{Destination: "arn:aws:sqs:us-east-1:123456789012:done"},
		},
	}
	err := cfg.Validate()
	fmt.Println(err)

	var ce *esm.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(len(ce.Violations), "violations, first:", ce.Violations[0].Field)
	}
	// Output:
	// esm: invalid configuration:
	// 	BatchSize = 20000: must be between 1 and 10000
	// 	ParallelizationFactor = 11: must be between 1 and 10
	// 	StartingPosition = (unset): Value null at 'startingPosition' failed to satisfy constraint: Member must not be null
	// 	MaximumRecordAge = 30s: must be Infinite (-1) or between 60s and 604800s, in whole seconds
	// 	DestinationConfig.OnSuccess = "arn:aws:sqs:us-east-1:123456789012:done": Unsupported DestinationConfig parameter for given event source mapping type.
	// 5 violations, first: BatchSize
}

// LoadConfig reads the JSON of a CreateEventSourceMapping request, as pasted
// from the AWS CLI, and WithDefaults fills in what AWS would.
func ExampleLoadConfig() {
	cfg, err := esm.LoadConfig(strings.NewReader(`{
		"FunctionName": "resize-images",
		"EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:images",
		"MaximumBatchingWindowInSeconds": 5,
		"FunctionResponseTypes": ["ReportBatchItemFailures"],
		"Tags": {"team": "media"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err = cfg.WithDefaults()
	if err != nil {
		fmt.Println(err)
		return
	}
	kind, _ := cfg.Source()
	fmt.Println(kind, cfg.BatchSize, cfg.MaximumBatchingWindow, cfg.FunctionTimeout, cfg.ReportsBatchItemFailures())
	fmt.Println(cfg.FunctionArn)
	// Output:
	// SQS 10 5s 3s true
	// arn:aws:lambda:us-east-1:123456789012:function:resize-images
}
