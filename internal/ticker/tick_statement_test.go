package ticker

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/schedule"
)

// connect opens a session of its own to dsn, closed when the test ends.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// The tick statement takes all of a schedule's ticks or none: when one of them does not
// get in (here its compare-and-set value is off), the schedule writes nothing — no job,
// no ledger row, no new last_tick_at — and is not reported as won, so the ticker looks
// at it again. All in, the older tick's ledger row is written and the newest is the
// schedule's last job, its row to be written with its outcome.
func TestTickStatementTakesAllOfAScheduleOrNothing(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	registerCodecs(conn.TypeMap())
	q := db.New(conn)

	if _, err := conn.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('s', 'app.s', 5, 'all')`); err != nil {
		t.Fatal(err)
	}
	plan(t, conn, "s")
	rows, err := q.GetSchedulesForTicker(ctx, []string{"s"})
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	r := row(rows[0])
	e := newEntry(r)
	// Two ticks already past (the statement checks them against the row and the
	// database clock, not against the schedule's grid).
	anchor := r.ChangedAt.Truncate(time.Second).Add(-10 * time.Second)
	batch := []planned{{e, schedule.Decision{Enqueue: []time.Time{anchor, anchor.Add(5 * time.Second)}, Next: anchor.Add(10 * time.Second)}}}

	written := func() (jobs, ledger int64, last *time.Time) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM werk_jobs), (SELECT count(*) FROM werk_cron_ledger),
			(SELECT last_tick_at FROM werk_cron_state)`).Scan(&jobs, &ledger, &last); err != nil {
			t.Fatal(err)
		}
		return
	}
	outcomes := func(p db.EnqueueDueTicksParams) map[string]int {
		t.Helper()
		rows, err := q.EnqueueDueTicks(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, r := range rows {
			got[r.Outcome]++
		}
		return got
	}

	p := tickParams(batch, 0)
	p.PrevTickAts[1] = anchor.Add(-time.Hour) // the second tick does not get in
	if got := outcomes(p); got["won"] != 0 {
		t.Errorf("half the ticks in: outcomes %v, want no 'won'", got)
	}
	if jobs, ledger, last := written(); jobs != 0 || ledger != 0 || last != nil {
		t.Fatalf("half the ticks in: %d jobs, %d ledger rows, last_tick_at %v; want nothing written", jobs, ledger, last)
	}

	if got := outcomes(tickParams(batch, 0)); got["won"] != 1 {
		t.Errorf("all ticks in: outcomes %v, want 'won'", got)
	}
	if jobs, ledger, last := written(); jobs != 2 || ledger != 1 || last == nil || !last.Equal(anchor.Add(5*time.Second)) {
		t.Fatalf("all ticks in: %d jobs, %d ledger rows, last_tick_at %v; want 2, 1 and the second tick", jobs, ledger, last)
	}
	if at := pgtest.QueryOne[time.Time](t, conn, `SELECT last_job_at FROM werk_cron_state`); !at.Equal(anchor.Add(5 * time.Second)) {
		t.Errorf("last_job_at %v, want the second tick, whose row is written with its outcome", at)
	}
	if n := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_cron_ticks WHERE outcome = 'enqueued'`); n != 2 {
		t.Errorf("werk_cron_ticks shows %d enqueued ticks, want both", n)
	}
}

// plan marks the schedule name planned, as the planner would, so that a tick statement
// run by hand may decide it.
func plan(t *testing.T, conn *pgx.Conn, name string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), `UPDATE werk_cron_state SET planned_at = now(), next_run_at = now() WHERE name = $1`, name); err != nil {
		t.Fatal(err)
	}
}

// A key another transaction takes while the tick statement runs (committed after the
// statement's snapshot, so its lookups do not see it): INSERT ... ON CONFLICT DO NOTHING
// leaves that tick without a job, the ledger records it 'foreign' from what was inserted
// (its job named by FillRacedForeign afterwards) even when that job claims the schedule's
// own cron_name and function, since werkcron did not make it, and the tick spends none
// of remaining_runs.
func TestTickStatementKeyTakenMidStatement(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, function, outcome string
	}{
		{"same schedule", "app.s", "foreign"},
		{"another function", "app.other", "foreign"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dsn := pgtest.MigratedDB(t)
			ctx := context.Background()
			conn, other := connect(t, dsn), connect(t, dsn)
			registerCodecs(conn.TypeMap())
			q := db.New(conn)
			if _, err := conn.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, remaining_runs)
				VALUES ('s', 'app.s', 5, 'all', 5)`); err != nil {
				t.Fatal(err)
			}
			plan(t, conn, "s")
			rows, err := q.GetSchedulesForTicker(ctx, []string{"s"})
			if err != nil || len(rows) != 1 {
				t.Fatal(rows, err)
			}
			e := newEntry(row(rows[0]))
			anchor := rows[0].ChangedAt.Truncate(time.Second).Add(-10 * time.Second)
			first, second := anchor, anchor.Add(5*time.Second)
			batch := []planned{{e, schedule.Decision{Enqueue: []time.Time{first, second}, Next: anchor.Add(10 * time.Second)}}}

			// Another session takes the second tick's key and holds it uncommitted.
			tx, err := other.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var takenID string
			if err := tx.QueryRow(ctx, `INSERT INTO werk_jobs (key, function, cron_name, scheduled_at) VALUES ($1, $2, 's', $3) RETURNING id::text`,
				jobKey("s", second), c.function, second).Scan(&takenID); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SET lock_timeout = '20s'`); err != nil {
				t.Fatal(err)
			}
			type result struct {
				rows []db.EnqueueDueTicksRow
				err  error
			}
			done := make(chan result, 1)
			params := tickParams(batch, 0)
			go func() {
				rows, err := q.EnqueueDueTicks(ctx, params)
				done <- result{rows, err}
			}()
			// The statement waits on the key; then the other session commits.
			pgtest.Eventually(t, 10*time.Second, "the tick statement waiting on the held key", func() bool {
				select {
				case r := <-done:
					t.Fatalf("the tick statement returned without waiting on the held key: %+v, %v", r.rows, r.err)
				default:
				}
				var waiting bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
					WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = pg_current_xact_id()::text)`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				return waiting
			})
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			var won, dup int
			for _, row := range r.rows {
				switch {
				case row.Outcome == "won":
					won++
					if row.RemainingRuns != 3 {
						t.Errorf("remaining_runs after the decision %d; want 3 (two jobs meant), until settled", row.RemainingRuns)
					}
				case row.Outcome == "foreign" && row.TickAt != nil && row.TickAt.Equal(second) && row.JobID == nil:
					dup++
				}
			}
			if won != 1 || dup != 1 {
				t.Fatalf("outcomes %+v; want the schedule won and the second tick foreign without a job id", r.rows)
			}
			// What the ticker does next (applyRows): name the job that took the key, and
			// settle the schedule's state, which named the job the raced tick was to get.
			if err := q.FillRacedForeign(ctx, db.FillRacedForeignParams{
				Names: []string{"s"}, TickAts: []time.Time{second}, Keys: []string{jobKey("s", second)}}); err != nil {
				t.Fatalf("FillRacedForeign: %v", err)
			}
			if err := q.SettleRacedTicks(ctx, db.SettleRacedTicksParams{Names: []string{"s"},
				RacedJobIds: []uuid.UUID{params.JobIds[1]}, LastJobIds: []uuid.UUID{params.JobIds[0]}, Unspent: []int32{1}}); err != nil {
				t.Fatalf("SettleRacedTicks: %v", err)
			}
			var lastJob uuid.UUID
			var lastJobAt *time.Time
			if err := conn.QueryRow(ctx, `SELECT last_job_id, last_job_at FROM werk_cron_state`).Scan(&lastJob, &lastJobAt); err != nil ||
				lastJob != params.JobIds[0] || lastJobAt != nil {
				t.Errorf("state's last job %v at %v (%v); want the first tick's, its row written", lastJob, lastJobAt, err)
			}

			var jobs, remaining int64
			var ledger string
			if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM werk_jobs), (SELECT remaining_runs FROM werk_cron_state),
				(SELECT string_agg(outcome || ':' || coalesce(job_id::text, '-'), ' ' ORDER BY tick_at) FROM werk_cron_ticks)`).
				Scan(&jobs, &remaining, &ledger); err != nil {
				t.Fatal(err)
			}
			var firstID string
			if err := conn.QueryRow(ctx, `SELECT id::text FROM werk_jobs WHERE key = $1`, jobKey("s", first)).Scan(&firstID); err != nil {
				t.Fatal(err)
			}
			if want := "enqueued:" + firstID + " " + c.outcome + ":" + takenID; jobs != 2 || remaining != 4 || ledger != want {
				t.Errorf("%d jobs, remaining_runs %d, ledger %q; want 2, 4, %q", jobs, remaining, ledger, want)
			}
		})
	}
}

// A lock timeout whose message the ticker cannot read (the server's lc_messages
// translates it) is told apart by pg_locks: a table another session locked says so; a
// row or a key another session holds does not.
func TestTablesLockedByOthers(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	ticker, other := connect(t, dsn), connect(t, dsn)
	q := db.New(ticker)
	if _, err := other.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('s', 'app.s', 5)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		hold   string
		locked bool
	}{
		{`SELECT 1 FROM werk_cron_jobs WHERE name = 's' FOR UPDATE`, false},
		{`INSERT INTO werk_jobs (key, function) VALUES ('cron:s:2030-01-01T00:00:00Z', 'app.s')`, false},
		{`LOCK TABLE werk_jobs IN ACCESS EXCLUSIVE MODE`, true},
		{`LOCK TABLE werk_cron_jobs IN EXCLUSIVE MODE`, true},
		{`LOCK TABLE werk_cron_ledger IN SHARE MODE`, true},
	} {
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, c.hold); err != nil {
			t.Fatal(err)
		}
		if locked, err := q.TablesLockedByOthers(ctx); err != nil || locked != c.locked {
			t.Errorf("another session holding %q: TablesLockedByOthers %v, %v; want %v", c.hold, locked, err, c.locked)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A table lock still waiting (DDL queued behind a worker's open transaction) keeps
	// the tick out as well: the tick queues behind it.
	worker, ddl := connect(t, dsn), connect(t, dsn)
	wtx, err := worker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wtx.Exec(ctx, `SELECT count(*) FROM werk_jobs`); err != nil {
		t.Fatal(err)
	}
	dtx, err := ddl.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	locked := make(chan error, 1)
	go func() {
		_, err := dtx.Exec(ctx, `LOCK TABLE werk_jobs IN ACCESS EXCLUSIVE MODE`)
		locked <- err
	}()
	pgtest.Eventually(t, 10*time.Second, "the DDL session waiting for werk_jobs", func() bool {
		var waiting bool
		if err := ticker.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'werk_jobs'::regclass)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		return waiting
	})
	if locked, err := q.TablesLockedByOthers(ctx); err != nil || !locked {
		t.Errorf("a LOCK TABLE waiting behind another transaction: TablesLockedByOthers %v, %v; want true", locked, err)
	}
	if err := wtx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-locked; err != nil {
		t.Fatal(err)
	}
	if err := dtx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
}
