package invoke

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/internal/limits"
	"github.com/lambdaesm/lambdaesm/retry"
)

// What this process uses unless an option says otherwise.
const (
	defaultConcurrency      = 10
	defaultQueueCapacity    = 1000
	defaultDeliveryAttempts = 5
	// DefaultFunctionARN names the function in invocation records and in
	// lambdacontext when Config.FunctionARN is empty.
	DefaultFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:function"
)

// Config is the asynchronous invocation configuration of a function, as
// PutFunctionEventInvokeConfig sets it in Lambda, plus the sizes of this
// process's queue and worker pool. The zero value (or a nil *Config) means
// Lambda's defaults.
type Config struct {
	// FunctionARN names the function in invocation records and in
	// lambdacontext.FromContext. Default [DefaultFunctionARN]. Records
	// carry it qualified with ":$LATEST" when it has no qualifier, as
	// Lambda writes them.
	FunctionARN string

	// MaximumRetryAttempts is how many times a failed event is retried,
	// 0 to 2. Nil means 2 (three attempts in all).
	MaximumRetryAttempts *int
	// MaximumEventAge is the oldest an event may be when an attempt
	// starts, from 60s to 6h; older events are discarded with the
	// condition EventAgeExceeded. Zero means 6h.
	MaximumEventAge time.Duration
	// FunctionTimeout bounds each attempt through its context; a handler
	// still running after it counts as timed out (a function error). Zero
	// means 3s, Lambda's default.
	FunctionTimeout time.Duration

	// OnSuccess receives the invocation record of each event the handler
	// accepted (condition Success). Optional.
	OnSuccess destination.Sender
	// OnFailure receives the invocation record of each discarded event
	// (RetriesExhausted or EventAgeExceeded). Optional.
	OnFailure destination.Sender
	// DeadLetter receives only the payload of each discarded event, with
	// the message attributes RequestID, ErrorCode and ErrorMessage, as a
	// Lambda dead-letter queue does (destination.NewDeadLetter): an SQS
	// queue or SNS topic. Optional; with OnFailure, both receive the
	// event.
	DeadLetter destination.Sender
}

// Option changes how an [Invoker] runs in this process, beyond the
// function's asynchronous configuration ([Config]); [New] takes them.
type Option func(*tuning)

// tuning is what the options set.
type tuning struct {
	RetryDelays      []time.Duration
	DeliveryAttempts int
	DeliveryBackoff  retry.Backoff
	Concurrency      int
	QueueCapacity    int
	MaxPayloadBytes  int
	Durable          *Durable
	Hooks            []lambdaesm.Hook
	Logger           *slog.Logger
}

// WithRetryDelays sets the waits before each retry: the first before the
// second attempt, the second before the third; the last one repeats when
// the list is shorter. Default one minute, then two, as Lambda; each delay
// must be zero or more, and at least one is needed when retries are on.
func WithRetryDelays(delays ...time.Duration) Option {
	return func(t *tuning) { t.RetryDelays = append([]time.Duration{}, delays...) }
}

// WithDelivery sets how many times a record is offered to a destination
// (default 5), with backoff between attempts (default
// retry.DefaultBackoff), before it is reported as undelivered (in the
// lambdaesm.AsyncResult and the log).
func WithDelivery(attempts int, backoff retry.Backoff) Option {
	return func(t *tuning) { t.DeliveryAttempts, t.DeliveryBackoff = attempts, backoff }
}

// WithConcurrency sets the size of the worker pool: how many events are
// handled at once (with WithDurable, at least 2). Default 10.
func WithConcurrency(n int) Option { return func(t *tuning) { t.Concurrency = n } }

// WithQueueCapacity bounds the events the invoker holds at once: queued,
// running, or waiting for a retry. [Invoker.Invoke] returns [ErrQueueFull]
// beyond it. Default 1000. It does not apply with WithDurable.
func WithQueueCapacity(n int) Option { return func(t *tuning) { t.QueueCapacity = n } }

// WithMaxPayloadBytes sets the largest event (as JSON) Invoke accepts.
// Default 256 KB, Lambda's limit for asynchronous invocations.
func WithMaxPayloadBytes(n int) Option { return func(t *tuning) { t.MaxPayloadBytes = n } }

// WithDurable keeps the events in an SQS queue instead of memory (see the
// package documentation, "Durable queue").
func WithDurable(d Durable) Option { return func(t *tuning) { t.Durable = &d } }

