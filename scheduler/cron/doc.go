// Package cron is werkcron's schedule math: cron expressions read in a time
// zone ([Parse], [Expr]) and fixed intervals ([Interval]), both behind the
// [Schedule] interface.
//
// # Expressions
//
// An expression has five fields (minute, hour, day of month, month, day of
// week), six (a seconds field first) or seven (seconds first, a year
// 1970-2099 last), or is one of @yearly, @annually, @monthly, @weekly,
// @daily and @hourly, in any letter case. A field is a comma-separated list
// of *, N, A-B, */S, A-B/S and N/S (N up to the field's last value).
// Numbers are one to nine decimal digits, leading zeros allowed (05 is 5). A
// step S is at least 1 and at most the span of * (59 in seconds and minutes,
// 23 in hours, 30 in days of month, 11 in months, 6 in days of week, 129 in
// years). Months and days of week may be named (JAN, mon, Friday). Day of
// week 7 is Sunday, so 5-7 is Friday to Sunday and SAT-SUN is Saturday and
// Sunday; * and N/S stop at 6 (Saturday), so 1/2 is Monday, Wednesday and
// Friday, and 7/2 is refused. Day of month also takes L (the last day), LW
// (the last weekday) and NW (the weekday nearest to day N, within its
// month); day of week takes NL (the month's last day N) and N#K (its Kth
// day N). ? means * and is allowed only as a whole day field.
//
// Day of month and day of week combine as in Vixie cron: when both are
// restricted (neither starts with '*'), a day matching either one fires;
// when one of them starts with '*' -- a step such as */2 included -- a day
// must match both.
//
// Refused, with an [*Error] naming the field: reversed ranges; day-of-week
// ranges that wrap around the week (fri-mon; write 5-7,1); ranges
// whose ends are padded to different widths (1-05, 01-5; write 1-5 or 01-05;
// 08-17 is fine); empty list
// elements; values and steps out of range; ? anywhere but a whole day field;
// L, W or # in a day field that starts with '*'; anything after a
// descriptor; @reboot, @midnight and @every; more than [MaxLen] bytes. An
// expression that can never fire (0 0 30 2 *) is refused too, with an error
// that also wraps [ErrNeverFires].
//
// # Daylight saving
//
// The rule is Vixie cron's. A fixed schedule, one with no '*' in its minute
// and hour fields (30 2 * * *, 0 9,17 * * 1-5), keeps to the wall clock: a
// time skipped by a jump forward fires once, at the first instant after the
// gap (several skipped times collapse into that one firing), and a time that
// happens twice fires at its first occurrence only. A wildcard schedule (0 *
// * * *, */15 * * * *) follows real elapsed time: it fires in both copies of
// a repeated hour and has nothing to make up for a skipped one -- except
// that a match skipped inside the local hour in which the gap ends fires at
// the gap's end, since that hour still partly exists (Lord Howe's
// 30-minute gap: 0 * * * * fires at 02:30 +11 on 2026-10-04). A seconds
// field does not make a schedule wildcard.
//
// # What cronexpr gets wrong
//
// The design requires github.com/gorhill/cronexpr to evaluate expressions.
// Its only version, v0.0.0-20180427100037-88b0669f7d75 (2018), gets the
// following wrong; each item was measured against that version and is a
// regression test in this package (the top of guard_test.go names them),
// which must pass through the guards described below rather than by
// avoiding the input.
//
//   - Field count. cronexpr reads a sixth field as a year, not seconds (30 5
//     4 * * * is 05:30 on January 4th), silently ignores fields after the
//     seventh, and accepts a descriptor followed by anything (@daily 2027).
//     Guard: the validator; the canonical expression always has seven
//     fields, seconds first.
//   - Reversed ranges. 5-1 parses, then panics in Next (index out of range)
//     in the minute, hour and month fields, makes Next return the zero time
//     in the day fields, and vanishes from a list (5-1,7 is :07 only).
//     Guard: the validator.
//   - Zero-padded months and days of week. cronexpr reads month 01 or 05 as
//     0, which Go's date arithmetic turns into December of the year before:
//     0 0 1 01 * first fires on December 1st, can answer a time in the past
//     (from 2025-12-31 23:58 it says 2025-12-01), and repeats itself in
//     NextN; 1-05 becomes the empty range 1-0 and panics. Day of week 01 or
//     05 is read as Sunday. Guard: the canonical expression writes plain
//     numbers.
//   - Day-of-week ranges through 7. 7 is read as 0, so 5-7, 6-7, 1-7,
//     SAT-SUN never fire and 0-7 is Sundays only. Guard: the validator folds
//     7 into 0 and the canonical expression lists the days.
//   - The day rule. cronexpr treats a */n day field as restricted and ORs
//     it with the other: 0 0 */2 * 1 fires on every odd day and every
//     Monday, where Vixie cron fires on Mondays that fall on odd days. Guard:
//     the canonical expression gives cronexpr * for a day field that starts
//     with '*', and Next filters cronexpr's answers by that field's days.
//   - Loose syntax. Empty list elements (1,,2 and ,1 and 1,) are accepted,
//     and ? is a wildcard in every field (? ? ? ? ? is every minute). Guard:
//     the validator.
//   - Never-firing expressions. * * 31 2 *, 0 0 30 2 * and 0 0 31 4,6,9,11 *
//     are accepted and Next returns the zero time; past 2099 it does the
//     same. Guard: Parse checks, through the same wrapper as Next, that the
//     expression fires at all, and Next treats the zero time as "never".
//   - Input length. A 1 MiB expression takes about a quarter of a second to
//     parse and its error message quotes all of it. Guard: [MaxLen], and
//     errors truncate what they quote.
//   - Shared state. Next writes into the Expression, so one Expression used
//     by several goroutines is a data race and gives wrong answers under
//     load. Guard: a private copy per call.
//   - Daylight saving. cronexpr builds each candidate with time.Date in the
//     schedule's zone, whose result for a skipped or repeated wall time Go
//     leaves unspecified. In New York on 2026-03-08, 30 2 * * * answers 01:30
//     EST and then returns its own input forever, 0 * * * * is stuck at
//     01:00 EST and */15 * * * * cycles back from 01:45 to 01:00; on
//     2026-11-01, */15 skips four runs and, from 01:00 EST, answers 01:15
//     EDT, in the past. In Berlin 30 2 * * * fires an hour late in spring
//     and in the second copy of 02:30 in autumn, and hourly and
//     quarter-hourly schedules lose one copy of the repeated hour; on Lord
//     Howe, */15 loses runs in the repeated half hour and 30 1 * * * fires
//     in the second copy of 01:30. Guard: cronexpr evaluates
//     wall-clock time written in UTC, where there are no transitions, over
//     segments of real time with one UTC offset, and Next maps each match
//     back into the zone by the rule above.
//
// # The guards
//
//   - The validator: Parse reads every field with its own parser and
//     refuses whatever is ambiguous or outside the rules above, before
//     cronexpr sees anything.
//   - The canonical expression: cronexpr only ever parses seven fields of
//     plain, sorted, deduplicated numbers (no names, ranges, steps or
//     leading zeros) plus the L, W and # forms in its own spelling, with *
//     for a day field that starts with '*' (whose days Next then filters).
//   - Wall-clock evaluation in UTC, by zone segments, as described above.
//   - A copy per call: the parsed Expression is a template that Next copies
//     before use, so an [Expr] is safe for concurrent use.
//   - Caps and checks: Next never answers a time at or before its input
//     (a cronexpr answer that goes back counts as "never"), gives up in
//     2100, and bounds every loop; Parse refuses input longer than [MaxLen].
//   - Last resorts: a panic in cronexpr is recovered (Parse returns an
//     error, Next "no next time"). The validator should make these, and a
//     cronexpr answer that goes back, unreachable; tests and the fuzz target
//     fail if one is ever reached.
package cron
