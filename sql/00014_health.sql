-- Know when a schedule did not do its job: start deadlines, run-time limits, one word of
-- health per schedule (announced with NOTIFY werk_cron_health when it changes), and
-- holiday calendars.
--
-- - werk_cron_jobs gets start_deadline_secs (a tick's job gets pgwerk's expires_at, so
--   that pgwerk's workers never start it later), max_runtime_secs (a run active longer
--   makes the schedule overdue) and exclude_calendar (a tick on a day that calendar
--   lists gets no job).
-- - werk_cron_calendars holds the calendars' days.
-- - The ledger records ticks 'excluded' by a calendar, and jobs that 'expired' unstarted.
-- - werk_cron_health keeps each schedule's health and since when, written where the facts
--   it follows are recorded (planning, outcomes, hold-ups, a look at the instant a
--   deadline or run time passes), never by a scan of every schedule;
--   werk_cron_state.health_check_at is that instant, the ticker's to keep.

-- +goose Up

ALTER TABLE werk_cron_jobs
    ADD COLUMN start_deadline_secs integer,
    ADD COLUMN max_runtime_secs integer,
    ADD COLUMN exclude_calendar text,
    ADD CONSTRAINT werk_cron_jobs_start_deadline_secs_must_be_positive CHECK (start_deadline_secs > 0),
    ADD CONSTRAINT werk_cron_jobs_max_runtime_secs_must_be_positive CHECK (max_runtime_secs > 0),
    -- A job due after its deadline would never start: its jitter must end before it.
    ADD CONSTRAINT werk_cron_jobs_jitter_secs_must_be_less_than_start_deadline_secs
        CHECK (jitter_secs < start_deadline_secs),
    ADD CONSTRAINT werk_cron_jobs_exclude_calendar_must_not_be_blank CHECK (pg_catalog.btrim(exclude_calendar) <> ''),
    ADD CONSTRAINT werk_cron_jobs_exclude_calendar_must_be_at_most_200_bytes
        CHECK (pg_catalog.octet_length(exclude_calendar) <= 200);
COMMENT ON COLUMN werk_cron_jobs.start_deadline_secs IS
    'a tick''s job not started within this many seconds of its tick never starts: it gets pgwerk''s expires_at, and its run is recorded expired. NULL: no deadline';
COMMENT ON COLUMN werk_cron_jobs.max_runtime_secs IS
    'a run still active this many seconds after it started makes the schedule''s health overdue. NULL: no limit';
COMMENT ON COLUMN werk_cron_jobs.exclude_calendar IS
    'a tick whose local date (in timezone) is a day of this calendar (werk_cron_calendars) gets no job and is recorded excluded. NULL: none';
-- Editing a calendar plans again the schedules that use it.
CREATE INDEX werk_cron_jobs_exclude_calendar_idx ON werk_cron_jobs (exclude_calendar)
    WHERE exclude_calendar IS NOT NULL;

CREATE TABLE werk_cron_calendars (
    calendar text NOT NULL,
    day      date NOT NULL,
    note     text,
    PRIMARY KEY (calendar, day),
    CONSTRAINT werk_cron_calendars_calendar_must_not_be_blank CHECK (pg_catalog.btrim(calendar) <> ''),
    CONSTRAINT werk_cron_calendars_calendar_must_be_at_most_200_bytes CHECK (pg_catalog.octet_length(calendar) <= 200),
    CONSTRAINT werk_cron_calendars_day_must_be_finite CHECK (pg_catalog.isfinite(day)),
    CONSTRAINT werk_cron_calendars_note_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(note) <= 1024)
);
COMMENT ON TABLE werk_cron_calendars IS
    'days on which the schedules whose exclude_calendar names the calendar enqueue nothing (holidays); a change plans those schedules again';

ALTER TABLE werk_cron_ledger
    DROP CONSTRAINT werk_cron_ledger_outcome_is_known,
    ADD CONSTRAINT werk_cron_ledger_outcome_is_known
        CHECK (outcome IN ('enqueued', 'duplicate', 'foreign', 'skipped_overlap', 'missed', 'triggered', 'backfilled',
                           'excluded')),
    DROP CONSTRAINT werk_cron_ledger_job_status_is_final,
    ADD CONSTRAINT werk_cron_ledger_job_status_is_final
        CHECK (job_status IN ('complete', 'failed', 'aborted', 'unknown', 'expired'));
COMMENT ON COLUMN werk_cron_ledger.job_status IS
    'the outcome of the tick''s job: complete, failed or aborted; expired when it was not started by its expires_at (start_deadline_secs); unknown if the job''s row vanished unrecorded; NULL while it waits or runs, before it is recorded, or for ticks without a job';

-- Jobs that expired unstarted, for werkcron_job_outcomes_total (see the other counters).
CREATE SEQUENCE werk_cron_outcomes_expired;

ALTER TABLE werk_cron_health
    DROP CONSTRAINT werk_cron_health_last_run_status_is_final,
    ADD CONSTRAINT werk_cron_health_last_run_status_is_final
        CHECK (last_run_status IN ('complete', 'failed', 'aborted', 'unknown', 'expired')),
    ADD COLUMN health text NOT NULL DEFAULT 'ok',
    ADD COLUMN health_since timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ADD CONSTRAINT werk_cron_health_health_is_known
        CHECK (health IN ('ok', 'failing', 'late', 'overdue', 'paused', 'error', 'ended'));
