package main

// calendar: the holiday calendars whose days schedules skip (werk_cron_calendars).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

// maxCalendarRange bounds one FROM..TO of calendar add and rm: a typo of a year should
// not write ten thousand days.
const maxCalendarRange = 366

func cmdCalendar(ctx context.Context, e *env, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "add":
		return cmdCalendarAdd(ctx, e, args[1:])
	case "rm":
		return cmdCalendarRm(ctx, e, args[1:])
	case "ls":
		return cmdCalendarLs(ctx, e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, calendarUsage)
		return nil
	case "":
		return fmt.Errorf("want add, rm or ls: %w", errUsage)
	}
	return fmt.Errorf("unknown calendar command %q: want add, rm or ls: %w", sub, errUsage)
}

const calendarUsage = `Usage: werkcron calendar add|rm|ls ...

A calendar is a named set of days (werk_cron_calendars). A schedule whose
exclude_calendar (werkcron add --exclude-calendar) names it gets no job for a tick
whose local date, in the schedule's zone, is one of those days: the tick is recorded
excluded, and next_run_at (and werkcron next NAME) skip the day. Editing a calendar
plans the schedules that use it again at once.

  werkcron calendar add CALENDAR DAY... [--note TEXT]   add days (YYYY-MM-DD, or FROM..TO)
  werkcron calendar rm CALENDAR DAY...                 remove days
  werkcron calendar rm CALENDAR --all                  remove the whole calendar
  werkcron calendar ls [CALENDAR] [--json]             the calendars, or one's days

Examples:
  werkcron calendar add de-holidays 2026-12-24..2026-12-26 2027-01-01 --note 'Christmas, New Year'
  werkcron add daily-report --func myapp.tasks.report --cron '0 9 * * 1-5' \
      --tz Europe/Berlin --exclude-calendar de-holidays
  werkcron next daily-report -n 3
  werkcron calendar ls de-holidays

Run 'werkcron calendar add --help' (rm, ls) for a command's flags.
`

// parseDays reads days: YYYY-MM-DD, or a range FROM..TO (both included).
func parseDays(args []string) ([]time.Time, error) {
	var days []time.Time
	for _, a := range args {
		from, to, isRange := strings.Cut(a, "..")
		f, err := time.Parse(time.DateOnly, from)
		if err != nil {
			return nil, fmt.Errorf("day %q: want YYYY-MM-DD or FROM..TO: %w", a, errUsage)
		}
		if !isRange {
			days = append(days, f)
			continue
		}
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return nil, fmt.Errorf("day %q: want YYYY-MM-DD or FROM..TO: %w", a, errUsage)
		}
		if t.Before(f) || t.Sub(f) > maxCalendarRange*24*time.Hour {
			return nil, fmt.Errorf("days %q: want FROM no later than TO, at most %d days apart: %w", a, maxCalendarRange, errUsage)
		}
		for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
	}
	return days, nil
}

func cmdCalendarAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "calendar add", "CALENDAR DAY... [--note TEXT]", `
Adds days to the calendar CALENDAR (creating it), or sets their note. A day is
YYYY-MM-DD, or a range FROM..TO with both ends included. The schedules that skip the
calendar's days are planned again at once. Prints how many days were added or changed.

Example:
  werkcron calendar add de-holidays 2026-12-24..2026-12-26 2027-01-01 --note 'Christmas, New Year'`)
	note := fs.String("note", "", "why the days are excluded, kept with each")
	s, pos, done, err := e.dbVerb(ctx, fs, args, -1, "")
	if err != nil {
		return err
	}
	defer done()
	if len(pos) < 2 {
		return fmt.Errorf("want CALENDAR and at least one DAY, got %d arguments: %w", len(pos), errUsage)
	}
	days, err := parseDays(pos[1:])
	if err != nil {
		return err
	}
	add := make([]scheduler.CalendarDay, len(days))
	for i, d := range days {
		add[i] = scheduler.CalendarDay{Day: d, Note: *note}
	}
	n, err := s.AddCalendarDays(ctx, pos[0], add...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "calendar %s: %d %s added or changed\n", clean(pos[0]), n, plural(n, "day", "days"))
	return nil
}

func cmdCalendarRm(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "calendar rm", "CALENDAR (DAY... | --all)", `
Removes days (YYYY-MM-DD, or FROM..TO) from the calendar CALENDAR, or with --all every
day of it. The schedules that skip its days are planned again at once; a schedule that
names a calendar without days skips no day. Prints how many days were removed.

Examples:
  werkcron calendar rm de-holidays 2027-01-01
  werkcron calendar rm de-holidays --all`)
	all := fs.Bool("all", false, "remove every day of the calendar")
	s, pos, done, err := e.dbVerb(ctx, fs, args, -1, "")
	if err != nil {
		return err
	}
	defer done()
	switch {
	case len(pos) == 0:
		return fmt.Errorf("want CALENDAR: %w", errUsage)
	case *all && len(pos) > 1:
		return fmt.Errorf("give days or --all, not both: %w", errUsage)
	case !*all && len(pos) == 1:
		return fmt.Errorf("want the days to remove, or --all: %w", errUsage)
	}
	var n int
	if *all {
		n, err = s.RemoveCalendar(ctx, pos[0])
	} else {
		var days []time.Time
		if days, err = parseDays(pos[1:]); err != nil {
			return err
		}
		n, err = s.RemoveCalendarDays(ctx, pos[0], days...)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "calendar %s: %d %s removed\n", clean(pos[0]), n, plural(n, "day", "days"))
	return nil
}

func cmdCalendarLs(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "calendar ls", "[CALENDAR] [--json]", `
Without CALENDAR, lists every calendar that has days or schedules using it: how many
days, the first and the last, and how many schedules skip them. With CALENDAR, lists
its days and their notes.

Examples:
  werkcron calendar ls
  werkcron calendar ls de-holidays --json`)
	asJSON := fs.Bool("json", false, "print JSON")
	s, pos, done, err := e.dbVerb(ctx, fs, args, -1, "")
	if err != nil {
		return err
	}
	defer done()
	if len(pos) > 1 {
		return fmt.Errorf("want at most one CALENDAR, got %d arguments: %w", len(pos), errUsage)
	}
	if len(pos) == 1 {
		days, err := s.CalendarDays(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, days)
		}
		tw := newTable(e.stdout)
		fmt.Fprintln(tw, "DAY\tWEEKDAY\tNOTE")
		for _, d := range days {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Day.Format(time.DateOnly), d.Day.Weekday().String()[:3], dash(clean(oneLine(d.Note, 80))))
		}
		return tw.Flush()
	}
	cals, err := s.Calendars(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, cals)
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "CALENDAR\tDAYS\tFIRST\tLAST\tSCHEDULES")
	for _, c := range cals {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\n", clean(c.Name), c.Days, dash(c.FirstDay), dash(c.LastDay), c.Schedules)
	}
	return tw.Flush()
}
