package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

func cmdNext(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "next", "EXPR|NAME [--tz ZONE] [--from INSTANT] [-n N]", `
Prints the next N fire times of a cron expression, or of the schedule NAME, one RFC
3339 instant per line with the zone's offset (Z for UTC), so that a schedule can be
checked before it is saved, also across a daylight-saving change. An expression needs
no database. For NAME (looked up in werk_cron_jobs when the argument is not a valid
cron expression) the schedule's zone, start and end apply, the days of its
exclude_calendar are skipped, and --tz only changes how the instants are printed. Exits 1 for an invalid or never-firing expression, an
unknown zone or an unknown schedule.

Examples:
  werkcron next '30 2 * * *' --tz America/New_York --from 2026-03-07T00:00:00Z -n 3
  werkcron next '*/10 * * * * *' -n 6
  werkcron next daily-report`)
	tz := fs.String("tz", "UTC", "IANA time zone the expression is read in")
	from := fs.String("from", "", "start after this instant (RFC 3339; default now)")
	n := fs.Int("n", 5, "how many fire times to print")
	setup := e.dbFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want exactly one cron expression (quote it) or schedule name, got %d arguments: %w", len(pos), errUsage)
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1: %w", *n, errUsage)
	}
	tzSet := false
	fs.Visit(func(f *flag.Flag) { tzSet = tzSet || f.Name == "tz" })
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "Local" {
		return fmt.Errorf("unknown time zone %q", *tz)
	}
	start := time.Now()
	if *from != "" {
		if start, err = time.Parse(time.RFC3339Nano, *from); err != nil {
			return fmt.Errorf("--from %q: want an RFC 3339 instant such as 2026-03-08T00:00:00Z: %w", *from, errUsage)
		}
	}
	sched, err := cron.Parse(pos[0], loc)
	if err != nil {
		// Not an expression: perhaps a schedule's name. Expressions have spaces or
		// start with @; anything else is looked up when there is a database.
		if looksLikeCron(pos[0]) {
			return err
		}
		return nextOfSchedule(ctx, e, setup, pos[0], start, *n, loc, tzSet)
	}
	t := start
	for i := 0; i < *n; i++ {
		next, ok := sched.Next(t)
		if !ok {
			if i == 0 {
				return fmt.Errorf("cron %s never fires after %s", strconv.Quote(pos[0]), start.Format(time.RFC3339))
			}
			break
		}
		fmt.Fprintln(e.stdout, next.In(loc).Format(time.RFC3339))
		t = next
	}
	return nil
}

func looksLikeCron(s string) bool {
	return strings.ContainsAny(strings.TrimSpace(s), " \t") || strings.HasPrefix(s, "@")
}

// nextOfSchedule prints the next n fire times of the schedule name, read in its zone
// (printed in loc when --tz was given).
func nextOfSchedule(ctx context.Context, e *env, setup func() error, name string, from time.Time, n int, loc *time.Location, tzSet bool) error {
	if err := setup(); err != nil {
		if errors.Is(err, errUsage) && e.dsn == "" {
			return fmt.Errorf("%q is not a cron expression, and there is no database to look up a schedule of that name (set DATABASE_URL or --dsn)", name)
		}
		return err
	}
	s, done, err := e.openScheduler(ctx, "werkcron cli", 0)
	if err != nil {
		return err
	}
	defer done()
	j, err := s.Get(ctx, name)
	if err != nil {
		return notFound(err, name)
	}
	if !tzSet {
		if loc, err = time.LoadLocation(j.Timezone); err != nil {
			loc = time.UTC
		}
	}
	times, err := s.NextRuns(ctx, name, from, n) // without the days of its calendar
	if err != nil {
		return notFound(flagError(err), name)
	}
	if len(times) == 0 {
		return fmt.Errorf("schedule %q never fires after %s", name, from.Format(time.RFC3339))
	}
	if j.Paused {
		e.log.Warn("schedule is paused: these are the times it would fire once resumed", "schedule", name)
	}
	for _, t := range times {
		fmt.Fprintln(e.stdout, t.In(loc).Format(time.RFC3339))
	}
	return nil
}
