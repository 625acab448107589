-- Before each write to werk_cron_jobs (all of them a person's, or werkcron's functions
-- on a person's behalf; the ticker keeps its own state in werk_cron_state): default the
-- name, keep the timestamps, clear paused_reason on resume, and check the zone.
-- updated_at moves when anything of the definition changes (every column but the
-- timestamps, and labels and managed_by, which say who keeps a schedule and how it is
-- grouped, not what it enqueues), which makes the ticker plan the schedule afresh
-- (werk_cron_jobs_after_update).
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
        IF NOT NEW.paused THEN
            NEW.paused_reason := NULL;
        END IF;
    ELSE
        NEW.created_at := OLD.created_at;
        IF OLD.paused AND NOT NEW.paused THEN
            NEW.paused_reason := NULL;
        END IF;
        o := OLD;
        n := NEW;
        o.created_at := NULL; o.updated_at := NULL; o.changed_at := NULL; o.labels := NULL; o.managed_by := NULL;
        n.created_at := NULL; n.updated_at := NULL; n.changed_at := NULL; n.labels := NULL; n.managed_by := NULL;
        -- Compared as text: a whole-row = on werk_cron_jobs is resolved when this runs,
        -- and an operator of that exact type created by someone else would win over the
        -- built-in record comparison (text = text cannot be outranked).
        IF n::text IS DISTINCT FROM o::text THEN
            NEW.updated_at := clock_timestamp();
        ELSE
            NEW.updated_at := OLD.updated_at;
        END IF;
        IF (NEW.cron, NEW.interval_secs, NEW.timezone, NEW.starts_at)
               IS DISTINCT FROM (OLD.cron, OLD.interval_secs, OLD.timezone, OLD.starts_at)
           OR (OLD.paused AND NOT NEW.paused)
           OR (OLD.ends_at < clock_timestamp() AND (NEW.ends_at IS NULL OR NEW.ends_at > OLD.ends_at))
           OR (NEW.remaining_runs IS DISTINCT FROM OLD.remaining_runs AND coalesce(NEW.remaining_runs > 0, true)
               AND (SELECT s.remaining_runs FROM werk_cron_state s WHERE s.name = OLD.name) = 0) THEN
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
