package schedule

import (
	"testing"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

// missedTotal is how many missed ticks the rows stand for.
func missedTotal(d Decision) int {
	n := 0
	for _, m := range d.Missed {
		n += m.Ticks
	}
	return n
}

// run decides repeatedly, as the ticker does, until nothing is pending at now; it
// returns every enqueued tick and the total of missed ticks.
func run(t *testing.T, s cron.Schedule, w Window, now time.Time) (enqueued []time.Time, missed int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		d := Decide(s, w, now)
		if d.Empty() {
			return enqueued, missed
		}
		if len(d.Missed) > MaxMissedRows {
			t.Fatalf("%d missed rows in one decision", len(d.Missed))
		}
		enqueued = append(enqueued, d.Enqueue...)
		missed += missedTotal(d)
		w.After = d.Newest()
		if !d.Next.IsZero() && !d.Next.After(w.After) {
			t.Fatalf("next %s not after the newest decided tick %s", d.Next, w.After)
		}
	}
	t.Fatal("decisions never caught up")
	return nil, 0
}

func TestDecideAfterAnHourDown(t *testing.T) {
	every := cron.Interval{Anchor: t0, Every: time.Second}
	minute := cron.Interval{Anchor: t0, Every: time.Minute}
	now := t0.Add(time.Hour + 500*time.Millisecond) // ticks t0 .. t0+3600s have passed
	base := Window{After: t0, From: t0}             // t0 itself was enqueued before the outage

	cases := []struct {
		name         string
		s            cron.Schedule
		w            Window
		now          time.Time
		wantEnqueued int
		wantFirst    time.Time // first enqueued tick
		wantMissed   int
	}{
		{"latest: only the newest", every, with(base, CatchupLatest, 0), now, 1, t0.Add(sec(3600)), 3599},
		{"all: the newest MaxCatchupAll ticks, the rest missed", every, with(base, CatchupAll, 0), now, MaxCatchupAll, t0.Add(sec(3600 - MaxCatchupAll + 1)), 3600 - MaxCatchupAll},
		{"all with a window: every tick in it, past the bound", every, with(base, CatchupAll, 2*time.Hour), now, 3600, t0.Add(sec(1)), 0},
		{"all with a 10-minute window", every, with(base, CatchupAll, 10*time.Minute), now, 600, t0.Add(sec(3001)), 3000},
		{"latest with a window the newest is outside of", minute, with(base, CatchupLatest, 20*time.Second), t0.Add(time.Hour + 30*time.Second), 0, time.Time{}, 60},
		{"none: nothing late", minute, with(base, CatchupNone, 5*time.Second), t0.Add(time.Hour + 30*time.Second), 0, time.Time{}, 60},
		{"none: a tick within the grace", minute, with(base, CatchupNone, 5*time.Second), t0.Add(time.Hour + 3*time.Second), 1, t0.Add(time.Hour), 59},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, missed := run(t, c.s, c.w, c.now)
			if len(got) != c.wantEnqueued {
				t.Fatalf("enqueued %d ticks, want %d", len(got), c.wantEnqueued)
			}
			if len(got) > 0 && !got[0].Equal(c.wantFirst) {
				t.Errorf("first enqueued %s, want %s", got[0], c.wantFirst)
			}
			for i := 1; i < len(got); i++ {
				if !got[i].After(got[i-1]) {
					t.Fatalf("enqueued out of order: %s then %s", got[i-1], got[i])
				}
			}
			if missed != c.wantMissed {
				t.Errorf("missed %d ticks, want %d", missed, c.wantMissed)
			}
		})
	}
}

func with(w Window, catchup string, maxAge time.Duration) Window {
	w.Catchup, w.MaxAge = catchup, maxAge
	return w
}

func TestDecideMissedRowsAreBounded(t *testing.T) {
	s := cron.Interval{Anchor: t0, Every: time.Second}
	d := Decide(s, Window{After: t0, From: t0, Catchup: CatchupLatest}, t0.Add(sec(1000)))
	if len(d.Missed) != MaxMissedRows {
		t.Fatalf("%d missed rows, want %d", len(d.Missed), MaxMissedRows)
	}
	// The newest misses get rows; the oldest row counts the earlier ones too.
	if want := t0.Add(sec(990)); !d.Missed[0].At.Equal(want) {
		t.Errorf("oldest missed row at %s, want %s", d.Missed[0].At, want)
	}
	if d.Missed[0].Ticks != 990 {
		t.Errorf("oldest missed row stands for %d ticks, want 990", d.Missed[0].Ticks)
	}
	if got := missedTotal(d); got != 999 {
		t.Errorf("missed rows stand for %d ticks, want 999", got)
	}
	if len(d.Enqueue) != 1 || !d.Enqueue[0].Equal(t0.Add(sec(1000))) {
		t.Errorf("enqueue %v, want the tick at +1000s", d.Enqueue)
	}
}

