package scheduler_test

// Run history: each tick's job outcome kept in the ledger after pgwerk deletes the job,
// and pause_after_failures.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// worker does to werk_jobs what a pgwerk worker does, as pgwerk's SQL does it
// (repos.py), connected as a role with rights on werk_jobs only: werkcron's trigger on
// the delete records outcomes on its own rights.
type worker struct {
	t    *testing.T
	conn *pgx.Conn
	id   uuid.UUID
}

func newWorker(t *testing.T, dsn string, pool *pgxpool.Pool) *worker {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "pgwerk", "")
	pgtest.Exec(t, pool, `GRANT SELECT, UPDATE, DELETE ON werk_jobs TO `+role)
	return &worker{t: t, conn: pgtest.ConnAs(t, dsn, role), id: uuid.New()}
}

func (w *worker) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.conn.Exec(context.Background(), sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// start is the status update of pgwerk's dequeue.
func (w *worker) start(job uuid.UUID) {
	w.t.Helper()
	w.exec(`UPDATE werk_jobs SET status = 'active', started_at = NOW(),
		attempts = attempts + CASE WHEN status IN ('queued', 'scheduled') THEN 1 ELSE 0 END, worker_id = $2
		WHERE id = $1`, job, w.id)
}

// ack is pgwerk's ack: complete.
func (w *worker) ack(job uuid.UUID) {
	w.t.Helper()
	w.exec(`UPDATE werk_jobs SET status = 'complete', result = 'null', completed_at = NOW(), worker_id = NULL
		WHERE id = $1 AND worker_id = $2 AND status IN ('active', 'aborting')`, job, w.id)
}

// nack is pgwerk's nack with a new status: failed (the last attempt), or queued (a retry).
func (w *worker) nack(job uuid.UUID, status, msg string) {
	w.t.Helper()
	w.exec(`UPDATE werk_jobs SET status = $3, error = $4, worker_id = NULL, touched_at = NULL,
		started_at = CASE WHEN $3 IN ('queued', 'scheduled') THEN NULL ELSE started_at END,
		completed_at = CASE WHEN $3 IN ('failed', 'aborted') THEN NOW() ELSE NULL END
		WHERE id = $1 AND worker_id = $2 AND status IN ('active', 'aborting')`, job, w.id, status, msg)
}

// purge deletes the job at once, as pgwerk does after result_ttl (here: zero).
func (w *worker) purge(job uuid.UUID) {
	w.t.Helper()
	w.exec(`DELETE FROM werk_jobs WHERE id = $1`, job)
}

// nextJob waits for the schedule's next queued job.
func nextJob(t *testing.T, pool *pgxpool.Pool, name string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	pgtest.Eventually(t, 5*time.Second, "a job of "+name, func() bool {
		err := pool.QueryRow(context.Background(), `SELECT id FROM werk_jobs WHERE cron_name = $1 AND status = 'queued'
			ORDER BY scheduled_at LIMIT 1`, name).Scan(&id)
		return err == nil
	})
	return id
}

// ledger is a tick's ledger row, by its job.
func ledger(t *testing.T, pool *pgxpool.Pool, job uuid.UUID) scheduler.Tick {
	t.Helper()
	var tk scheduler.Tick
	var status, jobErr *string
	var started, finished *time.Time
	var attempts *int32
	if err := pool.QueryRow(context.Background(), `SELECT name, tick_at, outcome, job_status, job_started_at, job_finished_at, job_attempts, job_error
		FROM werk_cron_ticks WHERE job_id = $1`, job).Scan(&tk.Name, &tk.At, &tk.Outcome, &status, &started, &finished, &attempts, &jobErr); err != nil {
		t.Fatalf("ledger row of job %s: %v", job, err)
	}
	if status != nil {
		tk.JobStatus = *status
	}
	if jobErr != nil {
		tk.JobError = *jobErr
	}
	if started != nil {
		tk.JobStartedAt = *started
	}
	if finished != nil {
		tk.JobFinishedAt = *finished
	}
	if attempts != nil {
		tk.JobAttempts = int(*attempts)
	}
	return tk
}

// pgwerk's ways of finishing a job, each followed at once by the job row's deletion:
// the ledger keeps how it ended, as the status view, History and the counters show.
func TestHistoryKeepsOutcomesAfterPgwerkDeletesJobs(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, max_attempts) VALUES ('h', 'app.h', '* * * * * *', 3)`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	w := newWorker(t, dsn, pool)
	before, err := s.JobOutcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// 1. Complete, then deleted.
	ok := nextJob(t, pool, "h")
	w.start(ok)
	w.ack(ok)
	w.purge(ok)
	if l := ledger(t, pool, ok); l.JobStatus != "complete" || l.JobAttempts != 1 || l.JobStartedAt.IsZero() ||
		l.JobFinishedAt.Before(l.JobStartedAt) || l.JobError != "" {
		t.Errorf("complete: %+v", l)
	}
	// 2. Fails, is retried (not final: nothing recorded), fails for good, deleted.
	bad := nextJob(t, pool, "h")
	w.start(bad)
	w.nack(bad, "queued", "first try")
	if l := ledger(t, pool, bad); l.JobStatus != "" {
		t.Errorf("a retry recorded as final: %+v", l)
	}
	w.start(bad)
	// A long traceback: the ledger keeps its first 2,048 bytes.
	w.nack(bad, "failed", "KeyError: 'x'\nTraceback (most recent call last):\n"+strings.Repeat("  File \"app.py\", line 1\n", 200))
	w.purge(bad)
	if l := ledger(t, pool, bad); l.JobStatus != "failed" || l.JobAttempts != 2 || !strings.HasPrefix(l.JobError, "KeyError: 'x'\n") ||
		len(l.JobError) != 2048 {
		t.Errorf("failed: %+v (error of %d bytes, want its first 2,048)", l, len(l.JobError))
	}
	// 3. pgwerk's failure_mode = 'delete': an active job deleted on its last failure.
	gone := nextJob(t, pool, "h")
	w.start(gone)
	w.purge(gone)
	if l := ledger(t, pool, gone); l.JobStatus != "failed" || !strings.Contains(l.JobError, "failure_mode = delete") {
		t.Errorf("deleted while running: %+v", l)
	}
	// 4. Cancelled before it ran (pgwerk's abort of a waiting job), then deleted.
	cancelled := nextJob(t, pool, "h")
	w.exec(`UPDATE werk_jobs SET status = 'aborted', completed_at = NOW() WHERE id = $1 AND status IN ('scheduled', 'queued', 'waiting')`, cancelled)
	w.purge(cancelled)
	if l := ledger(t, pool, cancelled); l.JobStatus != "aborted" {
		t.Errorf("aborted: %+v", l)
	}
	// 5. A manual run is in the history too.
	manual, err := s.Trigger(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	w.start(manual)
	w.ack(manual)
	w.purge(manual)
	if l := ledger(t, pool, manual); l.Outcome != "triggered" || l.JobStatus != "complete" {
		t.Errorf("manual run: %+v", l)
	}
	// Jobs of no schedule of ours (a plain job, another scheduler's cron job) are left alone.
	plain := pgtest.QueryOne[uuid.UUID](t, pool, `INSERT INTO werk_jobs (function) VALUES ('app.plain') RETURNING id`)
	theirs := pgtest.QueryOne[uuid.UUID](t, pool, `INSERT INTO werk_jobs (function, cron_name) VALUES ('app.theirs', 'h') RETURNING id`)
	for _, id := range []uuid.UUID{plain, theirs} {
		w.start(id)
		w.nack(id, "failed", "not ours")
		w.purge(id)
	}

	after, err := s.JobOutcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := (scheduler.JobOutcomes{Complete: after.Complete - before.Complete, Failed: after.Failed - before.Failed,
		Aborted: after.Aborted - before.Aborted}); d != (scheduler.JobOutcomes{Complete: 2, Failed: 2, Aborted: 1}) {
		t.Errorf("outcome counters moved by %+v, want 2 complete, 2 failed, 1 aborted", d)
	}
	hist, err := s.History(ctx, "h", 50)
	if err != nil {
		t.Fatal(err)
	}
	byJob := map[uuid.UUID]scheduler.Tick{}
	for _, h := range hist {
		byJob[h.JobID] = h
	}
	if h := byJob[bad]; h.JobStatus != "failed" || h.JobAttempts != 2 || h.Duration() <= 0 {
		t.Errorf("History of the failed run: %+v", h)
	}
	if h := byJob[manual]; h.Outcome != "triggered" || h.JobStatus != "complete" {
		t.Errorf("History of the manual run: %+v", h)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.Schedules[0]; r.LastRunStatus != "complete" || r.LastRunFinishedAt.IsZero() || r.Failures24h != 2 || r.ConsecutiveFailures != 0 {
		t.Errorf("status of h: last run %q at %s, %d failures in 24 h, %d in a row", r.LastRunStatus, r.LastRunFinishedAt,
			r.Failures24h, r.ConsecutiveFailures)
	}
}

// pause_after_failures = 3: three failed runs in a row pause the schedule, saying why;
// a success in between starts the count again; a resume does too.
func TestPauseAfterFailures(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, pause_after_failures) VALUES ('flaky', 'app.flaky', '* * * * * *', 3)`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	w := newWorker(t, dsn, pool)
	run := func(fail bool, msg string) {
		t.Helper()
		job := nextJob(t, pool, "flaky")
		w.start(job)
		if fail {
			w.nack(job, "failed", msg)
		} else {
			w.ack(job)
		}
		w.purge(job)
	}
	paused := func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT paused FROM werk_cron_jobs WHERE name = 'flaky'`)
	}

	run(true, "boom 1")
	run(true, "boom 2")
	run(false, "")
	run(true, "boom 3")
	run(true, "boom 4")
	if paused() {
		t.Fatalf("paused after fail, fail, success, fail, fail")
	}
	if n := pgtest.QueryOne[int32](t, pool, `SELECT consecutive_failures FROM werk_cron_status WHERE name = 'flaky'`); n != 2 {
		t.Errorf("consecutive_failures %d, want 2", n)
	}
	run(true, "ValueError: bad input\nTraceback ...")
	// Paused by whoever recorded the failure: the trigger on the purge, or the primary
	// just before it (which pauses in a statement of its own).
	pgtest.Eventually(t, 5*time.Second, "paused after three failed runs in a row", paused)
	reason := pgtest.QueryOne[string](t, pool, `SELECT paused_reason FROM werk_cron_status WHERE name = 'flaky'`)
	if !strings.Contains(reason, "3 failed runs in a row") || !strings.Contains(reason, "ValueError: bad input") || strings.Contains(reason, "Traceback") {
		t.Errorf("paused_reason %q: want the count and the last error's first line", reason)
	}
	// Its jobs stop; after a resume, the old failures do not pause it again.
	pgtest.Exec(t, pool, `DELETE FROM werk_jobs WHERE cron_name = 'flaky'`)
	pgtest.Exec(t, pool, `SELECT werk_cron_resume('flaky')`)
	run(true, "boom after the resume")
	if paused() {
		t.Errorf("paused again by failures from before the resume")
	}
}

// Recording a failure never waits for the schedule's row: held by another session, the
// schedule is not paused then, and the ticker pauses it before its next job.
func TestPauseAfterFailuresWhileTheRowIsHeld(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, pause_after_failures) VALUES ('held', 'app.held', '*/2 * * * * *', 1)`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	w := newWorker(t, dsn, pool)
	job := nextJob(t, pool, "held")
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `SELECT 1 FROM werk_cron_jobs WHERE name = 'held' FOR UPDATE`)
	w.start(job)
	w.nack(job, "failed", "boom")
	start := time.Now()
	w.purge(job) // its trigger records the failure, unless the primary did first
	if took := time.Since(start); took > time.Second {
		t.Errorf("recording the failure waited %s for the schedule's row", took)
	}
	if pgtest.QueryOne[bool](t, pool, `SELECT paused FROM werk_cron_jobs WHERE name = 'held'`) {
		t.Fatalf("paused through a row another session holds")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 5*time.Second, "paused by the ticker before the next job", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT paused FROM werk_cron_jobs WHERE name = 'held'`)
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'held' AND scheduled_at > $1`,
		pgtest.QueryOne[time.Time](t, pool, `SELECT job_finished_at FROM werk_cron_ticks WHERE job_id = $1`, job)); n != 0 {
		t.Errorf("%d jobs enqueued after the failure that should pause it", n)
	}
}

