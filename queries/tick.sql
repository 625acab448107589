-- name: EnqueueDueTicks :many
-- The whole tick in one statement, so that the decision and the jobs commit together or
-- not at all. Input: for each schedule the ticker decided on, the last_tick_at and the
-- updated_at its decision was based on and the next_run_at after it (sch_*); for each
-- decided tick, whether to enqueue it or record it as missed (tick_*).
--
-- A schedule takes part only if its row still has the last_tick_at and updated_at the
-- ticker saw (compare-and-set): a second ticker, a paused or edited schedule, or a stale
-- decision changes nothing. Returns one row per ledger row written; a schedule with no
-- row lost the compare-and-set and must be reloaded.
--
-- Its cost must stay linear in the number of ticks whatever the planner estimates: the
-- ticker runs it as a prepared statement, whose generic plan guesses 10 rows for each
-- unnest() and 1 row for an UPDATE ... RETURNING, and a nested loop between two CTE
-- scans that the planner believes tiny is quadratic in fact (10,000 ticks took 20 s).
-- So no two CTEs are ever joined: per-schedule values are gathered with GROUP BY over a
-- UNION ALL (heads, ledger), the ticks of the schedules that won travel as arrays
-- through the UPDATE's RETURNING (won_ticks), and every other join is with a table by
-- an index.
WITH due AS MATERIALIZED (
    SELECT t.name, t.tick_at, t.kind, t.ticks,
           'cron:' || t.name || ':' || to_char(t.tick_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS key,
           -- Never a tick from the future, whatever the caller's clock said: a schedule
           -- with one takes no part (see won) and the ticker decides it again.
           t.tick_at > statement_timestamp() AS future
    FROM (SELECT unnest(@tick_names::text[]) AS name, unnest(@tick_ats::timestamptz[]) AS tick_at,
                 unnest(@tick_kinds::text[]) AS kind, unnest(@tick_counts::int[]) AS ticks) t
),
decided AS MATERIALIZED (
    SELECT d.name, d.tick_at, d.ticks, d.key, d.future,
           existing.id AS existing_id,
           gen_random_uuid() AS new_id,
           CASE
               -- Decided before (the ledger, not the job row that pgwerk may have
               -- deleted, is what makes a tick happen once): never a second job.
               WHEN decided_before.name IS NOT NULL THEN 'duplicate'
               WHEN d.kind = 'missed' THEN 'missed'
               WHEN existing.id IS NOT NULL THEN 'duplicate'
               -- overlap = skip: only the oldest enqueue candidate of the batch, and only
               -- if no job of the schedule is still waiting or running.
               WHEN j.overlap = 'skip' AND (
                        row_number() OVER (PARTITION BY d.name, (d.kind = 'enqueue' AND existing.id IS NULL)
                                           ORDER BY d.tick_at) > 1
                        OR EXISTS (SELECT 1 FROM werk_jobs b
                                   WHERE b.cron_name = d.name
                                     AND b.status IN ('queued', 'scheduled', 'active')))
                   THEN 'skipped_overlap'
               ELSE 'enqueued'
           END AS outcome
    FROM due d
    JOIN werk_cron_jobs j ON j.name = d.name
    LEFT JOIN werk_jobs existing ON existing.key = d.key
    LEFT JOIN werk_cron_ticks decided_before ON decided_before.name = d.name AND decided_before.tick_at = d.tick_at
),
heads AS (
    -- One row per schedule (UPDATE ... FROM changes a row at most once): what the
    -- ticker saw (sch_* rows) next to its decided ticks, gathered by name. A schedule
    -- without ticks has no newest and takes no part; ticks without a sch_* row have no
    -- prev_tick_at and fail the compare-and-set.
    SELECT u.name,
           min(u.prev_tick_at) AS prev_tick_at,
           min(u.seen_updated_at) AS seen_updated_at,
           min(u.next_run_at) AS next_run_at,
           max(u.tick_at) AS newest,
           bool_or(u.future) AS has_future,
           -- The job of the newest enqueued or duplicate tick: keys of one schedule
           -- sort by tick (fixed-width UTC), so the greatest key || id carries it.
           right(max((u.key || coalesce(u.existing_id, u.new_id)::text) COLLATE "C")
                     FILTER (WHERE u.outcome IN ('enqueued', 'duplicate')), 36)::uuid AS newest_job_id,
           -- The ticks themselves, in step (same rows, same filter, same order).
           array_agg(u.tick_at) FILTER (WHERE u.tick) AS tick_ats,
           array_agg(u.key) FILTER (WHERE u.tick) AS keys,
           array_agg(u.outcome) FILTER (WHERE u.tick) AS outcomes,
           array_agg(u.new_id) FILTER (WHERE u.tick) AS new_ids,
           array_agg(u.existing_id) FILTER (WHERE u.tick) AS existing_ids,
           array_agg(u.ticks) FILTER (WHERE u.tick) AS tick_counts
    FROM (SELECT x.name, true AS tick, x.tick_at, x.key, x.outcome, x.new_id, x.existing_id, x.ticks,
                 x.future, NULL::timestamptz AS prev_tick_at, NULL::timestamptz AS seen_updated_at,
                 NULL::timestamptz AS next_run_at
          FROM decided x
          UNION ALL
          SELECT unnest(@sch_names::text[]), false, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 unnest(@sch_prev_tick_ats::timestamptz[]), unnest(@sch_seen_updated_ats::timestamptz[]),
                 unnest(@sch_next_run_ats::timestamptz[])) u
    GROUP BY u.name
),
won AS (
    UPDATE werk_cron_jobs j
    SET last_tick_at = h.newest,
        last_job_id = coalesce(h.newest_job_id, j.last_job_id),
        next_run_at = nullif(h.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
        last_error = NULL
    FROM heads h
    WHERE j.name = h.name
      AND h.newest IS NOT NULL
      AND NOT h.has_future
      AND coalesce(j.last_tick_at, '0001-01-01 00:00:00+00'::timestamptz) = h.prev_tick_at
      AND h.newest > coalesce(j.last_tick_at, '-infinity'::timestamptz)
      AND j.updated_at = h.seen_updated_at
      AND NOT j.paused
    RETURNING j.name, j.func, j.queue, j.args, j.kwargs, j.timeout_secs, j.result_ttl,
              j.failure_ttl, j.meta, j.priority, j.max_attempts,
              h.tick_ats, h.keys, h.outcomes, h.new_ids, h.existing_ids, h.tick_counts
),
-- One row per tick of a schedule that won the compare-and-set.
won_ticks AS (
    -- Set-returning functions side by side in a select list run in step.
    SELECT w.name, w.func, w.queue, w.args, w.kwargs, w.timeout_secs, w.result_ttl,
           w.failure_ttl, w.meta, w.priority, w.max_attempts,
           unnest(w.tick_ats) AS tick_at, unnest(w.keys) AS key, unnest(w.outcomes) AS outcome,
           unnest(w.new_ids) AS new_id, unnest(w.existing_ids) AS existing_id,
           unnest(w.tick_counts) AS ticks
    FROM won w
),
jobs AS (
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT x.new_id, x.key, x.func, x.queue, 'queued', x.priority,
           jsonb_build_object('args', x.args, 'kwargs', x.kwargs), x.max_attempts,
           x.timeout_secs, x.tick_at, x.meta, x.result_ttl, x.failure_ttl, x.name
    FROM won_ticks x
    WHERE x.outcome = 'enqueued'
    ON CONFLICT (key) DO NOTHING
    RETURNING id, queue
),
ledger AS (
    -- Each tick next to its job row if the insert made one (grouped by the new job id):
    -- an 'enqueued' tick without one lost its key to another transaction that inserted
    -- it after our snapshot, and ON CONFLICT kept that row.
    INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id, ticks)
    SELECT max(v.name), max(v.tick_at),
           CASE WHEN max(v.outcome) = 'enqueued' AND NOT bool_or(v.inserted) THEN 'duplicate'
                ELSE max(v.outcome) END,
           CASE WHEN bool_or(v.inserted) THEN v.id
                WHEN max(v.outcome) = 'duplicate' THEN max(v.existing_id::text)::uuid END,
           max(v.ticks)
    FROM (SELECT x.new_id AS id, x.name, x.tick_at, x.outcome, x.existing_id, x.ticks, false AS inserted
          FROM won_ticks x
          UNION ALL
          SELECT jobs.id, NULL, NULL, NULL, NULL, NULL, true
          FROM jobs) v
    GROUP BY v.id
    ON CONFLICT (name, tick_at) DO NOTHING
    RETURNING name, tick_at, outcome, job_id
),
-- pgwerk's workers listen on werk:<queue>: one notification per queue per tick batch.
notified AS (
    SELECT count(pg_notify('werk:' || q.queue, '')) AS n
    FROM (SELECT DISTINCT queue FROM jobs) q
)
-- notified is the outer side so that it runs even when the ledger is empty.
SELECT l.name, l.tick_at, l.outcome, l.job_id, n.n AS queues_notified
FROM notified n
LEFT JOIN ledger l ON true;
