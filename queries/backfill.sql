-- Backfill: the primary carries out the requests werk_cron_backfill records, oldest
-- first, a bounded number of ticks per statement between its ticks.

-- name: NextBackfill :many
-- The oldest request not done yet (at most one row), leaving out @skip: requests set
-- aside for a while because another session holds what their next chunk needs, so that
-- one blocked request does not hold up the others.
SELECT id, name, from_at, to_at, through_at, enqueued, already
FROM werk_cron_backfills
WHERE done_at IS NULL AND id <> ALL (@skip::bigint[])
ORDER BY id
LIMIT 1;

-- name: BackfillTicks :one
-- Enqueues the given ticks of one schedule that have no job yet: a tick whose ledger row
-- says it was enqueued (or triggered, or backfilled, or its key was taken) has one, and
-- one whose key a job holds has one too (ON CONFLICT DO NOTHING); the others (no ledger
-- row, or 'missed', 'skipped_overlap' or 'excluded': the ticker passes no tick on a day
-- its calendar excludes now) get a job under their usual key and a ledger row
-- 'backfilled', due within start_deadline_secs of now when the schedule has one. Running it twice enqueues nothing the second time. The jobs are due
-- at their ticks plus the schedule's jitter, as the tick statement would have made them,
-- and, for overlap buffer_one or buffer_all, run one at a time in the schedule's group
-- like its other jobs.
-- The jobs are made from the schedule's row as this statement reads it, and only if that
-- row is still the definition the ticker checked (its updated_at, func and queue, which
-- the ticker's allow-list judged): a definition changed meanwhile enqueues nothing.
-- Returns how many were enqueued and how many had a job already; found is false when
-- the schedule does not exist (any more), current false when it changed.
WITH found AS MATERIALIZED (
    SELECT name, func, queue, args, kwargs, priority, max_attempts, timeout_secs, meta, result_ttl,
           failure_ttl, overlap, start_deadline_secs, jitter_secs, max_runtime_secs, updated_at
    FROM werk_cron_jobs
    WHERE name = @name::text
      AND werk_cron_trusted_triggers() -- raises if a write would run another role's code
),
s AS MATERIALIZED (
    SELECT f.*
    FROM found f
    WHERE f.updated_at = @seen_updated_at::timestamptz AND f.func = @func::text AND f.queue = @queue::text
),
t AS MATERIALIZED (
    SELECT pg_catalog.unnest(@keys::text[]) AS key,
           pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
           pg_catalog.unnest(@job_ids::uuid[]) AS job_id
),
todo AS MATERIALIZED (
    -- run_at: the tick plus its jitter, the same offset the tick statement gives it.
    SELECT t.key, t.tick_at, t.job_id, s.*, werk_cron_run_at(t.key, t.tick_at, s.jitter_secs) AS run_at
    FROM t CROSS JOIN s
    WHERE NOT EXISTS (SELECT 1 FROM werk_cron_ledger d
                      WHERE d.name = s.name AND d.tick_at = t.tick_at
                        AND d.outcome NOT IN ('missed', 'skipped_overlap', 'excluded'))
      -- The schedule's newest enqueued tick, whose row is written with its outcome.
      AND NOT EXISTS (SELECT 1 FROM werk_cron_state st WHERE st.name = s.name AND st.last_job_at = t.tick_at)
),
jobs AS (
    -- Each tick's job as werk_cron_job defines it; a past tick's start deadline counts
    -- from now, when it is asked for.
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, group_key, payload, max_attempts,
                           timeout_secs, scheduled_at, expires_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT (w).*
    FROM todo x, werk_cron_job(x.job_id, x.key, x.run_at, greatest(x.run_at, now()),
                               x.name, x.func, x.queue, x.args, x.kwargs, x.priority, x.max_attempts, x.timeout_secs,
                               x.meta, x.result_ttl, x.failure_ttl, x.overlap, x.start_deadline_secs) w
    ON CONFLICT (key) DO NOTHING
    RETURNING id
),
-- Runs that may outlast max_runtime_secs: the primary looks at the schedule's health by
-- the time the first of them could have.
watched AS (
    UPDATE werk_cron_state st
    SET health_check_at = least(coalesce(st.health_check_at, 'infinity'::timestamptz),
                                now() + s.max_runtime_secs * interval '1 second')
    FROM s
    WHERE st.name = s.name AND s.max_runtime_secs IS NOT NULL AND EXISTS (SELECT 1 FROM jobs)
),
ledger AS (
    INSERT INTO werk_cron_ledger AS d (name, tick_at, outcome, job_id, ticks)
    SELECT x.name, x.tick_at, 'backfilled', x.job_id, 1
    FROM todo x
    WHERE x.job_id IN (SELECT id FROM jobs)
    ON CONFLICT (name, tick_at) DO UPDATE
        SET outcome = 'backfilled', job_id = excluded.job_id, ticks = 1, decided_at = now()
    RETURNING 1
)
-- pgwerk's workers are notified once this has committed (NotifyQueues says why).
SELECT (SELECT pg_catalog.count(*) FROM jobs)::integer AS enqueued,
       (SELECT pg_catalog.count(*) FROM ledger)::integer AS recorded,
       EXISTS (SELECT 1 FROM found) AS found,
       EXISTS (SELECT 1 FROM s) AS current;

-- name: RecordBackfillProgress :exec
-- How far a request has come (ticks up to @through_at are done), and, with @done, that
-- it is finished, or why it could not be done (@error, '' for none).
UPDATE werk_cron_backfills
SET through_at = @through_at::timestamptz,
    enqueued = enqueued + @enqueued::integer,
    already = already + @already::integer,
    done_at = CASE WHEN @done::boolean THEN pg_catalog.clock_timestamp() END,
    error = nullif(@error::text, '')
WHERE id = @id::bigint AND done_at IS NULL;

-- name: PruneBackfills :execrows
-- Requests done before @before (the ledger's retention): their ticks' rows are pruned by
-- then too.
DELETE FROM werk_cron_backfills WHERE done_at < @before::timestamptz;
