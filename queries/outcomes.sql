-- name: RecordOutcomes :many
-- Record the outcomes of finished jobs on their ledger rows (see
-- internal/ticker/outcomes.go). Reads the ledger rows that await their job's outcome
-- (a backfilled tick's, a manual run's, or a tick's that a newer one superseded before
-- it ended; a schedule's newest enqueued tick has no row yet: see RecordLastRuns): when
-- @names is empty, at most @max_rows after the cursor
-- (@after_name, @after_tick_at) in (name, tick_at) order — one step of the primary's
-- pass; else each named schedule's newest @max_rows (those its failures in a row are
-- counted from). Of them, each whose job is final (or gone: 'unknown'; or waiting past
-- its expires_at: 'expired') is written,
-- unless another session holds it (pgwerk deleting the job, whose trigger records the
-- same). Returns one row per outcome written (kind 'recorded': the schedule and the
-- outcome), and one row of kind 'scanned': how many rows were read, and the last (the
-- cursor's next position). The outcome counters are advanced apart (CountOutcomes), in
-- the same transaction once this statement went through: a sequence does not roll
-- back, so nextval here would count again the rows of a statement cut off midway.
WITH scanned AS (
    (SELECT name, tick_at, job_id FROM werk_cron_ledger
     WHERE job_status IS NULL AND job_id IS NOT NULL AND outcome <> 'foreign'
       AND (name, tick_at) > (@after_name::text, @after_tick_at::timestamptz)
       AND coalesce(pg_catalog.cardinality(@names::text[]), 0) = 0
     ORDER BY name, tick_at
     LIMIT @max_rows::integer)
    UNION ALL
    SELECT a.name, a.tick_at, a.job_id
    FROM pg_catalog.unnest(@names::text[]) AS n(name)
    CROSS JOIN LATERAL (SELECT t.name, t.tick_at, t.job_id FROM werk_cron_ledger t
                        WHERE t.job_status IS NULL AND t.job_id IS NOT NULL AND t.outcome <> 'foreign'
                          AND t.name = n.name
                        ORDER BY t.tick_at DESC
                        LIMIT @max_rows::integer) a
),
finished AS (
    SELECT t.name, t.tick_at, x.status, j.started_at,
           CASE WHEN x.status = 'expired' THEN j.expires_at ELSE j.completed_at END AS completed_at, j.attempts,
           CASE WHEN j.id IS NULL THEN 'the job''s row was gone before its outcome was recorded'
                WHEN x.status = 'expired' THEN 'not started by its start deadline (expires_at ' ||
                     pg_catalog.to_char(j.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')'
                ELSE j.error END AS error
    FROM scanned s
    JOIN werk_cron_ledger t ON t.name = s.name AND t.tick_at = s.tick_at
    LEFT JOIN werk_jobs j ON j.id = s.job_id
    -- expired: still waiting a second past its expires_at, which pgwerk's workers never
    -- start it after (the second: a dequeue that began before expires_at commits within it).
    CROSS JOIN LATERAL (SELECT CASE WHEN j.id IS NULL THEN 'unknown'
                                    WHEN j.status IN ('queued', 'scheduled')
                                         AND j.expires_at <= now() - interval '1 second' THEN 'expired'
                                    ELSE j.status END AS status) x
    WHERE t.job_status IS NULL AND x.status IN ('unknown', 'expired', 'complete', 'failed', 'aborted')
    FOR UPDATE OF t SKIP LOCKED
),
recorded AS (
    UPDATE werk_cron_ledger t
    SET job_status = f.status, job_started_at = f.started_at,
        job_finished_at = CASE WHEN f.status <> 'unknown' THEN coalesce(f.completed_at, now()) END,
        job_attempts = f.attempts, job_error = werk_cron_cut(f.error, 2048)
    FROM finished f
    WHERE t.name = f.name AND t.tick_at = f.tick_at
    RETURNING t.name, t.tick_at, t.job_status, t.job_finished_at
),
-- Each schedule's run summary (werk_cron_health) follows what was recorded.
noted AS (
    SELECT werk_cron_note_runs(pg_catalog.array_agg(r.name), pg_catalog.array_agg(r.tick_at),
                               pg_catalog.array_agg(r.job_status), pg_catalog.array_agg(r.job_finished_at)) AS done
    FROM recorded r
)
SELECT 'recorded'::text AS kind, r.name::text AS name, r.job_status::text AS status, 0::bigint AS rows,
       NULL::timestamptz AS tick_at
FROM recorded r
UNION ALL
SELECT 'scanned', coalesce(l.name, ''), '', c.n, l.tick_at
FROM (SELECT pg_catalog.count(*) AS n FROM scanned) c
LEFT JOIN LATERAL (SELECT s.name, s.tick_at FROM scanned s ORDER BY s.name DESC, s.tick_at DESC LIMIT 1) l ON true
CROSS JOIN noted;

-- name: RecordLastRuns :many
-- Record the outcomes of schedules' newest enqueued ticks, whose ledger rows are written
-- with them (see queries/tick.sql): each named (schedule, tick, job) that is still its
-- schedule's deferred newest tick gets its row when its job is final (or gone:
-- 'unknown'), unless a row was written meanwhile (a newer tick, or pgwerk's delete).
-- Returns one row per input: 'recorded' (with the outcome), 'running' (still to come),
-- or 'settled' (not the schedule's deferred tick any more: its row exists, or will be
-- recorded from the ledger). The counters are advanced apart (CountOutcomes).
WITH r AS (
    SELECT pg_catalog.unnest(@names::text[]) AS name, pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
           pg_catalog.unnest(@job_ids::uuid[]) AS job_id
),
current AS (
    SELECT r.name, r.tick_at, r.job_id, j.id IS NULL AS gone,
           -- expired: see RecordOutcomes.
           CASE WHEN j.status IN ('queued', 'scheduled') AND j.expires_at <= now() - interval '1 second'
                THEN 'expired' ELSE j.status END AS status,
           j.started_at,
           CASE WHEN j.status IN ('queued', 'scheduled') THEN j.expires_at ELSE j.completed_at END AS completed_at,
           j.attempts,
           CASE WHEN j.status IN ('queued', 'scheduled') THEN 'not started by its start deadline (expires_at ' ||
                     pg_catalog.to_char(j.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')'
                ELSE j.error END AS error,
           j.enqueued_at
    FROM r
    JOIN werk_cron_state s ON s.name = r.name AND s.last_job_id = r.job_id AND s.last_job_at = r.tick_at
    LEFT JOIN werk_jobs j ON j.id = r.job_id
    WHERE NOT EXISTS (SELECT 1 FROM werk_cron_ledger t WHERE t.name = r.name AND t.tick_at = r.tick_at)
),
recorded AS (
    INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, decided_at, job_status, job_started_at,
                                 job_finished_at, job_attempts, job_error)
    SELECT c.name, c.tick_at, 'enqueued', c.job_id, coalesce(c.enqueued_at, now()),
           CASE WHEN c.gone THEN 'unknown' ELSE c.status END, c.started_at,
           CASE WHEN NOT c.gone THEN coalesce(c.completed_at, now()) END, c.attempts,
           CASE WHEN c.gone THEN 'the job''s row was gone before its outcome was recorded'
                ELSE werk_cron_cut(c.error, 2048) END
    FROM current c
    WHERE c.gone OR c.status IN ('complete', 'failed', 'aborted', 'expired')
    ON CONFLICT (name, tick_at) DO NOTHING
    RETURNING name, tick_at, job_status, job_finished_at
),
noted AS (
    SELECT werk_cron_note_runs(pg_catalog.array_agg(x.name), pg_catalog.array_agg(x.tick_at),
                               pg_catalog.array_agg(x.job_status), pg_catalog.array_agg(x.job_finished_at)) AS done
    FROM recorded x
)
SELECT r.name::text AS name, r.tick_at::timestamptz AS tick_at, r.job_id::uuid AS job_id,
       CASE WHEN x.name IS NOT NULL THEN 'recorded'
            WHEN c.name IS NOT NULL THEN 'running'
            ELSE 'settled' END::text AS state,
       coalesce(x.job_status, '')::text AS status
FROM r
LEFT JOIN current c ON c.name = r.name AND c.tick_at = r.tick_at
LEFT JOIN recorded x ON x.name = r.name AND x.tick_at = r.tick_at
CROSS JOIN noted;

-- name: SweepLastRuns :many
-- Schedules after @after_name (by name, at most @max_rows) whose newest enqueued tick's
-- row is still to be written: what a new primary, which did not enqueue them, looks
-- for once after it takes over (and any primary that could not keep track of them
-- all). Returns the last row read as well (deferred false), so that the sweep goes on
-- from there.
WITH page AS (
    SELECT s.name, s.last_job_at, s.last_job_id
    FROM werk_cron_state s
    WHERE s.name > @after_name::text
    ORDER BY s.name
    LIMIT @max_rows::integer
)
SELECT p.name::text AS name, coalesce(p.last_job_at, '0001-01-01 00:00:00+00'::timestamptz)::timestamptz AS tick_at,
       coalesce(p.last_job_id, '00000000-0000-0000-0000-000000000000'::uuid)::uuid AS job_id,
       (p.last_job_at IS NOT NULL AND p.last_job_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM werk_cron_ledger t WHERE t.name = p.name AND t.tick_at = p.last_job_at))::boolean AS deferred
FROM page p
ORDER BY p.name;

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
FROM pg_catalog.generate_series(1, @aborted::integer)
UNION ALL
SELECT pg_catalog.count(pg_catalog.nextval('werk_cron_outcomes_expired'::regclass))
FROM pg_catalog.generate_series(1, @expired::integer);

-- name: PauseFailingSchedules :many
-- Pause each named schedule whose runs since it last started afresh are
-- pause_after_failures failures in a row (werk_cron_pause_failing, which never waits for
-- a row another session holds); returns those it paused.
SELECT n.name::text AS name
FROM pg_catalog.unnest(@names::text[]) AS n(name)
WHERE werk_cron_pause_failing(n.name);
