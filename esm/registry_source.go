package esm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Lambda's messages for a source that does not exist, as AWS recorded them
// (LocalStack's AWS-validated snapshots test_esm_with_not_existing_kinesis_stream
// and test_esm_with_not_existing_dynamodb_stream; see
// testdata/aws-recorded): an InvalidParameterValueException. For a queue,
// Lambda reports the error of its ReceiveMessage; the SQS message is the one
// SQS answers for a missing queue, and the same words as a mapping's Run.
const (
	msgStreamNotFound   = "Stream not found: %s"
	msgConsumerNotFound = "Stream consumer not found: %s"
	msgQueueNotFound    = "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."
)

// checkSource asks the source's service whether it exists, as Lambda does
// when a mapping is created: DescribeStreamSummary for a Kinesis stream,
// DescribeStream for a DynamoDB stream, GetQueueUrl (for a queue named by
// ARN) and GetQueueAttributes for a queue. A missing source is Lambda's
// InvalidParameterValueException; access refused is an
// InvalidParameterValueException naming the refused action; any other
// failure (the service unreachable, throttling) is a ServiceException, which
// SDKs retry.
func (r *Registry) checkSource(ctx context.Context, full Config, src EventSource) error {
	c := r.cfg.Clients
	switch src.Kind {
	case Kinesis:
		_, err := c.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(src.StreamARN)})
		if err != nil || src.Consumer == "" {
			return sourceError(err, "kinesis:DescribeStreamSummary", src.StreamARN, streamMissing(src.StreamARN))
		}
		fo, ok := c.Kinesis.(shard.KinesisFanOutAPI)
		if !ok {
			return errInvalid("EventSourceArn %s names a stream consumer, but the Kinesis client cannot read with enhanced fan-out (it lacks SubscribeToShard or DescribeStreamConsumer).", src.ARN)
		}
		_, err = fo.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(src.ARN)})
		return sourceError(err, "kinesis:DescribeStreamConsumer", src.ARN, apiError(ErrorInvalidParameterValue, http.StatusBadRequest, nil, msgConsumerNotFound, src.ARN))
	case DynamoDBStreams:
		_, err := c.DynamoDBStreams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(src.ARN), Limit: aws.Int32(1)})
		return sourceError(err, "dynamodb:DescribeStream", src.ARN, streamMissing(src.ARN))
	case SQS:
		name := sourceName(full)
		url := full.QueueURL
		if url == "" {
			out, err := c.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(src.Name), QueueOwnerAWSAccountId: aws.String(src.AccountID)})
			if err != nil {
				return sourceError(err, "sqs:GetQueueUrl", name, queueMissing())
			}
			if out.QueueUrl == nil || *out.QueueUrl == "" {
				return errService(nil, "The event source %s could not be checked: sqs:GetQueueUrl returned no URL.", name)
			}
			url = *out.QueueUrl
		}
		out, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn, sqstypes.QueueAttributeNameVisibilityTimeout}})
		if err != nil {
			return sourceError(err, "sqs:GetQueueAttributes", name, queueMissing())
		}
		return r.checkVisibility(out.Attributes, full)
	}
	return nil
}

func streamMissing(arn string) *APIError {
	return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, nil, msgStreamNotFound, arn)
}

func queueMissing() *APIError {
	return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, nil, msgQueueNotFound)
}

// sourceError turns the error of a call checking a source into the
// registry's answer: missing (with err as its cause) when the service says
// the source does not exist, nil for nil.
func sourceError(err error, action, source string, missing *APIError) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case sourceNotFoundCodes[code]:
			missing.Err = err
			return missing
		case sourceDeniedCodes[code]:
			return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, err,
				"Cannot access the event source %s: %s was refused (%s). Grant it to the credentials of this lambdaesm process.", source, action, code)
		}
	}
	return errService(err, "The event source %s could not be checked: %v", source, err)
}

// Error codes of the sources' services for a missing resource and for access
// refused (query-compatible SQS codes, and the JSON ones emulators send).
var (
	sourceNotFoundCodes = map[string]bool{
		"ResourceNotFoundException":               true,
		"AWS.SimpleQueueService.NonExistentQueue": true,
		"QueueDoesNotExist":                       true,
	}
	sourceDeniedCodes = map[string]bool{
		"AccessDeniedException": true, "AccessDenied": true, "UnrecognizedClientException": true,
		"InvalidClientTokenId": true, "KMSAccessDeniedException": true,
	}
)

// checkVisibility applies Lambda's create-time rule to a queue: its
// visibility timeout may not be shorter than the function timeout (in AWS's
// words). With the registry's SQS options turning the visibility heartbeat
// on, the rule does not apply (the heartbeat extends the visibility), as at
// Run.
func (r *Registry) checkVisibility(attrs map[string]string, full Config) error {
	o, err := buildOptions(SQS, sqsOpts(r.cfg.SQSOptions))
	if err != nil || o.queue.VisibilityHeartbeat {
		return nil // a bad option is reported when the mapping starts
	}
	vt, err := strconv.Atoi(attrs[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	if err != nil {
		return nil // not reported: Run checks it again
	}
	if timeout := full.FunctionTimeout; time.Duration(vt)*time.Second < timeout {
		return errInvalid("Queue visibility timeout: %d seconds is less than Function timeout: %d seconds", vt, int(timeout.Seconds()))
	}
	return nil
}
