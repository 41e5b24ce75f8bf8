package schedule_test

import (
	"fmt"
	"time"

	"github.com/lambdaesm/lambdaesm/schedule"
)

// EventBridge expressions, parsed and asked for their next firings (UTC).
func ExampleParse() {
	start := time.Date(2028, time.February, 27, 13, 0, 0, 0, time.UTC)
	for _, expr := range []string{
		"rate(5 minutes)",
		"cron(0 12 * * ? *)",   // every day at noon
		"cron(0 9 L * ? *)",    // the last day of the month at 09:00
		"cron(30 8 ? * 2#1 *)", // the first Monday of the month at 08:30
	} {
		s, err := schedule.Parse(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(expr, "->", s.Next(start).Format(time.RFC3339))
	}
	_, err := schedule.Parse("cron(0 12 * * MON *)")
	fmt.Println(err)
	// Output:
	// rate(5 minutes) -> 2028-02-27T13:05:00Z
	// cron(0 12 * * ? *) -> 2028-02-28T12:00:00Z
	// cron(0 9 L * ? *) -> 2028-02-29T09:00:00Z
	// cron(30 8 ? * 2#1 *) -> 2028-03-06T08:30:00Z
	// schedule "cron(0 12 * * MON *)": day-of-week: must be ? when day-of-month is given (*): EventBridge does not combine the two
}
