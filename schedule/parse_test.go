package schedule_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/schedule"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		expr  string
		after string
		want  []string // successive firings; "never" for the zero time
	}{
		// Plain fields, and "strictly after".
		{"cron(0 12 * * ? *)", "2024-02-28T12:00", []string{"2024-02-29T12:00", "2024-03-01T12:00"}},
		{"cron(0 12 * * ? *)", "2024-02-28T11:59", []string{"2024-02-28T12:00"}},
		{"cron(0/15 * * * ? *)", "2024-05-01T10:07", []string{"2024-05-01T10:15", "2024-05-01T10:30", "2024-05-01T10:45", "2024-05-01T11:00"}},
		{"cron(*/20 * * * ? *)", "2024-05-01T10:59", []string{"2024-05-01T11:00", "2024-05-01T11:20"}},
		{"cron(5/20 8-10 ? * MON-FRI *)", "2024-01-05T10:45", []string{"2024-01-08T08:05", "2024-01-08T08:25", "2024-01-08T08:45", "2024-01-08T09:05"}},
		{"cron(0 18 ? * MON-FRI *)", "2024-01-05T18:00", []string{"2024-01-08T18:00"}},
		{"cron(10,40 1-2/1 * * ? *)", "2024-01-01T00:00", []string{"2024-01-01T01:10", "2024-01-01T01:40", "2024-01-01T02:10", "2024-01-01T02:40", "2024-01-02T01:10"}},
		{"cron(30 2 ? * SUN-SAT *)", "2024-01-01T03:00", []string{"2024-01-02T02:30"}},
		{"cron(0 0 ? * sun *)", "2024-01-01T00:00", []string{"2024-01-07T00:00", "2024-01-14T00:00"}},
		// Leap years.
		{"cron(0 0 29 FEB ? *)", "2023-01-01T00:00", []string{"2024-02-29T00:00", "2028-02-29T00:00"}},
		{"cron(0 0 29 2 ? 2097-2104)", "2097-01-01T00:00", []string{"2104-02-29T00:00", "never"}}, // 2100 is not a leap year
		{"cron(0 0 31 * ? *)", "2024-01-31T00:00", []string{"2024-03-31T00:00", "2024-05-31T00:00"}},
		// L, LW and W in day-of-month.
		{"cron(0 0 L * ? *)", "2024-01-31T00:00", []string{"2024-02-29T00:00", "2024-03-31T00:00", "2024-04-30T00:00"}},
		{"cron(0 0 L 2 ? *)", "2023-01-01T00:00", []string{"2023-02-28T00:00", "2024-02-29T00:00"}},
		{"cron(0 9 LW * ? *)", "2024-01-01T00:00", []string{"2024-01-31T09:00", "2024-02-29T09:00", "2024-03-29T09:00", "2024-04-30T09:00"}},
		{"cron(0 9 LW 8 ? 2024)", "2024-01-01T00:00", []string{"2024-08-30T09:00", "never"}}, // Saturday the 31st → Friday
		{"cron(0 9 15W * ? *)", "2024-05-01T00:00", []string{"2024-05-15T09:00", "2024-06-14T09:00", "2024-07-15T09:00"}},
		{"cron(0 9 15W 9 ? *)", "2024-01-01T00:00", []string{"2024-09-16T09:00"}}, // Sunday → Monday
		{"cron(0 9 1W 6 ? *)", "2024-01-01T00:00", []string{"2024-06-03T09:00"}},  // Saturday the 1st → Monday the 3rd
		{"cron(0 9 31W * ? 2024)", "2024-01-31T10:00", []string{"2024-03-29T09:00", "2024-05-31T09:00"}},
		// L and # in day-of-week, year ranges.
		{"cron(0 10 ? * 6L 2019-2022)", "2022-11-01T00:00", []string{"2022-11-25T10:00", "2022-12-30T10:00", "never"}},
		{"cron(0 10 ? * FRIL *)", "2022-11-01T00:00", []string{"2022-11-25T10:00"}},
		{"cron(0 0 ? * L *)", "2024-01-01T00:00", []string{"2024-01-06T00:00", "2024-01-13T00:00"}},
		{"cron(0 9 ? * 2#1 *)", "2024-01-01T09:00", []string{"2024-02-05T09:00", "2024-03-04T09:00"}},
		{"cron(0 9 ? * MON#5 2024)", "2024-01-01T00:00", []string{"2024-01-29T09:00", "2024-04-29T09:00", "2024-07-29T09:00", "2024-09-30T09:00", "2024-12-30T09:00", "never"}},
		{"cron(0 0 1 JAN,jul ? 2030/5)", "2024-06-01T00:00", []string{"2030-01-01T00:00", "2030-07-01T00:00", "2035-01-01T00:00"}},
		{"cron(* * * * ? 2199)", "2199-12-31T23:58", []string{"2199-12-31T23:59", "never"}},
		{"cron(0 0 1 1 ? 1970)", "1960-01-01T00:00", []string{"1970-01-01T00:00", "never"}},
		{"cron(0 0 1 1 ? *)", "2200-01-01T00:00", []string{"never"}},
		// Rates count from the time asked about.
		{"rate(5 minutes)", "2024-01-01T10:07", []string{"2024-01-01T10:12", "2024-01-01T10:17"}},
		{"rate(1 day)", "2024-02-28T10:00", []string{"2024-02-29T10:00", "2024-03-01T10:00"}},
		{" rate(2 hours) ", "2024-01-01T23:00", []string{"2024-01-02T01:00"}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := schedule.Parse(tc.expr)
			require.NoError(t, err)
			require.Equal(t, tc.expr, s.String())
			prev := at(tc.after)
			for i, w := range tc.want {
				next := s.Next(prev)
				if w == "never" {
					require.True(t, next.IsZero(), "firing %d: want none, got %v", i+1, next)
					return
				}
				require.Equal(t, at(w), next, "firing %d", i+1)
				require.Equal(t, time.UTC, next.Location())
				prev = next
			}
		})
	}
}

