package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The worker-path measurement: what recording job outcomes in the ledger
// costs pgwerk's workers. N jobs run through the writes pgwerk's worker makes
// (repos.py: the dequeue's status update, its worker_jobs and execution rows; then the
// ack: the job's status update, its execution row, its worker_jobs row, the dependents
// lookup), one job per transaction pair as a worker does. No werkcron trigger fires on
// those writes; the outcomes are recorded by the primary ticker, a real `werkcron run`
// process on the same machine and database, reading the ledger against werk_jobs while
// the worker runs. So what is compared is the worker with that primary recording and
// with the primary stopped (SIGSTOP, once its backend is idle), taking turns every few
// hundred jobs in the same database: the recorder's load on the server is what the
// worker could pay for. Also measured: jobs without cron_name, which must not pay.
// The dequeue's search of the queue (a scan that grows with the queue) is left out and
// the job is taken by id: against the writes alone any extra load weighs more, so this
// is the stricter measure. The worker's session runs with synchronous_commit off: with
// it on, each commit's WAL flush would hide what the statements themselves cost.
// -worker-sync measures with it on, as pgwerk's workers run unless configured
// otherwise.

// pgwerkTables are pgwerk's tables of the worker path (prefix werk), as pgwerk creates
// them (database.py), so that its statements run unchanged.
const pgwerkTables = `
CREATE TABLE IF NOT EXISTS werk_worker (id uuid PRIMARY KEY, name text, queue text, status text,
    metadata text, heartbeat_at timestamptz, expires_at timestamptz);
CREATE TABLE IF NOT EXISTS werk_worker_jobs (
    worker_id  uuid NOT NULL REFERENCES werk_worker(id) ON DELETE CASCADE,
    job_id     uuid NOT NULL REFERENCES werk_jobs(id) ON DELETE CASCADE,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, job_id));
CREATE TABLE IF NOT EXISTS werk_jobs_executions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id uuid NOT NULL REFERENCES werk_jobs(id) ON DELETE CASCADE,
    worker_id uuid REFERENCES werk_worker(id) ON DELETE SET NULL,
    attempt int NOT NULL DEFAULT 1, status text NOT NULL DEFAULT 'running', error text, result jsonb,
    started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz);
CREATE INDEX IF NOT EXISTS werk_executions_job_id_idx ON werk_jobs_executions (job_id);
CREATE TABLE IF NOT EXISTS werk_job_deps (
    job_id uuid NOT NULL REFERENCES werk_jobs(id) ON DELETE CASCADE,
    depends_on uuid NOT NULL REFERENCES werk_jobs(id) ON DELETE CASCADE,
    allow_failure boolean NOT NULL DEFAULT false, PRIMARY KEY (job_id, depends_on));
CREATE INDEX IF NOT EXISTS werk_job_deps_on_idx ON werk_job_deps (depends_on);`

// pgwerkTake is the status update of pgwerk's dequeue (WorkerRepository.dequeue), for
// one job taken by id.
const pgwerkTake = `
UPDATE werk_jobs
SET status = 'active', started_at = NOW(),
    attempts = attempts + CASE WHEN status IN ('queued', 'scheduled') THEN 1 ELSE 0 END, worker_id = $2
WHERE id = $1 AND status IN ('queued', 'scheduled')
RETURNING id, attempts`

