-- name: UpsertSchedule :one
-- Register: create the schedule or replace its definition, through the same SQL function
-- psql users call (sql/functions/werk_cron_schedule.sql). NULL arguments take the
-- column defaults; keep_state keeps an existing schedule's paused and remaining_runs.
SELECT s.* FROM werk_cron_schedule(
    name => @name::text, func => @func::text, schedule => @schedule::text,
    queue => sqlc.narg('queue')::text, args => sqlc.narg('args')::jsonb,
    kwargs => sqlc.narg('kwargs')::jsonb, timezone => sqlc.narg('timezone')::text,
    timeout_secs => sqlc.narg('timeout_secs')::integer, result_ttl => sqlc.narg('result_ttl')::integer,
    failure_ttl => sqlc.narg('failure_ttl')::integer, meta => sqlc.narg('meta')::jsonb,
    priority => sqlc.narg('priority')::integer, max_attempts => sqlc.narg('max_attempts')::integer,
    paused => sqlc.narg('paused')::boolean, catchup => sqlc.narg('catchup')::text,
    catchup_window_secs => sqlc.narg('catchup_window_secs')::integer, overlap => sqlc.narg('overlap')::text,
    starts_at => sqlc.narg('starts_at')::timestamptz, ends_at => sqlc.narg('ends_at')::timestamptz,
    jitter_secs => sqlc.narg('jitter_secs')::integer, remaining_runs => sqlc.narg('remaining_runs')::integer,
    pause_after_failures => sqlc.narg('pause_after_failures')::integer,
    start_deadline_secs => sqlc.narg('start_deadline_secs')::integer,
    max_runtime_secs => sqlc.narg('max_runtime_secs')::integer,
    exclude_calendar => sqlc.narg('exclude_calendar')::text,
    keep_state => @keep_state::boolean, labels => sqlc.narg('labels')::jsonb) AS s;

-- name: AlterSchedule :one
-- Update: change only what is given (werk_cron_alter); clear lists columns that go back
-- to their default.
SELECT s.* FROM werk_cron_alter(
    name => @name::text, func => sqlc.narg('func')::text, schedule => sqlc.narg('schedule')::text,
    queue => sqlc.narg('queue')::text, args => sqlc.narg('args')::jsonb,
    kwargs => sqlc.narg('kwargs')::jsonb, timezone => sqlc.narg('timezone')::text,
    timeout_secs => sqlc.narg('timeout_secs')::integer, result_ttl => sqlc.narg('result_ttl')::integer,
    failure_ttl => sqlc.narg('failure_ttl')::integer, meta => sqlc.narg('meta')::jsonb,
    priority => sqlc.narg('priority')::integer, max_attempts => sqlc.narg('max_attempts')::integer,
    paused => sqlc.narg('paused')::boolean, catchup => sqlc.narg('catchup')::text,
    catchup_window_secs => sqlc.narg('catchup_window_secs')::integer, overlap => sqlc.narg('overlap')::text,
    starts_at => sqlc.narg('starts_at')::timestamptz, ends_at => sqlc.narg('ends_at')::timestamptz,
    jitter_secs => sqlc.narg('jitter_secs')::integer, remaining_runs => sqlc.narg('remaining_runs')::integer,
    pause_after_failures => sqlc.narg('pause_after_failures')::integer,
    start_deadline_secs => sqlc.narg('start_deadline_secs')::integer,
    max_runtime_secs => sqlc.narg('max_runtime_secs')::integer,
    exclude_calendar => sqlc.narg('exclude_calendar')::text,
    clear => @clear::text[], labels => sqlc.narg('labels')::jsonb) AS s;

-- name: UnscheduleByName :one
SELECT werk_cron_unschedule(@name::text)::boolean AS deleted;

-- name: PauseByName :one
-- Returns whether the schedule was running (false: it was paused already); reason ''
-- stands for none.
SELECT werk_cron_pause(@name::text, nullif(@reason::text, ''))::boolean AS changed;

