-- Before each write to werk_cron_jobs by a person (the WHEN of
-- werk_cron_jobs_before_update leaves the ticker's own writes out): default the name,
-- keep the timestamps, keep last_tick_at moving forward only, clear paused_reason on
-- resume, check the zone, and mark a new definition for planning afresh (next_run_at,
-- planned_at and last_error cleared). remaining_runs counted down by a tick (last_tick_at
-- moves in the same write) is the ticker's write, not a new definition.
--
-- changed_at moves on a new timing, a resume, a new end for a schedule that had ended,
-- or runs given back to one that had used them all: nothing from before it is ever
-- enqueued. clock_timestamp(), not now(): now() is when the transaction began, and a
-- resume inside a long transaction must not date itself back over ticks that passed
-- while the schedule was still paused.
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
        IF NOT NEW.paused THEN
            NEW.paused_reason := NULL;
        END IF;
    ELSE
        NEW.created_at := OLD.created_at;
        -- A tick once decided is never decided again, whatever a person writes here.
        NEW.last_tick_at := greatest(OLD.last_tick_at, NEW.last_tick_at);
        IF OLD.paused AND NOT NEW.paused THEN
            NEW.paused_reason := NULL;
        END IF;
        -- The definition is every column but the ticker's and this trigger's own.
        o := OLD;
        n := NEW;
        o.created_at := NULL; o.updated_at := NULL; o.changed_at := NULL; o.next_run_at := NULL;
        o.last_tick_at := NULL; o.last_job_id := NULL; o.last_error := NULL; o.planned_at := NULL;
        n.created_at := NULL; n.updated_at := NULL; n.changed_at := NULL; n.next_run_at := NULL;
        n.last_tick_at := NULL; n.last_job_id := NULL; n.last_error := NULL; n.planned_at := NULL;
        IF NEW.last_tick_at IS DISTINCT FROM OLD.last_tick_at THEN
            o.remaining_runs := NULL; -- counted down by the tick statement
            n.remaining_runs := NULL;
        END IF;
        -- Compared as text: a whole-row = on werk_cron_jobs is resolved when this runs,
        -- and an operator of that exact type created by someone else would win over the
        -- built-in record comparison (text = text cannot be outranked).
        IF n::text IS DISTINCT FROM o::text THEN
            NEW.updated_at := clock_timestamp();
            -- A new definition is planned afresh.
            NEW.next_run_at := NULL;
            NEW.planned_at := NULL;
            NEW.last_error := NULL;
        ELSE
            NEW.updated_at := OLD.updated_at;
        END IF;
        -- A new timing, a resume, a new end for a schedule that had ended, or runs given
        -- back to one that had used them all start it afresh: nothing from before this
        -- moment is ever enqueued for it.
        IF (NEW.cron, NEW.interval_secs, NEW.timezone, NEW.starts_at)
               IS DISTINCT FROM (OLD.cron, OLD.interval_secs, OLD.timezone, OLD.starts_at)
           OR (OLD.paused AND NOT NEW.paused)
           OR (OLD.ends_at < clock_timestamp() AND (NEW.ends_at IS NULL OR NEW.ends_at > OLD.ends_at))
           OR (OLD.remaining_runs = 0 AND (NEW.remaining_runs IS NULL OR NEW.remaining_runs > 0)) THEN
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
