package queueengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/lambdaesm/lambdaesm"
)

// queueInfo is what Run learns about the queue before receiving.
type queueInfo struct {
	url, arn, region string
	src              lambdaesm.Source
	fifo             bool
	// visibility is the queue's VisibilityTimeout.
	visibility time.Duration
	// recvVisibility is the visibility timeout of each receive: the
	// queue's, or the longer one asked for when the batching window and the
	// function timeout need it.
	recvVisibility time.Duration
	// recvVT is recvVisibility in whole seconds for ReceiveMessage; 0 means
	// the queue's own.
	recvVT int32
	// heartbeat is the heartbeat interval; 0 when it is off.
	heartbeat time.Duration
}

// attributesAsked are the queue attributes the start-up checks read.
var attributesAsked = []types.QueueAttributeName{
	types.QueueAttributeNameVisibilityTimeout,
	types.QueueAttributeNameRedrivePolicy,
	types.QueueAttributeNameFifoQueue,
	types.QueueAttributeNameQueueArn,
}

// startup runs the start-up check until it succeeds, retrying transient
// errors (server errors, throttling, network failures) with backoff, as
// receiving does. Only errors no retry heals end it: the queue is missing,
// access is denied, or the request or the queue's attributes are invalid. It
// reports ok false, with a nil error, when the engine stops (Shutdown, or
// ctx ended) first; a start-up call in flight is then abandoned.
func (e *Engine) startup(ctx context.Context) (q queueInfo, ok bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.lc.StopContext(), cancel)()
	url := e.set.QueueURL
	for failures := 1; ; failures++ {
		q, err = e.inspect(ctx, &url)
		switch {
		case err == nil:
			return q, true, nil
		case ctx.Err() != nil || e.stopped():
			return queueInfo{}, false, nil // a stop, not a failure
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return queueInfo{}, false, fatal.err
		}
		delay := e.backoff(failures)
		e.health.Failed("", err)
		e.log.Warn("checking the queue failed; retrying", "err", err, "failures", failures, "retryIn", delay)
		if !e.wait(ctx, delay) {
			return queueInfo{}, false, nil
		}
	}
}

// fatalError marks a start-up error no retry heals.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

// inspect finds the queue's URL (kept in *url once known, so a retry does not
// ask again) and attributes, and checks them against the settings, as Lambda
// does when a mapping is created. Errors no retry heals are *fatalError.
func (e *Engine) inspect(ctx context.Context, url *string) (queueInfo, error) {
	name := e.set.QueueARN
	if name == "" {
		name = e.set.QueueURL
	}
	if *url == "" {
		a, _ := parseQueueARN(e.set.QueueARN) // checked by New
		out, err := e.c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &a.Resource, QueueOwnerAWSAccountId: &a.AccountID})
		if err != nil {
			return queueInfo{}, serviceError("sqs:GetQueueUrl", "queue "+name, err)
		}
		if out.QueueUrl == nil || *out.QueueUrl == "" {
			return queueInfo{}, fmt.Errorf("sqs:GetQueueUrl on queue %s returned no URL", name)
		}
		*url = *out.QueueUrl
	}
	out, err := e.c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: attributesAsked})
	if err != nil {
		return queueInfo{}, serviceError("sqs:GetQueueAttributes", "queue "+name, err)
	}
	q, warnings, err := checkQueue(e.set, out.Attributes)
	if err != nil {
		return queueInfo{}, &fatalError{fmt.Errorf("queue %s: %w", name, err)}
	}
	q.url = *url
	q.arn = e.set.QueueARN
	if q.arn == "" {
		q.arn = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	if a, err := arn.Parse(q.arn); err == nil {
		q.region = a.Region
	}
	q.src = lambdaesm.Source{EventSourceARN: q.arn}
	for _, w := range warnings {
		e.log.Warn(w, "eventSourceArn", q.arn)
	}
	if q.recvVT > 0 {
		e.log.Info("receiving with a longer visibility timeout than the queue's, as Lambda does",
			"eventSourceArn", q.arn, "queueVisibilityTimeout", q.visibility, "receiveVisibilityTimeout", q.recvVisibility)
	}
	return q, nil
}

