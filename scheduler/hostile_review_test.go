package scheduler_test

// The second hostile-input review, finding by finding: each attack is made as the role
// that found it, and each test checks both that the attack is refused and that nothing
// was harmed (no schedule paused, no ledger row rewritten, no job the allow-list refuses,
// no job beyond the cap). The roles:
//
//   - the owner: the test cluster's superuser, which migrates;
//   - a ticker role, set up with werk_cron_grant (what `werkcron grant --apply` runs);
//   - an application role, set up with werk_cron_grant_app (`werkcron grant --app`);
//   - the review's application role: DML on werk_cron_jobs and werk_cron_backfills and
//     INSERT on werk_jobs, granted by hand;
//   - a pgwerk producer (INSERT on werk_jobs) and a pgwerk worker (ALL on werk_jobs);
//   - a role with PostgreSQL's defaults only (it may connect and create temporary
//     tables).
//
// These tests read the ticker's view of a schedule (last_tick_at, next_run_at,
// last_error, state) from werk_cron_status, and of werk_cron_jobs only its definition.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// ---- the roles ----

// tickerRole creates a role with a ticker's rights (werk_cron_grant).
func tickerRole(t *testing.T, dsn string, pool *pgxpool.Pool) string {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "ticker", "")
	pgtest.Exec(t, pool, `SELECT count(*) FROM werk_cron_grant($1)`, role)
	return role
}

// appRole creates a role with an application's rights (werk_cron_grant_app).
func appRole(t *testing.T, dsn string, pool *pgxpool.Pool) string {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "app", "")
	grantApp(t, pool, role)
	return role
}

// grantApp gives role an application's rights, as `werkcron grant ROLE --app --apply`.
func grantApp(t *testing.T, pool *pgxpool.Pool, role string) {
	t.Helper()
	pgtest.Exec(t, pool, `SELECT count(*) FROM werk_cron_grant_app($1)`, role)
}

// dmlAppRole creates the review's application role: DML on werk_cron_jobs and
// werk_cron_backfills, INSERT on werk_jobs, granted by hand.
func dmlAppRole(t *testing.T, dsn string, pool *pgxpool.Pool) string {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "dmlapp", "")
	pgtest.Exec(t, pool, `GRANT USAGE ON SCHEMA public TO `+role+`;
		GRANT SELECT, INSERT, UPDATE, DELETE ON werk_cron_jobs, werk_cron_backfills TO `+role+`;
		GRANT INSERT ON werk_jobs TO `+role)
	return role
}

// producerRole creates a pgwerk producer: it may insert jobs, and nothing more.
func producerRole(t *testing.T, dsn string, pool *pgxpool.Pool) string {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "producer", "")
	pgtest.Exec(t, pool, `GRANT USAGE ON SCHEMA public TO `+role+`; GRANT INSERT ON werk_jobs TO `+role)
	return role
}

// workerRole creates a pgwerk worker: every right on werk_jobs.
func workerRole(t *testing.T, dsn string, pool *pgxpool.Pool) string {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "worker", "")
	pgtest.Exec(t, pool, `GRANT USAGE ON SCHEMA public TO `+role+`; GRANT ALL ON werk_jobs TO `+role)
	return role
}

// wantDenied asserts that err is PostgreSQL's insufficient_privilege.
func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("%s: %v; want permission denied (42501)", what, err)
	}
}

// try runs sql on q and returns its error.
func try(q pgtest.Querier, sql string, args ...any) error {
	_, err := q.Exec(context.Background(), sql, args...)
	return err
}

// scheduleState is a schedule's state, paused flag and paused_reason from werk_cron_status.
func scheduleState(t *testing.T, q pgtest.Querier, name string) (state string, paused bool, reason string) {
	t.Helper()
	var r *string
	if err := q.QueryRow(context.Background(), `SELECT state, paused, paused_reason FROM werk_cron_status WHERE name = $1`,
		name).Scan(&state, &paused, &r); err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	if r != nil {
		reason = *r
	}
	return state, paused, reason
}

// backfillRow is a backfill request as werk_cron_backfills holds it.
type backfillRow struct {
	done              bool
	enqueued, already int
	by, err           string
}

func readBackfill(t *testing.T, q pgtest.Querier, id int64) backfillRow {
	t.Helper()
	var b backfillRow
	var e *string
	if err := q.QueryRow(context.Background(), `SELECT done_at IS NOT NULL, enqueued, already, requested_by, error
		FROM werk_cron_backfills WHERE id = $1`, id).Scan(&b.done, &b.enqueued, &b.already, &b.by, &e); err != nil {
		t.Fatalf("backfill request %d: %v", id, err)
	}
	if e != nil {
		b.err = *e
	}
	return b
}

