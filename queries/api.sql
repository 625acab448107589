-- name: UpsertSchedule :one
-- Register: create the schedule, or replace every definition column of an existing one
-- with the same name. What the ticker wrote (last_tick_at, next_run_at, ...) stays, so
-- registering the same definition again (say at every start of an app) changes nothing;
-- the triggers restart the schedule only when its timing changed. (Pause, resume,
-- unschedule and trigger below call the SQL functions of sql/00002_functions.sql, so
-- that psql users and Go share one implementation.)
INSERT INTO werk_cron_jobs AS j
    (name, func, queue, args, kwargs, cron, interval_secs, timezone, timeout_secs,
     result_ttl, failure_ttl, meta, priority, max_attempts, paused, catchup,
     catchup_window_secs, overlap, starts_at, ends_at)
VALUES
    (@name::text, @func::text, @queue::text, @args::jsonb, @kwargs::jsonb,
     sqlc.narg('cron')::text, sqlc.narg('interval_secs')::integer, @timezone::text,
     sqlc.narg('timeout_secs')::integer, sqlc.narg('result_ttl')::integer,
     sqlc.narg('failure_ttl')::integer, sqlc.narg('meta')::jsonb, @priority::smallint,
     @max_attempts::integer, @paused::boolean, @catchup::text,
     sqlc.narg('catchup_window_secs')::integer, @overlap::text,
     sqlc.narg('starts_at')::timestamptz, sqlc.narg('ends_at')::timestamptz)
ON CONFLICT (name) DO UPDATE SET
    func = excluded.func, queue = excluded.queue, args = excluded.args,
    kwargs = excluded.kwargs, cron = excluded.cron, interval_secs = excluded.interval_secs,
    timezone = excluded.timezone, timeout_secs = excluded.timeout_secs,
    result_ttl = excluded.result_ttl, failure_ttl = excluded.failure_ttl,
    meta = excluded.meta, priority = excluded.priority, max_attempts = excluded.max_attempts,
    paused = excluded.paused, catchup = excluded.catchup,
    catchup_window_secs = excluded.catchup_window_secs, overlap = excluded.overlap,
    starts_at = excluded.starts_at, ends_at = excluded.ends_at
RETURNING j.*;

-- name: UnscheduleByName :one
SELECT werk_cron_unschedule(@name::text)::boolean AS deleted;

-- name: PauseByName :one
-- Returns whether the schedule was running (false: it was paused already).
SELECT werk_cron_pause(@name::text)::boolean AS changed;

-- name: ResumeByName :one
-- Returns whether the schedule was paused (false: it was running already).
SELECT werk_cron_resume(@name::text)::boolean AS changed;

-- name: TriggerByName :one
-- Enqueues one job now, keyed cron:<name>:manual:<id>; returns its id.
SELECT werk_cron_trigger(@name::text)::uuid AS job_id;

-- name: ListSchedules :many
SELECT * FROM werk_cron_jobs ORDER BY name;

-- name: GetSchedule :one
SELECT * FROM werk_cron_jobs WHERE name = @name::text;

-- name: CountSchedules :one
SELECT count(*) AS schedules FROM werk_cron_jobs;

-- name: ScheduleExists :one
SELECT EXISTS (SELECT 1 FROM werk_cron_jobs WHERE name = @name::text) AS found;

-- name: ListTicks :many
-- One schedule's ledger, newest first.
SELECT * FROM werk_cron_ticks
WHERE name = @name::text
ORDER BY tick_at DESC
LIMIT @max_rows::integer;

-- name: ListStatus :many
SELECT * FROM werk_cron_status;

-- name: CountSchedulesByState :many
-- For /metrics: schedules per state of werk_cron_status.
SELECT state::text AS state, count(*) AS schedules FROM werk_cron_status GROUP BY state ORDER BY state;

-- name: ListInstances :many
-- Every running ticker of this schema (see werk_cron_list_instances), primary first.
SELECT i.pid::integer AS pid, i.role::text AS role, i.since::timestamptz AS since,
       i.application_name::text AS application_name, host(i.client_addr)::text AS client_addr,
       i.backend_start::timestamptz AS backend_start
FROM werk_cron_list_instances() AS i
ORDER BY 2, 3;

-- name: NewestTick :many
-- The most recent decided tick of any schedule (none on a fresh install), and how late
-- it was decided.
SELECT name, tick_at, outcome, job_id, decided_at, ticks,
       extract(epoch FROM decided_at - tick_at)::float8 AS lag_secs
FROM werk_cron_ticks
ORDER BY tick_at DESC
LIMIT 1;

-- name: GrantTicker :many
-- The least-privilege GRANTs for a ticker role (see werk_cron_grant); apply = false
-- only returns them.
SELECT stmt::text AS stmt FROM werk_cron_grant(@role::text, @apply::boolean) AS stmt;