// checkQueue checks the queue's attributes against the settings: the errors
// and warnings Lambda gives when a mapping is created, and the visibility
// timeout receives must ask for.
func checkQueue(set Settings, attrs map[string]string) (queueInfo, []string, error) {
	var q queueInfo
	var errs []error
	var warnings []string
	vtSec, err := strconv.Atoi(attrs[string(types.QueueAttributeNameVisibilityTimeout)])
	if err != nil {
		return q, nil, fmt.Errorf("the queue's VisibilityTimeout %q is not a number", attrs[string(types.QueueAttributeNameVisibilityTimeout)])
	}
	q.visibility = time.Duration(vtSec) * time.Second
	q.recvVisibility = q.visibility
	q.fifo = attrs[string(types.QueueAttributeNameFifoQueue)] == "true"
	timeout, window := set.FunctionTimeout, set.BatchingWindow
	if q.fifo {
		if set.BatchSize > maxReceive {
			errs = append(errs, fmt.Errorf("BatchSize %d is above 10, the most for a FIFO queue", set.BatchSize))
		}
		if window > 0 {
			errs = append(errs, errors.New("Batching window is not supported for FIFO queues"))
		}
	}
	if set.VisibilityHeartbeat {
		q.heartbeat = set.HeartbeatInterval
		if q.heartbeat == 0 {
			q.heartbeat = q.visibility / 2
		}
		switch {
		case q.visibility < time.Second:
			errs = append(errs, fmt.Errorf("the visibility heartbeat needs a queue visibility timeout of at least 1 second, not %d", vtSec))
		case q.heartbeat >= q.visibility:
			errs = append(errs, fmt.Errorf("heartbeat interval %v is not shorter than the queue visibility timeout of %d seconds", q.heartbeat, vtSec))
		}
		// Messages gathered during the window must still be invisible when
		// the handler (and the heartbeat) starts.
		if window > 0 && window+q.heartbeat > q.visibility {
			q.recvVisibility = min(window+q.visibility, maxVisibility)
		}
	} else {
		if q.visibility < timeout {
			errs = append(errs, fmt.Errorf("Queue visibility timeout: %d seconds is less than Function timeout: %d seconds", vtSec, int(timeout.Seconds())))
		} else if rec := 6*timeout + window; q.visibility < rec {
			warnings = append(warnings, fmt.Sprintf("queue visibility timeout of %d seconds is less than AWS's recommendation of 6 × function timeout + batching window (%d seconds): "+
				"when an invocation is slow or retried, its messages may be received again while they are still being handled", vtSec, int(rec.Seconds())))
		}
		// Lambda: "If your batch window is greater than 0, and (batch
		// window) + (function timeout) > (queue visibility timeout), then
		// your effective queue visibility timeout is (batch window) +
		// (function timeout) + 30s".
		if window > 0 && window+timeout > q.visibility {
			q.recvVisibility = min(window+timeout+30*time.Second, maxVisibility)
		}
	}
	if q.recvVisibility != q.visibility {
		q.recvVT = int32(q.recvVisibility / time.Second)
	}
	warnings = append(warnings, checkRedrive(attrs[string(types.QueueAttributeNameRedrivePolicy)])...)
	return q, warnings, errors.Join(errs...)
}

// minMaxReceiveCount is the least maxReceiveCount AWS recommends for a
// Lambda source queue.
const minMaxReceiveCount = 5

// checkRedrive warns about a queue without a dead-letter queue, or with a
// maxReceiveCount below AWS's recommendation.
func checkRedrive(policy string) []string {
	if policy == "" {
		return []string{"the queue has no redrive policy: a message the handler keeps failing is received again and again until it expires " +
			"after the queue's MessageRetentionPeriod; configure a dead-letter queue on the source queue with a maxReceiveCount of at least 5"}
	}
	var rp struct {
		MaxReceiveCount json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(policy), &rp); err != nil {
		return []string{fmt.Sprintf("the queue's redrive policy %q cannot be read: %v", policy, err)}
	}
	s := string(rp.MaxReceiveCount)
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return []string{fmt.Sprintf("the queue's redrive policy %q has no numeric maxReceiveCount", policy)}
	}
	if n < minMaxReceiveCount {
		return []string{fmt.Sprintf("the queue's redrive policy has maxReceiveCount %d, below the %d AWS recommends: a message moves to the dead-letter queue "+
			"after %d receives, also when they failed only because another message of its batch failed or the invocation timed out", n, minMaxReceiveCount, n)}
	}
	return nil
}

// parseQueueARN checks that s is an SQS queue ARN.
func parseQueueARN(s string) (arn.ARN, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return arn.ARN{}, fmt.Errorf("queue: %q is not an ARN: %w", s, err)
	}
	if a.Service != "sqs" || a.Resource == "" || a.AccountID == "" {
		return arn.ARN{}, fmt.Errorf("queue: %s is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)", s)
	}
	return a, nil
}

// Error codes of SQS (and of the emulators, which may lack the
// query-compatible codes) that no retry heals.
var (
	notFoundCodes = map[string]bool{
		"AWS.SimpleQueueService.NonExistentQueue": true, "QueueDoesNotExist": true,
	}
	accessDeniedCodes = map[string]bool{
		"AccessDenied": true, "AccessDeniedException": true, "UnrecognizedClientException": true,
		"InvalidClientTokenId": true, "InvalidSecurity": true,
		"KMS.AccessDeniedException": true, "KmsAccessDenied": true,
	}
	invalidRequestCodes = map[string]bool{
		"InvalidParameterValue": true, "InvalidAddress": true, "InvalidAttributeName": true, "InvalidAttributeValue": true,
		"MissingParameter": true, "ValidationError": true, "AWS.SimpleQueueService.UnsupportedOperation": true, "UnsupportedOperation": true,
	}
)

// nonExistentQueue is Lambda's message for a source queue that does not
// exist.
const nonExistentQueue = "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."

// serviceError names the resource and, for access denied, the IAM action that
// was refused. A missing queue is reported in Lambda's words. Errors no retry
// heals (not found, access denied, an invalid request) are *fatalError; the
// others are transient.
func serviceError(action, resource string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case notFoundCodes[code]:
			return &fatalError{fmt.Errorf("%s (%s: %s not found): %w", nonExistentQueue, action, resource, err)}
		case accessDeniedCodes[code]:
			return &fatalError{fmt.Errorf("access denied: %s on %s was refused (grant it to the caller's IAM role): %w", action, resource, err)}
		case invalidRequestCodes[code]:
			return &fatalError{fmt.Errorf("%s on %s: %w", action, resource, err)}
		}
	}
	return fmt.Errorf("%s on %s: %w", action, resource, err)
}