// waitBackfill waits until request id is done and returns it.
func waitBackfill(t *testing.T, q pgtest.Querier, id int64, within time.Duration) backfillRow {
	t.Helper()
	var b backfillRow
	pgtest.Eventually(t, within, fmt.Sprintf("backfill request %d done", id), func() bool {
		b = readBackfill(t, q, id)
		return b.done
	})
	return b
}

// notify wakes the primary as werk_cron_backfill does.
func notify(t *testing.T, q pgtest.Querier) {
	t.Helper()
	pgtest.Exec(t, q, `SELECT pg_notify(werk_cron_channel(), '')`)
}

// ---- finding 1: the outcome trigger and temporary look-alikes ----

// Finding 1 (high), as a role with PostgreSQL's defaults only: werk_cron_record_outcome
// ran as the owner, any role could execute it, and its search_path searched pg_temp
// first. A temporary werk_cron_ticks full of failures plus a temporary werk_jobs whose
// AFTER DELETE trigger called it paused the real schedule; with a real job's id it
// rewrote the real ledger row from complete to failed. The trigger is now refused, and
// a ticker role (which may call werk_cron_pause_failing) reading through a temporary
// ledger pauses nothing either: pg_temp is searched last.
func TestHostileReviewTempLookAlikesPauseAndRewriteNothing(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, pause_after_failures)
		VALUES ('victim', 'app.victim', 3600, 1), ('victim2', 'app.victim', 3600, 1)`)
	// A run of the schedule that went well, as a primary recorded it.
	realJob := uuid.New()
	realTick := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now()) - interval '1 minute'`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, job_status)
		VALUES ('victim', $1, 'enqueued', $2, 'complete')`, realTick, realJob)

	const tempLedger = `CREATE TEMP TABLE werk_cron_ledger (name text, tick_at timestamptz, outcome text, job_id uuid,
		decided_at timestamptz DEFAULT now(), ticks integer DEFAULT 1, job_status text, job_started_at timestamptz,
		job_finished_at timestamptz, job_attempts integer, job_error text)`
	const tempJobs = `CREATE TEMP TABLE werk_jobs (id uuid, key text, function text, queue text, status text,
		error text, attempts integer, started_at timestamptz, completed_at timestamptz, cron_name text)`
	const tempTrigger = `CREATE TRIGGER record AFTER DELETE ON pg_temp.werk_jobs FOR EACH ROW
		EXECUTE FUNCTION public.werk_cron_record_outcome()`
	stranger := pgtest.NewRole(t, dsn, "stranger", "")

	t.Run("a temporary ledger of failures", func(t *testing.T) {
		c := pgtest.ConnAs(t, dsn, stranger)
		for _, sql := range []string{tempLedger, tempJobs} {
			pgtest.Exec(t, c, sql)
		}
		wantDenied(t, "a trigger of the stranger's calling werk_cron_record_outcome", try(c, tempTrigger))
		forged := uuid.New()
		pgtest.Exec(t, c, `INSERT INTO pg_temp.werk_cron_ledger (name, tick_at, outcome, job_id, job_status)
			SELECT 'victim', now() + g * interval '1 s', 'enqueued', CASE WHEN g = 3 THEN $1::uuid ELSE gen_random_uuid() END,
			       CASE WHEN g = 3 THEN NULL ELSE 'failed' END
			FROM generate_series(1, 3) g`, forged)
		pgtest.Exec(t, c, `INSERT INTO pg_temp.werk_jobs (id, key, function, status, error, attempts, completed_at, cron_name)
			VALUES ($1, 'cron:victim:forged', 'app.victim', 'failed', 'forged', 1, now(), 'victim')`, forged)
		pgtest.Exec(t, c, `DELETE FROM pg_temp.werk_jobs`)
		wantDenied(t, "werk_cron_pause_failing as the stranger", try(c, `SELECT werk_cron_pause_failing('victim')`))
	})
	t.Run("a real job's id", func(t *testing.T) {
		c := pgtest.ConnAs(t, dsn, stranger)
		pgtest.Exec(t, c, tempJobs)
		wantDenied(t, "a trigger of the stranger's calling werk_cron_record_outcome", try(c, tempTrigger))
		pgtest.Exec(t, c, `INSERT INTO pg_temp.werk_jobs (id, key, function, status, error, attempts, completed_at, cron_name)
			VALUES ($1, 'cron:victim:whatever', 'app.victim', 'failed', 'forged by a stranger', 1, now(), 'victim')`, realJob)
		pgtest.Exec(t, c, `DELETE FROM pg_temp.werk_jobs`)
	})
	t.Run("a ticker role reading a temporary ledger", func(t *testing.T) {
		// The ticker role may call werk_cron_pause_failing (it pauses schedules for their
		// failures): what it reads must be werkcron's ledger, never its own temporary one.
		c := pgtest.ConnAs(t, dsn, tickerRole(t, dsn, pool))
		pgtest.Exec(t, c, tempLedger)
		pgtest.Exec(t, c, `INSERT INTO pg_temp.werk_cron_ledger (name, tick_at, outcome, job_id, job_status)
			SELECT 'victim2', now() + g * interval '1 s', 'enqueued', gen_random_uuid(), 'failed' FROM generate_series(1, 3) g`)
		if err := try(c, `SELECT werk_cron_pause_failing('victim2')`); err != nil {
			t.Fatal(err)
		}
		if state, paused, reason := scheduleState(t, pool, "victim2"); paused || state == "paused" {
			t.Errorf("werk_cron_pause_failing paused the schedule for failures only a temporary table of the caller's holds: %q", reason)
		}
	})

	if state, paused, reason := scheduleState(t, pool, "victim"); paused || state == "paused" {
		t.Errorf("the real schedule was paused (state %s): %q", state, reason)
	}
	var status string
	var jobErr *string
	if err := pool.QueryRow(ctx, `SELECT job_status, job_error FROM werk_cron_ticks WHERE name = 'victim' AND tick_at = $1`,
		realTick).Scan(&status, &jobErr); err != nil {
		t.Fatal(err)
	}
	if status != "complete" || jobErr != nil {
		t.Errorf("the real ledger row was rewritten: job_status %q, job_error %v; want complete, none", status, orNil(jobErr))
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks`); n != 1 {
		t.Errorf("the ledger has %d rows; want the one real row", n)
	}
}

