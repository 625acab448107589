package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// backfill waits for the primary and prints what it did; a second run enqueues nothing;
// bad ranges exit 1 (refused) or 2 (usage) with a clear message.
func TestCLIBackfill(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	// Paused from the start: it decides no tick, so every past tick is the backfill's.
	mustCLI(t, dsn, "add", "p", "--func", "app.p", "--every", "1s", "--paused")
	startRun(t, dsn, "--no-migrate")
	now := query[time.Time](t, dsn, `SELECT clock_timestamp()`).Truncate(time.Second)
	from, to := now.Add(-10*time.Second).Format(time.RFC3339), now.Add(-5*time.Second).Format(time.RFC3339)

	r := mustCLI(t, dsn, "backfill", "p", "--from", from, "--to", to)
	if want := "p: enqueued 6 ticks in " + from + " .. " + to + " (0 had a job already)\n"; r.stdout != want {
		t.Errorf("backfill printed %q; want %q", r.stdout, want)
	}
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'p'`); n != 6 {
		t.Errorf("%d jobs of p after backfilling 6 ticks", n)
	}
	again := decode[map[string]any](t, mustCLI(t, dsn, "backfill", "p", "--from", from, "--to", to, "--json"))
	if again["enqueued"] != 0.0 || again["already"] != 6.0 || again["done_at"] == nil {
		t.Errorf("second backfill --json: %v; want 0 enqueued, 6 already", again)
	}

	wantCode(t, dsn, 1, []string{"reversed"}, "backfill", "p", "--from", to, "--to", from)
	wantCode(t, dsn, 1, []string{"no such schedule"}, "backfill", "nope", "--from", from, "--to", to)
	wantCode(t, dsn, 1, []string{"more than 100000 ticks"}, "backfill", "p", "--from", now.Add(-30*time.Hour).Format(time.RFC3339))
	wantCode(t, dsn, 2, []string{"--from is required"}, "backfill", "p")
	wantCode(t, dsn, 2, []string{"--from", "RFC 3339"}, "backfill", "p", "--from", "yesterday")
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'p'`); n != 6 {
		t.Errorf("%d jobs of p after refused backfills; want the 6 of before", n)
	}
}

// With no ticker running, backfill gives up after --wait, says the request stays
// pending, and exits 1; a ticker started later carries it out.
func TestCLIBackfillWithoutTicker(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "p", "--func", "app.p", "--every", "1s", "--paused")
	now := query[time.Time](t, dsn, `SELECT clock_timestamp()`).Truncate(time.Second)
	r := wantCode(t, dsn, 1, []string{"not done yet", "is a ticker running", "stays pending"},
		"backfill", "p", "--from", now.Add(-3*time.Second).Format(time.RFC3339), "--to", now.Format(time.RFC3339), "--wait", "200ms")
	if r.stdout != "" {
		t.Errorf("stdout %q; want nothing", r.stdout)
	}
	startRun(t, dsn, "--no-migrate")
	pgtest.Eventually(t, 10*time.Second, "the pending backfill carried out", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_cron_backfills WHERE done_at IS NOT NULL AND enqueued = 4`) == 1
	})
}

// --wait 0 does not wait: it prints the pending request's id (--json: the request) and
// exits 0, telling on stderr who carries it out and where to look; a negative --wait is
// a usage error, and asks for nothing.
func TestCLIBackfillNoWait(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "p", "--func", "app.p", "--every", "1s", "--paused")
	now := query[time.Time](t, dsn, `SELECT clock_timestamp()`).Truncate(time.Second)
	from, to := now.Add(-3*time.Second).Format(time.RFC3339), now.Format(time.RFC3339)

	r := mustCLI(t, dsn, "backfill", "p", "--from", from, "--to", to, "--wait", "0")
	id := query[int64](t, dsn, `SELECT max(id) FROM werk_cron_backfills`)
	if r.stdout != strconv.FormatInt(id, 10)+"\n" {
		t.Errorf("backfill --wait 0 printed %q; want the request's id %d", r.stdout, id)
	}
	for _, w := range []string{"primary", fmt.Sprint(id), "werk_cron_backfills"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("backfill --wait 0: stderr does not mention %q: %q", w, r.stderr)
		}
	}
	if query[bool](t, dsn, `SELECT done_at IS NOT NULL FROM werk_cron_backfills WHERE id = $1`, id) {
		t.Errorf("request %d is done without a ticker", id)
	}

	j := decode[map[string]any](t, mustCLI(t, dsn, "backfill", "p", "--from", from, "--to", to, "--wait", "0s", "--json"))
	if j["id"] != float64(id+1) || j["name"] != "p" || j["from"] != from || j["to"] != to ||
		j["requested_by"] != "postgres" || j["requested_at"] == nil || j["done_at"] != nil {
		t.Errorf("backfill --wait 0 --json: %v; want pending request %d of p, %s .. %s", j, id+1, from, to)
	}

	wantCode(t, dsn, 2, []string{"--wait", "-1s"}, "backfill", "p", "--from", from, "--to", to, "--wait", "-1s")
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_cron_backfills`); n != 2 {
		t.Errorf("%d backfill requests; want the 2 of --wait 0, none of --wait -1s", n)
	}
}

// ls sums up the policies; show lists them.
func TestCLIPoliciesShown(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "pol", "--func", "app.pol", "--cron", "@hourly", "--overlap", "buffer_one",
		"--jitter", "30s", "--remaining-runs", "3")
	mustCLI(t, dsn, "add", "plain", "--func", "app.plain", "--cron", "@hourly")
	ls := mustCLI(t, dsn, "ls").stdout
	if !regexp.MustCompile(`(?m)^pol .* buffer_one, jitter 30s, 3 runs left +-$`).MatchString(ls) ||
		!regexp.MustCompile(`(?m)^plain .* - +-$`).MatchString(ls) || !strings.Contains(ls, "POLICY") {
		t.Errorf("ls:\n%s", ls)
	}
	rows := decode[[]map[string]any](t, mustCLI(t, dsn, "ls", "--json"))
	if rows[1]["overlap"] != "buffer_one" || rows[1]["jitter_secs"] != 30.0 || rows[1]["remaining_runs"] != 3.0 {
		t.Errorf("ls --json: %v", rows[1])
	}
	show := mustCLI(t, dsn, "show", "pol").stdout
	for _, re := range []string{`(?m)^overlap +buffer_one$`, `(?m)^jitter +30s$`, `(?m)^remaining runs +3$`} {
		if !regexp.MustCompile(re).MatchString(show) {
			t.Errorf("show does not match %s:\n%s", re, show)
		}
	}
}
