package filter

import (
	"fmt"
)

// Lambda's limits on the number of filters of a mapping.
const (
	// DefaultMaxFilters is the default quota: five filters per mapping.
	DefaultMaxFilters = 5
	// MaxFiltersLimit is the most a quota increase allows: ten.
	MaxFiltersLimit = 10
)

// Source selects the source-specific rules of [WithSource].
type Source uint8

// The event sources.
const (
	// AnySource applies no source-specific rule.
	AnySource Source = iota
	// SourceKinesis: the pattern for "data" must be an object.
	SourceKinesis
	// SourceDynamoDB: the pattern for "dynamodb" must be an object.
	SourceDynamoDB
	// SourceSQS: "body" may have an object pattern (JSON bodies) or a list of
	// values (plain-string bodies).
	SourceSQS
)

// String returns "Kinesis", "DynamoDB Streams", "SQS" or "any source".
func (s Source) String() string {
	switch s {
	case SourceKinesis:
		return "Kinesis"
	case SourceDynamoDB:
		return "DynamoDB Streams"
	case SourceSQS:
		return "SQS"
	case AnySource:
		return "any source"
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// dataKey is the record key whose pattern must be an object.
func (s Source) dataKey() string {
	switch s {
	case SourceKinesis:
		return "data"
	case SourceDynamoDB:
		return "dynamodb"
	}
	return ""
}

// Option changes how [Compile] checks patterns. Without options it checks
// them as Lambda does by default.
type Option func(*options)

type options struct {
	maxFilters int
	source     Source
}

// WithMaxFilters sets the number of patterns allowed: default 5
// (DefaultMaxFilters), at most 10 (MaxFiltersLimit), as with a quota
// increase. AWS: the "Filters per event source mapping" quota.
func WithMaxFilters(n int) Option { return func(o *options) { o.maxFilters = n } }

// WithSource turns on the rules of one event source: for Kinesis and
// DynamoDB Streams, Lambda refuses a pattern whose data key ("data",
// "dynamodb") holds a list of values instead of an object. Default
// AnySource: no such rule.
func WithSource(s Source) Option { return func(o *options) { o.source = s } }

// Filter is a compiled FilterCriteria: a list of patterns, OR'ed. It is
// immutable and safe for concurrent use. A nil Filter, or one compiled from
// no patterns, matches every record, as a mapping without FilterCriteria
// does.
type Filter struct {
	patterns []*compiled
	texts    []string
	needs    *need
}

// Compile checks patterns as Lambda checks FilterCriteria and compiles them
// into a Filter. A refusal is an [*Error] that holds every problem found,
// each a [*PatternError] whose Index is the pattern's position; errors.Is(err,
// ErrInvalidPattern) holds. A bad option is a plain error.
func Compile(patterns []string, opts ...Option) (*Filter, error) {
	o := options{maxFilters: DefaultMaxFilters}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	limit := o.maxFilters
	if limit < 1 || limit > MaxFiltersLimit {
		return nil, fmt.Errorf("filter: WithMaxFilters(%d): it must be between 1 and %d", o.maxFilters, MaxFiltersLimit)
	}
	if o.source > SourceSQS {
		return nil, fmt.Errorf("filter: WithSource: unknown source %d", uint8(o.source))
	}
	var problems []*PatternError
	if len(patterns) > limit {
		problems = append(problems, &PatternError{Index: -1,
			Reason: fmt.Sprintf("%d filters; at most %d are allowed", len(patterns), limit)})
	}
	f := &Filter{
		patterns: make([]*compiled, len(patterns)),
		texts:    append([]string(nil), patterns...),
		needs:    &need{},
	}
	for i, text := range patterns {
		c, probs := compilePattern(i, text, o.source)
		if len(probs) > 0 {
			problems = append(problems, probs...)
			continue
		}
		f.patterns[i] = c
		for _, b := range c.branches {
			b.addNeeds(f.needs)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return f, nil
}

// noNeeds is the need of a Filter without patterns: nothing is kept.
var noNeeds = &need{}

// Len returns the number of patterns.
func (f *Filter) Len() int {
	if f == nil {
		return 0
	}
	return len(f.patterns)
}

// Patterns returns the patterns the Filter was compiled from.
func (f *Filter) Patterns() []string {
	if f == nil {
		return nil
	}
	return append([]string(nil), f.texts...)
}

// matchValue reports whether the record v satisfies at least one pattern. A
// record that is not an object matches no pattern. A Filter without
// patterns matches everything.
func (f *Filter) matchValue(v value) bool {
	if f.Len() == 0 {
		return true
	}
	return f.match(&v)
}

func (f *Filter) match(v *value) bool {
	if v.kind != kindObject {
		return false
	}
	for _, p := range f.patterns {
		if p.match(v) {
			return true
		}
	}
	return false
}

// matchedPatterns appends to dst the index of every pattern v satisfies
// and returns the extended slice. Unlike Match it evaluates every pattern.
func (f *Filter) matchedPatterns(dst []int, v value) []int {
	if f == nil {
		return dst
	}
	return f.matched(dst, &v)
}

func (f *Filter) matched(dst []int, v *value) []int {
	if v.kind != kindObject {
		return dst
	}
	for i, p := range f.patterns {
		if p.match(v) {
			dst = append(dst, i)
		}
	}
	return dst
}

// MatchJSON decodes a record given as a JSON object and reports whether it
// satisfies at least one pattern. Only the fields the patterns name are
// decoded; the rest is checked for syntax and skipped. Input that is not a
// JSON object is an error (a [*SyntaxError] when it is not JSON).
func (f *Filter) MatchJSON(data []byte) (bool, error) {
	if f.Len() == 0 {
		d, _, err := acquire(data, noNeeds)
		if err != nil {
			return false, err
		}
		d.release()
		return true, nil
	}
	d, v, err := acquire(data, f.needs)
	if err != nil {
		return false, err
	}
	ok := f.match(v)
	d.release()
	return ok, nil
}

// MatchedPatternsJSON is [Filter.matchedPatterns] for a record given as
// JSON, decoded as by [Filter.MatchJSON].
func (f *Filter) MatchedPatternsJSON(dst []int, data []byte) ([]int, error) {
	needs := noNeeds
	if f.Len() > 0 {
		needs = f.needs
	}
	d, v, err := acquire(data, needs)
	if err != nil {
		return dst, err
	}
	if f.Len() > 0 {
		dst = f.matched(dst, v)
	}
	d.release()
	return dst, nil
}
