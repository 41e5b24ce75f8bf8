package filter

import (
	"errors"
	"strconv"
	"strings"
)

// InvalidPatternMessage is AWS's message for a refused filter pattern
// (InvalidParameterValueException from CreateEventSourceMapping and
// UpdateEventSourceMapping).
const InvalidPatternMessage = "Invalid filter pattern definition."

// ErrInvalidPattern is matched by errors.Is for every refusal of [Compile]: a
// pattern AWS would refuse, or more patterns than allowed.
var ErrInvalidPattern = errors.New(InvalidPatternMessage)

// PatternError is one problem found by [Compile]. Its message is AWS's
// [InvalidPatternMessage] followed by a precise reason of this package's own;
// AWS gives no reason.
type PatternError struct {
	// Index is the position of the pattern in the list given to Compile, or
	// -1 when the problem is the list itself (too many patterns).
	Index int
	// Path locates the problem inside the pattern: field names joined by dots,
	// with $or alternatives as "$or[1]" and leaf list elements as "[2]", e.g.
	// "detail.state[0]". Empty for the pattern as a whole.
	Path string
	// Reason says what is wrong, e.g. "prefix must be a string".
	Reason string
}

// Error returns "Invalid filter pattern definition. (pattern 2 at
// detail.state[0]: prefix must be a string)".
func (e *PatternError) Error() string {
	var b strings.Builder
	b.WriteString(InvalidPatternMessage)
	b.WriteString(" (")
	e.describe(&b)
	b.WriteString(")")
	return b.String()
}

func (e *PatternError) describe(b *strings.Builder) {
	if e.Index >= 0 {
		b.WriteString("pattern ")
		b.WriteString(strconv.Itoa(e.Index))
		if e.Path != "" {
			b.WriteString(" at ")
			b.WriteString(e.Path)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
}

// Is reports whether target is [ErrInvalidPattern].
func (e *PatternError) Is(target error) bool { return target == ErrInvalidPattern }

// Error is the error of [Compile]: every problem found, in pattern order.
// Get it, or one of its problems, with errors.As.
type Error struct {
	Problems []*PatternError
}

// Error returns AWS's message followed by the problems, one per line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(InvalidPatternMessage)
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		p.describe(&b)
	}
	return b.String()
}

// Is reports whether target is [ErrInvalidPattern].
func (e *Error) Is(target error) bool { return target == ErrInvalidPattern }

// Unwrap returns the problems, so errors.As finds a *PatternError.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Indexes returns the Index of each problem, in order, without repeats.
func (e *Error) Indexes() []int {
	var out []int
	for _, p := range e.Problems {
		if len(out) == 0 || out[len(out)-1] != p.Index {
			out = append(out, p.Index)
		}
	}
	return out
}
