package scheduler

// Whether schedules do their job: their health, its changes as they happen, and the
// holiday calendars whose days schedules skip.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/schedule"
)

// Values of ScheduleStatus.Health, the first that applies.
const (
	HealthPaused = "paused" // paused
	HealthError  = "error"  // the ticker cannot schedule it, or another session holds it up
	// HealthOverdue: a run has been active for MaxRuntime or longer.
	HealthOverdue = "overdue"
	// HealthLate: the newest tick's job was not started by its StartDeadline (it waits
	// past its expires_at, or expired).
	HealthLate    = "late"
	HealthFailing = "failing" // its newest recorded run failed
	HealthEnded   = "ended"   // nothing left to run
	HealthOK      = "ok"
)

// HealthChannel is the channel the primary ticker notifies (NOTIFY werk_cron_health)
// when a schedule's health changes, with a HealthChange as JSON.
const HealthChannel = "werk_cron_health"

// HealthChange is the payload of one notification on HealthChannel: exactly one is sent
// per change of a schedule's health, when the change commits.
type HealthChange struct {
	Schema   string    `json:"schema"` // the installation's schema (werk_cron_schema())
	Name     string    `json:"name"`
	Health   string    `json:"health"`
	Previous string    `json:"previous"`
	Since    time.Time `json:"since"`
	// Tick and Job are the run the health is about, when there is one: the late job, the
	// overdue run, the run that failed (or, back to ok, the newest recorded run).
	Tick *time.Time `json:"tick"`
	Job  *uuid.UUID `json:"job"`
}

// ParseHealthChange reads the payload of a notification on HealthChannel.
func ParseHealthChange(payload string) (HealthChange, error) {
	var c HealthChange
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return c, fmt.Errorf("read a health notification: %w", err)
	}
	if c.Name == "" || c.Health == "" {
		return c, fmt.Errorf("read a health notification: no name or health in %q", clip(payload, 200))
	}
	return c, nil
}

// WatchHealth calls fn with each change of a schedule's health in this installation as
// the primary ticker announces it, until ctx is done (then it returns nil) or its
// connection fails. It holds one connection of the pool meanwhile. A change made while
// it was not listening is not replayed: read Status (ScheduleStatus.Health and
// HealthSince) after (re)connecting.
func (s *Scheduler) WatchHealth(ctx context.Context, fn func(HealthChange)) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("watch health: %w", err)
	}
	defer c.Release()
	conn := c.Conn()
	schema, err := db.New(conn).WerkcronSchema(ctx)
	if err != nil {
		return fmt.Errorf("watch health: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{HealthChannel}.Sanitize()); err != nil {
		return fmt.Errorf("watch health: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN "+pgx.Identifier{HealthChannel}.Sanitize()); err != nil {
			c.Hijack().Close(uctx)
		}
	}()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch health: %w", err)
		}
		change, err := ParseHealthChange(n.Payload)
		if err != nil || change.Schema != schema {
			continue // not werkcron's, or another installation's
		}
		fn(change)
	}
}

// Unhealthy returns the schedules that are failing, late or overdue (what `werkcron
// status --check` lists), by name.
func (s *Scheduler) Unhealthy(ctx context.Context) ([]ScheduleStatus, error) {
	rows, err := s.q.ListUnhealthy(ctx)
	if err != nil {
		return nil, fmt.Errorf("list schedules failing, late or overdue: %w", err)
	}
	out := make([]ScheduleStatus, len(rows))
	for i, r := range rows {
		out[i] = statusOf(r)
	}
	return out, nil
}

// CountByHealth returns how many schedules have each health (absent: none).
func (s *Scheduler) CountByHealth(ctx context.Context) (map[string]int, error) {
	rows, err := s.q.CountSchedulesByHealth(ctx)
	if err != nil {
		return nil, fmt.Errorf("count schedules by health: %w", err)
	}
	m := make(map[string]int, len(rows))
	for _, r := range rows {
		m[r.Health] = int(r.Schedules)
	}
	return m, nil
}

// CalendarDay is one day of a calendar. Day is the date at midnight UTC (its year,
// month and day are what count: a schedule reads them in its own zone).
type CalendarDay struct {
	Day  time.Time `json:"day"`
	Note string    `json:"note,omitempty"`
}

// MarshalJSON writes the day as YYYY-MM-DD.
func (d CalendarDay) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Day  string `json:"day"`
		Note string `json:"note,omitempty"`
	}{d.Day.Format(time.DateOnly), d.Note})
}

