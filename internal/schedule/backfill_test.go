package schedule

import (
	"testing"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

// A backfill reaches back before an interval schedule's anchor on the same grid.
func TestReachBackExtendsTheIntervalGrid(t *testing.T) {
	anchor := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	iv := cron.Interval{Anchor: anchor, Every: 90 * time.Second}
	s := ReachBack(iv, anchor.Add(-5*time.Minute))
	first, _ := s.Next(anchor.Add(-5*time.Minute - time.Nanosecond))
	if want := anchor.Add(-3 * 90 * time.Second); !first.Equal(want) {
		t.Fatalf("first tick from 5 min before the anchor: %s; want %s", first, want)
	}
	if n := CountTicks(s, anchor.Add(-5*time.Minute-time.Nanosecond), anchor, 100); n != 4 {
		t.Fatalf("ticks in [anchor-5m, anchor]: %d; want 4 (-4.5m, -3m, -1.5m, 0)", n)
	}
	if n := CountTicks(ReachBack(iv, anchor.Add(-time.Hour)), anchor.Add(-time.Hour), anchor, 10); n != 10 {
		t.Fatalf("CountTicks stops at its limit: %d", n)
	}
}
