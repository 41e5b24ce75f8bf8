// Package schedule runs a handler on an EventBridge schedule: it parses
// rate(...) and cron(...) expressions as EventBridge does, and a [Scheduler]
// sends the "Scheduled Event" of each firing to a [Target], normally an
// *invoke.Invoker, so that the handler runs with Lambda's asynchronous
// semantics (retries, event age, destinations), as a function behind an
// EventBridge rule does.
//
// # Expressions
//
// rate(value unit) fires every value minutes, hours or days. The value is a
// positive whole number; the unit is minute, hour or day for 1 and minutes,
// hours or days above 1 ("rate(1 minutes)" is an error, as in EventBridge).
// A rate counts from the scheduler's start: the first firing is one period
// after Run starts.
//
// cron(minutes hours day-of-month month day-of-week year) has six fields,
// evaluated in UTC:
//
//	Field         Values                   Wildcards
//	minutes       0-59                     , - * /
//	hours         0-23                     , - * /
//	day-of-month  1-31                     , - * ? / L W
//	month         1-12 or JAN-DEC          , - * /
//	day-of-week   1-7 or SUN-SAT (1 = SUN) , - * ? L #
//	year          1970-2199                , - * /
//
// A list (1,15), a range (MON-FRI), a step (0/15: every 15 from 0; */20;
// 8-17/2) and names (case-insensitive) work in every field where values do.
// One of day-of-month and day-of-week must be ?, the other not. In
// day-of-month, L is the last day of the month, LW its last weekday, and 15W
// the weekday nearest the 15th within the month (a Saturday moves to the
// Friday before, a Sunday to the Monday after; the 1st and the last day do
// not leave the month); a day the month does not have never fires. In
// day-of-week, L alone is Saturday (the last day of the week), 6L the last
// Friday of the month, and 2#1 the first Monday (# takes 1 to 5). L, W and #
// stand alone, not in lists or ranges. Examples:
//
//	cron(0 12 * * ? *)             every day at 12:00 UTC
//	cron(0/15 8-17 ? * MON-FRI *)  every 15 minutes, 8:00-17:45, weekdays
//	cron(0 9 LW * ? *)             9:00 on the last weekday of each month
//	cron(0 10 ? * 6L 2025-2026)    10:00 on the last Friday, 2025 and 2026
//	cron(0 9 ? * 2#1 *)            9:00 on the first Monday of each month
//
// An invalid expression is a [*Error] that names the field and says what is
// wrong ("schedule \"cron(0 12 * * * *)\": day-of-week: must be ? when
// day-of-month is given (*) …").
//
// # Firing
//
// Each firing sends one events.EventBridgeEvent: version "0", a new id,
// detail-type "Scheduled Event", source "aws.events", the account and region
// of the rule (WithRule), time = the scheduled time (whole seconds, UTC),
// resources = [the rule ARN], detail {}.
//
// Missed firings are not replayed. Nothing is persisted: firings that fell
// while the process was not running are lost, and after a gap (the process
// suspended, or the target holding the scheduler up) the scheduler resumes
// at the schedule's first time after the gap. EventBridge would have fired
// them; a handler that must not miss a day should check what it last did.
//
// # Differences from EventBridge
//
//   - EventBridge fires within a minute of the scheduled time; this fires on
//     it.
//   - at(...) one-time schedules and time zones (EventBridge Scheduler) are
//     not supported: rules' expressions are UTC.
//   - Ranges that wrap (FRI-MON, 22-2) are refused; write them as lists.
//
// # Testing
//
// Schedule.Next is a pure function of its argument, so expressions are tested
// without waiting. A Scheduler reads time only from package time: under
// testing/synctest a day of firings passes at once. Scheduler.Event builds the
// event of a given firing. The Target may be an invoke.Invoker over the
// handler under test, or any type whose Invoke method records the events.
package schedule
