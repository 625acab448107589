package schedule

import (
	"testing"
	"time"
)

func TestLimitRuns(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	d := Decision{
		Enqueue: []time.Time{at(3), at(4), at(5)},
		Missed:  []MissedRow{{At: at(1), Ticks: 1}, {At: at(2), Ticks: 1}},
		Next:    at(6),
	}
	for _, c := range []struct {
		remaining int
		enqueue   int
		next      time.Time
	}{{-1, 3, at(6)}, {5, 3, at(6)}, {3, 3, at(6)}, {2, 2, time.Time{}}, {0, 0, time.Time{}}} {
		got := LimitRuns(d, c.remaining)
		if len(got.Enqueue) != c.enqueue || !got.Next.Equal(c.next) || len(got.Missed) != 2 {
			t.Errorf("remaining %d: %d enqueued, next %s, %d missed; want %d, %s, 2", c.remaining, len(got.Enqueue), got.Next, len(got.Missed), c.enqueue, c.next)
		}
		if c.enqueue > 0 && !got.Enqueue[0].Equal(at(3)) {
			t.Errorf("remaining %d: enqueues from %s; want the oldest, %s", c.remaining, got.Enqueue[0], at(3))
		}
	}
	// Misses newer than the last run left are not decided either.
	late := Decision{Enqueue: []time.Time{at(1), at(2)}, Missed: []MissedRow{{At: at(3), Ticks: 1}}, Next: at(4)}
	if got := LimitRuns(late, 1); len(got.Missed) != 0 || len(got.Enqueue) != 1 {
		t.Errorf("a miss after the last run: %+v", got)
	}
}