// Calendar sums up one calendar: its days, and the schedules that skip them.
type Calendar struct {
	Name      string `json:"calendar"`
	Days      int    `json:"days"`
	FirstDay  string `json:"first_day,omitempty"` // YYYY-MM-DD; "" without days
	LastDay   string `json:"last_day,omitempty"`
	Schedules int    `json:"schedules"` // how many schedules have it as ExcludeCalendar
}

// ErrBadCalendar: a calendar's name is blank or longer than 200 bytes, or a note longer
// than 1 KB.
var ErrBadCalendar = errors.New("invalid calendar")

// AddCalendarDays adds days to the calendar (creating it), or sets their notes; it
// returns how many days were added or changed. The schedules that skip the calendar's
// days are planned again at once.
func (s *Scheduler) AddCalendarDays(ctx context.Context, calendar string, days ...CalendarDay) (int, error) {
	p := db.AddCalendarDaysParams{Calendar: calendar, Days: make([]string, len(days)), Notes: make([]string, len(days))}
	for i, d := range days {
		p.Days[i], p.Notes[i] = d.Day.Format(time.DateOnly), d.Note
	}
	n, err := s.q.AddCalendarDays(ctx, p)
	if err != nil {
		return 0, calendarError("add days to", calendar, err)
	}
	return int(n), nil
}

// RemoveCalendarDays removes days from the calendar and returns how many it held.
func (s *Scheduler) RemoveCalendarDays(ctx context.Context, calendar string, days ...time.Time) (int, error) {
	ds := make([]string, len(days))
	for i, d := range days {
		ds[i] = d.Format(time.DateOnly)
	}
	n, err := s.q.RemoveCalendarDays(ctx, db.RemoveCalendarDaysParams{Calendar: calendar, Days: ds})
	if err != nil {
		return 0, calendarError("remove days from", calendar, err)
	}
	return int(n), nil
}

// RemoveCalendar removes every day of the calendar and returns how many it held.
// Schedules that name it skip no day any more.
func (s *Scheduler) RemoveCalendar(ctx context.Context, calendar string) (int, error) {
	n, err := s.q.RemoveCalendar(ctx, calendar)
	if err != nil {
		return 0, calendarError("remove", calendar, err)
	}
	return int(n), nil
}

// CalendarDays returns the calendar's days, in order (none for an unknown calendar).
func (s *Scheduler) CalendarDays(ctx context.Context, calendar string) ([]CalendarDay, error) {
	rows, err := s.q.ListCalendarDays(ctx, calendar)
	if err != nil {
		return nil, calendarError("read", calendar, err)
	}
	out := make([]CalendarDay, len(rows))
	for i, r := range rows {
		d, err := time.Parse(time.DateOnly, r.Day)
		if err != nil {
			return nil, calendarError("read", calendar, err)
		}
		out[i] = CalendarDay{Day: d, Note: r.Note}
	}
	return out, nil
}

// Calendars returns every calendar that has days or schedules skipping its days, by
// name.
func (s *Scheduler) Calendars(ctx context.Context) ([]Calendar, error) {
	rows, err := s.q.ListCalendars(ctx)
	if err != nil {
		return nil, fmt.Errorf("list calendars: %w", err)
	}
	out := make([]Calendar, len(rows))
	for i, r := range rows {
		out[i] = Calendar{Name: r.Calendar, Days: int(r.Days), FirstDay: r.FirstDay, LastDay: r.LastDay, Schedules: int(r.Schedules)}
	}
	return out, nil
}

// calendarError wraps a refusal of a calendar's row (a constraint of
// werk_cron_calendars) in ErrBadCalendar.
func calendarError(op, calendar string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" {
		return fmt.Errorf("%s calendar %q: %w: %s", op, clip(calendar, 200), ErrBadCalendar, pgErr.ConstraintName)
	}
	return fmt.Errorf("%s calendar %q: %w", op, clip(calendar, 200), err)
}

// NextRuns returns the next at most n fire instants after from of the schedule name, as
// the ticker sees them (CronJob.NextRuns), without the days of its ExcludeCalendar.
func (s *Scheduler) NextRuns(ctx context.Context, name string, from time.Time, n int) ([]time.Time, error) {
	j, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if j.ExcludeCalendar == "" {
		return j.NextRuns(from, n)
	}
	days, err := s.CalendarDays(ctx, j.ExcludeCalendar)
	if err != nil {
		return nil, err
	}
	ds := make([]string, len(days))
	for i, d := range days {
		ds[i] = d.Day.Format(time.DateOnly)
	}
	cal, err := schedule.NewCalendar(j.ExcludeCalendar, ds)
	if err != nil {
		return nil, err
	}
	return j.nextRuns(from, n, cal)
}
