package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
)

// Values of the events a schedule sends, as EventBridge writes them.
const (
	// detailType is the events' detail-type.
	detailType = "Scheduled Event"
	// eventSource is the events' source.
	eventSource = "aws.events"
	// defaultRegion and defaultAccount make up the rule ARN of a rule
	// given by name (WithRule).
	defaultRegion  = "us-east-1"
	defaultAccount = "000000000000"
)

// Target receives the scheduled events. An *invoke.Invoker of
// events.EventBridgeEvent satisfies it: the handler then runs with Lambda's
// asynchronous semantics (retries, event age, destinations), as a function
// behind an EventBridge schedule does.
type Target interface {
	// Invoke takes the event of one firing and returns its request ID, or
	// an error when it refuses the event (a lambdaesm.HookScheduleRefused
	// added with WithHooks hears of it).
	Invoke(ctx context.Context, e events.EventBridgeEvent) (string, error)
}

// Option configures a [Scheduler]; [New] takes them. Without options the
// scheduler stands for arn:aws:events:us-east-1:000000000000:rule/schedule
// and logs nothing.
type Option func(*config)

type config struct {
	rule   string
	hooks  []lambdaesm.Hook
	logger *slog.Logger
	errs   []error
}

// WithRule names the rule the scheduler stands for: a rule ARN, the events'
// resources[0], whose region and account become the events' region and
// account; or a rule name, for
// arn:aws:events:us-east-1:000000000000:rule/<name>. Default
// "schedule".
func WithRule(nameOrARN string) Option {
	return func(c *config) {
		if nameOrARN == "" {
			c.errs = append(c.errs, errors.New("schedule: WithRule: the rule is empty"))
		}
		c.rule = nameOrARN
	}
}

// WithHooks adds hooks that hear of what the scheduler does: a
// lambdaesm.HookScheduleRefused hears of a firing whose event the target
// refused (its queue full or closed); the firing is not retried. Hooks run
// on the scheduler's goroutine.
func WithHooks(hs ...lambdaesm.Hook) Option {
	return func(c *config) { c.hooks = append(c.hooks, hs...) }
}

// WithLogger sets the scheduler's logger. Default none.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// Scheduler sends an EventBridge "Scheduled Event" to a target at each
// firing of a schedule. Build it with [New], start it with Run, stop it with
// Shutdown. Its methods are safe for concurrent use.
type Scheduler struct {
	sched   Schedule
	target  Target
	rule    arn.ARN
	ruleARN string
	hooks   *core.Hooks
	log     *slog.Logger

	mu       sync.Mutex
	started  bool
	stopping chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// New parses expr and returns a scheduler that sends its firings to target.
// It starts nothing: call Run. Every problem with its arguments is reported
// at once.
func New(expr string, target Target, opts ...Option) (*Scheduler, error) {
	c := config{rule: "schedule", logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("schedule: a nil Option"))
			continue
		}
		o(&c)
	}
	errs := c.errs
	sched, err := Parse(expr)
	errs = append(errs, err)
	if target == nil {
		errs = append(errs, errors.New("schedule: the target is nil"))
	}
	ruleARN := c.rule
	if !strings.HasPrefix(ruleARN, "arn:") {
		ruleARN = "arn:aws:events:" + defaultRegion + ":" + defaultAccount + ":rule/" + c.rule
	}
	rule, err := arn.Parse(ruleARN)
	if c.rule != "" && (err != nil || rule.Service != "events") {
		errs = append(errs, fmt.Errorf("schedule: WithRule: %q is not an EventBridge rule ARN", c.rule))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		sched: sched, target: target, rule: rule, ruleARN: ruleARN, hooks: core.NewHooks(c.hooks...), log: c.logger,
		stopping: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// Schedule returns the parsed expression.
func (s *Scheduler) Schedule() Schedule { return s.sched }

// Run fires the schedule until ctx ends or Shutdown is called, and returns
// nil then. The first firing is the schedule's first time after Run starts
// (for a rate, one period after). Firings missed while the process was not
// running, or while Run was held up past them, are not replayed: after a
// gap, the next firing is the schedule's first time after the gap. Run
// returns [lambdaesm.ErrClosed] when called twice or after Shutdown.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return lambdaesm.ErrClosed
	}
	s.started = true
	s.mu.Unlock()
	defer close(s.done)
	select {
	case <-s.stopping:
		return lambdaesm.ErrClosed
	default:
	}
	next := s.sched.Next(time.Now())
	for {
		if next.IsZero() {
			s.log.Info("schedule has no firing left", "schedule", s.sched.String())
			select {
			case <-ctx.Done():
			case <-s.stopping:
			}
			return nil
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.stopping:
			t.Stop()
			return nil
		case <-t.C:
		}
		s.fire(ctx, next)
		now := time.Now()
		following := s.sched.Next(next)
		if !following.IsZero() && following.Before(now) {
			skipTo := s.sched.Next(now)
			s.log.Warn("firings missed while the scheduler was held up are not replayed",
				"schedule", s.sched.String(), "from", following, "resumingAt", skipTo)
			following = skipTo
		}
		next = following
	}
}

// Shutdown stops the scheduler and waits for Run to return, or returns ctx's
// error if ctx ends first. It is idempotent; before Run it makes Run return
// [lambdaesm.ErrClosed].
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fire sends the event of the firing at at.
func (s *Scheduler) fire(ctx context.Context, at time.Time) {
	e := s.Event(at)
	if _, err := s.target.Invoke(ctx, e); err != nil {
		s.log.Warn("target refused the scheduled event", "schedule", s.sched.String(), "time", at, "err", err)
		s.hooks.ScheduleRefused(s.ruleARN, at, err)
	}
}

// Event returns the event of the firing at at, as EventBridge sends it: a
// new id, detail-type "Scheduled Event", source "aws.events", the rule's
// account and region, the time in whole seconds (UTC), the rule as the one
// resource and an empty detail.
func (s *Scheduler) Event(at time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         uuid.New(),
		DetailType: detailType,
		Source:     eventSource,
		AccountID:  s.rule.AccountID,
		Time:       at.UTC().Truncate(time.Second),
		Region:     s.rule.Region,
		Resources:  []string{s.ruleARN},
		Detail:     json.RawMessage("{}"),
	}
}
