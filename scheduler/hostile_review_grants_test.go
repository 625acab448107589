package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// The grants of the second hostile-input review, end to end (see hostile_review_test.go
// for the roles).

// An application role granted with werk_cron_grant_app (Scheduler.GrantApp) does all
// an application does, through the SQL functions, plain SQL and the Go API, with a
// ticker running as a ticker role; and none of the attacks: it cannot write the ledger,
// a backfill's progress or a request row, the ticker's columns or the hold-ups, nor
// call what only the ticker and the trigger may.
func TestHostileReviewApplicationRoleEndToEnd(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	app := pgtest.NewRole(t, dsn, "app", "")
	if _, err := scheduler.New(pool, scheduler.Options{}).GrantApp(ctx, app, true); err != nil {
		t.Fatal(err)
	}
	worker := pgtest.ConnAs(t, dsn, workerRole(t, dsn, pool))
	tk := startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	a := pgtest.ConnAs(t, dsn, app)
	appPool, err := pgxpool.New(ctx, pgtest.AsRole(t, dsn, app))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(appPool.Close)
	s := scheduler.New(appPool, scheduler.Options{})
	must := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		if err := try(a, sql, args...); err != nil {
			t.Fatalf("as the application: %s: %v", sql, err)
		}
	}

	t.Run("SQL functions", func(t *testing.T) {
		must(t, `SELECT name FROM werk_cron_schedule('sql', 'myapp.sql', '1 second')`)
		must(t, `SELECT name FROM werk_cron_alter('sql', queue => 'reports', pause_after_failures => 3)`)
		must(t, `SELECT werk_cron_pause('sql', 'maintenance')`)
		if state, _, reason := scheduleState(t, a, "sql"); state != "paused" || reason != "maintenance" {
			t.Errorf("after werk_cron_pause: %s (%q)", state, reason)
		}
		must(t, `SELECT werk_cron_resume('sql')`)
		pgtest.Eventually(t, 5*time.Second, "the resumed schedule ticking", func() bool {
			return pgtest.QueryOne[int64](t, a, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'sql' AND outcome = 'enqueued'`) >= 1
		})
		id := pgtest.QueryOne[uuid.UUID](t, a, `SELECT werk_cron_trigger('sql')`)
		if o := pgtest.QueryOne[string](t, a, `SELECT outcome FROM werk_cron_ticks WHERE job_id = $1`, id); o != "triggered" {
			t.Errorf("the manual run's ledger row: %s", o)
		}
		must(t, `SELECT werk_cron_unschedule('sql')`)
	})

	t.Run("plain SQL on the definition", func(t *testing.T) {
		must(t, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('dml', 'myapp.dml', 3600)`)
		must(t, `UPDATE werk_cron_jobs SET args = '["x"]', timezone = 'Europe/Berlin', cron = '0 9 * * *', interval_secs = NULL,
			paused = true, paused_reason = 'why', remaining_runs = 3, pause_after_failures = 2 WHERE name = 'dml'`)
		if state, _, _ := scheduleState(t, a, "dml"); state != "paused" {
			t.Errorf("after the update: %s", state)
		}
		must(t, `DELETE FROM werk_cron_jobs WHERE name = 'dml'`)
	})

	t.Run("the Go API", func(t *testing.T) {
		if _, err := s.Register(ctx, scheduler.CronJob{Name: "go", Func: "myapp.go", Cron: "* * * * * *"}); err != nil {
			t.Fatal(err)
		}
		q := "reports"
		if _, err := s.Update(ctx, "go", scheduler.Changes{Queue: &q}); err != nil {
			t.Fatal(err)
		}
		if err := s.PauseBecause(ctx, "go", "deploy"); err != nil {
			t.Fatal(err)
		}
		if err := s.Resume(ctx, "go"); err != nil {
			t.Fatal(err)
		}
		if j, err := s.Get(ctx, "go"); err != nil || j.Queue != "reports" || j.Paused {
			t.Errorf("Get: %+v, %v", j, err)
		}
		if n, err := s.Len(ctx); err != nil || n != 1 {
			t.Errorf("Len: %d, %v", n, err)
		}
		if ok, err := s.Has(ctx, "go"); err != nil || !ok {
			t.Errorf("Has: %v, %v", ok, err)
		}
		if jobs, err := s.Jobs(ctx); err != nil || len(jobs) != 1 {
			t.Errorf("Jobs: %d, %v", len(jobs), err)
		}
		id, err := s.Trigger(ctx, "go")
		if err != nil {
			t.Fatal(err)
		}
		// A worker runs it; the primary records how it ended, and the application reads it.
		if _, err := worker.Exec(ctx, `UPDATE werk_jobs SET status = 'complete', attempts = 1, started_at = now(), completed_at = now()
			WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		pgtest.Eventually(t, 5*time.Second, "the manual run's outcome in the history", func() bool {
			ticks, err := s.History(ctx, "go", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range ticks {
				if tk.JobID == id {
					return tk.Outcome == "triggered" && tk.JobStatus == "complete"
				}
			}
			return false
		})
		st, err := s.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Instances) != 1 || st.Instances[0].Role != scheduler.RolePrimary || len(st.Schedules) != 1 || st.NewestTick == nil {
			t.Errorf("Status: %+v", st)
		}
		if by, _, err := s.CountByState(ctx); err != nil || by["active"]+by["unplanned"] != 1 {
			t.Errorf("CountByState: %v, %v", by, err)
		}
		if err := s.Pause(ctx, "go"); err != nil {
			t.Fatal(err)
		}
		to := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		b, err := s.Backfill(bctx, "go", to.Add(-30*time.Second), to)
		if err != nil {
			t.Fatal(err)
		}
		if b.By != app || b.Enqueued+b.Already != 31 {
			t.Errorf("Backfill: %+v; want 31 ticks, asked by %s", b, app)
		}
		if err := s.Unregister(ctx, "go"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("backfill through SQL", func(t *testing.T) {
		must(t, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('bf', 'myapp.bf', '* * * * * *', true)`)
		id := pgtest.QueryOne[int64](t, a, `SELECT werk_cron_backfill('bf', now() - interval '20 s', now())`)
		if b := waitBackfill(t, a, id, 10*time.Second); b.err != "" || b.enqueued < 20 || b.by != app {
			t.Errorf("the request, as the application reads it: %+v", b)
		}
	})

	t.Run("reads", func(t *testing.T) {
		for _, sql := range []string{
			`SELECT name, tick_at, outcome, job_id, job_status, job_error FROM werk_cron_ticks`,
			`SELECT name, state, last_tick_at, next_run_at, last_error FROM werk_cron_status`,
			`SELECT * FROM werk_cron_backfills`,
			`SELECT * FROM werk_cron_jobs`,
		} {
			must(t, sql)
		}
		if n := pgtest.QueryOne[int64](t, a, `SELECT count(*) FROM werk_cron_instances WHERE role = 'primary'`); n != 1 {
			t.Errorf("werk_cron_instances, as the application reads it: %d primaries", n)
		}
	})

	t.Run("attacks", func(t *testing.T) {
		id := pgtest.QueryOne[int64](t, pool, `SELECT max(id) FROM werk_cron_backfills`)
		for _, sql := range []string{
			`INSERT INTO werk_cron_ledger (name, tick_at, outcome) VALUES ('bf', now() + interval '1 hour', 'enqueued')`,
			`UPDATE werk_cron_ledger SET job_status = 'failed'`,
			`DELETE FROM werk_cron_ledger`,
			`INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES ('bf', now() - interval '1 min', now())`,
			`UPDATE werk_cron_backfills SET through_at = from_at WHERE id = ` + fmt.Sprint(id),
			`UPDATE werk_cron_backfills SET enqueued = 0 WHERE id = ` + fmt.Sprint(id),
			`UPDATE werk_cron_backfills SET already = 0 WHERE id = ` + fmt.Sprint(id),
			`UPDATE werk_cron_backfills SET done_at = NULL WHERE id = ` + fmt.Sprint(id),
			`UPDATE werk_cron_backfills SET error = 'x' WHERE id = ` + fmt.Sprint(id),
			`UPDATE werk_cron_backfills SET from_at = from_at - interval '1 day' WHERE id = ` + fmt.Sprint(id),
			`DELETE FROM werk_cron_backfills`,
			`SELECT id FROM werk_cron_backfills FOR UPDATE`,
			`UPDATE werk_jobs SET status = 'failed'`,
			`DELETE FROM werk_jobs`,
			`SELECT werk_cron_pause_failing('bf')`,
		} {
			wantDenied(t, sql, try(a, sql))
		}
		for _, c := range tickerColumns(t, pool) {
			sql := fmt.Sprintf(`UPDATE %s SET %s = %[2]s`, c.table, c.column)
			wantDenied(t, sql, try(a, sql))
		}
		if pgtest.QueryOne[bool](t, pool, `SELECT to_regclass('werk_cron_holdups') IS NOT NULL`) {
			wantDenied(t, "a hold-up", try(a, `INSERT INTO werk_cron_holdups (name, since, reason) VALUES ('bf', now(), 'x')`))
		}
		pgtest.Exec(t, a, `CREATE TEMP TABLE werk_jobs (id uuid, key text, status text, cron_name text)`)
		wantDenied(t, "a trigger calling werk_cron_record_outcome", try(a,
			`CREATE TRIGGER r AFTER DELETE ON pg_temp.werk_jobs FOR EACH ROW EXECUTE FUNCTION public.werk_cron_record_outcome()`))
		// Granting itself more does nothing (it owns nothing and holds no grant option).
		_ = try(a, `SELECT count(*) FROM werk_cron_grant($1)`, app)
		_ = try(a, `SELECT count(*) FROM werk_cron_grant_app($1)`, app)
		for _, p := range []string{"werk_cron_ledger, INSERT", "werk_cron_ledger, UPDATE", "werk_cron_backfills, INSERT", "werk_cron_backfills, UPDATE", "werk_jobs, UPDATE"} {
			tbl, priv, _ := strings.Cut(p, ", ")
			if pgtest.QueryOne[bool](t, pool, `SELECT has_table_privilege($1, $2, $3)`, app, tbl, priv) {
				t.Errorf("the application role may %s %s", priv, tbl)
			}
		}
		if pgtest.QueryOne[bool](t, pool, `SELECT has_function_privilege($1, 'werk_cron_pause_failing(text)', 'EXECUTE')`, app) {
			t.Error("the application role may execute werk_cron_pause_failing")
		}
	})
}

// tickerColumn is a column the ticker keeps (next_run_at, ...), wherever it lives.
type tickerColumn struct{ table, column string }

// tickerColumns finds the ticker's own columns of a schedule's state in werkcron's
// tables: in werk_cron_jobs today, in a table of their own tomorrow.
func tickerColumns(t *testing.T, pool *pgxpool.Pool) []tickerColumn {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT c.table_name::text, c.column_name::text
		FROM information_schema.columns c JOIN information_schema.tables b USING (table_schema, table_name)
		WHERE c.table_schema = current_schema() AND b.table_type = 'BASE TABLE' AND c.table_name LIKE 'werk_cron_%'
		  AND c.column_name IN ('next_run_at', 'last_tick_at', 'last_job_id', 'last_error', 'planned_at')
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tickerColumn, error) {
		var c tickerColumn
		err := r.Scan(&c.table, &c.column)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 5 {
		t.Fatalf("the ticker's columns: found only %v", cols)
	}
	return cols
}

// A ticker role granted with werk_cron_grant runs a ticker that ticks, records
// outcomes, pauses for failures and carries out backfills; and it cannot edit a
// schedule's definition, ask for a backfill or trigger a run.
func TestHostileReviewTickerRoleEndToEnd(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	role := tickerRole(t, dsn, pool)
	worker := pgtest.ConnAs(t, dsn, workerRole(t, dsn, pool))
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, pause_after_failures) VALUES
		('runs', 'app.runs', '* * * * * *', NULL), ('fails', 'app.fails', '* * * * * *', 1)`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('past', 'app.past', '* * * * * *', true)`)
	tk := startTicker(t, pgtest.AsRole(t, dsn, role), scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

	var runs, fails uuid.UUID
	pgtest.Eventually(t, 5*time.Second, "jobs of both schedules", func() bool {
		return pool.QueryRow(ctx, `SELECT r.id, f.id FROM werk_jobs r, werk_jobs f
			WHERE r.cron_name = 'runs' AND f.cron_name = 'fails' LIMIT 1`).Scan(&runs, &fails) == nil
	})
	pgtest.Exec(t, worker, `UPDATE werk_jobs SET status = 'complete', attempts = 1, started_at = now(), completed_at = now() WHERE id = $1`, runs)
	pgtest.Exec(t, worker, `UPDATE werk_jobs SET status = 'failed', error = 'boom', attempts = 1, started_at = now(), completed_at = now() WHERE id = $1`, fails)
	pgtest.Eventually(t, 10*time.Second, "outcomes recorded and the failing schedule paused", func() bool {
		state, _, _ := scheduleState(t, pool, "fails")
		return state == "paused" &&
			pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE job_id = $1 AND job_status = 'complete'`, runs) == 1
	})
	id := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_backfill('past', now() - interval '20 s', now())`)
	if b := waitBackfill(t, pool, id, 10*time.Second); b.err != "" || b.enqueued < 20 {
		t.Errorf("the backfill, carried out by the ticker role: %+v", b)
	}

	r := pgtest.ConnAs(t, dsn, role)
	for _, sql := range []string{
		`INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('mine', 'evil.x', 1)`,
		`UPDATE werk_cron_jobs SET func = 'evil.x'`,
		`UPDATE werk_cron_jobs SET paused = false WHERE name = 'fails'`,
		`DELETE FROM werk_cron_jobs`,
		`SELECT werk_cron_schedule('mine', 'evil.x', '1 second')`,
		`SELECT werk_cron_alter('runs', func => 'evil.x')`,
		`SELECT werk_cron_resume('fails')`,
		`SELECT werk_cron_unschedule('runs')`,
		`SELECT werk_cron_backfill('runs', now() - interval '1 min', now())`,
		`SELECT werk_cron_trigger('runs')`,
		`INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES ('runs', now() - interval '1 min', now())`,
		`DELETE FROM werk_jobs`,
		`SELECT payload FROM werk_jobs`,
	} {
		wantDenied(t, sql, try(r, sql))
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_jobs WHERE func LIKE 'evil.%'`); n != 0 {
		t.Errorf("%d schedules of evil.x", n)
	}
}
