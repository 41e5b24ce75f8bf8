package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/queue"
)

// DurableSQSAPI is the part of the SQS API a durable invoker calls: the
// calls of the queue mapping that consumes the queue, and SendMessage.
// *sqs.Client satisfies it, and so does esm/esmtest's SQS fake.
type DurableSQSAPI interface {
	queue.SQSAPI
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ DurableSQSAPI = (*sqs.Client)(nil)

// Durable keeps an invoker's events in a standard SQS queue instead of
// memory, so that they survive a crash or a restart of the process (see the
// package documentation, "Durable queue").
type Durable struct {
	// Client reaches the queue.
	Client DurableSQSAPI
	// QueueURL is the queue's URL. The queue must be a standard queue:
	// retries are delayed per message (DelaySeconds), which FIFO queues
	// do not allow. Give it a redrive policy: a message the invoker
	// cannot read goes there.
	QueueURL string
	// Options tune the SQS mapping that consumes the queue (esm.WithLogger,
	// esm.WithHooks, esm.WithLongPoll, …). They are applied after the
	// invoker's own: a visibility heartbeat with the default interval, a
	// fixed concurrency of WithConcurrency, and WithLogger.
	Options []esm.SQSOption
}

// maxDelay is the longest DelaySeconds SQS accepts; longer retry delays are
// reached by sending the event again (notBefore).
const maxDelay = 900 * time.Second

// mappingTimeout bounds one message in the queue mapping: the attempt, which
// Config.FunctionTimeout bounds, and the deliveries after it. The visibility
// heartbeat keeps the message hidden meanwhile, whatever the queue's
// visibility timeout.
const mappingTimeout = 900 * time.Second

// deliveryReserve is the part of mappingTimeout kept for the records'
// deliveries and the retry's send: Config.FunctionTimeout may take the
// rest. An attempt that outlived the mapping's bound would be interrupted,
// never counted, and run again and again.
const deliveryReserve = time.Minute

// redeliverDelay is how long a finished event whose records a destination
// refused waits in the queue before they are offered again.
const redeliverDelay = time.Minute

// durableQueue is an invoker's SQS queue and the mapping that consumes it.
type durableQueue struct {
	client  DurableSQSAPI
	url     string
	mapping *esm.SQSMapping
}

// envelope is the body of a durable event's message.
type envelope struct {
	RequestID  string          `json:"requestId"`
	EnqueuedAt time.Time       `json:"enqueuedAt"`
	Attempts   int             `json:"attempts"`
	NotBefore  *time.Time      `json:"notBefore,omitempty"`
	LastError  *storedError    `json:"lastError,omitempty"`
	Payload    json.RawMessage `json:"payload"`
	// Finished is set on an event that is done (no attempt is left to
	// make) but whose records a destination refused: only they are sent
	// again.
	Finished *finishedRecords `json:"finished,omitempty"`
}

// finishedRecords is the outcome of a durable event whose records are
// still to be delivered.
type finishedRecords struct {
	Condition lambdaesm.Condition `json:"condition"`
	Response  json.RawMessage     `json:"response,omitempty"` // the function's, on success
}

// storedError is the last function error of a durable event, as its
// failure record will show it.
type storedError struct {
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
}

func checkDurable(d *Durable, functionTimeout time.Duration) []error {
	var errs []error
	if max := mappingTimeout - deliveryReserve; functionTimeout > max {
		errs = append(errs, fmt.Errorf("invoke: FunctionTimeout %v: with WithDurable, at most %v, so that an attempt and its records' deliveries fit the %v a queued event may take", functionTimeout, max, mappingTimeout))
	}
	if d.Client == nil {
		errs = append(errs, errors.New("invoke: Durable.Client is nil"))
	}
	switch {
	case d.QueueURL == "":
		errs = append(errs, errors.New("invoke: Durable.QueueURL is empty"))
	case strings.HasSuffix(d.QueueURL, ".fifo"):
		errs = append(errs, fmt.Errorf("invoke: Durable.QueueURL %s: a FIFO queue cannot delay retries per message; use a standard queue", d.QueueURL))
	}
	return errs
}

// openDurable builds the mapping that consumes the durable queue. It starts
// nothing.
func (i *Invoker[E, R]) openDurable() error {
	d := i.s.Durable
	conc := min(max(i.s.Concurrency, 2), 1000) // MaximumConcurrency's range
	opts := append([]esm.SQSOption{
		esm.WithName("invoke"),
		esm.WithLogger(i.s.logger),
		esm.WithVisibilityHeartbeat(0),
		esm.WithScaling(esm.Scaling{Initial: conc, Min: conc}),
	}, d.Options...)
	m, err := esm.NewSQSMapping(esm.Config{
		QueueURL:        d.QueueURL,
		BatchSize:       1,
		FunctionTimeout: mappingTimeout,
		ScalingConfig:   &esm.ScalingConfig{MaximumConcurrency: conc},
	}, d.Client, esm.HandlerFunc[events.SQSEvent, events.SQSEventResponse](i.handleMessages), opts...)
	if err != nil {
		return fmt.Errorf("invoke: durable queue: %w", err)
	}
	i.durable = &durableQueue{client: d.Client, url: d.QueueURL, mapping: m}
	return nil
}

// enqueueDurable sends a new event to the queue.
func (i *Invoker[E, R]) enqueueDurable(ctx context.Context, it *item) (string, error) {
	i.mu.Lock()
	shut := i.shut
	i.mu.Unlock()
	if shut {
		return "", lambdaesm.ErrClosed
	}
	if err := i.sendDurable(ctx, it, 0, nil); err != nil {
		return "", err
	}
	return it.id, nil
}

// sendDurable sends it to the queue, to be received after delay (at once
// when delay is not positive); done, when not nil, marks it finished with
// records still to deliver.
func (i *Invoker[E, R]) sendDurable(ctx context.Context, it *item, delay time.Duration, done *finishedRecords) error {
	delay = max(delay, 0) // a retry due at an age limit already passed
	env := envelope{RequestID: it.id, EnqueuedAt: it.enqueued, Attempts: it.attempts, Payload: it.payload, Finished: done}
	if it.lastErr != nil {
		kind, payload := errorPayload(it.lastErr)
		env.LastError = &storedError{Kind: kind, Payload: payload}
	}
	if delay > maxDelay {
		due := time.Now().Add(delay)
		env.NotBefore = &due
		delay = maxDelay
	}
	body, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("invoke: encode durable event: %w", err)
	}
	_, err = i.durable.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(i.durable.url),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: int32((delay + time.Second - 1) / time.Second),
	})
	if err != nil {
		return fmt.Errorf("invoke: durable queue %s: %w", i.durable.url, err)
	}
	return nil
}