func TestDecideAllEnqueuesInBoundedBatches(t *testing.T) {
	s := cron.Interval{Anchor: t0, Every: time.Second}
	d := Decide(s, Window{After: t0, From: t0, Catchup: CatchupAll}, t0.Add(sec(MaxCatchupAll)))
	if len(d.Enqueue) != MaxEnqueuePerDecision {
		t.Fatalf("one decision enqueued %d, want the batch of %d", len(d.Enqueue), MaxEnqueuePerDecision)
	}
	if want := t0.Add(sec(MaxEnqueuePerDecision + 1)); !d.Next.Equal(want) {
		t.Errorf("next %s, want %s (still pending, decided next)", d.Next, want)
	}
}

func TestDecideLongOutageOfSecondCronStaysBounded(t *testing.T) {
	c, err := cron.Parse("* * * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(3 * 24 * time.Hour)
	start := time.Now()
	d := Decide(c, Window{After: t0, From: t0, Catchup: CatchupLatest}, now)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("decision took %s", took)
	}
	if !d.Capped {
		t.Errorf("a walk over 259,200 ticks should be capped")
	}
	if len(d.Enqueue) != 1 || !d.Enqueue[0].Equal(now) {
		t.Fatalf("enqueue %v, want the newest tick %s", d.Enqueue, now)
	}
	if len(d.Missed) > MaxMissedRows || missedTotal(d) < maxWalk-1 {
		t.Errorf("%d missed rows standing for %d ticks", len(d.Missed), missedTotal(d))
	}
	if want := now.Add(time.Second); !d.Next.Equal(want) {
		t.Errorf("next %s, want %s", d.Next, want)
	}
}

func TestDecideHonoursStartEndAndChange(t *testing.T) {
	c, err := cron.Parse("*/10 * * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	changed := t0.Add(5 * time.Second)
	// Cron ticks come strictly after changed_at: a change at :05 first fires at :10.
	w := Window{From: StartBound(false, changed, time.Time{}), Catchup: CatchupAll}
	got, _ := run(t, c, w, t0.Add(sec(30)))
	want := []time.Time{t0.Add(sec(10)), t0.Add(sec(20)), t0.Add(sec(30))}
	if !equalTimes(got, want) {
		t.Errorf("after a change: %v, want %v", got, want)
	}
	// A change exactly on a tick does not fire that tick.
	w = Window{From: StartBound(false, t0.Add(sec(10)), time.Time{}), Catchup: CatchupAll}
	if got, _ := run(t, c, w, t0.Add(sec(20))); !equalTimes(got, []time.Time{t0.Add(sec(20))}) {
		t.Errorf("change on a tick: %v", got)
	}
	// starts_at is inclusive, ends_at too; nothing after ends_at is ever pending.
	w = Window{From: StartBound(false, t0, t0.Add(sec(20))), Until: t0.Add(sec(40)), Catchup: CatchupAll}
	if got, _ := run(t, c, w, t0.Add(sec(90))); !equalTimes(got, []time.Time{t0.Add(sec(20)), t0.Add(sec(30)), t0.Add(sec(40))}) {
		t.Errorf("window: %v", got)
	}
	if d := Decide(c, Window{After: t0.Add(sec(40)), Until: t0.Add(sec(40)), Catchup: CatchupAll}, t0.Add(sec(90))); !d.Empty() || !d.Next.IsZero() {
		t.Errorf("after ends_at: %+v", d)
	}
	// Intervals: anchor = greatest(starts_at, date_trunc('second', changed_at)), first tick at it.
	anchor := StartBound(true, t0.Add(1500*time.Millisecond), time.Time{})
	iv := cron.Interval{Anchor: anchor, Every: 5 * time.Second}
	if got, _ := run(t, iv, Window{From: anchor, Catchup: CatchupAll}, t0.Add(sec(11))); !equalTimes(got, []time.Time{t0.Add(sec(1)), t0.Add(sec(6)), t0.Add(sec(11))}) {
		t.Errorf("interval from a change at +1.5s: %v", got)
	}
}

func TestDecideNothingPendingReturnsNext(t *testing.T) {
	s := cron.Interval{Anchor: t0, Every: time.Minute}
	d := Decide(s, Window{After: t0, From: t0, Catchup: CatchupLatest}, t0.Add(30*time.Second))
	if !d.Empty() || !d.Next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %+v, want nothing now and next at +1m", d)
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
