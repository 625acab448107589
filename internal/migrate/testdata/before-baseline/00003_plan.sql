-- The table is the plan. next_run_at is the plan of record: the primary reads only the
-- rows due soon, through an index, and never holds a copy of the whole table, so its
-- memory and its start after a takeover do not grow with the number of schedules.
--
-- A row the ticker has not planned yet (inserted, its definition changed, resumed, or
-- handed back by an operator with `SET planned_at = NULL`) has planned_at NULL and
-- next_run_at NULL; a partial index lists exactly those rows, newest change first, and
-- the primary plans them in bounded batches between ticks. A planned row has planned_at
-- set; its next_run_at is when the ticker looks at it next (NULL: never, because it is
-- paused, ended or in error).
--
-- Wake-ups are coalesced: an INSERT of a million schedules sends one notification (a
-- statement trigger), and an UPDATE sends one per row that becomes unplanned, all with
-- the same empty payload, which PostgreSQL delivers once per transaction. A notification
-- only says "look at the unplanned rows"; what changed is read from the index.

-- +goose Up

ALTER TABLE werk_cron_jobs ADD COLUMN planned_at timestamptz;
COMMENT ON COLUMN werk_cron_jobs.planned_at IS
    'when the ticker last planned this row (wrote next_run_at and last_error); NULL: awaiting planning. Set it to NULL to make the ticker look at a row again';
COMMENT ON COLUMN werk_cron_jobs.next_run_at IS
    'the plan of record, written by the ticker: when it next looks at this schedule (its next tick, or a retry); NULL while awaiting planning, and for paused, ended or failing schedules';

-- What the primary reads at every wake-up: the rows due within its horizon, soonest
-- first. Rows with nothing planned are not in it.
CREATE INDEX werk_cron_jobs_next_run_at_idx ON werk_cron_jobs (next_run_at)
    WHERE next_run_at IS NOT NULL;
-- What the planner reads: rows awaiting planning, newest change first, so that a
-- schedule added during a bulk load of a million is planned at once, not after them.
-- The planner walks it with a cursor (updated_at, name), so that it never reads again
-- the entries of rows it has just planned (dead until vacuumed).
CREATE INDEX werk_cron_jobs_unplanned_idx ON werk_cron_jobs (updated_at DESC, name DESC)
    WHERE planned_at IS NULL;

-- The before-write trigger of 00001, plus: the ticker's columns are the ticker's. On
-- insert, and on every change of the definition, next_run_at, planned_at and last_error
-- are cleared, so that the row waits for the planner (with the error re-checked).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_jobs_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o werk_cron_jobs;
    n werk_cron_jobs;
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.name := coalesce(NEW.name, NEW.func);
        NEW.created_at := clock_timestamp();
        NEW.updated_at := NEW.created_at;
        NEW.changed_at := NEW.created_at;
        NEW.next_run_at := NULL;
        NEW.planned_at := NULL;
        NEW.last_error := NULL;
    ELSE
        NEW.created_at := OLD.created_at;
        -- A tick once decided is never decided again, whatever a person writes here.
        NEW.last_tick_at := greatest(OLD.last_tick_at, NEW.last_tick_at);
        -- The definition is every column but the ticker's and this trigger's own.
        o := OLD;
        n := NEW;
        o.created_at := NULL; o.updated_at := NULL; o.changed_at := NULL; o.next_run_at := NULL;
        o.last_tick_at := NULL; o.last_job_id := NULL; o.last_error := NULL; o.planned_at := NULL;
        n.created_at := NULL; n.updated_at := NULL; n.changed_at := NULL; n.next_run_at := NULL;
        n.last_tick_at := NULL; n.last_job_id := NULL; n.last_error := NULL; n.planned_at := NULL;
        IF n IS DISTINCT FROM o THEN
            NEW.updated_at := clock_timestamp();
            -- A new definition is planned afresh.
            NEW.next_run_at := NULL;
            NEW.planned_at := NULL;
            NEW.last_error := NULL;
        ELSE
            NEW.updated_at := OLD.updated_at;
        END IF;
        -- A new timing, a resume, or a new end for a schedule that had ended starts it
        -- afresh: nothing from before this moment is ever enqueued for it.
        IF (NEW.cron, NEW.interval_secs, NEW.timezone, NEW.starts_at)
               IS DISTINCT FROM (OLD.cron, OLD.interval_secs, OLD.timezone, OLD.starts_at)
           OR (OLD.paused AND NOT NEW.paused)
           OR (OLD.ends_at < clock_timestamp() AND (NEW.ends_at IS NULL OR NEW.ends_at > OLD.ends_at)) THEN
            NEW.changed_at := clock_timestamp();
        ELSE
            NEW.changed_at := OLD.changed_at;
        END IF;
    END IF;

    IF NEW.timezone IS DISTINCT FROM (CASE WHEN TG_OP = 'UPDATE' THEN OLD.timezone END) THEN
        BEGIN
            -- Raises for an unknown zone; far cheaper than a pg_timezone_names lookup.
            PERFORM now() AT TIME ZONE NEW.timezone;
        EXCEPTION WHEN invalid_parameter_value THEN
            RAISE EXCEPTION 'werk_cron_jobs %: unknown time zone %', coalesce(NEW.name, '?'), NEW.timezone
                USING ERRCODE = 'check_violation',
                      HINT = 'use an IANA zone name such as UTC, Europe/Berlin or America/New_York';
        END;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Wake-ups. The row triggers of 00001 notified once per row with the schedule's name: a
-- million-row INSERT meant a million notifications for the ticker to read one by one.
DROP TRIGGER werk_cron_jobs_notify_insert_delete ON werk_cron_jobs;
DROP TRIGGER werk_cron_jobs_notify_update ON werk_cron_jobs;
DROP FUNCTION werk_cron_jobs_notify();

-- +goose StatementBegin
CREATE FUNCTION werk_cron_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The same channel and payload every time: PostgreSQL delivers it once per
    -- transaction, however many rows changed.
    PERFORM pg_notify('werk_cron_jobs:' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER werk_cron_jobs_notify_insert
    AFTER INSERT ON werk_cron_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION werk_cron_jobs_notify();

-- A row wakes the ticker when it becomes unplanned: a definition change (the trigger
-- above clears planned_at), or an operator's `SET planned_at = NULL`. The ticker's own
-- writes never clear planned_at, so they never wake it.
CREATE TRIGGER werk_cron_jobs_notify_unplanned
    AFTER UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN (OLD.planned_at IS NOT NULL AND NEW.planned_at IS NULL)
    EXECUTE FUNCTION werk_cron_jobs_notify();

-- States read from the plan: 'unplanned' is planned_at NULL; 'ended' is a planned row
-- with nothing left to run.
CREATE OR REPLACE VIEW werk_cron_status AS
SELECT c.name,
       CASE WHEN c.paused THEN 'paused'
            WHEN c.last_error IS NOT NULL THEN 'error'
            WHEN c.planned_at IS NULL THEN 'unplanned'
            WHEN c.next_run_at IS NULL OR c.ends_at < now() THEN 'ended'
            ELSE 'active' END AS state,
       coalesce(c.cron, 'every ' || c.interval_secs || 's') AS schedule,
       c.timezone,
       c.func,
       c.queue,
       c.paused,
       c.next_run_at,
       date_trunc('second', c.next_run_at - now()) AS next_in,
       c.last_tick_at,
       j.status AS last_job_status,
       c.last_job_id,
       c.last_error
FROM werk_cron_jobs c
LEFT JOIN werk_jobs j ON j.id = c.last_job_id
ORDER BY c.name;

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00003 (the table is the plan) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