// An interval schedule's first tick is at the second it was created in (its anchor,
// before changed_at itself): its run counts toward pause_after_failures like any other.
func TestPauseAfterFailuresCountsTheFirstRun(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	// The premise needs a changed_at inside a second, not on one (a microsecond's chance
	// in a million): written again until it is.
	for {
		pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, pause_after_failures) VALUES ('first', 'app.first', 3600, 1)`)
		if pgtest.QueryOne[bool](t, pool, `SELECT changed_at > date_trunc('second', changed_at) FROM werk_cron_jobs`) {
			break
		}
		pgtest.Exec(t, pool, `DELETE FROM werk_cron_jobs`)
	}
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	w := newWorker(t, dsn, pool)
	job := nextJob(t, pool, "first")
	if tick := ledger(t, pool, job).At; !tick.Before(pgtest.QueryOne[time.Time](t, pool, `SELECT changed_at FROM werk_cron_jobs WHERE name = 'first'`)) {
		t.Fatalf("the first tick %s does not precede changed_at: the test shows nothing", tick)
	}
	w.start(job)
	w.nack(job, "failed", "boom") // not deleted: the primary records it
	pgtest.Eventually(t, 5*time.Second, "paused after its first run failed (pause_after_failures = 1)", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT paused FROM werk_cron_jobs WHERE name = 'first'`)
	})
}
