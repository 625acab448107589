package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// What the first fixes of the second hostile-input review left open, as the roles of
// hostile_review_test.go found it, and fixed since: each test says what harm it found.

// The review's application role may update werk_cron_backfills: a request the primary
// has counted (within the cap over its range) and carried out, its range then widened
// by hand to 30 hours of a one-second schedule (108,000 ticks) and made pending again,
// must not be carried out past the cap. The primary counted a request's ticks once per
// request id, before its first chunk: neither a widened range nor a new request under
// a counted id (DELETE, then INSERT ... OVERRIDING SYSTEM VALUE, which needs nothing
// but INSERT) was counted again. Now a count holds for the range and definition it was
// made for.
func TestHostileReviewWidenedBackfillIsCountedAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// widen makes request id of schedule 'wide' cover [from, to], and pending.
		widen func(tx pgx.Tx, id int64, from, to time.Time) error
	}{
		{"update", func(tx pgx.Tx, id int64, from, to time.Time) error {
			return try(tx, `UPDATE werk_cron_backfills SET from_at = $2, to_at = $3, through_at = NULL, done_at = NULL, error = NULL
				WHERE id = $1`, id, from, to)
		}},
		{"delete and insert under the same id", func(tx pgx.Tx, id int64, from, to time.Time) error {
			if err := try(tx, `DELETE FROM werk_cron_backfills WHERE id = $1`, id); err != nil {
				return err
			}
			return try(tx, `INSERT INTO werk_cron_backfills (id, name, from_at, to_at) OVERRIDING SYSTEM VALUE
				VALUES ($1, 'wide', $2, $3)`, id, from, to)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn, pool := migratedDB(t)
			ctx := context.Background()
			a := pgtest.ConnAs(t, dsn, dmlAppRole(t, dsn, pool))
			pgtest.Exec(t, a, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('wide', 'app.wide', '* * * * * *', true)`)
			tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
			tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
			now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
			var id int64
			if err := a.QueryRow(ctx, `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES ('wide', $1, $2) RETURNING id`,
				now.Add(-9*time.Second), now).Scan(&id); err != nil {
				t.Fatal(err)
			}
			notify(t, a)
			if b := waitBackfill(t, pool, id, 10*time.Second); b.enqueued != 10 {
				t.Fatalf("the small request: %+v", b)
			}
			if err := pgx.BeginFunc(ctx, a, func(tx pgx.Tx) error {
				return tc.widen(tx, id, now.Add(-30*time.Hour), now)
			}); err != nil {
				t.Logf("the request may not be widened: %v", err)
				return
			}
			notify(t, a)
			var jobs int64
			pgtest.Eventually(t, 20*time.Second, "the widened request done, or jobs enqueued for it", func() bool {
				jobs = pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'wide'`)
				return jobs > 10 || readBackfill(t, pool, id).done
			})
			if jobs > 10 {
				t.Fatalf("the request widened to 108,000 ticks enqueued %d more jobs (and counting): its range was never counted "+
					"against the cap of %d", jobs-10, scheduler.MaxBackfillTicks)
			}
			if b := readBackfill(t, pool, id); !strings.Contains(b.err, fmt.Sprint(scheduler.MaxBackfillTicks)) {
				t.Errorf("the widened request: %+v; want it refused for the cap", b)
			}
		})
	}
}

