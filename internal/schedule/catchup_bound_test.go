package schedule

import (
	"testing"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

// catchup = 'all' without a window after a day's outage of a one-second schedule:
// the newest MaxCatchupAll ticks get jobs, every one of them once and in order, and the
// other 85,400 are recorded missed (counted, in at most maxMissedRows rows) — not
// 86,400 jobs at once. Counting back finds the bound without stepping through the day.
func TestCatchupAllIsBoundedAfterALongOutage(t *testing.T) {
	c, err := cron.Parse("* * * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(24 * time.Hour)
	for _, s := range []cron.Schedule{c, cron.Interval{Anchor: t0, Every: time.Second}} {
		w := Window{After: t0, From: t0, Catchup: CatchupAll}
		if _, found := OldestOfNewest(s, w, now, MaxCatchupAll); !found {
			t.Fatalf("%T: no bound found for a day of pending ticks", s)
		}
		enqueued, missed := run(t, s, w, now)
		if len(enqueued) != MaxCatchupAll || missed != 86400-MaxCatchupAll {
			t.Fatalf("%T: %d enqueued and %d missed, want %d and %d", s, len(enqueued), missed, MaxCatchupAll, 86400-MaxCatchupAll)
		}
		if want := now.Add(-sec(MaxCatchupAll - 1)); !enqueued[0].Equal(want) || !enqueued[len(enqueued)-1].Equal(now) {
			t.Errorf("%T: enqueued %s .. %s, want %s .. %s", s, enqueued[0], enqueued[len(enqueued)-1], want, now)
		}
	}
	// A few pending ticks: no bound, all of them.
	w := Window{After: t0, From: t0, Catchup: CatchupAll}
	if _, found := OldestOfNewest(c, w, t0.Add(sec(10)), MaxCatchupAll); found {
		t.Errorf("a bound found for 10 pending ticks")
	}
}

// One pending tick of a catchup = 'all' schedule, decided a second and a half after its
// instant, as a large fan-out's later statements decide theirs: the allocations per
// decision (go test -bench DecideAllOneTick -benchmem ./internal/schedule).
func BenchmarkDecideAllOneTick(b *testing.B) {
	s := cron.Interval{Anchor: t0, Every: time.Minute}
	w := Window{After: t0.Add(-time.Minute), From: t0.Add(-time.Minute), Catchup: CatchupAll}
	now := t0.Add(1500 * time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(s, w, now); len(d.Enqueue) != 1 {
			b.Fatalf("decision %+v; want the one tick", d)
		}
	}
}