func (b *bench) workerPath(ctx context.Context, n, rounds int) (workerResult, error) {
	r := workerResult{n: n, sync: map[bool]string{true: "on", false: "off"}[b.cfg.workerSync]}
	fmt.Fprintf(os.Stderr, "bench: pgwerk's worker path, %d jobs per run, %d rounds\n", n, rounds)
	dsn, err := b.newDB(ctx, "worker")
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, "worker")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, pgwerkTables); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, `SET synchronous_commit = `+r.sync); err != nil {
		return r, err
	}
	worker := uuid.New()
	if _, err := conn.Exec(ctx, `INSERT INTO werk_worker (id, name, queue, status) VALUES ($1, 'bench', 'bench', 'active')`, worker); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, paused) VALUES ('w', 'bench.task', 'bench', 60, true)`); err != nil {
		return r, err
	}
	tk, err := b.startTicker(ctx, "worker", dsn)
	if err != nil {
		return r, err
	}
	defer tk.stop()
	if err := waitReady(ctx, conn, tk, 1, time.Minute); err != nil {
		return r, err
	}
	for round := range rounds {
		with, without, plain, err := b.workerRound(ctx, conn, tk, worker, n)
		if err != nil {
			return r, fmt.Errorf("round %d: %w", round+1, err)
		}
		r.with, r.without, r.plain = append(r.with, with), append(r.without, without), append(r.plain, plain)
		fmt.Fprintf(os.Stderr, "bench:   round %d: cron jobs, primary recording %s; primary stopped %s; jobs without cron_name %s\n",
			round+1, dur(with), dur(without), dur(plain))
	}
	return r, nil
}

// workerChunk is how many jobs run under one configuration before the next takes
// over: the three configurations take turns, chunk by chunk, so that whatever drifts
// during a round (the tables' growth, a checkpoint, another process on the machine)
// falls on all three alike.
const workerChunk = 250

// workerRound enqueues 2n jobs as ticks of schedule w, each with its ledger row, and n
// plain jobs, then runs them through dequeue and ack as one pgwerk worker does, n of
// each configuration — cron jobs while the primary tk records outcomes, cron jobs while
// it is stopped, plain jobs while it records — taking turns by chunks of workerChunk.
// It returns the worker's time per configuration, once the primary has recorded every
// cron job's outcome.
func (b *bench) workerRound(ctx context.Context, conn *pgx.Conn, tk *tickerProc, worker uuid.UUID, n int) (with, without, plain time.Duration, err error) {
	setup := []string{
		`TRUNCATE werk_jobs, werk_cron_ledger, werk_jobs_executions, werk_worker_jobs, werk_job_deps`,
		`WITH t AS (SELECT gen_random_uuid() AS id, '2020-01-01T00:00:00Z'::timestamptz + i * interval '1 s' AS tick
		            FROM generate_series(1, ` + fmt.Sprint(2*n) + `) i),
		      jobs AS (INSERT INTO werk_jobs (id, key, function, queue, status, payload, scheduled_at, cron_name)
		               SELECT id, 'cron:w:' || to_char(tick AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'bench.task',
		                      'bench', 'queued', '{"args": [], "kwargs": {}}', tick, 'w' FROM t)
		 INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id) SELECT 'w', tick, 'enqueued', id FROM t`,
		`INSERT INTO werk_jobs (function, queue, status, payload, scheduled_at)
		 SELECT 'bench.task', 'bench', 'queued', '{"args": [], "kwargs": {}}', '2020-01-01T00:00:00Z'::timestamptz + i * interval '1 s'
		 FROM generate_series(1, ` + fmt.Sprint(n) + `) i`,
		`VACUUM ANALYZE werk_jobs`, `VACUUM ANALYZE werk_cron_ledger`, `CHECKPOINT`,
		// The primary learns of jobs it did not enqueue as it does of a manual run.
		`SELECT pg_notify(werk_cron_channel(), '')`,
	}
	for _, s := range setup {
		if _, err := conn.Exec(ctx, s); err != nil {
			return 0, 0, 0, fmt.Errorf("%.60s: %w", s, err)
		}
	}
	ids := func(q string) ([]uuid.UUID, error) {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	}
	cronIDs, err := ids(`SELECT id FROM werk_jobs WHERE cron_name IS NOT NULL ORDER BY scheduled_at`)
	if err != nil {
		return 0, 0, 0, err
	}
	plainIDs, err := ids(`SELECT id FROM werk_jobs WHERE cron_name IS NULL ORDER BY scheduled_at`)
	if err != nil {
		return 0, 0, 0, err
	}
	// The recorded and the unrecorded cron jobs alternate in the ledger's order, so
	// that neither gets the older half of the index.
	var recorded, unrecorded []uuid.UUID
	for i, id := range cronIDs {
		if (i/workerChunk)%2 == 0 {
			recorded = append(recorded, id)
		} else {
			unrecorded = append(unrecorded, id)
		}
	}
	configs := []struct {
		ids       []uuid.UUID
		recording bool
		took      *time.Duration
	}{{recorded, true, &with}, {unrecorded, false, &without}, {plainIDs, true, &plain}}
	recording := true
	defer func() { _ = tk.cmd.Process.Signal(syscall.SIGCONT) }()
	for done := 0; done < n; done += workerChunk {
		for _, c := range configs {
			if c.recording != recording {
				if err := pauseRecorder(ctx, conn, tk, !c.recording); err != nil {
					return 0, 0, 0, err
				}
				recording = c.recording
			}
			chunk := c.ids[done:min(done+workerChunk, n)]
			start := time.Now()
			for _, id := range chunk {
				if err := runJob(ctx, conn, worker, id); err != nil {
					return 0, 0, 0, err
				}
			}
			*c.took += time.Since(start)
		}
	}
	if err := pauseRecorder(ctx, conn, tk, false); err != nil {
		return 0, 0, 0, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var got int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM werk_cron_ticks WHERE job_status = 'complete'`).Scan(&got); err != nil {
			return 0, 0, 0, err
		}
		if got == 2*n {
			return with, without, plain, nil
		}
		if time.Now().After(deadline) || tk.exited() {
			return 0, 0, 0, fmt.Errorf("the primary recorded %d of %d outcomes:\n%s", got, 2*n, tk.tail())
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, 0, 0, err
		}
	}
}

