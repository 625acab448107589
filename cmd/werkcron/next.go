package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

func cmdNext(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "next", "EXPR [--tz ZONE] [--from INSTANT] [-n N]", `
Prints the next N fire times of a cron expression, one RFC 3339 instant per line with
the zone's offset (Z for UTC), so that a schedule can be checked before it is saved,
also across a daylight-saving change. Exits 1 for an invalid or never-firing
expression or an unknown zone.

Examples:
  werkcron next '30 2 * * *' --tz America/New_York --from 2026-03-07T00:00:00Z -n 3
  werkcron next '*/10 * * * * *' -n 6`)
	tz := fs.String("tz", "UTC", "IANA time zone the expression is read in")
	from := fs.String("from", "", "start after this instant (RFC 3339; default now)")
	n := fs.Int("n", 5, "how many fire times to print")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want exactly one cron expression (quote it), got %d arguments: %w", len(pos), errUsage)
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1: %w", *n, errUsage)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("unknown time zone %q", *tz)
	}
	start := time.Now()
	if *from != "" {
		if start, err = time.Parse(time.RFC3339Nano, *from); err != nil {
			return fmt.Errorf("--from %q: want an RFC 3339 instant such as 2026-03-08T00:00:00Z: %w", *from, errUsage)
		}
	}
	sched, err := scheduler.ParseCron(pos[0], loc)
	if err != nil {
		return err
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
