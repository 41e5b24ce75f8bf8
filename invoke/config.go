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
	"github.com/lambdaesm/lambdaesm/retry"
)

// Defaults and limits of [Config], after Lambda's PutFunctionEventInvokeConfig
// and its asynchronous invocation quotas.
const (
	// DefaultMaximumRetryAttempts is Lambda's default: two retries, so
	// three attempts.
	DefaultMaximumRetryAttempts = 2
	// MaxRetryAttempts is the largest MaximumRetryAttempts Lambda accepts.
	MaxRetryAttempts = 2
	// DefaultMaximumEventAge is Lambda's default and largest event age.
	DefaultMaximumEventAge = 6 * time.Hour
	// MinEventAge is the smallest MaximumEventAge Lambda accepts.
	MinEventAge = 60 * time.Second
	// DefaultFunctionTimeout bounds each attempt, as Lambda's default
	// function timeout does.
	DefaultFunctionTimeout = 3 * time.Second
	// DefaultConcurrency is the default number of events handled at once.
	DefaultConcurrency = 10
	// DefaultQueueCapacity is the default number of events the invoker holds.
	DefaultQueueCapacity = 1000
	// DefaultMaxPayloadBytes is Lambda's payload quota for asynchronous
	// invocations (256 KB).
	DefaultMaxPayloadBytes = 256 * 1024
	// DefaultDeliveryAttempts is how many times a record is offered to a
	// destination before it is reported as undelivered.
	DefaultDeliveryAttempts = 5
	// DefaultFunctionARN names the function in invocation records when
	// Config.FunctionARN is empty.
	DefaultFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:function"
)

// DefaultRetryDelays are Lambda's waits before the second and the third
// attempt: "a one-minute wait between the first two attempts, and two
// minutes between the second and third attempts".
var DefaultRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}

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
	// RetryDelays are the waits before each retry: RetryDelays[0] before
	// the second attempt, RetryDelays[1] before the third; the last one
	// repeats when the list is shorter. Nil means [DefaultRetryDelays]
	// (one minute, then two); each delay must be zero or more.
	RetryDelays []time.Duration
	// FunctionTimeout bounds each attempt through its context; a handler
	// still running after it counts as timed out (a function error). Zero
	// means [DefaultFunctionTimeout].
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
	// DeliveryAttempts is how many times a record is offered to a
	// destination, with DeliveryBackoff between attempts, before it is
	// reported as undelivered (in [Result.DeliveryErr] and the log).
	// Zero means [DefaultDeliveryAttempts].
	DeliveryAttempts int
	// DeliveryBackoff spaces delivery attempts. Zero means
	// retry.DefaultBackoff.
	DeliveryBackoff retry.Backoff

	// Concurrency is the size of the worker pool: how many events are
	// handled at once (with Durable, at least 2). Zero means
	// [DefaultConcurrency].
	Concurrency int
	// QueueCapacity bounds the events the invoker holds at once: queued,
	// running, or waiting for a retry. [Invoker.Invoke] returns
	// [ErrQueueFull] beyond it. Zero means [DefaultQueueCapacity].
	QueueCapacity int
	// MaxPayloadBytes is the largest event (as JSON) Invoke accepts. Zero
	// means [DefaultMaxPayloadBytes].
	MaxPayloadBytes int

	// Durable, when set, keeps the events in an SQS queue instead of
	// memory (see the package documentation, "Durable queue").
	// QueueCapacity does not apply then.
	Durable *Durable

	// Hooks hear of what the invoker does: a lambdaesm.HookAsyncResult
	// hears, once per event, how the invoker finished with it (delivered,
	// discarded or abandoned at shutdown). Hooks run on a worker goroutine
	// and must be fast and safe for concurrent use.
	Hooks []lambdaesm.Hook
	// Logger receives the invoker's logs. Nil means none.
	Logger *slog.Logger
}

// settings is a validated Config with defaults filled in.
type settings struct {
	Config
	retries    int
	recordARN  string
	logger     *slog.Logger
	hooks      *core.Hooks
	deliveries int
}

// validate checks c and fills in defaults, reporting every problem at once.
func (c *Config) settings() (settings, error) {
	var s settings
	if c != nil {
		s.Config = *c
	}
	var errs []error
	s.retries = DefaultMaximumRetryAttempts
	if s.MaximumRetryAttempts != nil {
		s.retries = *s.MaximumRetryAttempts
		if s.retries < 0 || s.retries > MaxRetryAttempts {
			errs = append(errs, fmt.Errorf("invoke: MaximumRetryAttempts %d: must be between 0 and %d", s.retries, MaxRetryAttempts))
		}
	}
	switch {
	case s.MaximumEventAge == 0:
		s.MaximumEventAge = DefaultMaximumEventAge
	case s.MaximumEventAge < MinEventAge || s.MaximumEventAge > DefaultMaximumEventAge:
		errs = append(errs, fmt.Errorf("invoke: MaximumEventAge %v: must be between %v and %v", s.MaximumEventAge, MinEventAge, DefaultMaximumEventAge))
	}
	if s.RetryDelays == nil {
		s.RetryDelays = DefaultRetryDelays
	}
	for i, d := range s.RetryDelays {
		if d < 0 {
			errs = append(errs, fmt.Errorf("invoke: RetryDelays[%d] %v: must not be negative", i, d))
		}
	}
	if s.retries > 0 && len(s.RetryDelays) == 0 {
		errs = append(errs, errors.New("invoke: RetryDelays is empty but retries are enabled: give at least one delay (or leave it nil for Lambda's)"))
	}
	s.FunctionTimeout = orDefault(s.FunctionTimeout, DefaultFunctionTimeout, "FunctionTimeout", &errs)
	s.Concurrency = orDefault(s.Concurrency, DefaultConcurrency, "Concurrency", &errs)
	s.QueueCapacity = orDefault(s.QueueCapacity, DefaultQueueCapacity, "QueueCapacity", &errs)
	s.MaxPayloadBytes = orDefault(s.MaxPayloadBytes, DefaultMaxPayloadBytes, "MaxPayloadBytes", &errs)
	s.deliveries = orDefault(s.DeliveryAttempts, DefaultDeliveryAttempts, "DeliveryAttempts", &errs)
	if s.Durable != nil {
		errs = append(errs, checkDurable(s.Durable)...)
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