// orNil is *s, or "<nil>".
func orNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// slogTo is a logger writing to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// ---- finding 2: the allow-list and a backfill race ----

// Finding 2 (high), as the review's application role: a backfill of a paused
// one-second schedule, its func flipped between an allowed and a refused function in a
// loop, enqueued jobs of the refused one: the ticker judged one read of the row and the
// statement enqueued from another. Now the statement enqueues only from the row the
// ticker judged.
func TestHostileReviewBackfillRaceCannotOutrunTheAllowList(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := dmlAppRole(t, dsn, pool)
	a := pgtest.ConnAs(t, dsn, app)
	pgtest.Exec(t, a, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('flip', 'myapp.ok', '* * * * * *', true)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{AllowFuncs: []string{"myapp.*"}})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

	// Every request its own 30 ticks of the last hour: each one a fresh chance.
	const requests = 120
	base := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now()) - interval '1 hour'`)
	flipper := pgtest.ConnAs(t, dsn, app)
	var stop atomic.Bool
	var flips atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := flipper.Exec(ctx, `UPDATE werk_cron_jobs SET func = CASE WHEN func = 'myapp.ok' THEN 'evil.rm_rf' ELSE 'myapp.ok' END
				WHERE name = 'flip'`); err != nil {
				t.Errorf("flip: %v", err)
				return
			}
			flips.Add(1)
		}
	}()
	stopFlipping := func() {
		if !stop.Swap(true) {
			wg.Wait()
		}
	}
	defer stopFlipping()
	for k := range requests {
		from := base.Add(time.Duration(30*k) * time.Second)
		var id int64
		if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES ('flip', $1, $2) RETURNING id`,
			from, from.Add(29*time.Second)).Scan(&id); err != nil {
			t.Fatal(err)
		}
	}
	notify(t, a)
	// Flip while the primary works through the requests (or for 10 s at most).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_backfills WHERE done_at IS NULL`) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	stopFlipping()
	doneWhileFlipping := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_backfills WHERE done_at IS NOT NULL`)
	pgtest.Exec(t, a, `UPDATE werk_cron_jobs SET func = 'myapp.ok' WHERE name = 'flip'`)
	notify(t, a)
	pgtest.Eventually(t, 20*time.Second, "every request done", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_backfills WHERE done_at IS NULL`) == 0
	})
	t.Logf("%d flips; %d of %d requests done while flipping", flips.Load(), doneWhileFlipping, requests)
	if doneWhileFlipping < 10 {
		t.Fatalf("only %d requests were carried out while the function flipped: this run proves nothing", doneWhileFlipping)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE function NOT LIKE 'myapp.%'`); n != 0 {
		t.Errorf("%d jobs of a function the allow-list refuses were enqueued by backfills", n)
	}
	// The requests refused on a read of the refused function say why; the others did
	// their job with the allowed one.
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE function = 'myapp.ok'`); n == 0 {
		t.Error("no backfill enqueued anything, even with the allowed function")
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_backfills
		WHERE error IS NOT NULL AND error NOT LIKE '%allow%'`); n != 0 {
		t.Errorf("%d requests failed for another reason than the allow-list", n)
	}
	// A request after the flipping stopped is carried out in full.
	var last int64
	if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES ('flip', $1, $2) RETURNING id`,
		base, base.Add(time.Duration(30*requests-1)*time.Second)).Scan(&last); err != nil {
		t.Fatal(err)
	}
	notify(t, a)
	if b := waitBackfill(t, pool, last, 10*time.Second); b.err != "" || b.enqueued+b.already != 30*requests {
		t.Errorf("a request over the whole hour after the flipping: %+v; want %d ticks enqueued or had", b, 30*requests)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE function NOT LIKE 'myapp.%'`); n != 0 {
		t.Errorf("%d jobs of a function the allow-list refuses", n)
	}
}

// ---- finding 3: a backfill request's progress is the ticker's ----

// Finding 3 (high), as the review's application role, which may insert into
// werk_cron_backfills: a request inserted with its progress set (through_at) skipped the
// 100,000-tick cap, and one with through_at before its range enqueued ticks older than
// the ticker's --retention; requested_by said whatever the row said. A request now
// starts at no progress, whatever is inserted, and requested_by is the role that logged
// in.
func TestHostileReviewBackfillRequestCarriesNoProgress(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := dmlAppRole(t, dsn, pool)
	a := pgtest.ConnAs(t, dsn, app)
	pgtest.Exec(t, a, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES
		('secs', 'app.secs', '* * * * * *', true), ('mins', 'app.mins', '* * * * *', true)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{Retention: 48 * time.Hour})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)

	// 30 hours of a one-second schedule: 108,000 ticks, over the cap; the row claims all
	// but the last ten are done, and that 'postgres' asked.
	var capped int64
	if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at, through_at, enqueued, already, requested_by)
		VALUES ('secs', $1, $2, $3, 7, 7, 'postgres') RETURNING id`,
		now.Add(-30*time.Hour), now, now.Add(-10*time.Second)).Scan(&capped); err != nil {
		t.Fatal(err)
	}
	// The last hour of a one-minute schedule, its progress claimed to start three days
	// back: beyond both its range and the ticker's 48-hour retention.
	var stale int64
	if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at, through_at)
		VALUES ('mins', $1, $2, $3) RETURNING id`, now.Add(-time.Hour), now, now.Add(-72*time.Hour)).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	notify(t, a)

	b := waitBackfill(t, pool, capped, 20*time.Second)
	if jobs := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'secs'`); jobs != 0 ||
		!strings.Contains(b.err, fmt.Sprint(scheduler.MaxBackfillTicks)) {
		t.Errorf("a request of 108,000 ticks inserted with its progress set: %d jobs enqueued, request %+v; "+
			"want it refused for the cap of %d ticks, nothing enqueued", jobs, b, scheduler.MaxBackfillTicks)
	}
	if b.by != app || b.enqueued != 0 || b.already != 0 {
		t.Errorf("the request inserted as %s says %+v; want requested_by %s and no progress of its own", app, b, app)
	}

	b = waitBackfill(t, pool, stale, 20*time.Second)
	from := now.Add(-time.Hour)
	if old := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'mins' AND scheduled_at < $1`, from); old != 0 {
		t.Errorf("%d jobs of ticks before the range asked for (as far back as %s, beyond the 48 h retention)", old,
			pgtest.QueryOne[time.Time](t, pool, `SELECT min(scheduled_at) FROM werk_jobs WHERE cron_name = 'mins'`).Format(time.RFC3339))
	}
	ticks := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM generate_series(date_trunc('minute', $1::timestamptz),
		$2::timestamptz, interval '1 minute') g WHERE g >= $1`, from, now)
	if jobs := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'mins'`); b.err != "" ||
		jobs != ticks || int64(b.enqueued) != ticks {
		t.Errorf("the last hour of a one-minute schedule: %d jobs, request %+v; want its %d ticks, all enqueued", jobs, b, ticks)
	}
	// The ticker still ticks.
	pgtest.Exec(t, a, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('pulse', 'app.pulse', '* * * * * *')`)
	pgtest.Eventually(t, 5*time.Second, "a new schedule ticking", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'pulse'`) >= 2
	})
}

// ---- finding 4: text bounded in bytes ----

// Finding 4 (high), as the review's application role: werk_cron_backfills.name had no
// size limit, and a request named repeat('x', 300000000) took every new primary to
// 1.5 GB. Every text column of a request is now bounded in bytes (not characters); the
// refusal names the limit, and the ticker goes on.
func TestHostileReviewBackfillTextIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := dmlAppRole(t, dsn, pool)
	a := pgtest.ConnAs(t, dsn, app)
	pgtest.Exec(t, a, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('ok', 'app.ok', '* * * * * *', true)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	var id int64
	if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at)
		VALUES ('ok', now() - interval '10 s', now()) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	notify(t, a)
	waitBackfill(t, pool, id, 10*time.Second)

	const mb = 1 << 20
	for _, tc := range []struct{ what, sql, limit string }{
		{"a 1 MB name", `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES (repeat('x', ` + fmt.Sprint(mb) + `), now() - interval '1 min', now())`,
			"name_must_be_at_most_200_bytes"},
		{"a name of 100 characters in 300 bytes", `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES (repeat('€', 100), now() - interval '1 min', now())`,
			"name_must_be_at_most_200_bytes"},
		{"a request renamed to 1 MB", `UPDATE werk_cron_backfills SET name = repeat('x', ` + fmt.Sprint(mb) + `) WHERE id = ` + fmt.Sprint(id),
			"name_must_be_at_most_200_bytes"},
		{"a 1 MB error", `UPDATE werk_cron_backfills SET error = repeat('x', ` + fmt.Sprint(mb) + `) WHERE id = ` + fmt.Sprint(id),
			"error_must_be_at_most_1_kb"},
		{"a 1 MB requested_by", `UPDATE werk_cron_backfills SET requested_by = repeat('x', ` + fmt.Sprint(mb) + `) WHERE id = ` + fmt.Sprint(id),
			"requested_by_must_be_at_most_64_bytes"},
	} {
		err := try(a, tc.sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || !strings.Contains(pgErr.ConstraintName, tc.limit) {
			t.Errorf("%s: %v; want a check violation of %s", tc.what, err, tc.limit)
		}
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT max(octet_length(name) + octet_length(requested_by) + coalesce(octet_length(error), 0))
		FROM werk_cron_backfills`); n > 200+64+1024 {
		t.Errorf("a request holds %d bytes of text", n)
	}
	// The primary goes on: a new request is carried out.
	if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at)
		VALUES ('ok', now() - interval '20 s', now()) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	notify(t, a)
	if b := waitBackfill(t, pool, id, 10*time.Second); b.err != "" {
		t.Errorf("a request after the refused ones: %+v", b)
	}
}

