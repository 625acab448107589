-- The plan: the ticker reads only the schedules it must look at soon, and writes back
-- when it must look next (werk_cron_state.next_run_at). Each query names the columns a
-- decision needs (and func and queue, for the ticker's allow-list) and no more: a
-- schedule's args, kwargs and meta never enter the ticker (the tick statement copies
-- them from definition to job inside the database). Every query that feeds the ticker
-- returns the same columns, so that their generated row types convert to one.

-- name: ListDueSchedules :many
-- The rows due by @until (the primary's horizon), soonest first, at most @max_rows,
-- leaving out @skip: schedules set aside after a lock or a failed statement, which are
-- retried on their own clock, and, read ahead of a fan-out's statements, the schedules
-- decided already (up to 100,000). The plan is two indexes, read in step by due instant
-- (a merge of two ordered reads, so that the LIMIT stops both early): werk_cron_state's
-- plan_at, and the rounds due (werk_cron_rounds), whose schedules are those still on
-- them (plan_at NULL, round_at and next_run_at the round's instant). @skip is read once
-- into a hash (NOT IN a subquery): as "name <> ALL (@skip)" it was compared element by
-- element with each row a generic plan read, 1 s for 10,000 names. The hash must fit in
-- work_mem (times hash_mem_multiplier): 100,000 names take about 7 MB, which
-- PostgreSQL's defaults hold (4 MB, times 2). With 16 MB of work_mem the planner read
-- both whole tables into a hash join instead of the plan's index (100,000 schedules, all
-- due), a plan that grows with the number of schedules, so the ticker does not raise it.
SELECT x.name, x.func, x.queue, x.cron, x.interval_secs, x.timezone, x.paused, x.catchup, x.catchup_window_secs,
       x.overlap, x.starts_at, x.ends_at, x.changed_at, x.defined_at, x.last_tick_at, x.next_run_at,
       x.pause_after_failures, x.remaining_runs, x.last_job_id, x.last_job_at, x.start_deadline_secs,
       x.max_runtime_secs, x.exclude_calendar, x.updated_at
FROM ((SELECT s.plan_at AS at, j.name, j.func, j.queue, j.cron, j.interval_secs, j.timezone, j.paused, j.catchup,
              j.catchup_window_secs, j.overlap, j.starts_at, j.ends_at, j.changed_at, s.defined_at, s.last_tick_at,
              s.next_run_at, coalesce(j.pause_after_failures, 0)::integer AS pause_after_failures, s.remaining_runs,
              s.last_job_id, s.last_job_at, j.start_deadline_secs, j.max_runtime_secs, j.exclude_calendar, j.updated_at
       FROM werk_cron_state s
       JOIN werk_cron_jobs j ON j.name = s.name
       WHERE s.plan_at IS NOT NULL
         AND s.plan_at <= @until::timestamptz
         AND s.name NOT IN (SELECT pg_catalog.unnest(@skip::text[]))
       ORDER BY s.plan_at)
      UNION ALL
      (SELECT r.due_at, d.name, d.func, d.queue, d.cron, d.interval_secs, d.timezone, d.paused, d.catchup,
              d.catchup_window_secs, d.overlap, d.starts_at, d.ends_at, d.changed_at, d.defined_at, d.last_tick_at,
              d.next_run_at, d.pause_after_failures, d.remaining_runs,
              d.last_job_id, d.last_job_at, d.start_deadline_secs, d.max_runtime_secs, d.exclude_calendar, d.updated_at
       -- The rounds in order first, so that their schedules come out in it, unsorted,
       -- and the LIMIT stops after the rounds it needs (a sort of every schedule of
       -- every round due took 450 ms for 100,000, read ahead five times a fan-out).
       FROM (SELECT r.due_at, r.names FROM werk_cron_rounds r
             WHERE r.due_at <= @until::timestamptz ORDER BY r.due_at) r
       CROSS JOIN LATERAL pg_catalog.unnest(r.names) AS m(name)
       -- Each name looked up by its key (OFFSET 0 keeps the planner from turning this
       -- into a join of its own choosing): right after a fan-out put most schedules on
       -- rounds, the table's statistics still say few have plan_at NULL, and the planner
       -- scanned werk_cron_state once and compared each row it kept with every name of
       -- every round, 218 million comparisons and 49 s for 20,000 schedules.
       CROSS JOIN LATERAL (
           SELECT j.name, j.func, j.queue, j.cron, j.interval_secs, j.timezone, j.paused, j.catchup,
                  j.catchup_window_secs, j.overlap, j.starts_at, j.ends_at, j.changed_at, s.defined_at, s.last_tick_at,
                  s.next_run_at, coalesce(j.pause_after_failures, 0)::integer AS pause_after_failures, s.remaining_runs,
                  s.last_job_id, s.last_job_at, j.start_deadline_secs, j.max_runtime_secs, j.exclude_calendar, j.updated_at
           FROM werk_cron_state s
           JOIN werk_cron_jobs j ON j.name = s.name
           WHERE s.name = m.name AND s.plan_at IS NULL AND s.round_at = r.due_at AND s.next_run_at = r.due_at
           OFFSET 0) d
       WHERE m.name NOT IN (SELECT pg_catalog.unnest(@skip::text[]))
       ORDER BY r.due_at)) x
ORDER BY x.at
LIMIT @max_rows::int;

-- name: NextPlannedAfter :many
-- The soonest instant planned after @after (none: nothing is planned), so that an idle
-- primary sleeps until then instead of reading the plan again: a plan_at, or a round's
-- (one no schedule is on any more wakes the primary for nothing, once).
SELECT x.at::timestamptz AS next_run_at
FROM ((SELECT plan_at AS at FROM werk_cron_state
       WHERE plan_at IS NOT NULL AND plan_at > @after::timestamptz
       ORDER BY plan_at LIMIT 1)
      UNION ALL
      (SELECT due_at FROM werk_cron_rounds WHERE due_at > @after::timestamptz ORDER BY due_at LIMIT 1)) x
ORDER BY x.at
LIMIT 1;

-- name: DropSpentRounds :execrows
-- Deletes the rounds due by @through that no schedule is on any more (each has ticked
-- and moved on, or left for the plan's index), skipping rounds another session has
-- locked. No schedule joins a round once it is written (a later round of the same
-- instant may name it again), so one found empty stays so.
WITH spent AS (
    SELECT r.id
    FROM werk_cron_rounds r
    WHERE r.due_at <= @through::timestamptz
      -- Each name looked up by its key, whatever the statistics say (see ListDueSchedules).
      AND NOT EXISTS (SELECT 1
                      FROM pg_catalog.unnest(r.names) AS m(name)
                      CROSS JOIN LATERAL (
                          SELECT FROM werk_cron_state s
                          WHERE s.name = m.name AND s.plan_at IS NULL AND s.round_at = r.due_at
                            AND s.next_run_at = r.due_at
                          OFFSET 0) s)
    FOR UPDATE OF r SKIP LOCKED
)
DELETE FROM werk_cron_rounds r
USING spent
WHERE r.id = spent.id;

-- name: GetSchedulesForTicker :many
-- The named rows as they are now (after a decision that did not go through).
SELECT j.name, j.func, j.queue, j.cron, j.interval_secs, j.timezone, j.paused, j.catchup, j.catchup_window_secs,
       j.overlap, j.starts_at, j.ends_at, j.changed_at, s.defined_at, s.last_tick_at, s.next_run_at,
       coalesce(j.pause_after_failures, 0)::integer AS pause_after_failures, s.remaining_runs,
       s.last_job_id, s.last_job_at, j.start_deadline_secs, j.max_runtime_secs, j.exclude_calendar, j.updated_at
FROM werk_cron_state s
JOIN werk_cron_jobs j ON j.name = s.name
WHERE s.name = ANY (@names::text[]);

-- name: LockUnplannedAbove :many
-- Schedules awaiting planning whose change is newer than @above (made while the
-- planner's sweep went on), newest first, at most @max_rows, their state rows locked
-- until the planner's transaction commits. A row another session holds is skipped, not
-- waited for.
SELECT j.name, j.func, j.queue, j.cron, j.interval_secs, j.timezone, j.paused, j.catchup, j.catchup_window_secs,
       j.overlap, j.starts_at, j.ends_at, j.changed_at, s.defined_at, s.last_tick_at, s.next_run_at,
       coalesce(j.pause_after_failures, 0)::integer AS pause_after_failures, s.remaining_runs,
       s.last_job_id, s.last_job_at, j.start_deadline_secs, j.max_runtime_secs, j.exclude_calendar, j.updated_at
FROM werk_cron_state s
JOIN werk_cron_jobs j ON j.name = s.name
WHERE s.planned_at IS NULL AND s.defined_at > @above::timestamptz
ORDER BY s.defined_at DESC, s.name DESC
LIMIT @max_rows::int
FOR NO KEY UPDATE OF s SKIP LOCKED;

-- name: LockUnplannedBelow :many
-- The planner's sweep: rows awaiting planning after the cursor (@below_at, @below_name)
-- in the order newest change first, at most @max_rows, locked as above.
SELECT j.name, j.func, j.queue, j.cron, j.interval_secs, j.timezone, j.paused, j.catchup, j.catchup_window_secs,
       j.overlap, j.starts_at, j.ends_at, j.changed_at, s.defined_at, s.last_tick_at, s.next_run_at,
       coalesce(j.pause_after_failures, 0)::integer AS pause_after_failures, s.remaining_runs,
       s.last_job_id, s.last_job_at, j.start_deadline_secs, j.max_runtime_secs, j.exclude_calendar, j.updated_at
FROM werk_cron_state s
JOIN werk_cron_jobs j ON j.name = s.name
WHERE s.planned_at IS NULL AND (s.defined_at, s.name) < (@below_at::timestamptz, @below_name::text)
ORDER BY s.defined_at DESC, s.name DESC
LIMIT @max_rows::int
FOR NO KEY UPDATE OF s SKIP LOCKED;

-- name: LockInError :many
-- A new primary's second look at schedules in error, by name after @after, at most
-- @max_rows, locked as above (see werk_cron_state_in_error_idx).
SELECT j.name, j.func, j.queue, j.cron, j.interval_secs, j.timezone, j.paused, j.catchup, j.catchup_window_secs,
       j.overlap, j.starts_at, j.ends_at, j.changed_at, s.defined_at, s.last_tick_at, s.next_run_at,
       coalesce(j.pause_after_failures, 0)::integer AS pause_after_failures, s.remaining_runs,
       s.last_job_id, s.last_job_at, j.start_deadline_secs, j.max_runtime_secs, j.exclude_calendar, j.updated_at
FROM werk_cron_state s
JOIN werk_cron_jobs j ON j.name = s.name
WHERE s.last_error IS NOT NULL AND s.name > @after::text
ORDER BY s.name
LIMIT @max_rows::int
FOR NO KEY UPDATE OF s SKIP LOCKED;

-- name: SavePlans :exec
-- The planner's results for rows it holds locked (LockUnplanned, same transaction): the
-- year-1 sentinel and '' stand for NULL (the arrays carry no NULL elements).
UPDATE werk_cron_state j
SET next_run_at = nullif(p.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
    plan_at = nullif(p.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
    round_at = NULL,
    last_error = nullif(p.last_error, ''),
    planned_at = now()
FROM (SELECT pg_catalog.unnest(@names::text[]) AS name,
             pg_catalog.unnest(@next_run_ats::timestamptz[]) AS next_run_at,
             pg_catalog.unnest(@last_errors::text[]) AS last_error) p
WHERE j.name = p.name;

-- name: AnyUnplanned :one
-- Whether rows still await planning after a sweep (rows others held, skipped): through
-- the planner's index, never a scan of the table.
SELECT EXISTS (SELECT 1 FROM werk_cron_state WHERE planned_at IS NULL
               ORDER BY defined_at DESC, name DESC LIMIT 1) AS pending;

-- name: SaveScheduleState :exec
-- next_run_at and last_error of schedules the ticker decided outside the tick statement
-- (a refused enqueue, a plan gone stale), in one round trip. Only rows still at the
-- definition the ticker saw (defined_at), still planned (an edit of the calendar they
-- skip makes them unplanned) and not held by another session are written: the planner
-- plans the row afresh anyway, and a locked row is tried again later. A changed
-- last_error changes the schedule's health: the ticker looks at it next.
WITH target AS (
    SELECT j.name
    FROM werk_cron_state j
    JOIN (SELECT pg_catalog.unnest(@names::text[]) AS name, pg_catalog.unnest(@seen_defined_ats::timestamptz[]) AS seen) s
      ON s.name = j.name AND s.seen = j.defined_at
    WHERE j.planned_at IS NOT NULL
    FOR NO KEY UPDATE OF j SKIP LOCKED
)
UPDATE werk_cron_state j
SET next_run_at = nullif(s.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
    plan_at = nullif(s.next_run_at, '0001-01-01 00:00:00+00'::timestamptz),
    round_at = NULL,
    last_error = nullif(s.last_error, ''),
    health_check_at = CASE WHEN j.last_error IS DISTINCT FROM nullif(s.last_error, '') THEN now()
                           ELSE j.health_check_at END
FROM (SELECT pg_catalog.unnest(@names::text[]) AS name,
             pg_catalog.unnest(@next_run_ats::timestamptz[]) AS next_run_at,
             pg_catalog.unnest(@last_errors::text[]) AS last_error) s,
     target t
WHERE j.name = s.name AND t.name = s.name;

-- name: PruneTicks :execrows
-- At most @max_rows ledger rows older than @before; rows another session holds (pgwerk
-- deleting a job, whose trigger records its outcome) are left for the next round. Safe:
-- last_tick_at only moves forward (a trigger keeps it so), so a pruned tick is never
-- decided again.
DELETE FROM werk_cron_ledger t
USING (SELECT name, tick_at FROM werk_cron_ledger
       WHERE tick_at < @before::timestamptz
       ORDER BY tick_at
       LIMIT @max_rows::int
       FOR UPDATE SKIP LOCKED) old
WHERE t.name = old.name AND t.tick_at = old.tick_at;

-- name: RecordHoldups :exec
-- Schedules set aside for a while because another session holds their row or a job
-- key (see werk_cron_holdups); since is when the ticker first had to.
INSERT INTO werk_cron_holdups (name, since, reason)
SELECT pg_catalog.unnest(@names::text[]), pg_catalog.unnest(@sinces::timestamptz[]), pg_catalog.unnest(@reasons::text[])
ON CONFLICT (name) DO UPDATE SET reason = excluded.reason;

-- name: ClearHoldups :exec
-- Schedules that tick again (or are gone).
DELETE FROM werk_cron_holdups WHERE name = ANY (@names::text[]);

-- name: ClearAllHoldups :exec
-- A new primary starts from what it sees itself.
DELETE FROM werk_cron_holdups;

-- name: FailureStreaks :many
-- The failed runs in a row, since it last started afresh, of each named schedule that
-- pauses after failures: read when they are due, since failures come in at any time.
SELECT j.name, werk_cron_failure_streak(j.name, j.pause_after_failures,
                                        werk_cron_afresh_since(j.changed_at, j.interval_secs IS NOT NULL))::integer AS failures
FROM werk_cron_jobs j
WHERE j.name = ANY (@names::text[]) AND j.pause_after_failures IS NOT NULL;

-- name: BoundPlanningStatements :exec
-- The planner's transaction: each statement may run at most @timeout (a statement_timeout
-- local to the transaction). A look through the planner's index can meet the dead
-- entries of rows planned a moment ago (until vacuum removes them); bounded, such a look
-- gives way to the ticks due meanwhile, and the next look goes faster (the scan marks the
-- entries it found dead).
SELECT set_config('statement_timeout', @timeout::text, true);