// WithHooks adds hooks that hear of what the invoker does: a
// lambdaesm.HookAsyncResult hears, once per event, how the invoker finished
// with it (delivered, discarded or abandoned at shutdown). Hooks run on a
// worker goroutine and must be fast and safe for concurrent use.
func WithHooks(hs ...lambdaesm.Hook) Option {
	return func(t *tuning) { t.Hooks = append(t.Hooks, hs...) }
}

// WithLogger sets the invoker's logger. Default none.
func WithLogger(l *slog.Logger) Option { return func(t *tuning) { t.Logger = l } }

// settings is a validated Config with defaults filled in.
type settings struct {
	Config
	tuning
	retries    int
	recordARN  string
	logger     *slog.Logger
	hooks      *core.Hooks
	deliveries int
}

// validate checks c and fills in defaults, reporting every problem at once.
func newSettings(c Config, opts []Option) (settings, error) {
	s := settings{Config: c}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("invoke: a nil Option"))
			continue
		}
		o(&s.tuning)
	}
	s.retries = limits.DefaultAsyncRetryAttempts
	if s.MaximumRetryAttempts != nil {
		s.retries = *s.MaximumRetryAttempts
		if s.retries < 0 || s.retries > limits.MaxAsyncRetryAttempts {
			errs = append(errs, fmt.Errorf("invoke: MaximumRetryAttempts %d: must be between 0 and %d", s.retries, limits.MaxAsyncRetryAttempts))
		}
	}
	switch {
	case s.MaximumEventAge == 0:
		s.MaximumEventAge = limits.MaxEventAge
	case s.MaximumEventAge < limits.MinEventAge || s.MaximumEventAge > limits.MaxEventAge:
		errs = append(errs, fmt.Errorf("invoke: MaximumEventAge %v: must be between %v and %v", s.MaximumEventAge, limits.MinEventAge, limits.MaxEventAge))
	}
	if s.RetryDelays == nil {
		s.RetryDelays = limits.AsyncRetryDelays
	}
	for i, d := range s.RetryDelays {
		if d < 0 {
			errs = append(errs, fmt.Errorf("invoke: WithRetryDelays: delay %d, %v, must not be negative", i+1, d))
		}
	}
	if s.retries > 0 && len(s.RetryDelays) == 0 {
		errs = append(errs, errors.New("invoke: WithRetryDelays gives no delay but retries are enabled: give at least one"))
	}
	s.FunctionTimeout = orDefault(s.FunctionTimeout, limits.DefaultFunctionTimeout, "FunctionTimeout", &errs)
	s.Concurrency = orDefault(s.Concurrency, defaultConcurrency, "WithConcurrency", &errs)
	s.QueueCapacity = orDefault(s.QueueCapacity, defaultQueueCapacity, "WithQueueCapacity", &errs)
	s.MaxPayloadBytes = orDefault(s.MaxPayloadBytes, limits.MaxAsyncPayload, "WithMaxPayloadBytes", &errs)
	s.deliveries = orDefault(s.DeliveryAttempts, defaultDeliveryAttempts, "WithDelivery attempts", &errs)
	if s.Durable != nil {
		errs = append(errs, checkDurable(s.Durable, s.FunctionTimeout)...)
	}
	if s.FunctionARN == "" {
		s.FunctionARN = DefaultFunctionARN
	}
	s.recordARN = qualified(s.FunctionARN)
	s.hooks = core.NewHooks(s.Hooks...)
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, errors.Join(errs...)
}

// orDefault returns v, or def when v is zero; a negative v is an error.
func orDefault[T int | time.Duration](v, def T, name string, errs *[]error) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		*errs = append(*errs, fmt.Errorf("invoke: %s %v: must not be negative", name, v))
	}
	return v
}

// retryDelay is the wait before attempt n+1 after n attempts failed.
func (s *settings) retryDelay(attempts int) time.Duration {
	return s.RetryDelays[min(attempts, len(s.RetryDelays))-1]
}

// qualified adds ":$LATEST" to an unqualified function ARN
// (arn:aws:lambda:region:account:function:name).
func qualified(functionARN string) string {
	if strings.Count(functionARN, ":") == 6 {
		return functionARN + ":" + destination.LatestVersion
	}
	return functionARN
}
