package destination_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
)

// A Kinesis batch was retried until MaximumRetryAttempts (2) ran out: the
// failure record says where the records are, as Lambda's does.
func ExampleNewStreamFailure() {
	f := destination.NewStreamFailure(destination.StreamFailureInput{
		FunctionARN:            "arn:aws:lambda:us-east-1:123456789012:function:orders",
		Condition:              lambdaesm.RetryAttemptsExhausted,
		ApproximateInvokeCount: 3,
		FunctionError:          true,
		ShardID:                "shardId-000000000000",
		StreamARN:              "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
		StartSequenceNumber:    "49590338271490256608559692538361571095921575989136588898",
		EndSequenceNumber:      "49590338271490256608559692540925702759324208523137515618",
		FirstArrival:           time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC),
		LastArrival:            time.Date(2024, 5, 1, 12, 0, 1, 456e6, time.UTC),
		BatchSize:              100,
		RequestID:              "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
		Now:                    time.Date(2024, 5, 1, 12, 3, 7, 890e6, time.UTC),
	})
	b, _ := json.MarshalIndent(f, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "requestContext": {
	//     "requestId": "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
	//     "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
	//     "condition": "RetryAttemptsExhausted",
	//     "approximateInvokeCount": 3
	//   },
	//   "responseContext": {
	//     "statusCode": 200,
	//     "executedVersion": "$LATEST",
	//     "functionError": "Unhandled"
	//   },
	//   "version": "1.0",
	//   "timestamp": "2024-05-01T12:03:07.890Z",
	//   "KinesisBatchInfo": {
	//     "shardId": "shardId-000000000000",
	//     "startSequenceNumber": "49590338271490256608559692538361571095921575989136588898",
	//     "endSequenceNumber": "49590338271490256608559692540925702759324208523137515618",
	//     "approximateArrivalOfFirstRecord": "2024-05-01T12:00:00.123Z",
	//     "approximateArrivalOfLastRecord": "2024-05-01T12:00:01.456Z",
	//     "batchSize": 100,
	//     "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	//   }
	// }
}

// A DynamoDB record that grew older than MaximumRecordAgeInSeconds: no
// responseContext, and arrival times in whole seconds.
func ExampleNewStreamFailure_recordAge() {
	f := destination.NewStreamFailure(destination.StreamFailureInput{
		FunctionARN:            "arn:aws:lambda:us-east-1:123456789012:function:audit",
		Condition:              lambdaesm.RecordAgeExceeded,
		ApproximateInvokeCount: 1,
		ShardID:                "shardId-00000001714564800000-1a2b3c4d",
		StreamARN:              "arn:aws:dynamodb:us-east-1:123456789012:table/audit/stream/2024-05-01T00:00:00.000",
		StartSequenceNumber:    "100000000000000000001",
		EndSequenceNumber:      "100000000000000000001",
		FirstArrival:           time.Date(2024, 5, 1, 12, 0, 0, 900e6, time.UTC),
		LastArrival:            time.Date(2024, 5, 1, 12, 0, 0, 900e6, time.UTC),
		BatchSize:              1,
		RequestID:              "0f1e2d3c-4b5a-4697-8877-665544332211",
		Now:                    time.Date(2024, 5, 1, 12, 1, 1, 0, time.UTC),
	})
	b, _ := json.Marshal(f)
	fmt.Println(string(b))
	// Output:
	// {"requestContext":{"requestId":"0f1e2d3c-4b5a-4697-8877-665544332211","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:audit","condition":"RecordAgeExceeded","approximateInvokeCount":1},"version":"1.0","timestamp":"2024-05-01T12:01:01.000Z","DDBStreamBatchInfo":{"shardId":"shardId-00000001714564800000-1a2b3c4d","startSequenceNumber":"100000000000000000001","endSequenceNumber":"100000000000000000001","approximateArrivalOfFirstRecord":"2024-05-01T12:00:00Z","approximateArrivalOfLastRecord":"2024-05-01T12:00:00Z","batchSize":1,"streamArn":"arn:aws:dynamodb:us-east-1:123456789012:table/audit/stream/2024-05-01T00:00:00.000"}}
}

// Tests can deliver to a Memory sender and script its failures.
func ExampleMemory() {
	var dest destination.Memory
	dest.FailNext(fmt.Errorf("throttled"))

	f := destination.NewStreamFailure(destination.StreamFailureInput{
		Condition: lambdaesm.RetryAttemptsExhausted, ShardID: "shardId-000000000000", BatchSize: 1,
	})
	m, _ := f.Message("mapping-uuid", nil)
	ctx := context.Background()
	fmt.Println(dest.Send(ctx, m))
	fmt.Println(dest.Send(ctx, m))
	fmt.Println(len(dest.Messages()), dest.Attempts())
	// Output:
	// destination memory: throttled
	// <nil>
	// 1 2
}