func TestNextIsUTCAndDropsSeconds(t *testing.T) {
	s, err := schedule.Parse("cron(0 12 * * ? *)")
	require.NoError(t, err)
	tokyo := time.FixedZone("JST", 9*3600)
	// 20:30 in Tokyo is 11:30 UTC: noon UTC comes first.
	require.Equal(t, at("2024-03-10T12:00"), s.Next(time.Date(2024, 3, 10, 20, 30, 45, 0, tokyo)))
	require.Equal(t, at("2024-03-11T12:00"), s.Next(time.Date(2024, 3, 10, 12, 0, 0, 1, time.UTC)))
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		expr, field, reason string
	}{
		{"", "", "want rate(value unit) or cron("},
		{"cron 0 12 * * ? *", "", "want rate(value unit) or cron("},
		{"at(2024-01-01T00:00:00)", "", "want rate(value unit) or cron("},
		{"rate(5)", "", "want rate(value unit), got 1 parts"},
		{"rate(0 minutes)", "value", `"0" is not a positive whole number`},
		{"rate(-1 minutes)", "value", `"-1" is not a positive whole number`},
		{"rate(1.5 hours)", "value", `"1.5" is not a positive whole number`},
		{"rate(+5 minutes)", "value", `"+5" is not a positive whole number`},
		{"rate(5 weeks)", "unit", `"weeks" is not minute, minutes, hour, hours, day or days`},
		{"rate(1 minutes)", "unit", `a value of 1 takes the singular "minute"`},
		{"rate(5 hour)", "unit", `a value above 1 takes the plural "hours"`},
		{"rate(4000000000 days)", "value", "too long a period"},
		{"cron(0 12 * * ?)", "", "want 6 fields (minutes hours day-of-month month day-of-week year), got 5"},
		{"cron(0 12 * * ? * *)", "", "got 7"},
		{"cron(60 12 * * ? *)", "minutes", "60 is out of range 0-59"},
		{"cron(x 12 * * ? *)", "minutes", `"x" is not a number from 0 to 59`},
		{"cron(? 12 * * ? *)", "minutes", "? is only allowed in day-of-month and day-of-week"},
		{"cron(0 24 * * ? *)", "hours", "24 is out of range 0-23"},
		{"cron(0 12 32 * ? *)", "day-of-month", "32 is out of range 1-31"},
		{"cron(0 12 0 * ? *)", "day-of-month", "0 is out of range 1-31"},
		{"cron(0 12 * 13 ? *)", "month", "13 is out of range 1-12"},
		{"cron(0 12 * FOO ? *)", "month", `"FOO" is neither a number from 1 to 12 nor a name (JAN-DEC)`},
		{"cron(0 12 ? * 8 *)", "day-of-week", "8 is out of range 1-7"},
		{"cron(0 12 ? * FUN *)", "day-of-week", `nor a name (SUN-SAT)`},
		{"cron(0 12 ? * MON#6 *)", "day-of-week", "the occurrence after # must be 1 to 5"},
		{"cron(0 12 ? * 2#0 *)", "day-of-week", "the occurrence after # must be 1 to 5"},
		{"cron(0 12 ? * 2#1,3#1 *)", "day-of-week", "# takes a single day and occurrence"},
		{"cron(0 12 ? * 2-3L *)", "day-of-week", "L takes a single day"},
		{"cron(0 12 ? * 2W *)", "day-of-week", "W is only allowed in day-of-month"},
		{"cron(0 12 * * * *)", "day-of-week", "must be ? when day-of-month is given (*)"},
		{"cron(0 12 1 * MON *)", "day-of-week", "must be ? when day-of-month is given (1)"},
		{"cron(0 12 ? * ? *)", "day-of-week", "? in both day-of-month and day-of-week"},
		{"cron(0 12 * * ? 1969)", "year", "1969 is out of range 1970-2199"},
		{"cron(0 12 * * ? 2200)", "year", "2200 is out of range 1970-2199"},
		{"cron(0/0 * * * ? *)", "minutes", `"0/0": the increment after / must be a whole number from 1 to 60`},
		{"cron(0/61 * * * ? *)", "minutes", "from 1 to 60"},
		{"cron(0/x * * * ? *)", "minutes", "the increment after / must be"},
		{"cron(30-10 * * * ? *)", "minutes", `"30-10": the range starts after it ends`},
		{"cron(0 12 1,,2 * ? *)", "day-of-month", "empty value in the list"},
		{"cron(0 12 L-2 * ? *)", "day-of-month", "L stands alone in day-of-month"},
		{"cron(0 12 1,L * ? *)", "day-of-month", "L stands alone"},
		{"cron(0 12 1-5W * ? *)", "day-of-month", "W takes a single day"},
		{"cron(0 12 32W * ? *)", "day-of-month", "32 is out of range 1-31"},
		{"cron(0 12 1#2 * ? *)", "day-of-month", "# is only allowed in day-of-week"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := schedule.Parse(tc.expr)
			require.Error(t, err)
			se, ok := errors.AsType[*schedule.Error](err)
			require.True(t, ok, "%T", err)
			require.Equal(t, tc.expr, se.Expr)
			require.Equal(t, tc.field, se.Field)
			require.Contains(t, se.Reason, tc.reason)
			if tc.field != "" {
				require.Contains(t, err.Error(), tc.field+": ")
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"cron(0 12 * * ? *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(0 9 LW * ? *)", "cron(0 9 15W * ? *)",
		"cron(0 10 ? * 6L 2019-2022)", "cron(0 9 ? * 2#1 *)", "cron(0 0 1 JAN,JUL ? 2030/5)",
		"rate(5 minutes)", "rate(1 day)", "cron(* * * * ? 2199)", "cron(0 0 29 2 ? 2100)", "cron(5-/3 * * * ? *)",
	} {
		f.Add(seed)
	}
	from := at("2024-01-01T00:00")
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := schedule.Parse(expr)
		if err != nil {
			if _, ok := errors.AsType[*schedule.Error](err); !ok {
				t.Fatalf("Parse(%q): error of type %T", expr, err)
			}
			return
		}
		prev := from
		for range 3 {
			next := s.Next(prev)
			if next.IsZero() {
				return
			}
			if !next.After(prev) {
				t.Fatalf("%q: Next(%v) = %v, not after it", expr, prev, next)
			}
			prev = next
		}
	})
}
