package schedule

import (
	"testing"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustCron(t *testing.T, expr string, loc *time.Location) cron.Schedule {
	t.Helper()
	c, err := cron.Parse(expr, loc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCalendar(t *testing.T, days ...string) *Calendar {
	t.Helper()
	c, err := NewCalendar("hol", days)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The date a tick is excluded on is its local date in the schedule's zone, not its UTC
// date, also on the days daylight saving starts and ends: Berlin's 28 March 2027 has 23
// hours, its 25 October 2026 has 25, and an hourly schedule skips exactly those.
func TestExcludedDayIsTheLocalDateAcrossDaylightSaving(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	for _, c := range []struct {
		day         string
		from, first string // the tick before the day, the first after it
		hours       int
	}{
		// 00:00 CET on the 28th is 23:00Z on the 27th; the 29th begins at 22:00Z.
		{"2027-03-28", "2027-03-27T22:00:00Z", "2027-03-28T22:00:00Z", 23},
		// 00:00 CEST on the 25th is 22:00Z on the 24th; the 26th begins at 23:00Z.
		{"2026-10-25", "2026-10-24T21:00:00Z", "2026-10-25T23:00:00Z", 25},
	} {
		x := &ExcludingSchedule{Schedule: mustCron(t, "0 * * * *", berlin), Loc: berlin, Calendar: mustCalendar(t, c.day)}
		next, ok := x.Next(utc(c.from))
		if !ok || !next.Equal(utc(c.first)) {
			t.Errorf("%s: next after %s is %v, want %s (the first tick of the next local day)", c.day, c.from, next, c.first)
		}
		// What a decision through that tick records as excluded: every tick of the day,
		// each on the day in Berlin, whatever its UTC date.
		w := Window{After: utc(c.from), From: utc(c.from)}
		rows := ExcludedTicks(w, x, next)
		total := 0
		for _, r := range rows {
			total += r.Ticks
			if got := r.At.In(berlin).Format(time.DateOnly); got != c.day {
				t.Errorf("%s: excluded tick %s is on %s in Berlin", c.day, r.At, got)
			}
		}
		if total != c.hours || len(rows) != MaxMissedRows {
			t.Errorf("%s: %d rows for %d ticks, want %d rows for %d (an hourly schedule's day)", c.day, len(rows), total, MaxMissedRows, c.hours)
		}
		if newest := rows[len(rows)-1].At; !newest.Equal(next.Add(-time.Hour)) {
			t.Errorf("%s: the newest excluded tick is %s, want %s", c.day, newest, next.Add(-time.Hour))
		}
	}
}

// A daily schedule skips its excluded day in one step; an interval schedule's days are
// read in the schedule's zone too; several days in a row are skipped together.
func TestExcludingScheduleSkipsDays(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	daily := &ExcludingSchedule{Schedule: mustCron(t, "0 9 * * *", ny), Loc: ny,
		Calendar: mustCalendar(t, "2026-03-08", "2026-03-09", "2026-12-25")}
	// 8 March 2026 is the day New York springs forward.
	for from, want := range map[string]string{
		"2026-03-07T15:00:00Z": "2026-03-10T13:00:00Z", // 09:00 EDT on the 10th
		"2026-03-07T13:00:00Z": "2026-03-07T14:00:00Z", // 09:00 EST on the 7th, not excluded
		"2026-12-24T15:00:00Z": "2026-12-26T14:00:00Z",
	} {
		if got, ok := daily.Next(utc(from)); !ok || !got.Equal(utc(want)) {
			t.Errorf("daily, after %s: %v, want %s", from, got, want)
		}
	}
	tokyo := mustZone(t, "Asia/Tokyo")
	iv := &ExcludingSchedule{Schedule: cron.Interval{Anchor: utc("2026-05-01T00:00:00Z"), Every: 6 * time.Hour},
		Loc: tokyo, Calendar: mustCalendar(t, "2026-05-02")}
	// Ticks at 00, 06, 12, 18Z are 09, 15, 21 and 03 (the next day) in Tokyo, whose 2nd
	// runs from 15:00Z on the 1st to 15:00Z on the 2nd.
	var got []time.Time
	for at, ok := iv.Next(utc("2026-05-01T05:00:00Z")); ok && len(got) < 3; at, ok = iv.Next(at) {
		got = append(got, at)
	}
	want := []time.Time{utc("2026-05-01T06:00:00Z"), utc("2026-05-01T12:00:00Z"), utc("2026-05-02T18:00:00Z")}
	if len(got) != 3 || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) || !got[2].Equal(want[2]) {
		t.Errorf("interval in Tokyo: %v, want %v", got, want)
	}
}

// Where the clock skips or repeats midnight, a day still begins at its first instant.
func TestStartOfDayWhereMidnightMoves(t *testing.T) {
	for _, zone := range []string{"America/Santiago", "America/Havana", "Asia/Beirut", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia"} {
		loc := mustZone(t, zone)
		for d := civil(2026, 1, 1); d < civil(2028, 1, 1); d++ {
			s := startOfDay(d, loc)
			if localDay(s, loc) != d || localDay(s.Add(-time.Nanosecond), loc) >= d {
				t.Fatalf("%s: day %s begins at %s (%s), which is not its first instant", zone, d, s, s.In(loc))
			}
		}
	}
}

// A pending tick whose start deadline has passed is missed, whatever the catch-up
// policy: its job could never start.
func TestStartDeadlineMissesOldTicks(t *testing.T) {
	s := cron.Interval{Anchor: utc("2026-01-01T00:00:00Z"), Every: time.Minute}
	now := utc("2026-01-01T00:10:29Z")
	for _, c := range []struct {
		catchup  string
		enqueued int
	}{{CatchupAll, 2}, {CatchupLatest, 1}} {
		w := Window{From: s.Anchor, Catchup: c.catchup, Deadline: 90 * time.Second}
		d := Decide(s, w, now)
		if len(d.Enqueue) != c.enqueued || !d.Enqueue[len(d.Enqueue)-1].Equal(utc("2026-01-01T00:10:00Z")) {
			t.Errorf("%s: enqueued %v, want the ticks of the last 90 s", c.catchup, d.Enqueue)
		}
		missed := 0
		for _, m := range d.Missed {
			missed += m.Ticks
		}
		if missed+len(d.Enqueue) != 11 {
			t.Errorf("%s: %d missed and %d enqueued of 11 pending ticks", c.catchup, missed, len(d.Enqueue))
		}
	}
	// A tick exactly at its deadline would be born expired: missed too.
	w := Window{From: s.Anchor, Catchup: CatchupAll, Deadline: 30 * time.Second}
	if d := Decide(s, w, utc("2026-01-01T00:10:30Z")); len(d.Enqueue) != 0 {
		t.Errorf("enqueued %v at its deadline", d.Enqueue)
	}
}
