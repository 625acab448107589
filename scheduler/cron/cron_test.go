package cron

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	x, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return x
}

// chain calls Next n times, starting at from, and formats the instants. It
// stops early when Next finds nothing.
func chain(t testing.TB, s Schedule, from time.Time, n int) []string {
	t.Helper()
	out, err := chainErr(s, from, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// chainErr is chain for goroutines other than the test's (which must not
// call t.Fatal): an answer not after its input is an error.
func chainErr(s Schedule, from time.Time, n int) ([]string, error) {
	var out []string
	for range n {
		x, ok := s.Next(from)
		if !ok {
			break
		}
		if !x.After(from) {
			return out, fmt.Errorf("Next(%s) = %s, not after its input", from.Format(time.RFC3339Nano), x.Format(time.RFC3339Nano))
		}
		out = append(out, x.Format(time.RFC3339))
		from = x
	}
	return out, nil
}

type nextCase struct {
	expr string
	zone string // "" = UTC
	from string
	want []string // the first len(want) fire instants after from
}

func runNext(t *testing.T, cases []nextCase) {
	t.Helper()
	for _, tc := range cases {
		name := tc.expr
		if tc.zone != "" {
			name += "@" + tc.zone
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc := time.UTC
			if tc.zone != "" {
				loc = mustLoad(t, tc.zone)
			}
			c, err := parseWatched(t, tc.expr, loc)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			got := chain(t, c, mustTime(t, tc.from), len(tc.want))
			if !slices.Equal(got, tc.want) {
				t.Errorf("from %s\n got %q\nwant %q", tc.from, got, tc.want)
			}
			checkOracle(t, tc.expr, loc.String(), tc.from, tc.want)
		})
	}
}

const ref = "2026-01-01T00:00:00Z" // the instant cronexpr's bugs were measured from (a Thursday)

func TestCronFields(t *testing.T) {
	t.Parallel()
	runNext(t, []nextCase{
		{expr: "0 9 * * *", from: ref, want: []string{"2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z"}},
		// Six fields are seconds-first; cronexpr would read "*" as a year.
		{expr: "30 5 4 * * *", from: ref, want: []string{"2026-01-01T04:05:30Z", "2026-01-02T04:05:30Z"}},
		{expr: "*/20 * * * * *", from: ref, want: []string{"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"}},
		// Seven fields: seconds ... year.
		{expr: "0 30 9 * * * 2027", from: ref, want: []string{"2027-01-01T09:30:00Z", "2027-01-02T09:30:00Z"}},
		{expr: "0 0 0 1 1 * 2027-2028", from: ref, want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{expr: "0 0 0 1 1 * 2099", from: ref, want: []string{"2099-01-01T00:00:00Z"}},
		// Descriptors.
		{expr: "@yearly", from: ref, want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{expr: "@annually", from: ref, want: []string{"2027-01-01T00:00:00Z"}},
		{expr: "@monthly", from: ref, want: []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
		{expr: "@weekly", from: ref, want: []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{expr: "@daily", from: ref, want: []string{"2026-01-02T00:00:00Z"}},
		{expr: "@hourly", from: ref, want: []string{"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}},
		{expr: "@DAILY", from: ref, want: []string{"2026-01-02T00:00:00Z"}}, // our choice: case-insensitive
		{expr: "  @daily\t", from: ref, want: []string{"2026-01-02T00:00:00Z"}},
		// Names, case-insensitive.
		{expr: "0 0 1 JAN,jul *", from: ref, want: []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{expr: "0 0 * * Mon-Wed", from: ref, want: []string{"2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-12T00:00:00Z"}},
		{expr: "0 0 1 march *", from: ref, want: []string{"2026-03-01T00:00:00Z"}},
		// '?' is '*' in the day fields.
		{expr: "0 0 ? * MON", from: ref, want: []string{"2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"}},
		{expr: "0 0 1 * ?", from: ref, want: []string{"2026-02-01T00:00:00Z"}},
		{expr: "0 0 ? * ?", from: ref, want: []string{"2026-01-02T00:00:00Z"}},
		// Steps and ranges.
		{expr: "5/20 * * * *", from: ref, want: []string{"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"}},
		{expr: "10-20/5 8 * * *", from: ref, want: []string{"2026-01-01T08:10:00Z", "2026-01-01T08:15:00Z", "2026-01-01T08:20:00Z", "2026-01-02T08:10:00Z"}},
		{expr: "*/59 * * * *", from: ref, want: []string{"2026-01-01T00:59:00Z", "2026-01-01T01:00:00Z"}},
		{expr: "0 08-09 * * *", from: ref, want: []string{"2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z", "2026-01-02T08:00:00Z"}}, // both ends two digits
		{expr: "0 9,17 * * 1-5", from: ref, want: []string{"2026-01-01T09:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z", "2026-01-02T17:00:00Z", "2026-01-05T09:00:00Z"}},
		// L, W, #.
		{expr: "0 0 L * *", from: ref, want: []string{"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"}},
		{expr: "0 0 LW * *", from: ref, want: []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},  // 01-31 and 02-28 are Saturdays
		{expr: "0 0 15W * *", from: ref, want: []string{"2026-01-15T00:00:00Z", "2026-02-16T00:00:00Z"}}, // 02-15 is a Sunday
		{expr: "0 0 * * 5L", from: ref, want: []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},
		{expr: "0 0 * * FRI#3", from: ref, want: []string{"2026-01-16T00:00:00Z", "2026-02-20T00:00:00Z"}},
		{expr: "0 0 * * 7#1", from: ref, want: []string{"2026-01-04T00:00:00Z", "2026-02-01T00:00:00Z"}},
		{expr: "0 0 * * sun#1", from: ref, want: []string{"2026-01-04T00:00:00Z"}},
		{expr: "0 0 L * 1", from: ref, want: []string{"2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z", "2026-01-31T00:00:00Z"}},
		// Vixie AND with a '*' day field and a special in the other.
		{expr: "0 0 */2 * 5L", from: ref, want: []string{"2026-02-27T00:00:00Z", "2026-03-27T00:00:00Z"}}, // 01-30 is even
		// Leap day.
		{expr: "0 0 29 2 *", from: ref, want: []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		// Sub-second inputs.
		{expr: "* * * * *", from: "2026-01-01T00:00:00.5Z", want: []string{"2026-01-01T00:01:00Z"}},
		{expr: "* * * * * *", from: "2026-01-01T00:00:00.5Z", want: []string{"2026-01-01T00:00:01Z"}},
		// Inputs in other zones are fine; answers come back in the schedule's zone.
		{expr: "0 0 * * *", from: "2026-01-01T08:00:00+09:00", want: []string{"2026-01-01T00:00:00Z"}},
	})
}

// Whitespace of any kind separates fields.
func TestCronSeparators(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"0 0 1 1 *", "0\t0\t1\t1\t*", "0\n0\n1\n1\n*", "0\r0\r1\r1\r*", "0\f0\f1\f1\f*", "  0  0 \t 1\r\n1 *  "} {
		c, err := parseWatched(t, expr, nil)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		if c.String() != expr {
			t.Errorf("String() = %q, want the input %q", c.String(), expr)
		}
		got := chain(t, c, mustTime(t, ref), 1)
		if want := []string{"2027-01-01T00:00:00Z"}; !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", expr, got, want)
		}
	}
}

// Every cronexpr bug in the package documentation that has a right answer
// other than an error.
func TestCronexprBugs(t *testing.T) {
	t.Parallel()
	runNext(t, []nextCase{
		// Day-of-week ranges through 7: cronexpr never fires them.
		{expr: "0 0 * * 5-7", from: ref, want: []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"}},
		{expr: "0 0 * * 6-7", from: ref, want: []string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}},
		{expr: "0 0 * * 1-7", from: ref, want: []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-05T00:00:00Z"}},
		{expr: "0 0 * * SAT-SUN", from: ref, want: []string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}},
		{expr: "0 0 * * sun-sun", from: ref, want: []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}}, // SUN ends a range as 7 only after a later start
		{expr: "0 0 * * 7", from: ref, want: []string{"2026-01-04T00:00:00Z"}},
		// 0-7: every day, not Sundays only.
		{expr: "0 0 * * 0-7", from: ref, want: []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-05T00:00:00Z"}},
		// Leading-zero months: not December, and NextN increases.
		{expr: "0 0 1 01 *", from: ref, want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"}},
		{expr: "0 0 1 05 *", from: ref, want: []string{"2026-05-01T00:00:00Z", "2027-05-01T00:00:00Z"}},
		{expr: "0 0 1 01-03 *", from: ref, want: []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z"}}, // consistently padded: a plain decimal range
		// From just before, the answer is not in the past.
		{expr: "0 0 1 01 *", from: "2025-12-31T23:58:00Z", want: []string{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		// Fuzz crasher (past result): dom 1 OR Sundays, in January.
		{expr: "0 0 1 01 0", from: ref, want: []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z", "2027-01-01T00:00:00Z", "2027-01-03T00:00:00Z"}},
		{expr: "0 0 1 01 0", from: "2025-12-31T23:58:00Z", want: []string{"2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"}},
		// Leading-zero days of week: Monday and Friday, not Sunday.
		{expr: "0 0 * * 01", from: ref, want: []string{"2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"}},
		{expr: "0 0 * * 05", from: ref, want: []string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}},
		// Vixie's day rule: "*/2" is unrestricted, so both fields must
		// match: Mondays on odd days (cronexpr: first hit Sat 01-03).
		{expr: "0 0 */2 * 1", from: ref, want: []string{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z"}},
		{expr: "0 0 1-10 * */2", from: ref, want: []string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-08T00:00:00Z", "2026-01-10T00:00:00Z", "2026-02-01T00:00:00Z"}},
		// Both restricted: either matches.
		{expr: "0 0 13 * 5", from: ref, want: []string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"}},
		{expr: "0 0 1-31 * 1", from: ref, want: []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}}, // every day: OR
		// Both '*'-led: both must match.
		{expr: "0 0 */2 * */3", from: ref, want: []string{"2026-01-03T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-17T00:00:00Z"}},
	})
}

type errCase struct {
	expr  string
	field string
	want  string // substring of Reason
}

func TestParseCronErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []errCase{
		// Reversed ranges (cronexpr panics in Next, returns zero, or drops them).
		{"5-1 * * * *", "minute", "range 5-1 is reversed"},
		{"0 5-1 * * *", "hour", "range 5-1 is reversed"},
		{"0 0 1 5-1 *", "month", "range 5-1 is reversed"},
		{"0 0 1 DEC-JAN *", "month", "range DEC-JAN is reversed"},
		// One end zero-padded: refused (cronexpr panics on 1-05 in months).
		{"0 0 1 1-05 *", "month", "range 1-05 pads one end with zeros"},
		{"0 0 1 01-5 *", "month", "range 01-5 pads one end with zeros"},
		{"0 008-17 * * *", "hour", "range 008-17 pads one end with zeros"},
		{"0 0 5-1 * *", "day of month", "range 5-1 is reversed"},
		{"0 0 * * 5-1", "day of week", "wraps around the week"},
		{"0 0 * * fri-mon", "day of week", "wraps around the week"},
		{"5-1,7 * * * *", "minute", "range 5-1 is reversed"},
		{"10-0 0 1 mAY fri", "minute", "range 10-0 is reversed"}, // fuzz crasher
		{"0 0 * * 7-1", "day of week", "wraps around the week"},
		// Empty list elements.
		{"1,,2 * * * *", "minute", "empty element"},
		{",1 * * * *", "minute", "empty element"},
		{"1, * * * *", "minute", "empty element"},
		{"0 0 * * 1,", "day of week", "empty element"},
		// Out of range.
		{"60 * * * *", "minute", "out of range"},
		{"0 24 * * *", "hour", "out of range"},
		{"0 0 32 * *", "day of month", "out of range"},
		{"0 0 0 * *", "day of month", "out of range"},
		{"0 0 1 13 *", "month", "out of range"},
		{"0 0 1 0 *", "month", "out of range"},
		{"0 0 * * 8", "day of week", "out of range"},
		{"60 * * * * *", "second", "out of range"},
		{"0 0 0 1 1 * 1969", "year", "out of range"},
		{"0 0 0 1 1 * 2100", "year", "out of range"},
		{"0 0 99999999999 * *", "day of month", "bad value"},
		// Steps.
		{"*/0 * * * *", "minute", "at least 1"},
		{"3/0 * * * *", "minute", "at least 1"},
		{"*/60 * * * *", "minute", "exceeds 59"},
		{"0 */24 * * *", "hour", "exceeds 23"},
		{"0 0 * * */7", "day of week", "exceeds 6"},
		// N/S runs up to 6 in day of week, so 7/S names nothing (once an
		// empty field handed to cronexpr: "internal error").
		{"0 0 * * 7/2", "day of week", `"7/2" names no value`},
		{"0 0 1 * 7/1", "day of week", "names no value"},
		{"0 0 * * 1,7/3", "day of week", "names no value"},
		{"*/x * * * *", "minute", "bad step"},
		{"1/2/3 * * * *", "minute", "bad step"},
		// Field counts and garbage.
		{"", "", "empty expression"},
		{"   \t\n", "", "empty expression"},
		{"* * * *", "", "expected 5, 6 or 7 fields, got 4"},
		{"* * * * * * * *", "", "expected 5, 6 or 7 fields, got 8"},
		{"0 0 0 1 1 * 2027 2028", "", "expected 5, 6 or 7 fields, got 8"}, // cronexpr drops the eighth
		{"a b c d e", "minute", `bad value "a"`},
		{"* * * * mo", "day of week", "bad value"},
		{"0 0 * JANUARYX *", "month", "bad value"},
		{"-1 * * * *", "minute", "missing value"},
		{"1- * * * *", "minute", "missing value"},
		{"0 0 * * MON#6", "day of week", "must be 1-5"},
		{"0 0 * * L", "day of week", "'L' alone"},
		{"0 0 32W * *", "day of month", "bad weekday form"},
		{"0 0 L-3 * *", "day of month", "bad value"},
		{"0 0 */2,L * *", "day of month", "cannot be combined"},
		{"0 0 1 JAN 5#x", "day of week", "must be 1-5"},
		{"0 0 0 15W * 1#1 x", "year", "bad value"},
		// '?' outside the day fields, and not alone.
		{"? ? ? ? ?", "minute", "'?' is only allowed in day of month and day of week"},
		{"0 ? * * *", "hour", "only allowed in day"},
		{"0 0 ?,1 * *", "day of month", "whole field"},
		{"0 0 1 ? *", "month", "only allowed in day"},
		{"? * * * * *", "second", "only allowed in day"},
		{"0 0 0 1 1 * ?", "year", "only allowed in day"},
		{"0 0 * * 1,?", "day of week", "whole field"},
		// Descriptors.
		{"@daily 2027", "", "nothing may follow @daily"},
		{"@hourly *", "", "nothing may follow"},
		{"@reboot", "", "@reboot is not supported"},
		{"@midnight", "", "@midnight is not supported"},
		{"@every 5m", "", "@every is not supported"},
		{"@fortnightly", "", "unknown descriptor"},
		{"@", "", "unknown descriptor"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			c, err := parseWatched(t, tc.expr, time.UTC)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.expr, chain(t, c, mustTime(t, ref), 3))
			}
			checkCronErr(t, err, tc.expr, tc.field, tc.want)
			if errors.Is(err, ErrNeverFires) {
				t.Errorf("%v: syntax error wraps ErrNeverFires", err)
			}
		})
	}
}

func checkCronErr(t *testing.T, err error, expr, field, want string) {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("%v: not ErrInvalid", err)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v: not a *Error", err)
	}
	if ce.Expr != expr || ce.Field != field || !strings.Contains(ce.Reason, want) {
		t.Errorf("got Expr=%q Field=%q Reason=%q; want Expr=%q Field=%q Reason containing %q", ce.Expr, ce.Field, ce.Reason, expr, field, want)
	}
	if len(err.Error()) > 250 {
		t.Errorf("message too long (%d bytes): %.80s...", len(err.Error()), err.Error())
	}
}

func TestCronErrorMessage(t *testing.T) {
	t.Parallel()
	refuse := func(expr string) string {
		t.Helper()
		c, err := parseWatched(t, expr, nil)
		if err == nil {
			t.Fatalf("Parse(%.40q) = %v, want an error", expr, c)
		}
		return err.Error()
	}
	if got, want := refuse("5-1 * * * *"), `cron "5-1 * * * *": minute: range 5-1 is reversed (start after end)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := refuse(""), `cron "": empty expression`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	long := "0 0 * * " + strings.Repeat("1,", 100) + "9"
	if got := refuse(long); !strings.Contains(got, `..."`) || len(got) > 160 {
		t.Errorf("long expression not truncated: %s", got)
	}
}

// cronexpr took 245 ms to parse 1 MiB, and its error echoed all of it.
// Not parallel: it times Parse, and go test runs serial tests before it
// resumes the parallel ones, so no test of this package competes for CPU.
func TestCronLengthCap(t *testing.T) {
	huge := strings.Repeat("1,", 1<<19) + "1 * * * *"
	start := time.Now()
	_, err := parseWatched(t, huge, nil)
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("rejecting 1 MiB took %v", d)
	}
	checkCronErr(t, err, huge, "", "too long")
	if _, err := parseWatched(t, strings.Repeat(" ", MaxLen-9)+"* * * * *", nil); err != nil {
		t.Errorf("expression of exactly MaxLen bytes rejected: %v", err)
	}
	if _, err := parseWatched(t, strings.Repeat(" ", MaxLen-8)+"* * * * *", nil); err == nil {
		t.Errorf("expression of MaxLen+1 bytes accepted")
	}
}

func TestCronNeverFires(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ expr, zone, field string }{
		{"* * 31 2 *", "", "day of month"},
		{"0 0 30 2 *", "", "day of month"},
		{"0 0 31 4,6,9,11 *", "", "day of month"},
		{"0 0 30,31 2 *", "", "day of month"},
		{"0 0 31W 2 *", "", "day of month"},
		{"0 0 0 30 2 * 2030", "", "day of month"},
		{"0 0 31 2 */2", "", "day of month"},
		{"0 0 */15 * 1#2", "", ""}, // days 1, 16, 31 are never a second Monday (8-14)
		// A wildcard schedule that only matches times skipped by the New
		// York spring gap (2026-03-08 02:xx).
		{"0 * 2 8 3 * 2026", "America/New_York", ""},
		{"0 * 2 29 3 * 2026", "Europe/Berlin", ""},
	} {
		loc := time.UTC
		if tc.zone != "" {
			loc = mustLoad(t, tc.zone)
		}
		_, err := parseWatched(t, tc.expr, loc)
		if err == nil {
			t.Errorf("Parse(%q, %s) accepted a never-firing expression", tc.expr, loc)
			continue
		}
		if !errors.Is(err, ErrNeverFires) {
			t.Errorf("%v: not ErrNeverFires", err)
		}
		checkCronErr(t, err, tc.expr, tc.field, "never fires")
	}
	// Near misses that do fire. A fifth Friday in February needs a leap
	// year whose February 1st is a Friday.
	runNext(t, []nextCase{
		{expr: "0 0 * 2 5#5", from: ref, want: []string{"2036-02-29T00:00:00Z"}},
		{expr: "0 0 31 2 1", from: ref, want: []string{"2026-02-02T00:00:00Z"}}, // both restricted: OR
		{expr: "0 0 */30 2 *", from: ref, want: []string{"2026-02-01T00:00:00Z", "2027-02-01T00:00:00Z"}},
		{expr: "0 * 2 8 3 * 2026", zone: "Europe/Berlin", from: ref, want: []string{"2026-03-08T02:00:00+01:00", "2026-03-08T02:01:00+01:00"}},
		// Fixed schedules fire for a skipped time, so this one is fine.
		{expr: "0 30 2 8 3 * 2026", zone: "America/New_York", from: ref, want: []string{"2026-03-08T03:00:00-04:00"}},
		// A wildcard schedule that only matches skipped times (03:00, 03:30)
		// in the hour of the end of the gap fires there (Chatham: walls
		// 02:45-03:44 skipped).
		{expr: "0 */30 3 27 9 * 2026", zone: "Pacific/Chatham", from: ref, want: []string{"2026-09-27T03:45:00+13:45"}},
	})
}

// A seven-field expression whose years are all past is valid syntax; it
// simply never fires again.
func TestCronPastYears(t *testing.T) {
	t.Parallel()
	c, err := parseWatched(t, "0 0 0 1 1 * 1999", nil)
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := c.Next(mustTime(t, ref)); ok {
		t.Errorf("Next = %s, want none", x)
	}
	if x, ok := c.Next(mustTime(t, "1998-06-01T00:00:00Z")); !ok || x.Format(time.RFC3339) != "1999-01-01T00:00:00Z" {
		t.Errorf("Next(1998) = %s, %v", x, ok)
	}
	// Past 2099 there is nothing.
	c, err = parseWatched(t, "0 0 1 1 *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := c.Next(mustTime(t, "2099-06-01T00:00:00Z")); ok {
		t.Errorf("Next(2099-06) = %s, want none", x)
	}
	if x, ok := c.Next(mustTime(t, "2200-01-01T00:00:00Z")); ok {
		t.Errorf("Next(2200) = %s, want none", x)
	}
	// Far in the past: the first year cronexpr knows.
	if x, ok := c.Next(time.Time{}); !ok || x.Format(time.RFC3339) != "1970-01-01T00:00:00Z" {
		t.Errorf("Next(zero) = %s, %v", x, ok)
	}
}

// The DST tables: four expressions x three zones x both 2026 transitions.
// Every instant is derived from the package documentation's rule:
//   - fixed (no '*' in minute and hour: "30 2", "30 1"): a skipped time fires
//     once at the end of the gap; a repeated time fires at its first occurrence;
//   - wildcard ("0 *", "*/15"): every real instant whose wall clock matches;
//     both copies of a repeated hour; nothing for skipped times, except as
//     below.
//
// Lord Howe, 2026-10-04: the clock jumps from 02:00 +10:30 to 02:30 +11, and
// "0 * * * *" fires at 02:30 +11 (cronexpr happens to agree). The rule: a
// wildcard schedule's match skipped by a jump forward fires at the end of the
// gap if and only if the end of the gap is in the same local hour (same date
// and hour) as the match. That hour still partly exists, so an hourly job
// still runs once for it, at its first real instant; several skipped matches
// and a real match at the end of the gap collapse into one firing, as for
// fixed schedules. A gap that swallows a whole hour (New York and Berlin,
// 02:00 to 03:00) leaves nothing to make up for, as the rule says: 03:00 is
// in another hour, so "0 * * * *" goes from 01:00 to 03:00 and "30 * * * *"
// from 01:30 to 03:30 there.
func TestCronDST(t *testing.T) {
	t.Parallel()
	const ny, berlin, lh = "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"
	runNext(t, []nextCase{
		// New York, spring 2026-03-08: 02:00 EST -> 03:00 EDT.
		{"30 2 * * *", ny, "2026-03-06T12:00:00-05:00", []string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"30 1 * * *", ny, "2026-03-07T00:00:00-05:00", []string{"2026-03-07T01:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-09T01:30:00-04:00"}},
		{"0 * * * *", ny, "2026-03-07T23:30:00-05:00", []string{"2026-03-08T00:00:00-05:00", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"*/15 * * * *", ny, "2026-03-08T01:10:00-05:00", []string{"2026-03-08T01:15:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"}},
		// New York, fall 2026-11-01: 02:00 EDT -> 01:00 EST.
		{"30 2 * * *", ny, "2026-10-31T00:00:00-04:00", []string{"2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"}},
		{"30 1 * * *", ny, "2026-10-31T00:00:00-04:00", []string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"0 * * * *", ny, "2026-10-31T23:30:00-04:00", []string{"2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"*/15 * * * *", ny, "2026-11-01T00:50:00-04:00", []string{
			"2026-11-01T01:00:00-04:00", "2026-11-01T01:15:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:45:00-04:00",
			"2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00",
			"2026-11-01T02:00:00-05:00"}},
		// Berlin, spring 2026-03-29: 02:00 CET -> 03:00 CEST.
		{"30 2 * * *", berlin, "2026-03-28T00:00:00+01:00", []string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"30 1 * * *", berlin, "2026-03-28T00:00:00+01:00", []string{"2026-03-28T01:30:00+01:00", "2026-03-29T01:30:00+01:00", "2026-03-30T01:30:00+02:00"}},
		{"0 * * * *", berlin, "2026-03-28T23:30:00+01:00", []string{"2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{"*/15 * * * *", berlin, "2026-03-29T01:40:00+01:00", []string{"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"}},
		// Berlin, fall 2026-10-25: 03:00 CEST -> 02:00 CET.
		{"30 2 * * *", berlin, "2026-10-24T00:00:00+02:00", []string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"30 1 * * *", berlin, "2026-10-24T00:00:00+02:00", []string{"2026-10-24T01:30:00+02:00", "2026-10-25T01:30:00+02:00", "2026-10-26T01:30:00+01:00"}},
		{"0 * * * *", berlin, "2026-10-25T00:30:00+02:00", []string{"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}},
		{"*/15 * * * *", berlin, "2026-10-25T01:50:00+02:00", []string{
			"2026-10-25T02:00:00+02:00", "2026-10-25T02:15:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:45:00+02:00",
			"2026-10-25T02:00:00+01:00", "2026-10-25T02:15:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T02:45:00+01:00",
			"2026-10-25T03:00:00+01:00"}},
		// Lord Howe, 2026-04-05: 02:00 +11 -> 01:30 +10:30 (01:30-01:59 twice).
		{"30 2 * * *", lh, "2026-04-04T00:00:00+11:00", []string{"2026-04-04T02:30:00+11:00", "2026-04-05T02:30:00+10:30", "2026-04-06T02:30:00+10:30"}},
		{"30 1 * * *", lh, "2026-04-04T00:00:00+11:00", []string{"2026-04-04T01:30:00+11:00", "2026-04-05T01:30:00+11:00", "2026-04-06T01:30:00+10:30"}},
		{"0 * * * *", lh, "2026-04-04T23:30:00+11:00", []string{"2026-04-05T00:00:00+11:00", "2026-04-05T01:00:00+11:00", "2026-04-05T02:00:00+10:30", "2026-04-05T03:00:00+10:30"}},
		{"*/15 * * * *", lh, "2026-04-05T01:10:00+11:00", []string{
			"2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00",
			"2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30"}},
		// Lord Howe, 2026-10-04: 02:00 +10:30 -> 02:30 +11 (02:00-02:29 skipped).
		{"30 2 * * *", lh, "2026-10-03T00:00:00+10:30", []string{"2026-10-03T02:30:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:30:00+11:00"}},
		{"30 1 * * *", lh, "2026-10-03T00:00:00+10:30", []string{"2026-10-03T01:30:00+10:30", "2026-10-04T01:30:00+10:30", "2026-10-05T01:30:00+11:00"}},
		// The skipped 02:00 is in the 02 hour, which still exists from
		// 02:30 +11, so it fires there.
		{"0 * * * *", lh, "2026-10-03T23:30:00+10:30", []string{"2026-10-04T00:00:00+10:30", "2026-10-04T01:00:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00", "2026-10-04T04:00:00+11:00"}},
		// 02:00 and 02:15 collapse into 02:30, itself a match.
		{"*/15 * * * *", lh, "2026-10-04T01:40:00+10:30", []string{"2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00", "2026-10-04T03:00:00+11:00"}},
		{"15 * * * *", lh, "2026-10-04T00:30:00+10:30", []string{"2026-10-04T01:15:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:15:00+11:00"}},
		{"45 * * * *", lh, "2026-10-04T00:50:00+10:30", []string{"2026-10-04T01:45:00+10:30", "2026-10-04T02:45:00+11:00", "2026-10-04T03:45:00+11:00"}},
		// From exactly at the end of the gap: already fired there.
		{"0 * * * *", lh, "2026-10-04T02:30:00+11:00", []string{"2026-10-04T03:00:00+11:00"}},
		{"0 * * * *", lh, "2026-10-04T02:29:59+11:00", []string{"2026-10-04T02:30:00+11:00"}}, // = 01:59:59 +10:30
		// Fixed forms on the same date: 02:00 and 02:15 are skipped and
		// fire at the end of the gap.
		{"0 2 * * *", lh, "2026-10-03T12:00:00+10:30", []string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"}},
		{"15 2 * * *", lh, "2026-10-03T12:00:00+10:30", []string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
	})
}

// More of the rule: collapsing, lists, seconds, and Next from inside the
// second copy of a repeated hour (where cronexpr answers in the past).
func TestCronDSTMore(t *testing.T) {
	t.Parallel()
	const ny = "America/New_York"
	runNext(t, []nextCase{
		// Several skipped times and a real match at the transition: one firing.
		{"0,30 2,3 * * *", ny, "2026-03-08T01:00:00-05:00", []string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:00:00-04:00"}},
		// Seconds do not make a schedule wildcard.
		{"15,45 30 2 * * *", ny, "2026-03-08T00:00:00-05:00", []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:15-04:00", "2026-03-09T02:30:45-04:00"}},
		{"* 30 1 * * *", ny, "2026-11-01T01:30:58-04:00", []string{"2026-11-01T01:30:59-04:00", "2026-11-02T01:30:00-05:00"}},
		// Lists and ranges are fixed.
		{"0 1,2 * * *", ny, "2026-11-01T00:00:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-02T01:00:00-05:00"}},
		{"0 0-3 * * *", ny, "2026-11-01T00:30:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}},
		{"0 9,17 * * 1-5", ny, "2026-03-06T10:00:00-05:00", []string{"2026-03-06T17:00:00-05:00", "2026-03-09T09:00:00-04:00"}},
		// A '*' in the hour only: wildcard, both copies of 01:30.
		{"30 * * * *", ny, "2026-11-01T00:40:00-04:00", []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"}},
		// The spring gap swallows the whole 02 hour: no 03:00 for 02:30.
		{"30 * * * *", ny, "2026-03-08T00:40:00-05:00", []string{"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"}},
		{"0 * * * *", ny, "2026-03-08T00:30:00-05:00", []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"}},
		{"15 * * * *", "Europe/Berlin", "2026-03-29T00:30:00+01:00", []string{"2026-03-29T01:15:00+01:00", "2026-03-29T03:15:00+02:00"}},
		// @daily is fixed, @hourly wildcard.
		{"@hourly", ny, "2026-11-01T00:30:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		// From inside the second 01:xx copy.
		{"30 1 * * *", ny, "2026-11-01T01:00:00-05:00", []string{"2026-11-02T01:30:00-05:00"}},
		{"*/15 * * * *", ny, "2026-11-01T01:00:00-05:00", []string{"2026-11-01T01:15:00-05:00"}},
		{"0 * * * *", ny, "2026-11-01T01:59:59-04:00", []string{"2026-11-01T01:00:00-05:00"}},
		{"30 1 * * *", ny, "2026-11-01T01:45:00-04:00", []string{"2026-11-02T01:30:00-05:00"}},
		// From just before and exactly at a gap transition.
		{"30 2 * * *", ny, "2026-03-08T01:59:59.999-05:00", []string{"2026-03-08T03:00:00-04:00"}},
		{"30 2 * * *", ny, "2026-03-08T03:00:00-04:00", []string{"2026-03-09T02:30:00-04:00"}},
		// Chatham: 02:45 +12:45 -> 03:45 +13:45 on 2026-09-27; back 03:45 -> 02:45 on 2026-04-05.
		{"0 3 * * *", "Pacific/Chatham", "2026-09-26T12:00:00+12:45", []string{"2026-09-27T03:45:00+13:45", "2026-09-28T03:00:00+13:45"}},
		{"0 3 * * *", "Pacific/Chatham", "2026-04-04T12:00:00+13:45", []string{"2026-04-05T03:00:00+13:45", "2026-04-06T03:00:00+12:45"}},
		{"0 * * * *", "Pacific/Chatham", "2026-04-05T02:30:00+13:45", []string{"2026-04-05T03:00:00+13:45", "2026-04-05T03:00:00+12:45", "2026-04-05T04:00:00+12:45"}},
		// Wildcard at Chatham's jump (walls 02:45-03:44 skipped): skipped
		// matches in the 03 hour fire at 03:45, those in the 02 hour do not.
		{"0 * * * *", "Pacific/Chatham", "2026-09-27T01:30:00+12:45", []string{"2026-09-27T02:00:00+12:45", "2026-09-27T03:45:00+13:45", "2026-09-27T04:00:00+13:45"}},
		{"30 * * * *", "Pacific/Chatham", "2026-09-27T01:40:00+12:45", []string{"2026-09-27T02:30:00+12:45", "2026-09-27T03:45:00+13:45", "2026-09-27T04:30:00+13:45"}},
		{"50 * * * *", "Pacific/Chatham", "2026-09-27T01:00:00+12:45", []string{"2026-09-27T01:50:00+12:45", "2026-09-27T03:50:00+13:45"}},
		{"0,50 * * * *", "Pacific/Chatham", "2026-09-27T02:10:00+12:45", []string{"2026-09-27T03:45:00+13:45", "2026-09-27T03:50:00+13:45", "2026-09-27T04:00:00+13:45"}},
		// No DST: Kolkata's odd offset is irrelevant.
		{"30 2 * * *", "Asia/Kolkata", "2026-03-08T00:00:00+05:30", []string{"2026-03-08T02:30:00+05:30"}},
	})
}

// newMatcher reads expr with the oracle's parser (oracle_test.go), which
// shares no code with Parse: its match method says whether a wall clock
// matches the expression.
func newMatcher(t testing.TB, expr string) *oExpr {
	t.Helper()
	m, err := oracleParse(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	return m
}

// wallOf is x's wall clock in its location, to the second, written in UTC.
func wallOf(x time.Time) time.Time {
	_, off := x.Zone()
	return time.Unix(x.Unix()+int64(off), 0).UTC()
}

// gapEnd reports whether x is the first instant after a jump forward.
func gapEnd(x time.Time) bool {
	start, _ := x.ZoneBounds()
	if !start.Equal(x) {
		return false
	}
	_, before := x.Add(-time.Second).Zone()
	_, after := x.Zone()
	return after > before
}

// skippedMatch reports whether x is the first instant after a jump forward
// that fires for wall times the jump skipped (scanned in steps of step): any
// skipped match for a fixed schedule; for a wildcard one, only a skipped
// match in the same local date and hour as x's own wall clock (that hour
// still partly exists, so it runs once for it, at its first real instant).
func skippedMatch(m *oExpr, x time.Time, fixed bool, step time.Duration) bool {
	if !gapEnd(x) {
		return false
	}
	_, before := x.Add(-time.Second).Zone()
	_, after := x.Zone()
	end := wallOf(x)
	for g := end.Add(-time.Duration(after-before) * time.Second); g.Before(end); g = g.Add(step) {
		sameHour := g.Year() == end.Year() && g.YearDay() == end.YearDay() && g.Hour() == end.Hour()
		if (fixed || sameHour) && m.match(g) {
			return true
		}
	}
	return false
}

var propZones = []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "Pacific/Chatham", "America/Sao_Paulo"}

// genField writes a random valid field.
func genField(r *rand.Rand, s fieldSpec) string {
	n := 1 + r.IntN(3)
	if r.IntN(3) == 0 {
		n = 1
	}
	parts := make([]string, 0, n)
	span := s.starHi - s.lo
	val := func(lo int) int { return lo + r.IntN(s.hi-lo+1) }
	for i := range n {
		switch k := r.IntN(7); {
		case k == 0 && i == 0:
			parts = append(parts, "*")
		case k == 1 && i == 0:
			parts = append(parts, fmt.Sprintf("*/%d", 1+r.IntN(min(span, 20))))
		case k == 2:
			a := val(s.lo)
			b := a + r.IntN(s.hi-a+1)
			parts = append(parts, fmt.Sprintf("%d-%d", a, b))
		case k == 3:
			a := s.lo + r.IntN(span+1)
			parts = append(parts, fmt.Sprintf("%d/%d", a, 1+r.IntN(span)))
		default:
			v := val(s.lo)
			if s.names != nil && r.IntN(3) == 0 {
				for name, nv := range s.names {
					if nv == v && len(name) == 3 {
						parts = append(parts, strings.ToUpper(name[:1])+name[1:])
						break
					}
				}
				if len(parts) == i {
					parts = append(parts, fmt.Sprint(v))
				}
			} else {
				parts = append(parts, fmt.Sprint(v))
			}
		}
	}
	return strings.Join(parts, ",")
}

func genExpr(r *rand.Rand) string {
	var f []string
	if r.IntN(4) == 0 {
		f = append(f, genField(r, specSecond))
	}
	// Minutes and hours lean towards small sets so that the chains cross
	// transitions; day fields towards '*' so that most expressions fire often.
	f = append(f, genField(r, specMinute), genField(r, specHour))
	dom, dow := "*", "*"
	switch r.IntN(6) {
	case 0:
		dom = genField(r, specDom)
	case 1:
		dow = genField(r, specDow)
	case 2:
		dom, dow = genField(r, specDom), genField(r, specDow)
	case 3:
		dom = []string{"L", "LW", "15W", "?"}[r.IntN(4)]
	case 4:
		dow = []string{"5L", "1#2", "0#1", "?", "6-7"}[r.IntN(5)]
	}
	mon := "*"
	if r.IntN(4) == 0 {
		mon = genField(r, specMonth)
	}
	return strings.Join(append(f, dom, mon, dow), " ")
}

// Property: on 400 random expressions, zones and instants, Next strictly
// increases, never repeats, is fast, and every instant matches the
// expression's wall clock (or is the end of a gap that skipped a match, as
// skippedMatch has it). Not parallel, because it times Next (see
// TestCronLengthCap).
func TestCronProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	locs := make([]*time.Location, len(propZones))
	for i, z := range propZones {
		locs[i] = mustLoad(t, z)
	}
	lo := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC).Unix()
	var slowest time.Duration
	n := 0
	for tries := 0; n < 400; tries++ {
		if tries > 4000 {
			t.Fatalf("only %d of %d generated expressions fire", n, tries)
		}
		expr := genExpr(r)
		loc := locs[r.IntN(len(locs))]
		c, err := parseWatched(t, expr, loc)
		m := newMatcher(t, expr)
		if errors.Is(err, ErrNeverFires) {
			if f, ok := oracleEverFires(m, oracleZone(t, loc.String())); ok {
				t.Fatalf("Parse(%q) in %s says it never fires; the oracle fires at %s", expr, loc, f.at.In(loc).Format(time.RFC3339))
			}
			continue
		}
		if err != nil {
			t.Fatalf("generated %q: %v", expr, err)
		}
		n++
		if m.fixed != c.Fixed() {
			t.Fatalf("%q: Fixed() = %v, the oracle says %v", expr, c.Fixed(), m.fixed)
		}
		x := time.Unix(lo+r.Int64N(hi-lo), 0)
		seen := make(map[time.Time]bool)
		for range 50 {
			start := time.Now()
			y, ok := c.Next(x)
			slowest = max(slowest, time.Since(start))
			if !ok {
				break
			}
			if !y.After(x) {
				t.Fatalf("%q in %s: Next(%s) = %s", expr, loc, x, y)
			}
			if seen[y] {
				t.Fatalf("%q in %s: %s returned twice", expr, loc, y)
			}
			seen[y] = true
			if !m.match(wallOf(y)) && !skippedMatch(m, y, m.fixed, time.Second) {
				t.Fatalf("%q in %s: Next(%s) = %s does not match", expr, loc, x.In(loc), y)
			}
			x = y
		}
	}
	t.Logf("%d expressions, slowest Next %v", n, slowest)
	if slowest > 200*time.Millisecond {
		t.Errorf("slowest Next took %v", slowest)
	}
}

// Property against a brute force: around each 2026 transition, scan real
// time minute by minute (five-field expressions only) and
// apply the package documentation's rule (with skippedMatch's reading of
// skipped wildcard times) directly; Next must produce exactly that list.
func TestCronBruteForceDST(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	type tr struct {
		zone string
		at   time.Time
	}
	var trs []tr
	locs := make(map[string]*time.Location)
	for _, z := range propZones {
		loc := mustLoad(t, z)
		locs[z] = loc
		x := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		for range 4 {
			_, end := x.ZoneBounds()
			if end.IsZero() || end.Year() > 2026 {
				break
			}
			trs = append(trs, tr{z, end})
			x = end
		}
	}
	if len(trs) < 8 {
		t.Fatalf("found only %d transitions", len(trs))
	}
	checked, never, gaps, wildGaps, repeats := 0, 0, 0, 0, 0
	for i := 0; i < 600; i++ {
		expr := genExpr(r)
		if len(strings.Fields(expr)) != 5 {
			continue
		}
		tr := trs[i%len(trs)]
		loc := locs[tr.zone]
		if i%2 == 0 {
			// Aim at the hours around the transition, often fixed.
			f := strings.Fields(expr)
			// The wall hour the old offset would have reached, and the one before.
			h := wallOf(tr.at.Add(-time.Second).In(loc)).Add(time.Second).Hour()
			h = max(h-r.IntN(2), 0)
			f[1] = fmt.Sprint(h)
			if r.IntN(2) == 0 {
				f[1] = fmt.Sprintf("%d-%d", h, min(h+1+r.IntN(2), 23))
			}
			if r.IntN(2) == 0 {
				f[0] = genField(r, specMinute)
			}
			expr = strings.Join(f, " ")
		}
		// The generator writes valid expressions only; one that never
		// fires must have nothing in the brute force's window either.
		c, err := parseWatched(t, expr, loc)
		neverFires := errors.Is(err, ErrNeverFires)
		if err != nil && !neverFires {
			t.Fatalf("generated %q: %v", expr, err)
		}
		m := newMatcher(t, expr)
		if !neverFires && m.fixed != c.Fixed() {
			t.Fatalf("%q: Fixed() = %v, the oracle says %v", expr, c.Fixed(), m.fixed)
		}
		from := tr.at.Add(-30 * time.Hour)
		to := tr.at.Add(30 * time.Hour)
		var want []string
		// The wall minutes already shown, counted from 4 hours before the
		// first one (clocks go back at most 2 hours).
		base := wallOf(from.Add(-6 * time.Hour).In(loc)).Add(-4 * time.Hour).Unix()
		seenWall := make([]bool, 80*60)
		wildGap := false
		var prevW time.Time
		for x := from.Add(-6 * time.Hour); x.Before(to); x = x.Add(time.Minute) {
			xl := x.In(loc)
			w := wallOf(xl)
			first := !seenWall[(w.Unix()-base)/60]
			seenWall[(w.Unix()-base)/60] = true
			fire := m.match(w) && (!m.fixed || first)
			// Only a wall clock more than a minute ahead of the previous
			// one can end a gap (skippedMatch would say no anyway).
			jumped := prevW.IsZero() || w.Sub(prevW) > time.Minute
			prevW = w
			if jumped && skippedMatch(m, xl, m.fixed, time.Minute) {
				fire = true
				wildGap = wildGap || (!m.fixed && !m.match(w))
			}
			if fire && x.After(from) {
				want = append(want, xl.Format(time.RFC3339))
			}
		}
		if neverFires {
			if len(want) > 0 {
				t.Fatalf("%q in %s: Parse says it never fires; the brute force fires at %q", expr, tr.zone, want)
			}
			never++
			continue
		}
		got := chain(t, c, from, len(want)+1)
		for len(got) > 0 && !mustTime(t, got[len(got)-1]).Before(to) {
			got = got[:len(got)-1]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q in %s around %s:\n got %q\nwant %q", expr, tr.zone, tr.at, got, want)
		}
		checked++
		if wildGap {
			wildGaps++
		}
		for _, s := range want {
			if gapEnd(mustTime(t, s).In(loc)) {
				gaps++
				break
			}
		}
		for j := 1; j < len(want); j++ {
			if want[j][:16] <= want[j-1][:16] { // wall clock went back
				repeats++
				break
			}
		}
	}
	t.Logf("%d expressions checked (and %d that never fire); %d fired at a gap end (%d wildcard ones for a skipped time only), %d fired in both copies of a repeated time", checked, never, gaps, wildGaps, repeats)
	if checked < 300 {
		t.Errorf("only %d expressions checked", checked)
	}
	if gaps == 0 || wildGaps == 0 || repeats == 0 {
		t.Errorf("the generator no longer exercises transitions")
	}
}

// cronexpr's Expression is not safe for concurrent use (its Next writes the
// current month's days into it); Expr must be. Eight goroutines share one
// Expr, each chaining from a different instant -- other months, month ends,
// New York's spring and fall transitions -- so that a shared Expression
// would mix their months up, and each must see exactly the chain a single
// goroutine saw (itself checked against the oracle). Failures travel back
// on a channel: only the test goroutine may stop the test.
func TestCronConcurrent(t *testing.T) {
	t.Parallel()
	const expr, n = "*/7 * */2 * 1-5", 300
	loc := mustLoad(t, "America/New_York")
	c, err := parseWatched(t, expr, loc)
	if err != nil {
		t.Fatal(err)
	}
	froms := []time.Time{
		mustTime(t, "2026-03-01T00:00:00Z"),
		mustTime(t, "2026-03-07T12:00:00Z"), // spring forward on 03-08
		mustTime(t, "2026-10-31T12:00:00Z"), // fall back on 11-01
		mustTime(t, "2026-01-30T18:00:00Z"),
		mustTime(t, "2026-02-27T06:00:00Z"),
		mustTime(t, "2026-04-29T00:00:00Z"),
		mustTime(t, "2026-06-29T23:59:59Z"),
		mustTime(t, "2026-12-30T00:00:00Z"),
	}
	wants := make([][]string, len(froms))
	for i, from := range froms {
		wants[i] = chain(t, c, from, n)
		if len(wants[i]) != n {
			t.Fatalf("from %s: %d instants, want %d", from, len(wants[i]), n)
		}
		checkOracle(t, expr, loc.String(), from.Format(time.RFC3339Nano), wants[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(froms))
	for i, from := range froms {
		wg.Go(func() {
			for range 5 {
				got, err := chainErr(c, from, n)
				if err != nil {
					errs <- fmt.Sprintf("goroutine %d: %v", i, err)
					return
				}
				if k := firstDiff(got, wants[i]); k >= 0 {
					errs <- fmt.Sprintf("goroutine %d, from %s: instant %d is %q, alone it was %q", i, from.Format(time.RFC3339), k, at(got, k), at(wants[i], k))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// firstDiff is the first index at which a and b differ, or -1.
func firstDiff(a, b []string) int {
	for k := range max(len(a), len(b)) {
		if at(a, k) != at(b, k) || k >= len(a) || k >= len(b) {
			return k
		}
	}
	return -1
}

// at is xs[k], or "(none)" past its end.
func at(xs []string, k int) string {
	if k < len(xs) {
		return xs[k]
	}
	return "(none)"
}

func TestInterval(t *testing.T) {
	t.Parallel()
	a := mustTime(t, "2026-01-01T00:00:00Z")
	iv := Interval{Anchor: a, Every: 90 * time.Second}
	var _ Schedule = iv
	var _ Schedule = (*Expr)(nil)
	for _, tc := range []struct{ from, want string }{
		{"2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z"}, // before the anchor: the anchor
		{"2025-12-31T23:59:59.999Z", "2026-01-01T00:00:00Z"},
		{"2026-01-01T00:00:00Z", "2026-01-01T00:01:30Z"}, // strictly after
		{"2026-01-01T00:01:29Z", "2026-01-01T00:01:30Z"},
		{"2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z"},
		{"2026-01-01T00:01:30.5Z", "2026-01-01T00:03:00Z"},
		{"2027-01-01T00:00:00Z", "2027-01-01T00:01:30Z"},
	} {
		got, ok := iv.Next(mustTime(t, tc.from))
		if !ok || got.Format(time.RFC3339) != tc.want {
			t.Errorf("Next(%s) = %s, %v; want %s", tc.from, got.Format(time.RFC3339), ok, tc.want)
		}
	}
	got := chain(t, iv, a.Add(-time.Second), 3)
	if want := []string{"2026-01-01T00:00:00Z", "2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z"}; !slices.Equal(got, want) {
		t.Errorf("chain = %q, want %q", got, want)
	}
	for _, every := range []time.Duration{0, -time.Second, 500 * time.Millisecond, 1500 * time.Millisecond} {
		if x, ok := (Interval{Anchor: a, Every: every}).Next(a); ok {
			t.Errorf("Every=%v: Next = %s, want false", every, x)
		}
	}
	// Far away: no overflow, no wrong answer.
	if x, ok := iv.Next(mustTime(t, "2400-01-01T00:00:00Z")); ok {
		t.Errorf("400 years on: %s, want false", x)
	}
}

func BenchmarkCronNext(b *testing.B) {
	for _, bc := range []struct{ expr, zone string }{
		{"*/15 * * * *", "UTC"},
		{"0 9 * * 1-5", "America/New_York"},
		{"30 2 * * *", "Europe/Berlin"},
		{"0 0 */2 * 1", "UTC"},
	} {
		c, err := Parse(bc.expr, mustLoad(b, bc.zone))
		if err != nil {
			b.Fatal(err)
		}
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		b.Run(bc.expr+"@"+bc.zone, func(b *testing.B) {
			x := from
			for b.Loop() {
				y, ok := c.Next(x)
				if !ok {
					b.Fatal("no next")
				}
				x = y
				if x.Year() > 2090 {
					x = from
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	loc := mustLoad(b, "America/New_York")
	for _, expr := range []string{"*/15 * * * *", "0 9,17 * * MON-FRI", "0 0 31 4,6,9,11 1"} {
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(expr, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