-- name: ResumeByName :one
-- Returns whether the schedule was paused (false: it was running already).
SELECT werk_cron_resume(@name::text)::boolean AS changed;

-- name: TriggerByName :one
-- Enqueues one job now, keyed cron:<name>:manual:<id>; returns its id.
SELECT werk_cron_trigger(@name::text)::uuid AS job_id;

-- name: ListSchedules :many
-- Every schedule's definition, with what the ticker keeps of it (werk_cron_state).
SELECT sqlc.embed(j), s.next_run_at, s.planned_at, s.last_tick_at, s.last_error, s.last_job_id,
       s.remaining_runs AS runs_left
FROM werk_cron_jobs j
JOIN werk_cron_state s ON s.name = j.name
ORDER BY j.name;

-- name: GetSchedule :one
SELECT sqlc.embed(j), s.next_run_at, s.planned_at, s.last_tick_at, s.last_error, s.last_job_id,
       s.remaining_runs AS runs_left
FROM werk_cron_jobs j
JOIN werk_cron_state s ON s.name = j.name
WHERE j.name = @name::text;

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

-- name: ListStatusByLabels :many
-- werk_cron_status of the schedules that carry every label of labels (a JSON object).
SELECT * FROM werk_cron_status WHERE labels @> @labels::jsonb;

-- name: CountSchedulesByState :many
-- For /metrics: schedules per state of werk_cron_status, and of them how many have a
-- last run that failed.
SELECT state::text AS state, count(*) AS schedules,
       count(*) FILTER (WHERE last_run_status = 'failed') AS last_run_failed
FROM werk_cron_status GROUP BY state ORDER BY state;

-- name: ListInstances :many
-- Every running ticker of this schema (see werk_cron_list_instances), primary first,
-- with what pg_stat_activity says of its session: columns of other roles' sessions
-- that it hides are NULL (and a Unix socket has no client address), and read straight
-- from it, so that they are scanned as nullable. A primary's application_name still
-- carries its " leader@<unix time>" stamp.
SELECT i.pid::integer AS pid, i.role::text AS role, a.application_name, a.client_addr,
       a.backend_start, a.usename
FROM werk_cron_list_instances() AS i
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = i.pid
ORDER BY 2, a.backend_start;

-- name: NewestTick :many
-- The most recent decided tick of any schedule that made a job or a ledger row (none on
-- a fresh install), and how late it was decided: the newest in the ledger, or a
-- schedule's newest enqueued tick, which stays in werk_cron_state until its job's
-- outcome writes its ledger row (the werk_cron_ticks view shows both). The second part
-- reads werk_cron_state whole (no index serves it, and one would cost every tick's
-- write); this is an operator's query, not the ticker's. Through the view alone, so
-- that a role that may read the view may run it.
SELECT name, tick_at, outcome, job_id, decided_at, ticks,
       extract(epoch FROM decided_at - tick_at)::float8 AS lag_secs
FROM werk_cron_ticks
ORDER BY tick_at DESC
LIMIT 1;

-- name: GrantApp :many
-- The GRANTs for an application role (see werk_cron_grant_app); apply = false only
-- returns them.
SELECT stmt::text AS stmt FROM werk_cron_grant_app(@role::text, @apply::boolean) AS stmt;

-- name: GrantTicker :many
-- The least-privilege GRANTs for a ticker role (see werk_cron_grant); apply = false
-- only returns them.
SELECT stmt::text AS stmt FROM werk_cron_grant(@role::text, @apply::boolean) AS stmt;


