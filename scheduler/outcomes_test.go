package scheduler_test

// How outcomes are recorded: by the primary ticker, off pgwerk's worker path, and by
// werkcron's trigger when pgwerk deletes a job first.

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/migrate"
	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler"
)

// recorded waits for the job's outcome to reach its ledger row.
func recorded(t *testing.T, pool *pgxpool.Pool, job uuid.UUID, status string) scheduler.Tick {
	t.Helper()
	var l scheduler.Tick
	pgtest.Eventually(t, 5*time.Second, "the outcome "+status+" recorded", func() bool {
		l = ledger(t, pool, job)
		return l.JobStatus == status
	})
	return l
}

// withDaily is a migrated database with one @daily schedule, name: its jobs come from
// manual runs only.
func withDaily(t *testing.T, name string) (string, *pgxpool.Pool, *scheduler.Scheduler) {
	t.Helper()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ($1, 'app.' || $1, '@daily')`, name)
	return dsn, pool, scheduler.New(pool, scheduler.Options{})
}

// manualRun triggers a run of name and returns its job.
func manualRun(t *testing.T, s *scheduler.Scheduler, name string) uuid.UUID {
	t.Helper()
	job, err := s.Trigger(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// pgwerk's status updates touch nothing of werkcron's: a worker finishes a job while
// another session holds the job's ledger row, and does not wait for it. The outcome is
// recorded once the row is free.
func TestWorkerStatusUpdatesDoNotTouchTheLedger(t *testing.T) {
	t.Parallel()
	dsn, pool, s := withDaily(t, "w")
	ctx := context.Background()
	job := manualRun(t, s, "w")
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `SELECT 1 FROM werk_cron_ticks WHERE job_id = $1 FOR UPDATE`, job)

	w := newWorker(t, dsn, pool)
	w.exec(`SET lock_timeout = '2s'`) // a wait for the ledger row fails the update
	w.start(job)
	w.nack(job, "queued", "a retry")
	w.start(job)
	w.ack(job)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	primary(t, dsn)
	if l := recorded(t, pool, job, "complete"); l.JobAttempts != 2 {
		t.Errorf("recorded %+v, want 2 attempts", l)
	}
}

// A job that ends and stays (pgwerk keeps it for result_ttl, or for ever) has its
// outcome recorded by the primary within a few seconds, and counted once: its deletion
// later changes nothing. A manual run tells the primary, asleep until then, to look.
func TestPrimaryRecordsOutcomesOfJobsThatStay(t *testing.T) {
	t.Parallel()
	dsn, pool, s := withDaily(t, "stay")
	ctx := context.Background()
	primary(t, dsn)
	w := newWorker(t, dsn, pool)
	before, err := s.JobOutcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ok := manualRun(t, s, "stay")
	w.start(ok)
	w.ack(ok)
	l := recorded(t, pool, ok, "complete")
	if l.Outcome != "triggered" || l.JobAttempts != 1 || l.JobFinishedAt.Before(l.JobStartedAt) {
		t.Errorf("recorded %+v", l)
	}
	bad := manualRun(t, s, "stay")
	w.start(bad)
	w.nack(bad, "failed", "boom")
	if l := recorded(t, pool, bad, "failed"); l.JobError != "boom" {
		t.Errorf("recorded %+v", l)
	}
	w.purge(ok)
	w.purge(bad)
	if l := ledger(t, pool, ok); l.JobStatus != "complete" {
		t.Errorf("after the deletion: %+v", l)
	}
	after, err := s.JobOutcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Complete-before.Complete != 1 || after.Failed-before.Failed != 1 {
		t.Errorf("counted %d complete and %d failed, want 1 each (once, whoever recorded it)",
			after.Complete-before.Complete, after.Failed-before.Failed)
	}
}

// Jobs that ended while no ticker ran are recorded by the next primary.
func TestOutcomesOfJobsThatEndedWithoutATicker(t *testing.T) {
	t.Parallel()
	dsn, pool, s := withDaily(t, "alone")
	job := manualRun(t, s, "alone")
	w := newWorker(t, dsn, pool)
	w.start(job)
	w.nack(job, "failed", "while nobody watched")
	if l := ledger(t, pool, job); l.JobStatus != "" {
		t.Fatalf("recorded with no ticker running: %+v", l)
	}
	primary(t, dsn)
	recorded(t, pool, job, "failed")
}

// A failed run that pgwerk re-queues (its bulk requeue) and that then succeeds is
// recorded as it last ended, when pgwerk deletes it.
func TestOutcomeOfARequeuedRun(t *testing.T) {
	t.Parallel()
	dsn, pool, s := withDaily(t, "again")
	primary(t, dsn)
	job := manualRun(t, s, "again")
	w := newWorker(t, dsn, pool)
	w.start(job)
	w.nack(job, "failed", "boom")
	recorded(t, pool, job, "failed")
	w.exec(`UPDATE werk_jobs SET status = 'queued', error = NULL, result = NULL, started_at = NULL, completed_at = NULL,
		expires_at = NULL, scheduled_at = NOW(), attempts = 0, worker_id = NULL WHERE status = 'failed' AND id = $1`, job)
	w.start(job)
	w.ack(job)
	w.purge(job)
	if l := ledger(t, pool, job); l.JobStatus != "complete" || l.JobError != "" || l.JobAttempts != 1 {
		t.Errorf("after the rerun: %+v", l)
	}
}

// A job row that vanishes with no DELETE trigger firing (TRUNCATE) is recorded
// 'unknown', so that its ledger row stops awaiting an outcome.
func TestOutcomeOfATruncatedJob(t *testing.T) {
	t.Parallel()
	dsn, pool, s := withDaily(t, "gone")
	// A short heartbeat: the loop goes round (and says so, Idle) every 200 ms.
	tk := startTicker(t, dsn, scheduler.TickerOptions{Heartbeat: 200 * time.Millisecond},
		func(s *ticker.TestSignals) { s.OutcomesIdle.Init(t) })
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	signals := scheduler.TickerSignals(tk.Ticker)
	signals.OutcomesIdle.WaitOrTimeout() // its first pass, over nothing
	job := manualRun(t, s, "gone")
	pgtest.Exec(t, pool, `TRUNCATE werk_jobs`)
	if l := recorded(t, pool, job, "unknown"); !l.JobFinishedAt.IsZero() || l.JobError == "" {
		t.Errorf("recorded %+v, want no finish time and a reason", l)
	}
	// Awaiting nothing, the primary stops looking until it has reason to: its recorder
	// says so, and its loop, going round past the time a pass would have come again
	// (a second after the last), makes no other look.
	signals.OutcomesIdle.WaitOrTimeout()
	looks := tk.Stats().OutcomeLooks
	past := time.Now().Add(1500 * time.Millisecond)
	for at := signals.Idle.WaitOrTimeout(); at.Before(past); at = signals.Idle.WaitOrTimeout() {
	}
	if n := tk.Stats().OutcomeLooks; n != looks {
		t.Errorf("%d more looks for outcomes with none awaited", n-looks)
	}
}

// A ticker role granted on an installation made by the migrations before the baseline
// still ticks and records outcomes after the upgrade.
func TestUpgradeKeepsTickerRolesWorking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := migrate.UpFS(ctx, dsn, os.DirFS("../internal/migrate/testdata/before-baseline"), false); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	role := pgtest.NewRole(t, dsn, "ticker", "")
	pgtest.Exec(t, pool, `SELECT werk_cron_grant($1)`, role)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}

	s := scheduler.New(pool, scheduler.Options{})
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('up', 'app.up', '@daily')`)
	job := manualRun(t, s, "up")
	pgtest.Exec(t, pool, `UPDATE werk_jobs SET status = 'complete', started_at = now(), completed_at = now(), attempts = 1 WHERE id = $1`, job)
	primary(t, pgtest.AsRole(t, dsn, role))
	recorded(t, pool, job, "complete")
}

