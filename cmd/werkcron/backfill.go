package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/scheduler"
)

func cmdBackfill(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "backfill", "NAME --from INSTANT [--to INSTANT] [--wait DURATION] [--json]", `
Enqueues every tick of the schedule NAME in [--from, --to] that has no job yet: ticks
recorded missed or skipped for overlap, and ticks never decided (while it was paused,
say). Each gets its usual job key and a ledger row 'backfilled', so a tick that has a
job never gets a second one, and running the same backfill again enqueues nothing.
The schedule's last tick does not move; ticks it is still to decide itself are left
to it; the range is cut to its --starts-at and --ends-at.

The primary ticker carries the request out (within a second when one runs); this
waits for it and prints how many ticks were enqueued and how many had a job already.
If no ticker does it within --wait, the request stays pending and this exits 1.
With --wait 0 it does not wait: it prints the request's id (--json: the request) and
exits 0; werk_cron_backfills shows the request's progress and result later.
Refused: a reversed range, one beginning in the future, one of more than 100,000
ticks, and one reaching back beyond the ticker's --retention of the tick ledger
(a tick that old may have run and left no record).

Examples:
  werkcron backfill nightly-report --from 2026-03-01T00:00:00Z --to 2026-03-04T00:00:00Z
  werkcron backfill poll-feeds --from 2026-03-08T09:00:00Z     # up to now
  werkcron backfill poll-feeds --from 2026-03-08T09:00:00Z --wait 0   # prints the id`)
	from := fs.String("from", "", "the first instant of the range (RFC 3339; required)")
	to := fs.String("to", "", "the last instant of the range (RFC 3339; default now)")
	wait := fs.Duration("wait", time.Minute, "how long to wait for the primary ticker to carry it out (0: do not wait)")
	asJSON := fs.Bool("json", false, "print the request and its result as JSON")
	s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one schedule NAME")
	if err != nil {
		return err
	}
	defer done()
	name := pos[0]
	if *wait < 0 {
		return fmt.Errorf("backfill %q: --wait %s: want 0 (do not wait) or a positive duration: %w", name, *wait, errUsage)
	}
	if *from == "" {
		return fmt.Errorf("backfill %q: --from is required: %w", name, errUsage)
	}
	start, err := time.Parse(time.RFC3339Nano, *from)
	if err != nil {
		return fmt.Errorf("backfill %q: --from %q: want an RFC 3339 instant such as 2026-03-08T00:00:00Z: %w", name, *from, errUsage)
	}
	end := time.Now()
	if *to != "" {
		if end, err = time.Parse(time.RFC3339Nano, *to); err != nil {
			return fmt.Errorf("backfill %q: --to %q: want an RFC 3339 instant such as 2026-03-09T00:00:00Z: %w", name, *to, errUsage)
		}
	}
	b, err := s.RequestBackfill(ctx, name, start, end)
	if err != nil {
		return notFound(err, name)
	}
	if *wait == 0 {
		return e.backfillRequested(ctx, b, *asJSON)
	}
	// --wait bounds the wait for the ticker, not the asking: a slow connection must not
	// turn into a request never made.
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	if b, err = s.WaitBackfill(wctx, b.ID); err != nil {
		return notFound(err, name)
	}
	if *asJSON {
		return writeJSON(e.stdout, backfillJSON(b))
	}
	fmt.Fprintf(e.stdout, "%s: enqueued %d ticks in %s .. %s (%d had a job already)\n",
		clean(name), b.Enqueued, b.From.UTC().Format(time.RFC3339), b.To.UTC().Format(time.RFC3339), b.Already)
	return nil
}

// backfillRequested reports a request not waited for: its id (with asJSON, the request
// as stored), and on stderr who carries it out and where to look at it.
func (e *env) backfillRequested(ctx context.Context, b scheduler.Backfill, asJSON bool) error {
	e.log.Info("backfill requested, not waited for: the primary ticker carries it out (within a second when one runs)",
		"schedule", b.Name, "request", b.ID,
		"see", fmt.Sprintf("SELECT done_at, enqueued, already, error FROM werk_cron_backfills WHERE id = %d", b.ID))
	if !asJSON {
		fmt.Fprintln(e.stdout, b.ID)
		return nil
	}
	r, err := db.New(e.pool).GetBackfill(ctx, b.ID)
	if err != nil {
		return fmt.Errorf("backfill %q: request %d made, but reading it back failed: %w", b.Name, b.ID, err)
	}
	b = scheduler.Backfill{ID: r.ID, Name: r.Name, From: r.FromAt, To: r.ToAt, Requested: r.RequestedAt,
		By: r.RequestedBy, Enqueued: int(r.Enqueued), Already: int(r.Already)}
	if r.DoneAt != nil {
		b.Done = *r.DoneAt
	}
	if r.Error != nil {
		b.Error = *r.Error
	}
	return writeJSON(e.stdout, backfillJSON(b))
}

// backfillJSON is a backfill request as --json prints it; done_at is null while it is
// pending.
func backfillJSON(b scheduler.Backfill) map[string]any {
	m := map[string]any{
		"id": b.ID, "name": b.Name, "from": b.From, "to": b.To, "requested_at": b.Requested,
		"requested_by": b.By, "enqueued": b.Enqueued, "already": b.Already, "done_at": timePtr(b.Done)}
	if b.Error != "" {
		m["error"] = b.Error
	}
	return m
}