// ---- finding 6: multibyte errors ----

// Finding 6 (medium), as a pgwerk worker: a job failing with 1,200 x '€' broke
// pause_after_failures (paused_reason was cut by characters against its 1 KB check, so
// recording the failure raised and the schedule was neither paused nor run), and made
// pgwerk's DELETE of such a job raise from werkcron's trigger, rolling back the whole
// clean-up batch. Texts are now cut in bytes at a character boundary.
func TestHostileReviewMultibyteErrorsPauseAndCleanUp(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	worker := pgtest.ConnAs(t, dsn, workerRole(t, dsn, pool))
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, pause_after_failures) VALUES
		('recorded', 'app.recorded', '* * * * * *', 1), ('deleted', 'app.deleted', '* * * * * *', 1)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	firstJob := func(name string) uuid.UUID {
		var id uuid.UUID
		pgtest.Eventually(t, 5*time.Second, "a job of "+name, func() bool {
			err := pool.QueryRow(ctx, `SELECT id FROM werk_jobs WHERE cron_name = $1 ORDER BY scheduled_at LIMIT 1`, name).Scan(&id)
			return err == nil
		})
		return id
	}
	euros := strings.Repeat("€", 1200)
	checkRecorded := func(t *testing.T, name string, job uuid.UUID) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // a bound for a loaded machine; usually a second
		for state, _, _ := scheduleState(t, pool, name); state != "paused"; state, _, _ = scheduleState(t, pool, name) {
			if time.Now().After(deadline) {
				// What the ledger, the health summary and the definition say, to tell why.
				t.Fatalf("%s not paused for its failure within 30s (state %s); ledger: %s; health: %s; definition: %s", name, state,
					pgtest.QueryOne[string](t, pool, `SELECT coalesce(string_agg(format('%s %s job=%s status=%s', tick_at, outcome,
						job_id = $2, job_status), '; ' ORDER BY tick_at), '') FROM werk_cron_ledger WHERE name = $1`, name, job),
					pgtest.QueryOne[string](t, pool, `SELECT coalesce((SELECT row_to_json(h)::text FROM werk_cron_health h WHERE name = $1), 'none')`, name),
					pgtest.QueryOne[string](t, pool, `SELECT format('paused=%s changed_at=%s', paused, changed_at) FROM werk_cron_jobs WHERE name = $1`, name))
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, _, reason := scheduleState(t, pool, name)
		if len(reason) > 1024 || !strings.Contains(reason, "€€€") {
			t.Errorf("%s: paused_reason of %d bytes: %.80q...; want at most 1 KB of the error", name, len(reason), reason)
		}
		var status, jobErr string
		if err := pool.QueryRow(ctx, `SELECT job_status, job_error FROM werk_cron_ticks WHERE job_id = $1`, job).Scan(&status, &jobErr); err != nil {
			t.Fatalf("%s: the failed run's ledger row: %v", name, err)
		}
		if status != "failed" || len(jobErr) > 2048 || !strings.HasPrefix(euros, jobErr) || len(jobErr) < 2000 {
			t.Errorf("%s: ledger says %s with an error of %d bytes; want failed, the error cut to at most 2 KB at a character boundary",
				name, status, len(jobErr))
		}
	}

	t.Run("recorded by the primary", func(t *testing.T) {
		job := firstJob("recorded")
		if _, err := worker.Exec(ctx, `UPDATE werk_jobs SET status = 'failed', error = $2, attempts = 1, started_at = now(), completed_at = now()
			WHERE id = $1`, job, euros); err != nil {
			t.Fatal(err)
		}
		checkRecorded(t, "recorded", job)
	})
	// pgwerk deletes the failed job before the primary saw it end, in a clean-up batch
	// with another finished job: the batch goes through, and the outcome is recorded.
	t.Run("deleted by pgwerk", func(t *testing.T) {
		pgtest.Exec(t, pool, `INSERT INTO werk_jobs (key, function, status, completed_at) VALUES ('other-app-job', 'other.app', 'complete', now())`)
		job := firstJob("deleted")
		tx, err := worker.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		pgtest.Exec(t, tx, `UPDATE werk_jobs SET status = 'failed', error = $2, attempts = 1, started_at = now(), completed_at = now()
			WHERE id = $1`, job, euros)
		if _, err := tx.Exec(ctx, `DELETE FROM werk_jobs WHERE status IN ('complete', 'failed')`); err != nil {
			t.Fatalf("pgwerk's clean-up batch raised: %v", err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE key = 'other-app-job' OR id = $1`, job); n != 0 {
			t.Errorf("%d jobs of the clean-up batch are still there", n)
		}
		checkRecorded(t, "deleted", job)
	})
}

// ---- finding 7: jobs werkcron did not make ----

// Finding 7 (medium), as a pgwerk producer (INSERT on werk_jobs, nothing else): jobs
// pre-inserted under a schedule's future tick keys, with its own cron_name and function
// and status 'failed', were recorded 'duplicate': the real runs never happened, the
// forged failures counted, and the schedule paused within seconds. A key held by a job
// werkcron did not make for the tick is now 'foreign', and its outcome never counts.
func TestHostileReviewForgedRunsNeverCount(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	producer := pgtest.ConnAs(t, dsn, producerRole(t, dsn, pool))
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup, pause_after_failures)
		VALUES ('victim', 'app.victim', '* * * * * *', 'all', 2)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

	first := nextWholeSecond(t, pool, 2*time.Second)
	var forged []time.Time
	for i := range 3 {
		at := first.Add(time.Duration(i) * time.Second)
		forged = append(forged, at)
		if _, err := producer.Exec(ctx, `INSERT INTO werk_jobs (key, function, cron_name, status, error, attempts, scheduled_at, started_at, completed_at)
			VALUES ($1, 'app.victim', 'victim', 'failed', 'forged', 1, $2, $2, $2)`, keyOf("victim", at), at); err != nil {
			t.Fatal(err)
		}
	}
	wantDenied(t, "the producer writing the ledger", try(producer, `INSERT INTO werk_cron_ledger (name, tick_at, outcome) VALUES ('victim', $1, 'enqueued')`,
		first.Add(time.Hour)))
	after := first.Add(3 * time.Second)
	pgtest.Eventually(t, 15*time.Second, "the schedule ticked past the forged ticks (or was paused)", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT coalesce(last_tick_at >= $1, false) OR state = 'paused'
			FROM werk_cron_status WHERE name = 'victim'`, after.Add(2*time.Second))
	})
	if state, _, reason := scheduleState(t, pool, "victim"); state == "paused" {
		t.Fatalf("a producer's forged failures paused the schedule: %s", reason)
	}
	for _, at := range forged {
		if o := pgtest.QueryOne[string](t, pool, `SELECT outcome FROM werk_cron_ticks WHERE name = 'victim' AND tick_at = $1`, at); o != "foreign" {
			t.Errorf("the tick at %s, its key taken by a forged job: %s; want foreign", at.Format(time.RFC3339), o)
		}
	}
	if n := pgtest.QueryOne[int32](t, pool, `SELECT consecutive_failures FROM werk_cron_status WHERE name = 'victim'`); n != 0 {
		t.Errorf("%d failures counted for the schedule, which never failed", n)
	}
	if o := pgtest.QueryOne[string](t, pool, `SELECT outcome FROM werk_cron_ticks WHERE name = 'victim' AND tick_at = $1`, after); o != "enqueued" {
		t.Errorf("the first tick after the forged ones: %s; want enqueued", o)
	}
}

// Finding 7, its other half: an application that triggers runs needed INSERT on the
// ledger, where it could write future ticks' rows (and so suppress or forge them).
// werk_cron_trigger now writes the manual run's row itself, as the owner, for a caller
// that may insert into werk_jobs anyway: the application role triggers runs and cannot
// write a ledger row, and a role that may not insert jobs may not trigger one.
func TestHostileReviewTriggerNeedsNoLedgerRights(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := appRole(t, dsn, pool)
	a := pgtest.ConnAs(t, dsn, app)
	pgtest.Exec(t, a, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('manual', 'app.manual', 3600)`)
	var id uuid.UUID
	if err := a.QueryRow(ctx, `SELECT werk_cron_trigger('manual')`).Scan(&id); err != nil {
		t.Fatalf("the application role triggers a run: %v", err)
	}
	if o := pgtest.QueryOne[string](t, a, `SELECT outcome FROM werk_cron_ticks WHERE job_id = $1`, id); o != "triggered" {
		t.Errorf("the manual run's ledger row: %s; want triggered", o)
	}
	future := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now()) + interval '1 hour'`)
	wantDenied(t, "the application writing a future tick's ledger row", try(a,
		`INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id) VALUES ('manual', $1, 'enqueued', gen_random_uuid())`, future))
	wantDenied(t, "the application rewriting the manual run's outcome", try(a,
		`UPDATE werk_cron_ledger SET job_status = 'failed' WHERE job_id = $1`, id))

	// EXECUTE alone is not enough: the caller must be one that may insert jobs.
	nojobs := pgtest.NewRole(t, dsn, "nojobs", "")
	pgtest.Exec(t, pool, `GRANT USAGE ON SCHEMA public TO `+nojobs+`; GRANT EXECUTE ON FUNCTION werk_cron_trigger(text) TO `+nojobs)
	wantDenied(t, "werk_cron_trigger as a role that may not insert into werk_jobs", try(pgtest.ConnAs(t, dsn, nojobs), `SELECT werk_cron_trigger('manual')`))
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'manual'`); n != 1 {
		t.Errorf("%d jobs of the schedule; want the one the application triggered", n)
	}
}

// ---- finding 8: the lesser ones ----

// Finding 8 (low), as a pgwerk producer holding a job key uncommitted: a backfill
// request blocked on it held up every later request. Now it is set aside and the
// others go on.
func TestHostileReviewBlockedBackfillHoldsUpNoOther(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES
		('held', 'app.held', '* * * * * *', true), ('free', 'app.free', '* * * * * *', true)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	from := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now()) - interval '30 s'`)
	to := from.Add(20 * time.Second)

	tx, err := pgtest.ConnAs(t, dsn, producerRole(t, dsn, pool)).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `INSERT INTO werk_jobs (key, function) VALUES ($1, 'app.mine')`, keyOf("held", from.Add(10*time.Second)))
	held := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_backfill('held', $1, $2)`, from, to)
	free := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_backfill('free', $1, $2)`, from, to)
	if b := waitBackfill(t, pool, free, 5*time.Second); b.enqueued != 21 || b.err != "" {
		t.Errorf("the request behind the blocked one: %+v; want its 21 ticks enqueued", b)
	}
	if b := readBackfill(t, pool, held); b.done {
		t.Errorf("the blocked request is done while the key is held: %+v", b)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if b := waitBackfill(t, pool, held, 10*time.Second); b.enqueued != 21 || b.err != "" {
		t.Errorf("the blocked request once the key was let go: %+v; want its 21 ticks enqueued", b)
	}
}

