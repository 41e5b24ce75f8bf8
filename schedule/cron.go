package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a cron(minutes hours day-of-month month day-of-week year)
// schedule, evaluated in UTC.
type Cron struct {
	expr    string
	minutes bits
	hours   bits
	months  bits
	years   bits
	// Exactly one of the day fields is "?": dom when dowAny, dow otherwise.
	dom    dayRule
	dow    dayRule
	dowAny bool
}

// dayRule is a day-of-month or day-of-week field.
type dayRule struct {
	kind dayKind
	set  bits // dayList: the days (of the month, or of the week 1=SUN…7=SAT)
	n    int  // dayNearestWeekday: the day; dayLastOf, dayNth: the weekday
	k    int  // dayNth: which occurrence, 1 to 5
}

type dayKind int

const (
	dayAny            dayKind = iota // ?
	dayList                          // values, ranges, steps, *
	dayLast                          // L in day-of-month
	dayLastWeekday                   // LW
	dayNearestWeekday                // 15W
	dayLastOf                        // 6L in day-of-week: the last Friday
	dayNth                           // 6#3: the third Friday
)

// bits is a set of small numbers, indexed from a field's minimum.
type bits [4]uint64

func (b *bits) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b *bits) has(i int) bool { return i >= 0 && i < 256 && b[i/64]&(1<<(i%64)) != 0 }

// field describes one cron field: its name, range and value names.
type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	minutesField = field{name: "minutes", min: 0, max: 59}
	hoursField   = field{name: "hours", min: 0, max: 23}
	domField     = field{name: "day-of-month", min: 1, max: 31}
	monthField   = field{name: "month", min: 1, max: 12, names: map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}}
	dowField = field{name: "day-of-week", min: 1, max: 7, names: map[string]int{
		"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7,
	}}
	yearField = field{name: "year", min: 1970, max: 2199}
)

