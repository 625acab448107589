package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler"
)

// backdate makes a schedule look as if it was created (or last changed) at changedAt
// and last ticked at lastTick: the ticker "was down" since. The triggers own
// changed_at, so they are bypassed for this one write.
func backdate(t *testing.T, pool *pgxpool.Pool, name string, changedAt time.Time, lastTick *time.Time) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE werk_cron_jobs SET changed_at = $2 WHERE name = $1`, name, changedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE werk_cron_state SET last_tick_at = $2 WHERE name = $1`, name, lastTick); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCatchupPoliciesAfterAnHourDown: four schedules whose ticker was away for an hour
// (simulated by backdating their rows); a ticker starts and settles each per policy.
func TestCatchupPoliciesAfterAnHourDown(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
	hourAgo := now.Add(-time.Hour)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, catchup_window_secs) VALUES
		('latest', 'app.f', 10, 'latest', NULL),
		('all',    'app.f', 10, 'all',    NULL),
		('window', 'app.f', 10, 'all',    600),
		('none',   'app.f', 60, 'none',   NULL)`)
	for _, name := range []string{"latest", "all", "window"} {
		backdate(t, pool, name, hourAgo, &hourAgo) // the tick at hourAgo ran before the outage
	}
	// 'none' on a grid whose newest pending tick is 30s late, beyond the 5s grace.
	noneStart := hourAgo.Add(-30 * time.Second)
	backdate(t, pool, "none", noneStart, &noneStart)
	// Ticks on the grid hourAgo + k*10s that are pending now: k = 1..360 (some may
	// still come due while the test runs, so count up to a fixed instant).
	tk := startTicker(t, dsn, scheduler.TickerOptions{MisfireGrace: 5 * time.Second})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 10*time.Second, "every schedule decided up to now", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE last_tick_at >= $1`, now.Add(-time.Minute)) == 4
	})
	tk.stop()

	type counts struct{ jobs, enqueued, missed, ledgerMissed int64 }
	get := func(name string) counts {
		var c counts
		c.jobs = pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = $1 AND scheduled_at <= $2`, name, now)
		c.enqueued = pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = $1 AND outcome = 'enqueued' AND tick_at <= $2`, name, now)
		c.missed = pgtest.QueryOne[int64](t, pool, `SELECT coalesce(sum(ticks), 0) FROM werk_cron_ticks WHERE name = $1 AND outcome = 'missed'`, name)
		c.ledgerMissed = pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = $1 AND outcome = 'missed'`, name)
		return c
	}

	if c := get("latest"); c.jobs != 1 || c.enqueued != 1 || c.missed != 359 || c.ledgerMissed > 10 {
		t.Errorf("latest: %+v, want 1 job and 359 missed ticks in at most 10 rows", c)
	}
	if c := get("all"); c.jobs != 360 || c.enqueued != 360 || c.missed != 0 {
		t.Errorf("all: %+v, want every one of the 360 ticks enqueued", c)
	}
	// Every tick on the grid, exactly once.
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM generate_series($1::timestamptz + interval '10 s', $2::timestamptz, interval '10 s') g
		WHERE NOT EXISTS (SELECT 1 FROM werk_jobs WHERE cron_name = 'all' AND scheduled_at = g)`, hourAgo, now); n != 0 {
		t.Errorf("all: %d ticks on the grid have no job", n)
	}
	if c := get("window"); c.jobs != 60 || c.missed != 300 {
		t.Errorf("window: %+v, want the 60 ticks of the last 600s enqueued and 300 missed", c)
	}
	if c := get("none"); c.jobs != 0 || c.missed != 60 {
		t.Errorf("none: %+v, want nothing late enqueued and 60 missed", c)
	}
	checkJobs(t, pool)
}

func TestOverlapSkipWaitsForThePreviousJob(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, overlap) VALUES ('o', 'app.o', 1, 'skip')`)
	pgtest.Eventually(t, 2*time.Second, "the first job", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) == 1
	})
	// Queued, then running: no new job, and the ticks are recorded as skipped (one tick
	// at least in each state).
	skipped := func() int64 {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE outcome = 'skipped_overlap'`)
	}
	pgtest.Eventually(t, 3*time.Second, "a tick skipped while the job is queued", func() bool { return skipped() >= 1 })
	pgtest.Exec(t, pool, `UPDATE werk_jobs SET status = 'active', started_at = now()`)
	whileQueued := skipped()
	pgtest.Eventually(t, 3*time.Second, "a tick skipped while the job is active", func() bool { return skipped() > whileQueued })
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`); n != 1 {
		t.Fatalf("%d jobs while the first was queued or active, want 1", n)
	}
	pgtest.Exec(t, pool, `UPDATE werk_jobs SET status = 'complete', completed_at = now()`)
	pgtest.Eventually(t, 2*time.Second, "a new job after the previous completed", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE status = 'queued'`) == 1
	})
	checkJobs(t, pool)
}

