package schedule

import (
	"fmt"
	"slices"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

// Holiday calendars: a schedule with exclude_calendar gets no job for a tick whose local
// date, in the schedule's zone, is a day of that calendar (werk_cron_calendars). Its
// next_run_at skips those days (ExcludingSchedule), and the ticks on them that a
// decision passes are recorded 'excluded' (ExcludedTicks).

// civilDay is a date (year, month, day) as the days since 1970-01-01.
type civilDay int32

func civil(y int, m time.Month, d int) civilDay {
	return civilDay(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// localDay is the date of t in loc.
func localDay(t time.Time, loc *time.Location) civilDay {
	y, m, d := t.In(loc).Date()
	return civil(y, m, d)
}

func (d civilDay) date() (int, time.Month, int) { return time.Unix(int64(d)*86400, 0).UTC().Date() }

func (d civilDay) String() string {
	y, m, dd := d.date()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// startOfDay is the first instant of the date d in loc: its midnight, or, where the
// clock skips midnight or shows it twice (zones that change at 00:00), where the date
// begins.
func startOfDay(d civilDay, loc *time.Location) time.Time {
	y, m, dd := d.date()
	g := time.Date(y, m, dd, 0, 0, 0, 0, loc)
	if localDay(g, loc) == d && localDay(g.Add(-time.Nanosecond), loc) < d {
		return g
	}
	// time.Date chose an instant on either side of a change of the zone's offset (which
	// moves the date's start by at most a few hours): the first second whose date is d.
	lo, hi := g.Add(-6*time.Hour).Unix(), g.Add(6*time.Hour).Unix()
	for lo < hi {
		mid := lo + (hi-lo)/2
		if localDay(time.Unix(mid, 0), loc) >= d {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return time.Unix(lo, 0)
}

// Calendar is the days of one calendar, as far as the ticker knows them.
type Calendar struct {
	Name string
	days []civilDay // sorted, distinct
}

// NewCalendar is the calendar name with the given days (YYYY-MM-DD, any order).
func NewCalendar(name string, days []string) (*Calendar, error) {
	c := &Calendar{Name: name, days: make([]civilDay, 0, len(days))}
	for _, s := range days {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, fmt.Errorf("calendar %q: day %q: want YYYY-MM-DD", name, s)
		}
		c.days = append(c.days, civil(t.Date()))
	}
	slices.Sort(c.days)
	c.days = slices.Compact(c.days)
	return c, nil
}

// Len is how many days the calendar holds.
func (c *Calendar) Len() int { return len(c.days) }

func (c *Calendar) has(d civilDay) bool {
	_, found := slices.BinarySearch(c.days, d)
	return found
}

// Excludes reports whether the local date of t in loc is a day of the calendar.
func (c *Calendar) Excludes(t time.Time, loc *time.Location) bool {
	return c != nil && c.has(localDay(t, loc))
}

// ExcludingSchedule is Schedule without its ticks whose local date in Loc is a day of
// Calendar: what next_run_at follows, and `werkcron next NAME` prints.
type ExcludingSchedule struct {
	Schedule cron.Schedule
	Loc      *time.Location
	Calendar *Calendar
}

// Next is the first tick of the schedule after t on a day the calendar does not list.
// From a tick on an excluded day it goes on from the start of the next day, so that a
// frequent schedule skips a day in one step.
func (x *ExcludingSchedule) Next(t time.Time) (time.Time, bool) {
	// Each round leaves one excluded day behind; the bound only guards against a zone
	// whose days do not begin where startOfDay says.
	for range 2*len(x.Calendar.days) + 64 {
		n, ok := x.Schedule.Next(t)
		if !ok {
			return n, false
		}
		d := localDay(n, x.Loc)
		if !x.Calendar.has(d) {
			return n, true
		}
		t = startOfDay(d+1, x.Loc).Add(-time.Nanosecond)
		if !t.After(n) {
			t = n
		}
	}
	return x.Schedule.Next(t)
}

// Inner is the schedule of e without its calendar.
func Inner(s cron.Schedule) cron.Schedule {
	if x, ok := s.(*ExcludingSchedule); ok {
		return x.Schedule
	}
	return s
}

// ExcludedTicks is what a decision settling every tick of x in w up to through records
// as 'excluded': the ticks of x's schedule in w, after w.after and up to through, whose
// local dates x's calendar lists. Like misses, at most MaxMissedRows rows, the newest,
// the oldest counting those before it that get no row; it walks at most maxWalk ticks.
func ExcludedTicks(w Window, x *ExcludingSchedule, through time.Time) []MissedRow {
	if through.IsZero() || len(x.Calendar.days) == 0 {
		return nil
	}
	lo := w.From
	if w.After.After(lo) {
		lo = w.After
	}
	first, last := localDay(lo, x.Loc), localDay(through, x.Loc)
	i, _ := slices.BinarySearch(x.Calendar.days, first)
	var m misses
	walked := 0
	for ; i < len(x.Calendar.days) && x.Calendar.days[i] <= last && walked < maxWalk; i++ {
		d := x.Calendar.days[i]
		end := startOfDay(d+1, x.Loc)
		for t, ok := w.FirstAfter(x.Schedule, startOfDay(d, x.Loc).Add(-time.Nanosecond)); ok && t.Before(end) && !t.After(through) && walked < maxWalk; t, ok = w.FirstAfter(x.Schedule, t) {
			walked++
			if localDay(t, x.Loc) == d {
				m.add(t)
			}
		}
	}
	return m.rows()
}

// zone loads the zone name once (see parseCache).
func (p *parseCache) zone(name string) (*time.Location, error) {
	p.mu.Lock()
	loc, ok := p.zones[name]
	p.mu.Unlock()
	if ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("time zone %q: not an IANA zone name that werkcron knows (use e.g. America/Los_Angeles)", name)
	}
	p.mu.Lock()
	p.zones[name] = loc
	p.mu.Unlock()
	return loc, nil
}

// Zone loads the zone name once, shared by every schedule in it.
func Zone(name string) (*time.Location, error) { return parsed.zone(name) }
