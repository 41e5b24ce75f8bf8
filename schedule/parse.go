package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed schedule expression.
type Schedule interface {
	// Next returns the first firing time strictly after after, in UTC, or
	// the zero time when the schedule never fires again (a cron
	// expression whose years have passed).
	Next(after time.Time) time.Time
	// String returns the expression as it was parsed.
	String() string
}

// Error is the error of an invalid expression. It names the part that is
// wrong and says what is wrong with it.
type Error struct {
	// Expr is the whole expression.
	Expr string
	// Field is the part that is wrong: "minutes", "hours",
	// "day-of-month", "month", "day-of-week" or "year" for cron; "value"
	// or "unit" for rate; empty when the expression's form is wrong.
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("schedule %q: %s", e.Expr, e.Reason)
	}
	return fmt.Sprintf("schedule %q: %s: %s", e.Expr, e.Field, e.Reason)
}

// Parse parses an EventBridge schedule expression: rate(value unit) or
// cron(minutes hours day-of-month month day-of-week year). See the package
// documentation for the syntax.
func Parse(expr string) (Schedule, error) {
	s := strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(s, "rate(") && strings.HasSuffix(s, ")"):
		return parseRate(expr, s[len("rate("):len(s)-1])
	case strings.HasPrefix(s, "cron(") && strings.HasSuffix(s, ")"):
		return parseCron(expr, s[len("cron("):len(s)-1])
	}
	return nil, &Error{Expr: expr, Reason: "want rate(value unit) or cron(minutes hours day-of-month month day-of-week year)"}
}

// Rate is a rate(value unit) schedule: it fires every Every.
type Rate struct {
	// Every is the period: value minutes, hours or days.
	Every time.Duration
	expr  string
}

// Next returns after + Every: a rate counts from the moment it is asked
// about (the scheduler asks with its start time, then with each firing).
func (r *Rate) Next(after time.Time) time.Time { return after.UTC().Add(r.Every) }

// String returns the expression.
func (r *Rate) String() string { return r.expr }

var rateUnits = map[string]time.Duration{
	"minute": time.Minute, "minutes": time.Minute,
	"hour": time.Hour, "hours": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour,
}

func parseRate(expr, body string) (*Rate, error) {
	parts := strings.Fields(body)
	if len(parts) != 2 {
		return nil, &Error{Expr: expr, Reason: fmt.Sprintf("want rate(value unit), got %d parts inside the parentheses", len(parts))}
	}
	value, unit := parts[0], parts[1]
	n, err := strconv.ParseUint(value, 10, 32)
	if err != nil || n == 0 || value[0] == '+' {
		return nil, &Error{Expr: expr, Field: "value", Reason: fmt.Sprintf("%q is not a positive whole number", value)}
	}
	per, ok := rateUnits[unit]
	if !ok {
		return nil, &Error{Expr: expr, Field: "unit", Reason: fmt.Sprintf("%q is not minute, minutes, hour, hours, day or days", unit)}
	}
	plural := strings.HasSuffix(unit, "s")
	switch {
	case n == 1 && plural:
		return nil, &Error{Expr: expr, Field: "unit", Reason: fmt.Sprintf("a value of 1 takes the singular %q, not %q", strings.TrimSuffix(unit, "s"), unit)}
	case n > 1 && !plural:
		return nil, &Error{Expr: expr, Field: "unit", Reason: fmt.Sprintf("a value above 1 takes the plural %q, not %q", unit+"s", unit)}
	}
	if n > uint64(math.MaxInt64/int64(per)) {
		return nil, &Error{Expr: expr, Field: "value", Reason: fmt.Sprintf("%d %s is too long a period", n, unit)}
	}
	return &Rate{Every: time.Duration(n) * per, expr: expr}, nil
}