// A pgwerk worker holds every right on werk_jobs, TRIGGER among them, and any role may
// create functions in its own temporary schema. A trigger of the worker's on werk_jobs
// runs as whoever inserts jobs: the ticker, whose role may write the ledger and pause
// schedules (or the owner, when tickers run as the owner). Nothing a worker attaches to
// werk_jobs may run as the ticker: werkcron refuses to write while such a trigger is
// there (werk_cron_trusted_triggers), and goes on once it is dropped.
func TestHostileReviewWorkerTriggerDoesNotRunAsTheTicker(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	ticker := tickerRole(t, dsn, pool)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, pause_after_failures) VALUES ('victim', 'app.victim', '* * * * * *', 1)`)
	// A run that went well, as a primary recorded it.
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, job_status)
		VALUES ('victim', date_trunc('second', now()) - interval '1 minute', 'enqueued', gen_random_uuid(), 'complete')`)
	w := pgtest.ConnAs(t, dsn, workerRole(t, dsn, pool))
	listener := pgtest.ConnAs(t, dsn, pgtest.NewRole(t, dsn, "listener", ""))
	pgtest.Exec(t, listener, `LISTEN evil`)
	if _, err := w.Exec(ctx, `CREATE FUNCTION pg_temp.evil() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pg_notify('evil', current_user);
			-- What the ticker's role may do: rewrite how the schedule's runs went.
			UPDATE public.werk_cron_ledger SET job_status = 'failed', job_error = 'forged' WHERE name = NEW.cron_name AND job_status = 'complete';
			RETURN NEW;
		EXCEPTION WHEN OTHERS THEN
			RETURN NEW;
		END $$`); err != nil {
		t.Fatal(err)
	}
	if err := try(w, `CREATE TRIGGER evil BEFORE INSERT ON werk_jobs FOR EACH ROW EXECUTE FUNCTION pg_temp.evil()`); err != nil {
		t.Logf("the worker may not attach a trigger to werk_jobs: %v", err)
	}
	tk := startTicker(t, pgtest.AsRole(t, dsn, ticker), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	// The primary refuses to write while the trigger is there: it owes the ticks.
	pgtest.Eventually(t, 5*time.Second, "the primary owing ticks it will not write", func() bool {
		return tk.Stats().Overdue >= 2*time.Second
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`); n != 0 {
		t.Errorf("%d jobs enqueued through the worker's trigger", n)
	}
	// Nor may werkcron's owner be made to run it: werk_cron_trigger runs as the owner.
	if err := try(pool, `SELECT werk_cron_trigger('victim')`); err == nil || !strings.Contains(err.Error(), "WC001") {
		t.Errorf("werk_cron_trigger with the worker's trigger on werk_jobs: %v; want it refused (WC001)", err)
	}
	nctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if n, err := listener.WaitForNotification(nctx); err == nil {
		t.Errorf("a trigger the worker put on werk_jobs ran as %q when the ticker enqueued", n.Payload)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE job_error = 'forged'`); n != 0 {
		t.Errorf("%d ledger rows rewritten by the worker's trigger, as the ticker", n)
	}
	if state, _, reason := scheduleState(t, pool, "victim"); state == "paused" {
		t.Errorf("the schedule was paused: %s", reason)
	}
	// The trigger gone, the schedule ticks again.
	pgtest.Exec(t, pool, `DROP TRIGGER evil ON werk_jobs`) // the table's owner may
	pgtest.Eventually(t, 5*time.Second, "the schedule ticking once the trigger is gone", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'victim'`) >= 1
	})
}

// Any role that connects may take the ticker membership key exclusively (advisory
// locks have no permissions); tickers then cannot join werk_cron_instances, which must
// not make the real primary a 'not a ticker' that every standby reports: the primary
// stays listed as primary, and a standby's health names nobody.
func TestHostileReviewMemberKeySquatterMakesNoTickerAnIntruder(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	role := tickerRole(t, dsn, pool)
	member := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_member_key()`)
	squatter := pgtest.ConnAs(t, dsn, pgtest.NewRole(t, dsn, "squatter", ""))
	if _, err := squatter.Exec(ctx, `SELECT pg_advisory_lock($1)`, member); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('pulse', 'app.pulse', '* * * * * *')`)
	a := startTicker(t, pgtest.AsRole(t, dsn, role), scheduler.TickerOptions{})
	a.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	b := startTicker(t, pgtest.AsRole(t, dsn, role), scheduler.TickerOptions{})
	b.waitRole(t, scheduler.RoleStandby, 5*time.Second)
	// A standby looks once per StandbyRetry (a second): two of its rounds.
	time.Sleep(2*scheduler.DefaultStandbyRetry + 500*time.Millisecond)
	if who := b.Stats().Intruder; who != "" {
		t.Errorf("the standby reports an intruder (its /healthz answers 503 naming it): %s", who)
	}
	if got := queryList[string](t, pool, `SELECT pid || ' ' || role FROM werk_cron_instances`); len(got) != 1 || !strings.HasSuffix(got[0], " primary") {
		t.Errorf("werk_cron_instances lists %v; want the ticking primary as primary (the standby could not join, and is not listed)", got)
	}
}