// handleMessages is the handler of the durable queue's mapping (batches of
// one message). An error leaves the message in the queue, to come back after
// its visibility timeout.
func (i *Invoker[E, R]) handleMessages(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	for _, m := range ev.Records {
		if err := i.handleMessage(ctx, m); err != nil {
			return events.SQSEventResponse{}, err
		}
	}
	return events.SQSEventResponse{}, nil
}

func (i *Invoker[E, R]) handleMessage(ctx context.Context, m events.SQSMessage) error {
	var env envelope
	if err := json.Unmarshal([]byte(m.Body), &env); err != nil || env.RequestID == "" || env.EnqueuedAt.IsZero() {
		i.s.logger.Error("message in the durable queue is not an invoker event; it stays for the queue's redrive policy",
			"messageId", m.MessageId, "err", err)
		return fmt.Errorf("invoke: message %s is not an invoker event", m.MessageId)
	}
	it := &item{
		id: env.RequestID, payload: env.Payload, enqueued: env.EnqueuedAt,
		deadline: env.EnqueuedAt.Add(i.s.MaximumEventAge), attempts: env.Attempts,
	}
	if env.LastError != nil {
		it.lastErr = newFunctionError(env.LastError.Kind, env.LastError.Payload)
	}
	now := time.Now()
	if env.NotBefore != nil && now.Before(*env.NotBefore) {
		return i.sendDurable(ctx, it, env.NotBefore.Sub(now), env.Finished) // not due yet
	}
	var (
		out outcome
		res lambdaesm.AsyncResult
	)
	if env.Finished != nil {
		out, res = finishedEvent, i.redeliver(ctx, it, env.Finished)
	} else {
		out, res = i.attempt(ctx, it)
	}
	switch out {
	case finishedEvent:
		if res.DeliveryErr != nil {
			// The records were refused: the event stays in the queue,
			// done, and only they are offered again later. The send
			// must happen even when the stop that cut the deliveries
			// short ends ctx.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := i.sendDurable(sctx, it, redeliverDelay, &finishedRecords{Condition: res.Condition, Response: it.response}); err != nil {
				return err // this message comes back instead, and the event is attempted again
			}
		}
		i.report(res)
		return nil
	case retryLater:
		return i.sendDurable(ctx, it, time.Until(it.due), nil)
	}
	return fmt.Errorf("invoke: stopped during event %s; it stays in the queue", it.id)
}

// redeliver offers again the records of a durable event that finished with
// condition f.Condition, and returns its result.
func (i *Invoker[E, R]) redeliver(ctx context.Context, it *item, f *finishedRecords) lambdaesm.AsyncResult {
	if f.Condition == lambdaesm.Success {
		it.response = f.Response
		return i.succeedWith(ctx, it)
	}
	return i.discard(ctx, it, f.Condition)
}

// runDurable runs the mapping that consumes the durable queue.
func (i *Invoker[E, R]) runDurable(ctx context.Context) error {
	i.mu.Lock()
	if i.state != notRun {
		i.mu.Unlock()
		return lambdaesm.ErrClosed
	}
	i.state = running
	i.mu.Unlock()
	defer i.finishRun()
	return i.durable.mapping.Run(ctx)
}

// shutdownDurable stops the mapping: Invoke refuses events, the events in
// flight finish, and the rest stay in the queue.
func (i *Invoker[E, R]) shutdownDurable(ctx context.Context) error {
	i.mu.Lock()
	i.shut = true
	i.mu.Unlock()
	return i.durable.mapping.Shutdown(ctx)
}
