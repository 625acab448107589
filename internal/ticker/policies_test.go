package ticker

import (
	"testing"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

func TestLimitRuns(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	d := decision{
		enqueue: []time.Time{at(3), at(4), at(5)},
		missed:  []missedRow{{at: at(1), ticks: 1}, {at: at(2), ticks: 1}},
		next:    at(6),
	}
	for _, c := range []struct {
		remaining int
		enqueue   int
		next      time.Time
	}{{-1, 3, at(6)}, {5, 3, at(6)}, {3, 3, at(6)}, {2, 2, time.Time{}}, {0, 0, time.Time{}}} {
		got := limitRuns(d, c.remaining)
		if len(got.enqueue) != c.enqueue || !got.next.Equal(c.next) || len(got.missed) != 2 {
			t.Errorf("remaining %d: %d enqueued, next %s, %d missed; want %d, %s, 2", c.remaining, len(got.enqueue), got.next, len(got.missed), c.enqueue, c.next)
		}
		if c.enqueue > 0 && !got.enqueue[0].Equal(at(3)) {
			t.Errorf("remaining %d: enqueues from %s; want the oldest, %s", c.remaining, got.enqueue[0], at(3))
		}
	}
	// Misses newer than the last run left are not decided either.
	late := decision{enqueue: []time.Time{at(1), at(2)}, missed: []missedRow{{at: at(3), ticks: 1}}, next: at(4)}
	if got := limitRuns(late, 1); len(got.missed) != 0 || len(got.enqueue) != 1 {
		t.Errorf("a miss after the last run: %+v", got)
	}
}

// A backfill reaches back before an interval schedule's anchor on the same grid.
func TestBackfillScheduleExtendsTheIntervalGrid(t *testing.T) {
	anchor := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := &entry{sched: cron.Interval{Anchor: anchor, Every: 90 * time.Second}}
	s := backfillSchedule(e, anchor.Add(-5*time.Minute))
	first, _ := s.Next(anchor.Add(-5*time.Minute - time.Nanosecond))
	if want := anchor.Add(-3 * 90 * time.Second); !first.Equal(want) {
		t.Fatalf("first tick from 5 min before the anchor: %s; want %s", first, want)
	}
	if n := countTicks(s, anchor.Add(-5*time.Minute-time.Nanosecond), anchor, 100); n != 4 {
		t.Fatalf("ticks in [anchor-5m, anchor]: %d; want 4 (-4.5m, -3m, -1.5m, 0)", n)
	}
	if n := countTicks(backfillSchedule(e, anchor.Add(-time.Hour)), anchor.Add(-time.Hour), anchor, 10); n != 10 {
		t.Fatalf("countTicks stops at its limit: %d", n)
	}
}