// pgwerk deletes a failed job, the schedule's newest enqueued tick (whose ledger row is
// written with its outcome), while a tick statement enqueues the schedule's next tick:
// that statement writes the deleted job's row (its outcome not known yet) and moves the
// state on. werkcron's trigger on the delete, finding no row, writes one; its insert
// waits for the tick statement's row and then finds it there. The outcome is recorded on
// that row all the same (it was lost: the row stayed awaiting an outcome whose job was
// gone, and the failure did not pause the schedule).
func TestOutcomeOfANewestTickDeletedWhileTheNextIsEnqueued(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, pause_after_failures) VALUES ('race', 'app.race', '@hourly', 1)`)
	// Its newest enqueued tick, failed: the state names the job, no ledger row yet.
	tick := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('hour', now()) + interval '1 hour'`)
	job := pgtest.QueryOne[uuid.UUID](t, pool, `INSERT INTO werk_jobs (key, function, cron_name, scheduled_at, status, error,
			attempts, started_at, completed_at)
		VALUES ('cron:race:' || to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'app.race', 'race', $1,
		        'failed', 'boom', 1, $1, $1)
		RETURNING id`, tick)
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET last_tick_at = $1, last_job_id = $2, last_job_at = $1 WHERE name = 'race'`, tick, job)

	// The tick statement of the next tick, in flight: the row of this one written, the
	// state moved on.
	next := tick.Add(time.Hour)
	stmt, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Rollback(ctx)
	pgtest.Exec(t, stmt, `INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, ticks) VALUES ('race', $1, 'enqueued', $2, 1)`, tick, job)
	pgtest.Exec(t, stmt, `UPDATE werk_cron_state SET last_tick_at = $1, last_job_id = $2, last_job_at = $1 WHERE name = 'race'`,
		next, uuid.New())

	// pgwerk's clean-up deletes the job meanwhile: the trigger's insert waits for that row.
	cleanup := pgtest.ConnAs(t, dsn, workerRole(t, dsn, pool))
	cleanupPid := pgtest.QueryOne[int32](t, cleanup, `SELECT pg_backend_pid()`)
	deleted := make(chan error, 1)
	go func() {
		_, err := cleanup.Exec(ctx, `DELETE FROM werk_jobs WHERE id = $1`, job)
		deleted <- err
	}()
	pgtest.Eventually(t, 10*time.Second, "the delete's trigger waiting for the tick statement's ledger row", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1`, cleanupPid)
	})
	if err := stmt.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("pgwerk's delete: %v", err)
	}
	if l := ledger(t, pool, job); l.Outcome != "enqueued" || l.JobStatus != "failed" || l.JobError != "boom" {
		t.Errorf("the deleted job's ledger row: %+v, want enqueued, failed with its error", l)
	}
	if !pgtest.QueryOne[bool](t, pool, `SELECT paused FROM werk_cron_jobs WHERE name = 'race'`) {
		t.Errorf("not paused after its failure (pause_after_failures = 1)")
	}
}