// Finding 8 (low): a chunk's jobs and its progress were written apart, and a primary
// that lost the progress write (a crash, or here: the review's application role
// holding the request's row past the ticker's lock_timeout) did the chunk again and
// counted its own jobs as had already. They now commit together.
func TestHostileReviewBackfillCountsSurviveALostProgressWrite(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := pgtest.ConnAs(t, dsn, dmlAppRole(t, dsn, pool))
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('c', 'app.c', '* * * * * *', true)`)
	from := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now()) - interval '30 s'`)
	id := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_backfill('c', $1, $2)`, from, from.Add(19*time.Second))
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `SELECT id FROM werk_cron_backfills WHERE id = $1 FOR UPDATE`, id)

	var logs syncBuffer
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{Logger: slogTo(&logs)})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 10*time.Second, "the primary meets the held request (it says it tries again)", func() bool {
		return strings.Contains(logs.String(), "trying again")
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := waitBackfill(t, pool, id, 10*time.Second)
	jobs := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'c'`)
	if jobs != 20 || b.enqueued != 20 || b.already != 0 || b.err != "" {
		t.Errorf("%d jobs; the request says %+v; want all 20 enqueued and counted so", jobs, b)
	}
}

// Finding 8 (low), as the review's application role asking for thousands of backfills:
// a backfill pass after another kept the primary from recording outcomes (100,000
// requests starved them for a minute). The two now take turns.
func TestHostileReviewBackfillsDoNotStarveOutcomes(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := pgtest.ConnAs(t, dsn, dmlAppRole(t, dsn, pool))
	worker := pgtest.ConnAs(t, dsn, workerRole(t, dsn, pool))
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('live', 'app.live', '* * * * * *')`)
	pgtest.Exec(t, app, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('yearly', 'app.yearly', '0 0 1 1 *', true)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

	// Requests of a minute of a yearly schedule: nothing to enqueue, each one a step.
	const requests = 10000
	pgtest.Exec(t, app, `INSERT INTO werk_cron_backfills (name, from_at, to_at)
		SELECT 'yearly', now() - interval '1 minute', now() FROM generate_series(1, $1)`, requests)
	notify(t, app)
	pgtest.Eventually(t, 5*time.Second, "the primary working through the requests", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_backfills WHERE done_at IS NOT NULL`) > 0
	})
	var job uuid.UUID
	var tick time.Time
	pgtest.Eventually(t, 5*time.Second, "a job of the live schedule", func() bool {
		return pool.QueryRow(ctx, `SELECT j.id, t.tick_at FROM werk_jobs j JOIN werk_cron_ticks t ON t.job_id = j.id
			WHERE j.cron_name = 'live' AND j.status = 'queued' ORDER BY j.scheduled_at DESC LIMIT 1`).Scan(&job, &tick) == nil
	})
	if _, err := worker.Exec(ctx, `UPDATE werk_jobs SET status = 'complete', attempts = 1, started_at = now(), completed_at = now()
		WHERE id = $1`, job); err != nil {
		t.Fatal(err)
	}
	done := time.Now()
	var pending int64
	pgtest.Eventually(t, 3*time.Second, "the job's outcome recorded while backfill requests wait", func() bool {
		var status *string
		if err := pool.QueryRow(ctx, `SELECT job_status, (SELECT count(*) FROM werk_cron_backfills WHERE done_at IS NULL)
			FROM werk_cron_ticks WHERE name = 'live' AND tick_at = $1`, tick).Scan(&status, &pending); err != nil {
			t.Fatal(err)
		}
		return status != nil && *status == "complete"
	})
	t.Logf("outcome recorded %s after the job ended, %d requests still waiting", time.Since(done).Round(time.Millisecond), pending)
	if pending == 0 {
		t.Fatalf("all %d requests were done before the outcome was recorded: raise their number, this run proves nothing", requests)
	}
}
