package esmtest

import (
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// The errors below are the ones the SDK returns for the service's answers:
// typed where the SQS model has a type (with the query-compatible code the
// service sends in X-Amzn-Query-Error), smithy.GenericAPIError otherwise.

func sqsNoQueue() error {
	return &types.QueueDoesNotExist{
		Message:           new("The specified queue does not exist."),
		ErrorCodeOverride: new("AWS.SimpleQueueService.NonExistentQueue"),
	}
}

func sqsInvalidParameter(msg string) error {
	return &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: msg, Fault: smithy.FaultClient}
}

func sqsMissing(param string) error {
	return &smithy.GenericAPIError{Code: "MissingParameter", Message: "The request must contain the parameter " + param + ".", Fault: smithy.FaultClient}
}

func sqsBadHandle(h string) error {
	return &types.ReceiptHandleIsInvalid{
		Message:           new("The input receipt handle \"" + h + "\" is not a valid receipt handle."),
		ErrorCodeOverride: new("ReceiptHandleIsInvalid"),
	}
}

func sqsNotInflight() error {
	return &types.MessageNotInflight{ErrorCodeOverride: new("AWS.SimpleQueueService.MessageNotInflight")}
}

// sqsCheckBatch validates the shape of a batch request: 1 to 10 entries with
// distinct, present Ids.
func sqsCheckBatch(ids []*string) error {
	if len(ids) == 0 {
		return &types.EmptyBatchRequest{
			Message:           new("There should be at least one SendMessageBatchRequestEntry in the request."),
			ErrorCodeOverride: new("AWS.SimpleQueueService.EmptyBatchRequest"),
		}
	}
	if len(ids) > 10 {
		return &types.TooManyEntriesInBatchRequest{
			Message:           new("Maximum number of entries per request are 10. You have sent " + strconv.Itoa(len(ids)) + "."),
			ErrorCodeOverride: new("AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
		}
	}
	for i, id := range ids {
		if id == nil || *id == "" {
			return sqsMissing("Id")
		}
		for _, prev := range ids[:i] {
			if *prev == *id {
				return &types.BatchEntryIdsNotDistinct{
					Message:           new("Id " + *id + " repeated."),
					ErrorCodeOverride: new("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
				}
			}
		}
	}
	return nil
}

// sqsEntryFailure turns an error into a batch result entry.
func sqsEntryFailure(id *string, err error) types.BatchResultErrorEntry {
	e := types.BatchResultErrorEntry{Id: id, Code: new("InternalError"), Message: new(err.Error()), SenderFault: false}
	if ae := smithy.APIError(nil); errors.As(err, &ae) {
		e.Code = new(ae.ErrorCode())
		e.Message = new(ae.ErrorMessage())
		e.SenderFault = ae.ErrorFault() != smithy.FaultServer
	}
	return e
}