-- name: JobOutcomeCounts :one
-- Job outcomes recorded so far (the counters CountOutcomes and werk_cron_record_outcome
-- advance), for werkcron_job_outcomes_total.
SELECT coalesce(pg_catalog.pg_sequence_last_value('werk_cron_outcomes_complete'::regclass), 0)::bigint AS complete,
       coalesce(pg_catalog.pg_sequence_last_value('werk_cron_outcomes_failed'::regclass), 0)::bigint AS failed,
       coalesce(pg_catalog.pg_sequence_last_value('werk_cron_outcomes_aborted'::regclass), 0)::bigint AS aborted,
       coalesce(pg_catalog.pg_sequence_last_value('werk_cron_outcomes_expired'::regclass), 0)::bigint AS expired;

-- name: RequestBackfill :one
-- Asks the primary ticker to backfill (see werk_cron_backfill); returns the request's id.
SELECT werk_cron_backfill(@name::text, @from_at::timestamptz, @to_at::timestamptz)::bigint AS id;

-- name: GetBackfill :one
SELECT * FROM werk_cron_backfills
WHERE id = @id::bigint;

-- name: CountSchedulesByHealth :many
-- For /metrics: schedules per health, as werk_cron_status shows it (no row: ok), without
-- the view's per-schedule subqueries.
SELECT coalesce(h.health, 'ok')::text AS health, count(*) AS schedules
FROM werk_cron_jobs j
LEFT JOIN werk_cron_health h ON h.name = j.name
GROUP BY 1 ORDER BY 1;

-- name: ListUnhealthy :many
-- The schedules that did not do their job: failing, late or overdue (what `werkcron
-- status --check` lists), through the index of schedules whose health is not ok.
SELECT * FROM werk_cron_status
WHERE name IN (SELECT h.name FROM werk_cron_health h
               WHERE h.health IN ('failing', 'late', 'overdue'))
ORDER BY name;

-- name: AddCalendarDays :execrows
-- Adds days to a calendar (or sets their note, '' for none); a day already there with the
-- same note is left alone, so that adding it again plans nothing again. Returns how many
-- rows changed.
INSERT INTO werk_cron_calendars AS k (calendar, day, note)
SELECT @calendar::text, d.day::date, nullif(d.note, '')
FROM ROWS FROM (pg_catalog.unnest(@days::text[]), pg_catalog.unnest(@notes::text[])) AS d(day, note)
ON CONFLICT (calendar, day) DO UPDATE SET note = excluded.note
WHERE k.note IS DISTINCT FROM excluded.note;

-- name: RemoveCalendarDays :execrows
-- Removes days from a calendar; returns how many there were.
DELETE FROM werk_cron_calendars
WHERE calendar = @calendar::text AND day = ANY ((@days::text[])::date[]);

-- name: RemoveCalendar :execrows
-- Removes every day of a calendar; returns how many there were.
DELETE FROM werk_cron_calendars WHERE calendar = @calendar::text;

-- name: ListCalendarDays :many
-- One calendar's days, in order.
SELECT day::text AS day, coalesce(note, '')::text AS note
FROM werk_cron_calendars
WHERE calendar = @calendar::text
ORDER BY day;

-- name: ListCalendars :many
-- Every calendar with days or with schedules that skip its days: how many days, the first
-- and last, and how many schedules use it.
SELECT c.calendar::text AS calendar,
       (SELECT count(*) FROM werk_cron_calendars k WHERE k.calendar = c.calendar)::integer AS days,
       coalesce((SELECT min(k.day) FROM werk_cron_calendars k WHERE k.calendar = c.calendar)::text, '')::text AS first_day,
       coalesce((SELECT max(k.day) FROM werk_cron_calendars k WHERE k.calendar = c.calendar)::text, '')::text AS last_day,
       (SELECT count(*) FROM werk_cron_jobs j WHERE j.exclude_calendar = c.calendar)::integer AS schedules
FROM (SELECT DISTINCT calendar FROM werk_cron_calendars
      UNION
      SELECT DISTINCT exclude_calendar FROM werk_cron_jobs WHERE exclude_calendar IS NOT NULL) c
ORDER BY 1;

-- name: GetStatus :one
-- One schedule's row of werk_cron_status.
SELECT * FROM werk_cron_status WHERE name = @name::text;
