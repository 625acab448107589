-- name: EnqueueDueTicks :many
-- The whole tick in one statement, so that the decision and the jobs commit together or
-- not at all. Input: one row per decided tick (tick_*): its job key and the id its job
-- gets (both made by the ticker, so the statement computes neither), whether to enqueue
-- it or record it as missed, and, repeated on each tick of a schedule, what the ticker's
-- decision was based on (the schedule's last_tick_at and updated_at) and what follows
-- from it (the newest decided tick, the next_run_at after it). One tick per schedule is
-- its head (tick_heads): the one whose job, if it gets one, becomes last_job_id (the
-- newest enqueue tick, or with overlap = 'skip' the only one that can be enqueued; the
-- newest tick when none is to be enqueued). The schedule's row is updated from it.
--
-- Compare-and-set first: a tick takes part only if its schedule's row still has the
-- last_tick_at and updated_at the ticker saw, is not paused, and none of the schedule's
-- decided ticks is in the future (whatever the caller's clock said); those rows are
-- locked (FOR UPDATE rechecks the condition on the newest row version if another
-- transaction changed it meanwhile), so the rest of the statement works on ticks that
-- won. A row someone else holds locked (an open psql transaction editing it) is skipped
-- rather than waited for: one stuck session must not hold up every other schedule.
-- The row is locked once per tick, so a lock released between two of them could let
-- some of a schedule's ticks in and not others (a catch-up backlog would then advance
-- last_tick_at past ticks nobody decided): a schedule takes part only if all of its
-- ticks (schedule_ticks) were locked, and is otherwise left for the ticker to retry.
--
-- Duplicates are found by looking, not by ON CONFLICT: a tick whose ledger row or job
-- key is already there gets no second job. The inserts carry no ON CONFLICT (a
-- speculative insertion costs a tenth of the statement): a key or ledger row committed by
-- someone else after this statement's snapshot makes it fail with a unique violation, and
-- the ticker runs it again, when the lookups see it.
--
-- Returns one row (outcome 'won') per schedule whose decision went through, one row per
-- tick whose outcome is not what the ticker asked for ('duplicate', 'skipped_overlap'),
-- and one row (outcome 'notified') with the number of queues notified; the transaction's
-- start (now()) is on every row. A schedule without a 'won' row lost the
-- compare-and-set and must be looked at again.
--
-- Its cost must stay linear in the number of ticks whatever the planner estimates: no
-- two CTEs are ever joined and every join is with a table by an index.
WITH locked AS NOT MATERIALIZED (
    SELECT d.name, d.key, d.tick_at, d.kind, d.ticks, d.head, d.newest, d.next_run_at,
           d.job_id, d.schedule_ticks, j.func, j.queue, j.args, j.kwargs, j.timeout_secs,
           j.result_ttl, j.failure_ttl, j.meta, j.priority, j.max_attempts,
           existing.id AS existing_id,
           -- Decided before (the ledger, not the job row that pgwerk may have deleted, is
           -- what makes a tick happen once): never a second job, and no second row.
           decided_before.name IS NOT NULL AS decided_before,
           CASE
               WHEN decided_before.name IS NOT NULL THEN 'duplicate'
               WHEN d.kind = 'missed' THEN 'missed'
               WHEN existing.id IS NOT NULL THEN 'duplicate'
               -- overlap = 'skip': only the head, which for such a schedule is the oldest
               -- enqueue tick of the batch, and only if no job of the schedule is still
               -- waiting or running. (Should the head turn out a duplicate, the others
               -- of the batch are skipped as well: only a backlog after a restore or a
               -- key taken from outside can do that, and the next tick is free.)
               WHEN j.overlap = 'skip' AND (
                        NOT d.head
                        OR EXISTS (SELECT 1 FROM werk_jobs b
                                   WHERE b.cron_name = d.name
                                     AND b.status IN ('queued', 'scheduled', 'active')))
                   THEN 'skipped_overlap'
               ELSE 'enqueued'
           END AS outcome
    FROM (SELECT unnest(@tick_names::text[]) AS name,
                 unnest(@tick_keys::text[]) AS key,
                 unnest(@tick_ats::timestamptz[]) AS tick_at,
                 unnest(@tick_kinds::text[]) AS kind,
                 unnest(@tick_counts::int[]) AS ticks,
                 unnest(@tick_heads::bool[]) AS head,
                 unnest(@job_ids::uuid[]) AS job_id,
                 unnest(@schedule_ticks::int[]) AS schedule_ticks,
                 unnest(@prev_tick_ats::timestamptz[]) AS prev_tick_at,
                 unnest(@seen_updated_ats::timestamptz[]) AS seen_updated_at,
                 unnest(@newest_tick_ats::timestamptz[]) AS newest,
                 unnest(@next_run_ats::timestamptz[]) AS next_run_at) d
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
    FROM (SELECT l.*, count(*) OVER (PARTITION BY l.name) AS locked_ticks FROM locked l) c
    WHERE c.locked_ticks = c.schedule_ticks
),
advanced AS (
    -- From the head tick only: one row per schedule. The rows are locked (locked), so no
    -- compare-and-set is needed here.
    UPDATE werk_cron_jobs j
    SET last_tick_at = h.newest,
        last_job_id = coalesce(CASE h.outcome WHEN 'enqueued' THEN h.job_id
                                              WHEN 'duplicate' THEN h.existing_id END,
                               j.last_job_id),
        next_run_at = nullif(h.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
        last_error = NULL
    FROM won h
    WHERE h.head AND j.name = h.name
    RETURNING j.name
),
jobs AS (
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT x.job_id, x.key, x.func, x.queue, 'queued', x.priority,
           jsonb_build_object('args', x.args, 'kwargs', x.kwargs), x.max_attempts,
           x.timeout_secs, x.tick_at, x.meta, x.result_ttl, x.failure_ttl, x.name
    FROM won x
    WHERE x.outcome = 'enqueued'
),
ledger AS (
    INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id, ticks)
    SELECT x.name, x.tick_at, x.outcome,
           CASE x.outcome WHEN 'enqueued' THEN x.job_id WHEN 'duplicate' THEN x.existing_id END,
           x.ticks
    FROM won x
    WHERE NOT x.decided_before
),
-- pgwerk's workers listen on werk:<queue>: one notification per queue per statement.
notified AS (
    SELECT count(pg_notify('werk:' || q.queue, '')) AS n
    FROM (SELECT DISTINCT queue FROM won WHERE outcome = 'enqueued') q
)
SELECT 'won'::text AS outcome, a.name::text AS name, NULL::timestamptz AS tick_at,
       NULL::uuid AS job_id, 0::bigint AS queues_notified, now()::timestamptz AS started_at
FROM advanced a
UNION ALL
SELECT x.outcome, x.name, x.tick_at, x.existing_id, 0, now()
FROM won x
WHERE x.outcome <> CASE x.kind WHEN 'missed' THEN 'missed' ELSE 'enqueued' END
UNION ALL
SELECT 'notified', '', NULL, NULL, n.n, now()
FROM notified n;