// pauseRecorder stops (SIGSTOP) or resumes (SIGCONT) the primary tk. Stopping waits
// until the primary's backend is idle outside any transaction, so that none of its work
// falls into the time measured without it, and no transaction of its stays open
// through it (holding back the clean-up of werk_jobs' old row versions): stopped
// between two statements of a transaction, the primary is let go on a moment and
// stopped again.
func pauseRecorder(ctx context.Context, conn *pgx.Conn, tk *tickerProc, stop bool) error {
	if !stop {
		return tk.cmd.Process.Signal(syscall.SIGCONT)
	}
	for try := 0; try < 100; try++ {
		if err := tk.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		for wait := 0; wait < 50; wait++ {
			var busy int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
				  AND (state <> 'idle' OR backend_xid IS NOT NULL)`).Scan(&busy); err != nil {
				return err
			}
			if busy == 0 {
				return nil
			}
			if err := sleep(ctx, time.Millisecond); err != nil {
				return err
			}
		}
		if err := tk.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			return err
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("could not stop the primary outside a transaction")
}

// runJob runs the job id through pgwerk's dequeue and ack, one transaction each.
func runJob(ctx context.Context, conn *pgx.Conn, worker, jobID uuid.UUID) error {
	// Dequeue: one transaction, as WorkerRepository.dequeue.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	var id uuid.UUID
	var attempts int32
	if err := tx.QueryRow(ctx, pgwerkTake, jobID, worker).Scan(&id, &attempts); err != nil {
		_ = tx.Rollback(ctx)
		return fmt.Errorf("dequeue: %w", err)
	}
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM werk_worker_jobs WHERE job_id = $1`, []any{id}},
		{`INSERT INTO werk_worker_jobs (worker_id, job_id) VALUES ($1, $2)`, []any{worker, id}},
		{`INSERT INTO werk_jobs_executions (job_id, worker_id, attempt, status) VALUES ($1, $2, $3, 'running')`, []any{id, worker, attempts}},
	} {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// Ack: one transaction, as WorkerRepository.ack.
	tx, err = conn.Begin(ctx)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE werk_jobs SET status = 'complete', result = $2, completed_at = NOW(), expires_at = $3, worker_id = NULL
		  WHERE id = $1 AND worker_id = $4::uuid AND status IN ('active', 'aborting')`, []any{id, []byte(`null`), nil, worker}},
		{`UPDATE werk_jobs_executions SET status = 'complete', result = $2, completed_at = NOW()
		  WHERE job_id = $1 AND attempt = $3 AND worker_id = $4::uuid`, []any{id, []byte(`null`), attempts, worker}},
		{`DELETE FROM werk_worker_jobs WHERE worker_id = $1 AND job_id = $2`, []any{worker, id}},
		{`SELECT j.id::text FROM werk_job_deps d JOIN werk_jobs j ON j.id = d.job_id
		  WHERE d.depends_on = $1 AND j.status = 'waiting' FOR UPDATE OF j`, []any{id}},
	} {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
	}
	return tx.Commit(ctx)
}

type workerResult struct {
	n                    int
	sync                 string // synchronous_commit of the worker's session
	with, without, plain []time.Duration
}

func printWorker(r workerResult) {
	w, wo, p := median(r.with), median(r.without), median(r.plain)
	fmt.Printf("Worker path: %d jobs of each kind through pgwerk's writes of a dequeue and an ack, one job per transaction pair (synchronous_commit %s),\n  the kinds taking turns by %d jobs; medians of %d rounds\n", r.n, r.sync, workerChunk, len(r.with))
	fmt.Printf("  cron jobs, the primary recording outcomes   %s (%s per job)\n", dur(w), dur(w/time.Duration(r.n)))
	fmt.Printf("  cron jobs, the primary stopped              %s (%s per job)\n", dur(wo), dur(wo/time.Duration(r.n)))
	fmt.Printf("  jobs without cron_name, primary recording   %s\n", dur(p))
	fmt.Printf("  each round with/without: %s\n", pairs(r.with, r.without))
	var each []string
	for i := range min(len(r.with), len(r.without)) {
		each = append(each, fmt.Sprintf("%+.1f%%", 100*(ratio(r.with[i], r.without[i])-1)))
	}
	fmt.Printf("  each round's cost: %s\n", strings.Join(each, ", "))
	cost := ratio(w, wo) - 1
	fmt.Printf("  goal: recording outcomes costs the worker path at most 5%%: %s (%+.1f%%)\n\n", verdict(cost <= 0.05), 100*cost)
}

func pairs(a, b []time.Duration) string {
	var s []string
	for i := range min(len(a), len(b)) {
		s = append(s, fmt.Sprintf("%s/%s", dur(a[i]), dur(b[i])))
	}
	return fmt.Sprint(slices.Clip(s))
}
