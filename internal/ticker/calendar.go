package ticker

import (
	"context"
	"fmt"
	"time"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/schedule"
)

// The calendars the primary's schedules skip (exclude_calendar): read from
// werk_cron_calendars as entries need them, kept a while, and read afresh by the
// planner (which a calendar's edit sends its schedules to). The math is
// internal/schedule's (ExcludingSchedule, ExcludedTicks).

const (
	// calendarLookback and calendarMaxDays bound what the ticker reads of a calendar:
	// its days from this long ago on, at most this many (27 years of every day), so that
	// a calendar someone filled with millions of rows costs the ticker little. A day
	// beyond them is not excluded.
	calendarLookback = 400 * 24 * time.Hour
	calendarMaxDays  = 10_000
	// calendarTTL: a calendar read longer ago than this is read again before a decision
	// relies on it. An edit of a calendar plans its schedules again, which reads it anew
	// at once; this only bounds how long an edit racing a schedule's planning goes unseen.
	calendarTTL = time.Minute
)

// calendars is the primary's copy of the calendars its schedules skip, by name.
type calendars map[string]cachedCalendar

type cachedCalendar struct {
	cal    *schedule.Calendar
	readAt time.Time // host clock
}

// withCalendars gives the entries that skip a calendar's days their calendar, reading
// the calendars not read yet, read longer ago than calendarTTL, or (fresh: the planner,
// which an edit of a calendar sends its schedules to) all of them. An entry whose zone
// this ticker does not know cannot tell its local dates: it cannot run. q is the
// caller's (a transaction's) queries.
func (p *primary) withCalendars(ctx context.Context, q *db.Queries, es []*entry, fresh bool) error {
	var want []string
	seen := map[string]bool{}
	for _, e := range es {
		if e.calendar == "" || e.sched == nil || seen[e.calendar] {
			continue
		}
		seen[e.calendar] = true
		if c, ok := p.cals[e.calendar]; fresh || !ok || time.Since(c.readAt) > calendarTTL {
			want = append(want, e.calendar)
		}
	}
	if len(seen) == 0 {
		return nil
	}
	if p.cals == nil || len(p.cals) > 4*horizonRows {
		p.cals = calendars{} // a bound on what it keeps; read again as needed
	}
	if len(want) > 0 {
		from := p.now().Add(-calendarLookback).UTC().Format(time.DateOnly)
		rows, err := q.LoadCalendarDays(ctx, db.LoadCalendarDaysParams{Calendars: want, FromDay: from, MaxDays: calendarMaxDays})
		if err != nil {
			return fmt.Errorf("read calendars: %w", err)
		}
		days := map[string][]string{}
		for _, r := range rows {
			days[r.Calendar] = append(days[r.Calendar], r.Day)
		}
		for _, name := range want {
			c, err := schedule.NewCalendar(name, days[name])
			if err != nil {
				return err
			}
			p.cals[name] = cachedCalendar{cal: c, readAt: time.Now()}
		}
	}
	for _, e := range es {
		if e.calendar == "" || e.sched == nil {
			continue
		}
		loc, err := schedule.Zone(e.timezone)
		if err != nil {
			e.sched, e.err = nil, err.Error()
			continue
		}
		e.sched = &schedule.ExcludingSchedule{Schedule: schedule.Inner(e.sched), Loc: loc, Calendar: p.cals[e.calendar].cal}
	}
	return nil
}
