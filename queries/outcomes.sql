-- name: RecordOutcomes :many
-- Record the outcomes of finished jobs on their ledger rows (see
-- internal/ticker/outcomes.go). Reads the ledger rows that await their
-- job's outcome: when @names is empty, at most @max_rows after the cursor
-- (@after_name, @after_tick_at) in (name, tick_at) order — one step of the primary's
-- pass; else each named schedule's newest @max_rows (those its failures in a row are
-- counted from). Of them, each whose job is final (or gone: 'unknown') is written,
-- unless another session holds it (pgwerk deleting the job, whose trigger records the
-- same). Returns one row per outcome written (kind 'recorded': the schedule and the
-- outcome), and one row of kind 'scanned': how many rows were read, and the last (the
-- cursor's next position). The outcome counters are advanced apart (CountOutcomes), in
-- the same transaction once this statement went through: a sequence does not roll
-- back, so nextval here would count again the rows of a statement cut off midway.
WITH scanned AS (
    (SELECT name, tick_at, job_id FROM werk_cron_ticks
     WHERE job_status IS NULL AND job_id IS NOT NULL AND outcome <> 'foreign'
       AND (name, tick_at) > (@after_name::text, @after_tick_at::timestamptz)
       AND coalesce(pg_catalog.cardinality(@names::text[]), 0) = 0
     ORDER BY name, tick_at
     LIMIT @max_rows::integer)
    UNION ALL
    SELECT a.name, a.tick_at, a.job_id
    FROM pg_catalog.unnest(@names::text[]) AS n(name)
    CROSS JOIN LATERAL (SELECT t.name, t.tick_at, t.job_id FROM werk_cron_ticks t
                        WHERE t.job_status IS NULL AND t.job_id IS NOT NULL AND t.outcome <> 'foreign'
                          AND t.name = n.name
                        ORDER BY t.tick_at DESC
                        LIMIT @max_rows::integer) a
),
finished AS (
    SELECT t.name, t.tick_at, coalesce(j.status, 'unknown') AS status, j.started_at, j.completed_at, j.attempts,
           CASE WHEN j.id IS NULL THEN 'the job''s row was gone before its outcome was recorded' ELSE j.error END AS error
    FROM scanned s
    JOIN werk_cron_ticks t ON t.name = s.name AND t.tick_at = s.tick_at
    LEFT JOIN werk_jobs j ON j.id = s.job_id
    WHERE t.job_status IS NULL AND (j.id IS NULL OR j.status IN ('complete', 'failed', 'aborted'))
    FOR UPDATE OF t SKIP LOCKED
),
recorded AS (
    UPDATE werk_cron_ticks t
    SET job_status = f.status, job_started_at = f.started_at,
        job_finished_at = CASE WHEN f.status <> 'unknown' THEN coalesce(f.completed_at, now()) END,
        job_attempts = f.attempts, job_error = werk_cron_cut(f.error, 2048)
    FROM finished f
    WHERE t.name = f.name AND t.tick_at = f.tick_at
    RETURNING t.name, t.job_status
)
SELECT 'recorded'::text AS kind, r.name::text AS name, r.job_status::text AS status, 0::bigint AS rows,
       NULL::timestamptz AS tick_at
FROM recorded r
UNION ALL
SELECT 'scanned', coalesce(l.name, ''), '', c.n, l.tick_at
FROM (SELECT pg_catalog.count(*) AS n FROM scanned) c
LEFT JOIN LATERAL (SELECT s.name, s.tick_at FROM scanned s ORDER BY s.name DESC, s.tick_at DESC LIMIT 1) l ON true;

-- name: CountOutcomes :exec
-- Advance the outcome counters (werkcron_job_outcomes_total) by outcomes just recorded:
-- one nextval each, which never waits and never loses a concurrent one.
SELECT pg_catalog.count(pg_catalog.nextval('werk_cron_outcomes_complete'::regclass))
FROM pg_catalog.generate_series(1, @complete::integer)
UNION ALL
SELECT pg_catalog.count(pg_catalog.nextval('werk_cron_outcomes_failed'::regclass))
FROM pg_catalog.generate_series(1, @failed::integer)
UNION ALL
SELECT pg_catalog.count(pg_catalog.nextval('werk_cron_outcomes_aborted'::regclass))
FROM pg_catalog.generate_series(1, @aborted::integer);

-- name: PauseFailingSchedules :many
-- Pause each named schedule whose runs since it last started afresh are
-- pause_after_failures failures in a row (werk_cron_pause_failing, which never waits for
-- a row another session holds); returns those it paused.
SELECT n.name::text AS name
FROM pg_catalog.unnest(@names::text[]) AS n(name)
WHERE werk_cron_pause_failing(n.name);
