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
WITH due AS MATERIALIZED (
    SELECT t.name, t.tick_at, t.kind, t.ticks,
           'cron:' || t.name || ':' || to_char(t.tick_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS key
    FROM (SELECT unnest(@tick_names::text[]) AS name, unnest(@tick_ats::timestamptz[]) AS tick_at,
                 unnest(@tick_kinds::text[]) AS kind, unnest(@tick_counts::int[]) AS ticks) t
    -- Never a tick from the future, whatever the caller's clock said.
    WHERE t.tick_at <= statement_timestamp()
),
decided AS MATERIALIZED (
    SELECT d.name, d.tick_at, d.ticks, d.key,
           existing.id AS existing_id,
           gen_random_uuid() AS new_id,
           CASE
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
),
heads AS (
    -- One row per schedule: UPDATE ... FROM changes a row at most once.
    SELECT s.name, s.prev_tick_at, s.seen_updated_at, s.next_run_at,
           (SELECT max(x.tick_at) FROM decided x WHERE x.name = s.name) AS newest,
           (SELECT coalesce(x.existing_id, x.new_id) FROM decided x
            WHERE x.name = s.name AND x.outcome IN ('enqueued', 'duplicate')
            ORDER BY x.tick_at DESC LIMIT 1) AS newest_job_id
    FROM (SELECT unnest(@sch_names::text[]) AS name,
                 unnest(@sch_prev_tick_ats::timestamptz[]) AS prev_tick_at,
                 unnest(@sch_seen_updated_ats::timestamptz[]) AS seen_updated_at,
                 unnest(@sch_next_run_ats::timestamptz[]) AS next_run_at) s
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
      AND coalesce(j.last_tick_at, '0001-01-01 00:00:00+00'::timestamptz) = h.prev_tick_at
      AND h.newest > coalesce(j.last_tick_at, '-infinity'::timestamptz)
      AND j.updated_at = h.seen_updated_at
      AND NOT j.paused
    RETURNING j.name, j.func, j.queue, j.args, j.kwargs, j.timeout_secs, j.result_ttl,
              j.failure_ttl, j.meta, j.priority, j.max_attempts
),
jobs AS (
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT x.new_id, x.key, w.func, w.queue, 'queued', w.priority,
           jsonb_build_object('args', w.args, 'kwargs', w.kwargs), w.max_attempts,
           w.timeout_secs, x.tick_at, w.meta, w.result_ttl, w.failure_ttl, w.name
    FROM decided x
    JOIN won w ON w.name = x.name
    WHERE x.outcome = 'enqueued'
    ON CONFLICT (key) DO NOTHING
    RETURNING id, queue
),
ledger AS (
    INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id, ticks)
    SELECT x.name, x.tick_at,
           CASE WHEN x.outcome = 'enqueued' AND jobs.id IS NULL THEN 'duplicate' ELSE x.outcome END,
           CASE WHEN jobs.id IS NOT NULL THEN jobs.id
                WHEN x.outcome = 'duplicate' THEN x.existing_id END,
           x.ticks
    FROM decided x
    JOIN won w ON w.name = x.name
    -- No row back from jobs for an 'enqueued' tick: another transaction inserted the key
    -- after our snapshot, and ON CONFLICT kept its row.
    LEFT JOIN jobs ON jobs.id = x.new_id
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
