-- name: EnqueueDueTicks :many
-- The whole tick in one statement, so that the decision and the jobs commit together or
-- not at all. Input: one row per decided tick (tick_*): whether to enqueue it or record
-- it as missed, and, repeated on each tick of a schedule, what the ticker's decision was
-- based on (the schedule's last_tick_at and updated_at) and what follows from it (the
-- newest decided tick, the next_run_at after it).
--
-- Compare-and-set first: a tick takes part only if its schedule's row still has the
-- last_tick_at and updated_at the ticker saw, is not paused, and none of the schedule's
-- decided ticks is in the future (whatever the caller's clock said); those rows are
-- locked (FOR UPDATE rechecks the condition on the newest row version if another
-- transaction changed it meanwhile), so the rest of the statement works on ticks that
-- won. A row someone else holds locked (an open psql transaction editing it) is skipped
-- rather than waited for: one stuck session must not hold up every other schedule.
--
-- Returns one row per ledger row written, one row (outcome 'won') per schedule whose
-- decision went through, and the transaction's start (now()) on every row; a schedule without a
-- 'won' row lost the compare-and-set and must be looked at again.
--
-- Its cost must stay linear in the number of ticks whatever the planner estimates: no
-- two CTEs are ever joined; every join is with a table by an index, and per-schedule
-- values are gathered with GROUP BY.
WITH won AS MATERIALIZED (
    SELECT d.name, d.tick_at, d.kind, d.ticks, d.first_enqueue, d.newest, d.next_run_at, d.key,
           j.func, j.queue, j.args, j.kwargs, j.timeout_secs, j.result_ttl, j.failure_ttl,
           j.meta, j.priority, j.max_attempts, j.overlap,
           existing.id AS existing_id,
           decided_before.name IS NOT NULL AS decided_before
    FROM (SELECT t.*,
                 'cron:' || t.name || ':' || to_char(t.tick_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS key
          FROM (SELECT unnest(@tick_names::text[]) AS name,
                       unnest(@tick_ats::timestamptz[]) AS tick_at,
                       unnest(@tick_kinds::text[]) AS kind,
                       unnest(@tick_counts::int[]) AS ticks,
                       unnest(@tick_firsts::bool[]) AS first_enqueue,
                       unnest(@prev_tick_ats::timestamptz[]) AS prev_tick_at,
                       unnest(@seen_updated_ats::timestamptz[]) AS seen_updated_at,
                       unnest(@newest_tick_ats::timestamptz[]) AS newest,
                       unnest(@next_run_ats::timestamptz[]) AS next_run_at) t) d
    JOIN werk_cron_jobs j
      ON j.name = d.name
     AND coalesce(j.last_tick_at, '0001-01-01 00:00:00+00'::timestamptz) = d.prev_tick_at
     AND j.updated_at = d.seen_updated_at
     AND NOT j.paused
     AND d.newest > coalesce(j.last_tick_at, '-infinity'::timestamptz)
     -- now() (the transaction's start, which is also each job's enqueued_at), not
     -- statement_timestamp(): with the extended protocol the statement's clock starts a
     -- little later than the transaction's, and a job must never look enqueued early.
     AND d.newest <= now()
    LEFT JOIN werk_jobs existing ON existing.key = d.key
    -- Decided before (the ledger, not the job row that pgwerk may have deleted, is what
    -- makes a tick happen once): never a second job.
    LEFT JOIN werk_cron_ticks decided_before ON decided_before.name = d.name AND decided_before.tick_at = d.tick_at
    FOR UPDATE OF j SKIP LOCKED
),
decided AS MATERIALIZED (
    SELECT w.*, gen_random_uuid() AS new_id,
           CASE
               WHEN w.decided_before THEN 'duplicate'
               WHEN w.kind = 'missed' THEN 'missed'
               WHEN w.existing_id IS NOT NULL THEN 'duplicate'
               -- overlap = skip: only the oldest enqueue tick of the batch (first_enqueue,
               -- marked by the ticker), and only if no job of the schedule is still
               -- waiting or running. (Should that oldest tick turn out a duplicate, the
               -- others of the batch are skipped as well: only a backlog after a restore
               -- or a key taken from outside can do that, and the next tick is free.)
               WHEN w.overlap = 'skip' AND (
                        NOT w.first_enqueue
                        OR EXISTS (SELECT 1 FROM werk_jobs b
                                   WHERE b.cron_name = w.name
                                     AND b.status IN ('queued', 'scheduled', 'active')))
                   THEN 'skipped_overlap'
               ELSE 'enqueued'
           END AS outcome
    FROM won w
),
advanced AS (
    -- One row per schedule (UPDATE ... FROM changes a row at most once). The rows are
    -- locked by won, so no compare-and-set is needed here.
    UPDATE werk_cron_jobs j
    SET last_tick_at = h.newest,
        last_job_id = coalesce(h.newest_job_id, j.last_job_id),
        next_run_at = nullif(h.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
        last_error = NULL
    FROM (SELECT x.name, max(x.newest) AS newest, max(x.next_run_at) AS next_run_at,
                 -- The job of the newest enqueued or duplicate tick: keys of one schedule
                 -- sort by tick (fixed-width UTC), so the greatest key || id carries it.
                 right(max((x.key || coalesce(x.existing_id, x.new_id)::text) COLLATE "C")
                           FILTER (WHERE x.outcome = 'enqueued'
                                      OR (x.outcome = 'duplicate' AND x.existing_id IS NOT NULL)), 36)::uuid AS newest_job_id
          FROM decided x
          GROUP BY x.name) h
    WHERE j.name = h.name
    RETURNING j.name
),
jobs AS (
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT x.new_id, x.key, x.func, x.queue, 'queued', x.priority,
           jsonb_build_object('args', x.args, 'kwargs', x.kwargs), x.max_attempts,
           x.timeout_secs, x.tick_at, x.meta, x.result_ttl, x.failure_ttl, x.name
    FROM decided x
    WHERE x.outcome = 'enqueued'
    -- A key taken since the snapshot can only be a job inserted from outside the ticker
    -- (another ticker would have had to win this schedule's row lock): its row stays.
    ON CONFLICT (key) DO NOTHING
    RETURNING id, queue
),
ledger AS (
    INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id, ticks)
    SELECT x.name, x.tick_at, x.outcome,
           CASE x.outcome WHEN 'enqueued' THEN x.new_id WHEN 'duplicate' THEN x.existing_id END,
           x.ticks
    FROM decided x
    WHERE NOT x.decided_before
    ON CONFLICT (name, tick_at) DO NOTHING
    RETURNING name, tick_at, outcome, job_id
),
-- pgwerk's workers listen on werk:<queue>: one notification per queue per tick batch.
notified AS (
    SELECT count(pg_notify('werk:' || q.queue, '')) AS n
    FROM (SELECT DISTINCT queue FROM jobs) q
)
-- notified is the outer side so that it runs even when the ledger is empty.
SELECT l.name, l.tick_at, l.outcome, l.job_id, n.n AS queues_notified,
       now()::timestamptz AS started_at
FROM notified n
LEFT JOIN ledger l ON true
UNION ALL
SELECT a.name, NULL, 'won', NULL, 0, now()
FROM advanced a;