func TestOverlapSkipWithCatchupAllEnqueuesOne(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
	start := now.Add(-time.Minute)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, overlap, catchup) VALUES ('oa', 'app.o', 5, 'skip', 'all')`)
	backdate(t, pool, "oa", start, &start)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 3*time.Second, "the backlog decided", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks`) >= 12
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`); n != 1 {
		t.Fatalf("%d jobs from a backlog of an overlap=skip schedule, want 1", n)
	}
	// The one job is the oldest tick's; last_job_id names it although the newest tick,
	// which last_tick_at names, was skipped.
	if ok := pgtest.QueryOne[bool](t, pool, `SELECT c.last_job_id = j.id AND j.scheduled_at < c.last_tick_at
		FROM werk_cron_state c, werk_jobs j`); !ok {
		t.Errorf("last_job_id is not the job the backlog enqueued")
	}
}

func TestEditingScheduleNeverBackfills(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
	hourAgo := now.Add(-time.Hour)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup) VALUES ('e', 'app.e', '0 0 1 1 *', 'all')`)
	backdate(t, pool, "e", hourAgo, &hourAgo)
	// While no ticker runs, the schedule becomes every second: a ticker must not
	// enqueue the hour of seconds before the edit.
	edited := pgtest.QueryOne[time.Time](t, pool, `UPDATE werk_cron_jobs SET cron = '* * * * * *' RETURNING changed_at`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{}, func(s *ticker.TestSignals) { s.Planned.Init(t) })
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 3*time.Second, "jobs after the edit", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 2
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at <= $1`, edited); n != 0 {
		t.Errorf("%d jobs for ticks before the edit", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE tick_at <= $1`, edited); n != 0 {
		t.Errorf("%d ledger rows for ticks before the edit", n)
	}

	// A live edit: every second → every 2 seconds, anchored at the edit.
	edited = pgtest.QueryOne[time.Time](t, pool, `UPDATE werk_cron_jobs SET cron = NULL, interval_secs = 2 RETURNING changed_at`)
	waitPlanned(t, pool, scheduler.TickerSignals(tk.Ticker), "")
	anchor := edited.Truncate(time.Second)
	tk.decidedThrough(t, pool, anchor.Add(2500*time.Millisecond)) // the anchor's tick and the next
	after := queryList[time.Time](t, pool, `SELECT scheduled_at FROM werk_jobs WHERE scheduled_at >= $1 ORDER BY 1`, anchor)
	if len(after) < 1 {
		t.Fatalf("no job after the interval edit")
	}
	for _, s := range after {
		if s.Sub(anchor)%(2*time.Second) != 0 {
			t.Errorf("job at %s is off the new grid anchored at %s", s, anchor)
		}
	}
	checkJobs(t, pool)
}

func TestStartsAtAndEndsAt(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, ends_at)
		VALUES ('w', 'app.w', 1, date_trunc('second', now()) + interval '2 s', date_trunc('second', now()) + interval '3 s')`)
	startsAt := pgtest.QueryOne[time.Time](t, pool, `SELECT starts_at FROM werk_cron_jobs`)
	pgtest.Eventually(t, 5*time.Second, "the jobs at starts_at and ends_at", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 2
	})
	// And the tick after ends_at decided too.
	tk.decidedThrough(t, pool, startsAt.Add(2500*time.Millisecond))
	got := queryList[time.Time](t, pool, `SELECT scheduled_at FROM werk_jobs ORDER BY 1`)
	want := []time.Time{startsAt, startsAt.Add(time.Second)}
	if len(got) != 2 || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
		t.Fatalf("jobs at %v, want exactly %v (starts_at and ends_at inclusive)", got, want)
	}
	if next := pgtest.QueryOne[*time.Time](t, pool, `SELECT next_run_at FROM werk_cron_state`); next != nil {
		t.Errorf("next_run_at %s after ends_at", next)
	}
}

func TestRetentionPrunesOldLedgerRows(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_ledger (name, tick_at, outcome) VALUES
		('gone', now() - interval '8 days', 'enqueued'), ('kept', now() - interval '6 days', 'enqueued')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 3*time.Second, "the 8-day-old row pruned", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'gone'`) == 0
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'kept'`); n != 1 {
		t.Fatalf("a 6-day-old row was pruned with the default 7-day retention")
	}
}

// A backlog of one schedule decided in one statement: every tick gets its job and its
// ledger row, and the schedule's row ends at the newest tick and its job.
func TestCatchupAllBacklogOfOneSchedule(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
	start := now.Add(-time.Minute)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('b', 'app.b', 5, 'all')`)
	backdate(t, pool, "b", start, &start)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 3*time.Second, "the backlog decided", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT last_tick_at >= $1 FROM werk_cron_state`, now)
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM generate_series($1::timestamptz + interval '5 s', $2::timestamptz, interval '5 s') g
		WHERE NOT EXISTS (SELECT 1 FROM werk_jobs WHERE scheduled_at = g)
		   OR NOT EXISTS (SELECT 1 FROM werk_cron_ticks WHERE tick_at = g AND outcome = 'enqueued')`, start, now); n != 0 {
		t.Errorf("%d ticks of the backlog have no job or no ledger row", n)
	}
	if ok := pgtest.QueryOne[bool](t, pool, `SELECT c.last_job_id = j.id FROM werk_cron_state c JOIN werk_jobs j ON j.scheduled_at = c.last_tick_at`); !ok {
		t.Errorf("last_job_id is not the newest tick's job")
	}
	checkJobs(t, pool)
}
