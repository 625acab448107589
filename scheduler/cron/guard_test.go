package cron

// The regression tests for cronexpr's bugs, item by item as the package
// documentation lists them under "What cronexpr gets wrong". Each gives
// the input that exposes the bug to Parse and Next, so that it passes
// through the guards; none avoids the input.
//
//   - Field count: a sixth field read as a year (30 5 4 * * *, */20 * * *
//     * *: TestCronFields, ExampleParse_seconds), fields after the seventh
//     ignored (* * * * * * * *, 0 0 0 1 1 * 2027 2028) and anything after a
//     descriptor (@daily 2027: TestParseCronErrors).
//   - Reversed ranges, which panic in Next, never fire or vanish from a
//     list (5-1 in each of the five fields, DEC-JAN, 5-1,7, fri-mon:
//     TestParseCronErrors, ExampleParse_error).
//   - Zero-padded months and days of week: 0 0 1 01 * first firing in
//     December, answering in the past and repeating (TestCronexprBugs, from
//     2025-12-31 23:58 too), 1-05 panicking (TestParseCronErrors), 01 and 05
//     read as Sunday (TestCronexprBugs).
//   - Day-of-week ranges through 7: 5-7, 6-7, 1-7, SAT-SUN never firing and
//     0-7 Sundays only (TestCronexprBugs).
//   - The day rule: a */n day field ORed with the other (0 0 */2 * 1:
//     TestCronexprBugs, TestOracleSelf).
//   - Loose syntax: empty list elements (1,,2 and ,1 and 1,) and ? in
//     every field (TestParseCronErrors).
//   - Never-firing expressions answered with the zero time (* * 31 2 *,
//     0 0 30 2 *, 0 0 31 4,6,9,11 *: TestCronNeverFires,
//     ExampleParse_error; past 2099: TestCronPastYears).
//   - Input length: 1 MiB parsed slowly and echoed whole (TestCronLengthCap,
//     TestCronErrorMessage).
//   - Shared state: one Expression used by several goroutines
//     (TestCronConcurrent, which fails without the copy per call, with or
//     without -race).
//   - Daylight saving: in New York, 30 2 * * * stuck on its input, 0 * * * *
//     and */15 looping and answering in the past; in Berlin and on Lord
//     Howe, late firings, second copies and lost runs (TestCronDST,
//     TestCronDSTMore, ExampleExpr_Next_daylightSaving).
//
// cronSeeds (fuzz_test.go) holds these inputs too, and the tests below check
// that a guard which fires is seen.

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorhill/cronexpr"
)

// parseWatched is Parse with a guard hook that makes reaching any guard the
// validator should make unreachable (see guardHook) an error of t, in Parse
// and in every Next of the Expr it returns. The hook belongs to that Expr,
// so tests that use it may run in parallel. t must outlive the Expr's use.
func parseWatched(t testing.TB, expr string, loc *time.Location) (*Expr, error) {
	t.Helper()
	return parse(expr, loc, func(where string, detail any) {
		t.Errorf("%q: guard reached: %s: %v", expr, where, detail)
	})
}

// guardLog records the guards reached through its hook.
type guardLog struct {
	mu  sync.Mutex
	got []string
}

func (g *guardLog) hook(where string, detail any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, fmt.Sprintf("%s: %v", where, detail))
}

// take returns what was recorded since the last take.
func (g *guardLog) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	got := g.got
	g.got = nil
	return got
}

// Expr values stay comparable with ==, as they were before the hook (a
// func-typed field would break that for callers); this fails to compile
// otherwise.
var _ = Expr{} == Expr{}

// The hook fires at each guard, and the guards still answer safely: the
// detection the fuzz target relies on is itself tested here.
func TestUnreachableHook(t *testing.T) {
	t.Parallel()
	from := mustTime(t, "2025-12-31T23:58:00Z")
	var g guardLog

	// A panic in Next: an Expr with no cronexpr template.
	hook := guardHook(g.hook)
	next, ok := (&Expr{expr: "broken", loc: time.UTC, hook: &hook}).Next(from)
	if ok || !next.IsZero() {
		t.Errorf("broken Expr: Next = %s, %v; want the zero time, false", next, ok)
	}
	if got := g.take(); len(got) != 1 || !strings.HasPrefix(got[0], "Next: runtime error") {
		t.Errorf("broken Expr: hook saw %q, want one recovered panic in Next", got)
	}

	// cronexpr answering in the past: its leading-zero month bug, reached
	// by handing it a template our canon would never write.
	ce, err := cronexpr.Parse("0 0 0 1 01 * *")
	if err != nil {
		t.Fatal(err)
	}
	next, ok = (&Expr{expr: "0 0 1 01 *", loc: time.UTC, ce: ce, hook: &hook}).Next(from)
	if ok {
		t.Errorf("past answer: Next = %s, want none", next)
	}
	if got := g.take(); len(got) != 1 || !strings.HasPrefix(got[0], "Next: cronexpr went back") {
		t.Errorf("past answer: hook saw %q, want cronexpr going back", got)
	}

	// A panic and a rejection in cronexpr.Parse.
	_, err = safeParse("0 0 0 * * * *", func(string) (*cronexpr.Expression, error) { panic("boom") }, g.hook)
	if err == nil || !strings.Contains(err.Error(), "internal error: cronexpr panicked") {
		t.Errorf("panicking parse: err = %v", err)
	}
	if got := g.take(); len(got) != 1 || !strings.HasSuffix(got[0], ": boom") {
		t.Errorf("panicking parse: hook saw %q", got)
	}
	_, err = safeParse("0 0 0 * * * *", func(string) (*cronexpr.Expression, error) { return nil, errors.New("no") }, g.hook)
	if got := g.take(); err == nil || !strings.Contains(err.Error(), "internal error: cronexpr rejected") || len(got) != 1 {
		t.Errorf("rejecting parse: err = %v, hook saw %q", err, got)
	}

	// parse hands its hook to the Expr, and Parse (production) has none;
	// without one the guards give the same safe answers. A nil Expr is a
	// recovered panic too.
	var nilExpr *Expr
	if next, ok := nilExpr.Next(from); ok {
		t.Errorf("nil Expr: Next = %s", next)
	}
	c, err := Parse("0 0 1 1 *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.hook != nil {
		t.Fatal("Parse returned an Expr with a guard hook")
	}
	if c, err := parse("0 0 1 1 *", nil, g.hook); err != nil || c.hook == nil {
		t.Fatalf("parse with a hook: %v, %v; want an Expr that keeps the hook", c, err)
	}
	if next, ok := (&Expr{expr: "broken", loc: time.UTC}).Next(from); ok {
		t.Errorf("broken Expr without hook: Next = %s", next)
	}
	if _, err := safeParse("0 0 0 * * * *", func(string) (*cronexpr.Expression, error) { panic("boom") }, nil); err == nil {
		t.Errorf("panicking parse without hook: no error")
	}

	// And a valid expression reaches no guard.
	c, err = parse("*/7 * */2 * 1-5", mustLoad(t, "America/New_York"), g.hook)
	if err != nil {
		t.Fatal(err)
	}
	chain(t, c, from, 50)
	if got := g.take(); len(got) != 0 {
		t.Errorf("valid expression: hook saw %q", got)
	}
}
