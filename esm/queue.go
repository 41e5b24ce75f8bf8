package esm

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/lambdaesm/lambdaesm/queue"

	"github.com/lambdaesm/lambdaesm/filter"
)

// SQSMapping runs an SQS queue mapping.
type SQSMapping struct {
	eng *queueengine.Engine
}

var _ Mapping = (*SQSMapping)(nil)

// NewSQSMapping returns a mapping that receives from the SQS queue named by
// cfg.EventSourceArn (its URL then comes from GetQueueUrl) or cfg.QueueURL,
// through client, and calls h as Lambda would: batches of up to BatchSize
// messages, deleted when h succeeds, left for redelivery (and the queue's
// redrive policy) when it fails, with partial batch responses under
// ReportBatchItemFailures. It checks the configuration (every violated rule
// at once) and starts nothing: call Run, which checks the queue's attributes
// first. See package queue for the semantics and the differences from AWS;
// [WithVisibilityHeartbeat], [WithFailureBackoff] and [WithScaling] tune it.
func NewSQSMapping(cfg Config, client queue.SQSAPI, h Handler[events.SQSEvent, events.SQSEventResponse], opts ...SQSOption) (*SQSMapping, error) {
	cfg, o, err := prepare(cfg, SQS, client, h, sqsOpts(opts))
	if err != nil {
		return nil, err
	}
	if limit, floor := cfg.MaximumConcurrency(), o.queue.Scaling.Min; limit > 0 && floor > limit {
		return nil, fmt.Errorf("esm: WithScaling: Min %d is above ScalingConfig.MaximumConcurrency %d", floor, limit)
	}
	set := o.queue
	set.QueueARN = cfg.EventSourceArn
	set.QueueURL = cfg.QueueURL
	set.BatchSize = cfg.BatchSize
	set.BatchingWindow = cfg.MaximumBatchingWindow
	set.FunctionTimeout = cfg.FunctionTimeout
	set.ReportBatchItemFailures = cfg.ReportsBatchItemFailures()
	set.Scaling.Max = cfg.MaximumConcurrency()
	set.Disabled = !cfg.IsEnabled()
	set.Hooks = o.hooks
	set.Logger = o.logger.With("mapping", o.name)
	eng, err := queueengine.New(client, set, queueengine.Callbacks{Invoke: sqsInvoker(h, functionARNOf(cfg, o)), Filter: recordFilter(o.filter, (*filter.Filter).MatchSQSMessage)})
	if err != nil {
		return nil, err
	}
	return &SQSMapping{eng: eng}, nil
}

// Run implements [Mapping]. It returns an error when the queue cannot be
// used: not found, access denied, or attributes Lambda would refuse (a
// visibility timeout shorter than FunctionTimeout without the heartbeat).
// Transient errors while checking the queue (server errors, throttling) are
// retried with backoff until they pass or the mapping is stopped.
func (m *SQSMapping) Run(ctx context.Context) error { return m.eng.Run(ctx) }

// Shutdown implements [Mapping]. Messages received but not yet handed to the
// handler are made visible again at once. Once Run has returned, Shutdown
// returns a *queue.DeleteError if handled messages could not be deleted
// (they will be delivered again).
func (m *SQSMapping) Shutdown(ctx context.Context) error { return m.eng.Shutdown(ctx) }

// sqsInvoker turns a handler into the engine's invoker: it builds the event,
// recovers panics, and passes on the batchItemFailures (the engine applies
// AWS's rules to them, or ignores them without ReportBatchItemFailures).
func sqsInvoker(h Handler[events.SQSEvent, events.SQSEventResponse], functionARN string) func(context.Context, []events.SQSMessage) queueengine.Result {
	return func(ctx context.Context, batch []events.SQSMessage) queueengine.Result {
		resp, err := invoke(withLambdaContext(ctx, functionARN), h, events.SQSEvent{Records: batch})
		if err != nil {
			return queueengine.Result{Err: err}
		}
		return queueengine.Result{ItemFailures: failureIDs(resp.BatchItemFailures, func(f events.SQSBatchItemFailure) string { return f.ItemIdentifier })}
	}
}
