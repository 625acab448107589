package cron

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorhill/cronexpr"
)

// watchGuards makes reaching any guard that the validator should make
// unreachable (see onUnreachable) a failure of t, until t ends. Tests that
// use it must not run in parallel with tests that set the hook.
func watchGuards(t testing.TB) {
	t.Helper()
	prev := onUnreachable
	onUnreachable = func(where string, detail any) {
		t.Errorf("guard reached: %s: %v", where, detail)
	}
	t.Cleanup(func() { onUnreachable = prev })
}

// catchGuards records the guards reached while f runs.
func catchGuards(f func()) []string {
	prev := onUnreachable
	defer func() { onUnreachable = prev }()
	var got []string
	onUnreachable = func(where string, detail any) {
		got = append(got, fmt.Sprintf("%s: %v", where, detail))
	}
	f()
	return got
}

// The hook fires at each guard, and the guards still answer safely: the
// detection the fuzz target relies on is itself tested here.
func TestUnreachableHook(t *testing.T) {
	from := mustTime(t, "2025-12-31T23:58:00Z")

	// A panic in Next: an Expr with no cronexpr template.
	var next time.Time
	var ok bool
	got := catchGuards(func() { next, ok = (&Expr{expr: "broken", loc: time.UTC}).Next(from) })
	if ok || !next.IsZero() {
		t.Errorf("broken Expr: Next = %s, %v; want the zero time, false", next, ok)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "Next: runtime error") {
		t.Errorf("broken Expr: hook saw %q, want one recovered panic in Next", got)
	}

	// cronexpr answering in the past: its leading-zero month bug, reached
	// by handing it a template our canon would never write.
	ce, err := cronexpr.Parse("0 0 0 1 01 * *")
	if err != nil {
		t.Fatal(err)
	}
	got = catchGuards(func() { next, ok = (&Expr{expr: "0 0 1 01 *", loc: time.UTC, ce: ce}).Next(from) })
	if ok {
		t.Errorf("past answer: Next = %s, want none", next)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "Next: cronexpr went back") {
		t.Errorf("past answer: hook saw %q, want cronexpr going back", got)
	}

	// A panic and a rejection in cronexpr.Parse.
	got = catchGuards(func() {
		_, err = safeParse("0 0 0 * * * *", func(string) (*cronexpr.Expression, error) { panic("boom") })
	})
	if err == nil || !strings.Contains(err.Error(), "internal error: cronexpr panicked") {
		t.Errorf("panicking parse: err = %v", err)
	}
	if len(got) != 1 || !strings.HasSuffix(got[0], ": boom") {
		t.Errorf("panicking parse: hook saw %q", got)
	}
	got = catchGuards(func() {
		_, err = safeParse("0 0 0 * * * *", func(string) (*cronexpr.Expression, error) { return nil, errors.New("no") })
	})
	if err == nil || !strings.Contains(err.Error(), "internal error: cronexpr rejected") || len(got) != 1 {
		t.Errorf("rejecting parse: err = %v, hook saw %q", err, got)
	}

	// Production: no hook, same safe answers.
	if onUnreachable != nil {
		t.Fatal("onUnreachable is set outside a test")
	}
	if next, ok := (&Expr{expr: "broken", loc: time.UTC}).Next(from); ok {
		t.Errorf("broken Expr without hook: Next = %s", next)
	}

	// And a valid expression reaches no guard.
	if got := catchGuards(func() {
		c, err := Parse("*/7 * */2 * 1-5", mustLoad(t, "America/New_York"))
		if err != nil {
			t.Fatal(err)
		}
		chain(t, c, from, 50)
	}); len(got) != 0 {
		t.Errorf("valid expression: hook saw %q", got)
	}
}