COMMENT ON TABLE werk_cron_health IS
    'each schedule''s health (one word) and its runs, summed up where outcomes are recorded; one row per schedule';
COMMENT ON COLUMN werk_cron_health.health IS
    'ok, failing (the last run failed), late (the newest tick''s job was not started by its deadline), overdue (a run active past max_runtime_secs), paused, error or ended; see werk_cron_refresh_health';
COMMENT ON COLUMN werk_cron_health.health_since IS 'since when the schedule has had this health';
-- What a new primary looks at again (a paused or ended schedule changes only through
-- planning, which looks at it then), and what `werkcron status --check` lists.
CREATE INDEX werk_cron_health_unhealthy_idx ON werk_cron_health (name)
    WHERE health IN ('error', 'failing', 'late', 'overdue');

-- Each schedule's health is what the facts say today (no deadline or run-time limit
-- existed before, so none is late or overdue). A schedule without a row is ok since it
-- was created, as the status view shows it: only a schedule whose health is not ok
-- gets a row here, since now (when it began is not known).
INSERT INTO werk_cron_health AS h (name, health)
SELECT f.name, f.health
FROM (SELECT j.name,
             CASE WHEN j.paused THEN 'paused'
                  WHEN s.last_error IS NOT NULL OR EXISTS (SELECT 1 FROM werk_cron_holdups u WHERE u.name = j.name) THEN 'error'
                  WHEN r.last_run_status = 'failed' THEN 'failing'
                  WHEN s.planned_at IS NOT NULL AND s.next_run_at IS NULL THEN 'ended'
                  ELSE 'ok' END AS health
      FROM werk_cron_jobs j
      JOIN werk_cron_state s ON s.name = j.name
      LEFT JOIN werk_cron_health r ON r.name = j.name) f
WHERE f.health <> 'ok'
ON CONFLICT (name) DO UPDATE SET health = excluded.health;
-- A schedule that has a row (its runs) and is ok has been so since it was created.
UPDATE werk_cron_health h
SET health_since = j.created_at
FROM werk_cron_jobs j
WHERE j.name = h.name AND h.health = 'ok';

-- When the ticker looks at a schedule's health next: the instant its newest job's start
-- deadline passes or a run reaches max_runtime_secs, or at once after a tick that may
-- change it. Written by the ticker alone; NULL for most schedules, which the index leaves
-- out (so a tick of one costs no entry).
ALTER TABLE werk_cron_state
    ADD COLUMN health_check_at timestamptz,
    ADD CONSTRAINT werk_cron_state_health_check_at_must_be_finite CHECK (pg_catalog.isfinite(health_check_at));
COMMENT ON COLUMN werk_cron_state.health_check_at IS
    'when the ticker next looks at this schedule''s health (a start deadline or run-time limit passing); NULL: on events only';
CREATE INDEX werk_cron_state_health_check_idx ON werk_cron_state (health_check_at)
    WHERE health_check_at IS NOT NULL;

-- Grants to roles given rights before this migration: whoever may read the schedules may
-- read the calendars; a ticker role (the ledger's INSERT and DELETE) keeps health_check_at
-- and reads expires_at; an application role (one that may insert a schedule's func) may
-- write the new definition columns and the calendars.
-- +goose StatementBegin
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN
        SELECT DISTINCT ro.rolname
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) x
        JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
        WHERE c.oid = 'werk_cron_jobs'::regclass AND x.privilege_type = 'SELECT' AND x.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON werk_cron_calendars TO %I', r);
    END LOOP;
    FOR r IN
        SELECT ro.rolname
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) x
        JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
        WHERE c.oid = 'werk_cron_ledger'::regclass AND x.privilege_type IN ('INSERT', 'DELETE')
          AND x.grantee <> c.relowner
        GROUP BY ro.rolname
        HAVING pg_catalog.count(DISTINCT x.privilege_type) = 2
    LOOP
        EXECUTE pg_catalog.format('GRANT UPDATE (health_check_at) ON werk_cron_state TO %I', r);
        EXECUTE pg_catalog.format('GRANT SELECT (expires_at) ON werk_jobs TO %I', r);
        EXECUTE pg_catalog.format('GRANT SELECT, USAGE ON SEQUENCE werk_cron_outcomes_expired TO %I', r);
    END LOOP;
    FOR r IN
        SELECT DISTINCT ro.rolname
        FROM pg_catalog.pg_attribute a,
             LATERAL pg_catalog.aclexplode(a.attacl) x
        JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
        WHERE a.attrelid = 'werk_cron_jobs'::regclass AND a.attname = 'func' AND x.privilege_type = 'INSERT'
    LOOP
        EXECUTE pg_catalog.format('GRANT INSERT (start_deadline_secs, max_runtime_secs, exclude_calendar), '
                                  'UPDATE (start_deadline_secs, max_runtime_secs, exclude_calendar) ON werk_cron_jobs TO %I', r);
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON werk_cron_calendars TO %I', r);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00014 (health) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
