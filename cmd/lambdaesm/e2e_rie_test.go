package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/rietest"
)

// A function under the Runtime Interface Emulator, reached through the
// Lambda Invoke API (AWS_ENDPOINT_URL_LAMBDA), consumes an SQS queue on
// fauxqs; the mapping is created, listed, updated, disabled and deleted
// through the API (with the AWS CLI where it is installed).
func TestCommandWithTheRuntimeInterfaceEmulator(t *testing.T) {
	fn := rietest.Start(t)
	dir := t.TempDir()
	bin := buildCommand(t, dir)
	sqsc := awstest.SQS(t)
	queueURL, queueARN := awstest.NewQueue(t, sqsc, map[string]string{"VisibilityTimeout": "10"})
	proc := startCommandEnv(t, bin, []string{"AWS_ENDPOINT_URL_LAMBDA=" + fn.Endpoint},
		"--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "state"), "--sqs-wait-time-seconds", "1", "--function-concurrency", "1")
	client := lambda.NewFromConfig(awstest.Config(t), func(o *lambda.Options) { o.BaseEndpoint = aws.String(proc.api) })

	// The emulator answers to the function name "function".
	m, err := client.CreateEventSourceMapping(t.Context(), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(rietest.FunctionName), EventSourceArn: aws.String(queueARN), BatchSize: aws.Int32(5),
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		ScalingConfig:         &types.ScalingConfig{MaximumConcurrency: aws.Int32(2)},
	})
	require.NoError(t, err)
	for i := range 20 {
		_, err := sqsc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String(fmt.Sprintf("ok-%d", i))})
		require.NoError(t, err)
	}
	waitUntil(t, 2*time.Minute, "the function to take every message", func() bool {
		out, err := sqsc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		require.NoError(t, err)
		return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	got, err := client.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: m.UUID})
	require.NoError(t, err)
	require.Equal(t, "Enabled", aws.ToString(got.State))
	require.Nil(t, got.LastProcessingResult, "no problem to report")
	_, err = client.DeleteEventSourceMapping(t.Context(), &lambda.DeleteEventSourceMappingInput{UUID: m.UUID})
	require.NoError(t, err)
	waitUntil(t, time.Minute, "the deletion", func() bool {
		_, err := client.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		var nf *types.ResourceNotFoundException
		return errors.As(err, &nf)
	})

	awsCLI(t, proc.api, queueARN, rietest.FunctionName)
	proc.stop(t)
}