// fieldError is a problem in one field; parseCron adds the expression.
type fieldError struct {
	field  string
	reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func (f field) errorf(format string, args ...any) *fieldError {
	return &fieldError{field: f.name, reason: fmt.Sprintf(format, args...)}
}

func parseCron(expr, body string) (*Cron, error) {
	parts := strings.Fields(body)
	if len(parts) != 6 {
		return nil, &Error{Expr: expr, Reason: fmt.Sprintf("want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(parts))}
	}
	c := &Cron{expr: expr}
	var err *fieldError
	if c.minutes, err = minutesField.list(parts[0]); err == nil {
		if c.hours, err = hoursField.list(parts[1]); err == nil {
			if c.dom, err = parseDOM(parts[2]); err == nil {
				if c.months, err = monthField.list(parts[3]); err == nil {
					if c.dow, err = parseDOW(parts[4]); err == nil {
						c.years, err = yearField.list(parts[5])
					}
				}
			}
		}
	}
	if err == nil {
		switch domAny, dowAny := c.dom.kind == dayAny, c.dow.kind == dayAny; {
		case domAny && dowAny:
			err = dowField.errorf("? in both day-of-month and day-of-week: give one of them a value")
		case !domAny && !dowAny:
			err = dowField.errorf("must be ? when day-of-month is given (%s): EventBridge does not combine the two", parts[2])
		}
		c.dowAny = c.dow.kind == dayAny
	}
	if err != nil {
		return nil, &Error{Expr: expr, Field: err.field, Reason: err.reason}
	}
	return c, nil
}

// parseDOM parses the day-of-month field: ?, L, LW, 15W, or a list.
func parseDOM(s string) (dayRule, *fieldError) {
	f := domField
	switch {
	case s == "?":
		return dayRule{kind: dayAny}, nil
	case s == "L":
		return dayRule{kind: dayLast}, nil
	case s == "LW":
		return dayRule{kind: dayLastWeekday}, nil
	case strings.HasSuffix(s, "W"):
		return f.single(s, "W", dayNearestWeekday, "15W")
	case strings.Contains(s, "L"):
		return dayRule{}, f.errorf("%q: L stands alone in day-of-month (L, or LW for the last weekday)", s)
	case strings.Contains(s, "#"):
		return dayRule{}, f.errorf("%q: # is only allowed in day-of-week", s)
	}
	set, err := f.list(s)
	return dayRule{kind: dayList, set: set}, err
}

// parseDOW parses the day-of-week field: ?, L, 6L, 6#3, or a list.
func parseDOW(s string) (dayRule, *fieldError) {
	f := dowField
	switch {
	case s == "?":
		return dayRule{kind: dayAny}, nil
	case s == "L": // the last day of the week: Saturday
		var set bits
		set.set(7 - f.min)
		return dayRule{kind: dayList, set: set}, nil
	case strings.Contains(s, "#"):
		day, nth, _ := strings.Cut(s, "#")
		if strings.ContainsAny(s, ",-/*L") {
			return dayRule{}, f.errorf("%q: # takes a single day and occurrence, like 6#3 (the third Friday)", s)
		}
		n, err := f.value(day)
		if err != nil {
			return dayRule{}, err
		}
		k, convErr := strconv.Atoi(nth)
		if convErr != nil || k < 1 || k > 5 || !isDigits(nth) {
			return dayRule{}, f.errorf("%q: the occurrence after # must be 1 to 5", s)
		}
		return dayRule{kind: dayNth, n: n, k: k}, nil
	case strings.HasSuffix(s, "L"):
		return f.single(s, "L", dayLastOf, "6L (the last Friday)")
	case strings.Contains(s, "W"):
		return dayRule{}, f.errorf("%q: W is only allowed in day-of-month", s)
	}
	set, err := f.list(s)
	return dayRule{kind: dayList, set: set}, err
}

// single parses one day followed by suffix (15W, 6L) into a rule of kind.
func (f field) single(s, suffix string, kind dayKind, example string) (dayRule, *fieldError) {
	day := strings.TrimSuffix(s, suffix)
	if strings.ContainsAny(day, ",-/*") {
		return dayRule{}, f.errorf("%q: %s takes a single day, like %s", s, suffix, example)
	}
	n, err := f.value(day)
	if err != nil {
		return dayRule{}, err
	}
	return dayRule{kind: kind, n: n}, nil
}

// list parses a comma-separated list of *, values, ranges (a-b) and steps
// (*/s, a/s, a-b/s).
func (f field) list(s string) (bits, *fieldError) {
	var set bits
	if strings.Contains(s, "?") {
		return set, f.errorf("%q: ? is only allowed in day-of-month and day-of-week, alone", s)
	}
	for item := range strings.SplitSeq(s, ",") {
		if item == "" {
			return set, f.errorf("%q: empty value in the list", s)
		}
		base, stepText, hasStep := strings.Cut(item, "/")
		var lo, hi int
		var err *fieldError
		if base == "*" {
			lo, hi = f.min, f.max
		} else if a, b, isRange := strings.Cut(base, "-"); isRange {
			if lo, err = f.value(a); err != nil {
				return set, err
			}
			if hi, err = f.value(b); err != nil {
				return set, err
			}
			if lo > hi {
				return set, f.errorf("%q: the range starts after it ends", base)
			}
		} else {
			if lo, err = f.value(base); err != nil {
				return set, err
			}
			hi = lo
			if hasStep {
				hi = f.max // a/s: from a to the end
			}
		}
		step := 1
		if hasStep {
			span := f.max - f.min + 1
			n, convErr := strconv.Atoi(stepText)
			if convErr != nil || !isDigits(stepText) || n < 1 || n > span {
				return set, f.errorf("%q: the increment after / must be a whole number from 1 to %d", item, span)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			set.set(v - f.min)
		}
	}
	return set, nil
}

// value parses one number or name of the field.
func (f field) value(s string) (int, *fieldError) {
	if n, ok := f.names[strings.ToUpper(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || !isDigits(s) {
		if f.names != nil {
			return 0, f.errorf("%q is neither a number from %d to %d nor a name (%s)", s, f.min, f.max, f.nameRange())
		}
		return 0, f.errorf("%q is not a number from %d to %d", s, f.min, f.max)
	}
	if n < f.min || n > f.max {
		return 0, f.errorf("%d is out of range %d-%d", n, f.min, f.max)
	}
	return n, nil
}

func (f field) nameRange() string {
	if f.max == 12 {
		return "JAN-DEC"
	}
	return "SUN-SAT"
}

func isDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String returns the expression.
func (c *Cron) String() string { return c.expr }

// Next returns the first minute strictly after after (UTC) that matches every
// field, or the zero time when none is left before the end of 2199.
func (c *Cron) Next(after time.Time) time.Time {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	for y := max(t.Year(), yearField.min); y <= yearField.max; y++ {
		if !c.years.has(y - yearField.min) {
			continue
		}
		thisYear := y == t.Year()
		for m := time.January; m <= time.December; m++ {
			if !c.months.has(int(m)-1) || (thisYear && m < t.Month()) {
				continue
			}
			thisMonth := thisYear && m == t.Month()
			days := c.days(y, m)
			for d := 1; d <= 31; d++ {
				if !days.has(d-1) || (thisMonth && d < t.Day()) {
					continue
				}
				today := thisMonth && d == t.Day()
				for h := range 24 {
					if !c.hours.has(h) || (today && h < t.Hour()) {
						continue
					}
					for mi := range 60 {
						if !c.minutes.has(mi) || (today && h == t.Hour() && mi < t.Minute()) {
							continue
						}
						return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
					}
				}
			}
		}
	}
	return time.Time{}
}

// days returns the days of month m of year y that the day fields select,
// indexed from 0 (the 1st).
func (c *Cron) days(y int, m time.Month) bits {
	var out bits
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
	weekday := func(d int) int { return (int(first)+d-1)%7 + 1 } // 1=SUN…7=SAT
	r := c.dom
	if !c.dowAny {
		r = c.dow
	}
	switch {
	case c.dowAny && r.kind == dayList:
		for d := 1; d <= last; d++ {
			if r.set.has(d - 1) {
				out.set(d - 1)
			}
		}
	case r.kind == dayLast:
		out.set(last - 1)
	case r.kind == dayLastWeekday:
		out.set(nearestWeekday(last, last, weekday) - 1)
	case r.kind == dayNearestWeekday:
		if r.n <= last {
			out.set(nearestWeekday(r.n, last, weekday) - 1)
		}
	case r.kind == dayList: // day-of-week
		for d := 1; d <= last; d++ {
			if r.set.has(weekday(d) - 1) {
				out.set(d - 1)
			}
		}
	case r.kind == dayLastOf:
		d := last
		for weekday(d) != r.n {
			d--
		}
		out.set(d - 1)
	case r.kind == dayNth:
		d := 1
		for weekday(d) != r.n {
			d++
		}
		if d += 7 * (r.k - 1); d <= last {
			out.set(d - 1)
		}
	}
	return out
}

// nearestWeekday is the weekday (Monday to Friday) nearest to day n of a
// month of last days, without leaving the month: a Saturday moves to the
// Friday before (or the Monday after, on the 1st), a Sunday to the Monday
// after (or the Friday before, on the last day).
func nearestWeekday(n, last int, weekday func(int) int) int {
	switch weekday(n) {
	case 7: // Saturday
		if n == 1 {
			return 3
		}
		return n - 1
	case 1: // Sunday
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}
