-- name: EnqueueDueTicks :many
-- The whole tick in one statement, so that the decision and the jobs commit together or
-- not at all. Input: one row per decided tick (tick_*): its job key and the id its job
-- gets (both made by the ticker), whether to enqueue it or record it as missed, and,
-- repeated on each tick of a schedule, what the ticker's decision was based on (the
-- schedule's last_tick_at and updated_at) and what follows from it (the newest decided
-- tick, the next_run_at after it). One tick per schedule is its head (tick_heads): the
-- one whose job, if it gets one, becomes last_job_id (the newest enqueue tick, or with
-- overlap 'skip' or 'buffer_one' the only one that can be enqueued; the newest tick when
-- none is to be enqueued). The schedule's row is updated from it.
--
-- Compare-and-set first: a tick takes part only if its schedule's row still has the
-- last_tick_at and updated_at the ticker saw, is not paused, and none of the schedule's
-- decided ticks is in the future (whatever the caller's clock said); those rows are
-- locked (FOR UPDATE rechecks the condition on the newest row version if another
-- transaction changed it meanwhile). A row someone else holds locked (an open psql
-- transaction editing it) is skipped rather than waited for: one stuck session must not
-- hold up every other schedule. The row is locked once per tick, so a schedule takes part
-- only if all of its ticks (schedule_ticks) were locked, and is otherwise left for the
-- ticker to retry.
--
-- The jobs go in with INSERT ... ON CONFLICT (key) DO NOTHING, and the ledger follows
-- from what went in (RETURNING): a tick whose key a job holds that werkcron did not make
-- for it records 'foreign' naming that job (or, when that job committed after this
-- statement's snapshot, with job_id left for the ticker to fill in), and that job's
-- outcome never counts as the schedule's. The ledger, not the job key, is what makes a
-- tick happen once (pgwerk deletes finished jobs): a tick with a ledger row is never
-- enqueued again. A key another transaction holds uncommitted makes this statement wait
-- (at most the session's lock_timeout; the ticker then isolates that schedule).
--
-- Returns one row (outcome 'won', with the schedule's remaining_runs after it, -1 for no
-- limit) per schedule whose decision went through, one row per tick whose outcome is
-- not what the ticker asked for ('duplicate' for a tick decided before, 'skipped_overlap',
-- and 'foreign' for a key held by a job werkcron did not make for it; job_id NULL when
-- that job committed after the snapshot), and one row (outcome 'notified') with the
-- number of queues notified; the transaction's start (now()) is on every row. A schedule
-- without a 'won' row lost the compare-and-set and must be looked at again.
--
-- Its cost must stay linear in the number of ticks whatever the planner estimates: every
-- join is with a table by an index, or a hashed subplan over a CTE (x IN (SELECT ...)).
WITH locked AS NOT MATERIALIZED (
    SELECT d.name, d.key, d.tick_at, d.kind, d.ticks, d.head, d.newest, d.next_run_at,
           d.job_id, d.schedule_ticks, j.func, j.queue, j.args, j.kwargs, j.timeout_secs,
           j.result_ttl, j.failure_ttl, j.meta, j.priority, j.max_attempts, j.overlap,
           j.remaining_runs,
           -- jitter_secs: the job runs at its tick plus an offset that the key decides
           -- (werk_cron_jitter); the key and the ledger keep the tick.
           CASE WHEN j.jitter_secs > 0 THEN d.tick_at + werk_cron_jitter(d.key, j.jitter_secs)
                ELSE d.tick_at END AS run_at,
           existing.id AS existing_id,
           -- A key held by a job werkcron did not make for this tick (its ledger has no
           -- row for it), whatever that job's cron_name and function say: the tick
           -- cannot have a job of its own, that job's outcome is never the schedule's,
           -- and the ticker reports it on the schedule.
           existing.id IS NOT NULL AS foreign_key,
           -- Decided before (the ledger, not the job row that pgwerk may have deleted, is
           -- what makes a tick happen once): never a second job, and no second row.
           decided_before.name IS NOT NULL AS decided_before,
           CASE
               WHEN decided_before.name IS NOT NULL THEN 'duplicate'
               WHEN d.kind = 'missed' THEN 'missed'
               WHEN existing.id IS NOT NULL THEN 'duplicate'
               -- overlap = 'skip': only the head, which for such a schedule is the oldest
               -- enqueue tick of the batch, and only if no job of the schedule is still
               -- waiting or running; 'buffer_one' likewise, but only if none is waiting
               -- (one may run: pgwerk runs them one at a time, by their group_key).
               WHEN j.overlap IN ('skip', 'buffer_one') AND (
                        NOT d.head
                        OR EXISTS (SELECT 1 FROM werk_jobs b
                                   WHERE b.cron_name = d.name
                                     AND b.status IN ('queued', 'scheduled', 'active')
                                     AND (j.overlap = 'skip' OR b.status <> 'active')))
                   THEN 'skipped_overlap'
               ELSE 'enqueue'
           END AS intent
    FROM (SELECT pg_catalog.unnest(@tick_names::text[]) AS name,
                 pg_catalog.unnest(@tick_keys::text[]) AS key,
                 pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
                 pg_catalog.unnest(@tick_kinds::text[]) AS kind,
                 pg_catalog.unnest(@tick_counts::int[]) AS ticks,
                 pg_catalog.unnest(@tick_heads::bool[]) AS head,
                 pg_catalog.unnest(@job_ids::uuid[]) AS job_id,
                 pg_catalog.unnest(@schedule_ticks::int[]) AS schedule_ticks,
                 pg_catalog.unnest(@prev_tick_ats::timestamptz[]) AS prev_tick_at,
                 pg_catalog.unnest(@seen_updated_ats::timestamptz[]) AS seen_updated_at,
                 pg_catalog.unnest(@newest_tick_ats::timestamptz[]) AS newest,
                 pg_catalog.unnest(@next_run_ats::timestamptz[]) AS next_run_at) d
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
    LEFT JOIN werk_cron_ticks decided_before ON decided_before.name = d.name AND decided_before.tick_at = d.tick_at
    FOR UPDATE OF j SKIP LOCKED
),
won AS MATERIALIZED (
    -- Only schedules all of whose ticks were locked. The window also reads all of a
    -- schedule's ticks, taking the row lock for each, before won yields any of them, so
    -- advanced never updates a row while some of its schedule's ticks still wait to be
    -- locked: FOR UPDATE skips a row the same command has updated, and would drop them.
    SELECT c.*
    FROM (SELECT l.*, count(*) OVER (PARTITION BY l.name) AS locked_ticks,
                 -- Runs the decision spends (remaining_runs counts them down).
                 count(*) FILTER (WHERE l.intent = 'enqueue') OVER (PARTITION BY l.name) AS enqueues
          FROM locked l) c
    WHERE c.locked_ticks = c.schedule_ticks
),
jobs AS (
    -- A job not due yet (jitter) is 'scheduled', pgwerk's status for that; a schedule
    -- with overlap buffer_one or buffer_all puts its jobs in one pgwerk concurrency group
    -- (group_key), which pgwerk runs one at a time.
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, group_key, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT x.job_id, x.key, x.func, x.queue,
           CASE WHEN x.run_at > now() THEN 'scheduled' ELSE 'queued' END, x.priority,
           CASE WHEN x.overlap IN ('buffer_one', 'buffer_all') THEN 'cron:' || x.name END,
           pg_catalog.jsonb_build_object('args', x.args, 'kwargs', x.kwargs), x.max_attempts,
           x.timeout_secs, x.run_at, x.meta, x.result_ttl, x.failure_ttl, x.name
    FROM won x
    WHERE x.intent = 'enqueue'
    ON CONFLICT (key) DO NOTHING
    RETURNING id
),
ledger AS (
    INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id, ticks)
    SELECT x.name, x.tick_at,
           CASE WHEN x.intent = 'duplicate' AND x.foreign_key THEN 'foreign'
                WHEN x.intent <> 'enqueue' THEN x.intent
                WHEN x.job_id IN (SELECT id FROM jobs) THEN 'enqueued'
                ELSE 'foreign' END,
           CASE WHEN x.intent = 'duplicate' THEN x.existing_id
                WHEN x.intent = 'enqueue' AND x.job_id IN (SELECT id FROM jobs) THEN x.job_id END,
           x.ticks
    FROM won x
    WHERE NOT x.decided_before
),
-- Ticks meant to be enqueued whose key another transaction took after this statement's
-- snapshot (ON CONFLICT skipped them): they spend no run, and are 'foreign' like any key
-- taken by a job werkcron did not make for the tick. Nearly always empty.
raced AS (
    SELECT x.name FROM won x
    WHERE x.intent = 'enqueue' AND x.job_id NOT IN (SELECT id FROM jobs)
),
advanced AS (
    -- From the head tick only: one row per schedule. The rows are locked (locked), so no
    -- compare-and-set is needed here.
    UPDATE werk_cron_jobs j
    SET last_tick_at = h.newest,
        last_job_id = coalesce(CASE WHEN h.intent = 'enqueue' AND h.job_id IN (SELECT id FROM jobs) THEN h.job_id END,
                               j.last_job_id),
        -- remaining_runs counts down by the runs spent; at 0 nothing is planned: ended.
        remaining_runs = CASE WHEN j.remaining_runs IS NOT NULL THEN greatest(j.remaining_runs - h.spent, 0) END,
        next_run_at = CASE WHEN j.remaining_runs IS NOT NULL AND j.remaining_runs - h.spent <= 0 THEN NULL
                           ELSE nullif(h.next_run_at, '0001-01-01 00:00:00+00'::timestamptz) END,
        last_error = NULL
    FROM (SELECT w.*, w.enqueues - CASE WHEN w.name IN (SELECT name FROM raced)
                                        THEN (SELECT pg_catalog.count(*) FROM raced r WHERE r.name = w.name)
                                        ELSE 0 END AS spent
          FROM won w WHERE w.head) h
    WHERE j.name = h.name
    RETURNING j.name, j.remaining_runs
),
-- pgwerk's workers listen on werk:<queue>: one notification per queue per statement.
notified AS (
    SELECT pg_catalog.count(pg_catalog.pg_notify('werk:' || q.queue, '')) AS n
    FROM (SELECT DISTINCT queue FROM won WHERE intent = 'enqueue') q
)
SELECT 'won'::text AS outcome, a.name::text AS name, NULL::timestamptz AS tick_at,
       NULL::uuid AS job_id, 0::bigint AS queues_notified, now()::timestamptz AS started_at,
       coalesce(a.remaining_runs, -1)::integer AS remaining_runs
FROM advanced a
UNION ALL
-- Ticks that did not go as asked: decided before ('duplicate'), a key taken
-- ('foreign'), or skipped for overlap.
SELECT CASE WHEN x.foreign_key AND NOT x.decided_before THEN 'foreign'
            WHEN x.intent = 'enqueue' THEN 'foreign'
            ELSE x.intent END,
       x.name, x.tick_at, x.existing_id, 0, now(), -1
FROM won x
WHERE (x.intent = 'enqueue' AND x.job_id NOT IN (SELECT id FROM jobs))
   OR (x.intent <> 'enqueue' AND x.intent <> CASE x.kind WHEN 'missed' THEN 'missed' ELSE 'enqueue' END)
UNION ALL
SELECT 'notified', '', NULL, NULL, n.n, now(), -1
FROM notified n;

-- name: FillRacedForeign :exec
-- A tick whose key another transaction took after the tick statement's snapshot was
-- recorded 'foreign' without that job's id, which this (later) statement can see.
UPDATE werk_cron_ticks t
SET job_id = j.id
FROM (SELECT pg_catalog.unnest(@names::text[]) AS name, pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
             pg_catalog.unnest(@keys::text[]) AS key) r
JOIN werk_jobs j ON j.key = r.key
WHERE t.name = r.name AND t.tick_at = r.tick_at AND t.job_id IS NULL AND t.outcome = 'foreign';

-- name: TablesLockedByOthers :one
-- Whether another session holds, or waits for, a lock on one of the tables a tick writes
-- that keeps the tick out (DDL, LOCK TABLE, CREATE INDEX): what a lock timeout of the
-- tick statement waited on, when its message does not say (it is translated with
-- lc_messages). A DDL still waiting (behind a worker's open transaction, say) counts:
-- the tick queued behind it. A prepared transaction's locks have no pid. Reads only
-- pg_locks, so it waits on nothing.
SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks
    WHERE locktype = 'relation' AND pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
      AND relation IN ('werk_jobs'::regclass, 'werk_cron_jobs'::regclass, 'werk_cron_ticks'::regclass)
      AND mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
) AS locked;
