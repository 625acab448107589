package cron_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

func ExampleParse() {
	c, err := cron.Parse("0 9 * * MON-FRI", time.UTC)
	if err != nil {
		fmt.Println(err)
		return
	}
	t := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // a Thursday
	for range 3 {
		t, _ = c.Next(t)
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2026-01-02T09:00:00Z
	// 2026-01-05T09:00:00Z
	// 2026-01-06T09:00:00Z
}

// Errors name the field and the reason, and wrap ErrInvalid.
func ExampleParse_error() {
	_, err := cron.Parse("5-1 * * * *", time.UTC)
	fmt.Println(err)
	fmt.Println(errors.Is(err, cron.ErrInvalid))

	_, err = cron.Parse("0 0 30 2 *", time.UTC)
	fmt.Println(err)
	fmt.Println(errors.Is(err, cron.ErrNeverFires), errors.Is(err, cron.ErrInvalid))
	// Output:
	// cron "5-1 * * * *": minute: range 5-1 is reversed (start after end)
	// true
	// cron "0 0 30 2 *": day of month: never fires: no month in "2" has day "30"
	// true true
}

// Six fields put seconds first.
func ExampleParse_seconds() {
	c, _ := cron.Parse("*/20 * * * * *", time.UTC)
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		t, _ = c.Next(t)
		fmt.Println(t.Format(time.TimeOnly))
	}
	// Output:
	// 00:00:20
	// 00:00:40
	// 00:01:00
}

// Daylight saving: a fixed-time schedule fires once for a skipped time, at
// the end of the gap; a wildcard schedule follows real time and fires in
// both copies of a repeated hour.
func ExampleExpr_Next_daylightSaving() {
	ny, _ := time.LoadLocation("America/New_York")
	show := func(expr string, from time.Time, n int) {
		c, _ := cron.Parse(expr, ny)
		fmt.Print(expr, ":")
		for range n {
			from, _ = c.Next(from)
			fmt.Print(" ", from.Format("01-02 15:04 MST"))
		}
		fmt.Println()
	}
	show("30 2 * * *", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), 2)
	show("0 * * * *", time.Date(2026, 11, 1, 0, 30, 0, 0, ny), 3)
	show("30 1 * * *", time.Date(2026, 10, 31, 12, 0, 0, 0, ny), 2)
	// Output:
	// 30 2 * * *: 03-08 03:00 EDT 03-09 02:30 EDT
	// 0 * * * *: 11-01 01:00 EDT 11-01 01:00 EST 11-01 02:00 EST
	// 30 1 * * *: 11-01 01:30 EDT 11-02 01:30 EST
}

func ExampleInterval() {
	iv := cron.Interval{Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Every: 90 * time.Second}
	t := iv.Anchor.Add(-time.Hour)
	for range 3 {
		t, _ = iv.Next(t)
		fmt.Println(t.Format(time.TimeOnly))
	}
	// Output:
	// 00:00:00
	// 00:01:30
	// 00:03:00
}
