-- werk_cron_definition turns the arguments of werk_cron_schedule and werk_cron_alter into
-- the columns they set, as a JSON object holding only what was given (the schedule text
-- becomes cron or interval_secs, and the other of the two is set to NULL). caller and
-- name are for error messages. Checks here are only those that need the arguments
-- themselves (the schedule text); everything else is the table's constraints.
CREATE OR REPLACE FUNCTION werk_cron_definition(
    caller text, name text, func text, schedule text, queue text, args jsonb, kwargs jsonb,
    timezone text, timeout_secs integer, result_ttl integer, failure_ttl integer, meta jsonb,
    priority integer, max_attempts integer, paused boolean, catchup text,
    catchup_window_secs integer, overlap text, starts_at timestamptz, ends_at timestamptz,
    jitter_secs integer, remaining_runs integer, pause_after_failures integer,
    start_deadline_secs integer, max_runtime_secs integer, exclude_calendar text
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_sched text := btrim(schedule);
    v_iv    interval;
    v_secs  numeric;
    defs    jsonb;
BEGIN
    defs := jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'func', func, 'queue', queue, 'args', args, 'kwargs', kwargs, 'timezone', timezone,
        'timeout_secs', timeout_secs, 'result_ttl', result_ttl, 'failure_ttl', failure_ttl,
        'meta', meta, 'priority', priority, 'max_attempts', max_attempts, 'paused', paused,
        'catchup', catchup, 'catchup_window_secs', catchup_window_secs, 'overlap', overlap,
        'starts_at', starts_at, 'ends_at', ends_at, 'jitter_secs', jitter_secs,
        'remaining_runs', remaining_runs, 'pause_after_failures', pause_after_failures,
        'start_deadline_secs', start_deadline_secs, 'max_runtime_secs', max_runtime_secs,
        'exclude_calendar', exclude_calendar));
    -- jsonb_strip_nulls also drops JSON nulls inside args and kwargs: put those back.
    IF args IS NOT NULL THEN defs := defs || pg_catalog.jsonb_build_object('args', args); END IF;
    IF kwargs IS NOT NULL THEN defs := defs || pg_catalog.jsonb_build_object('kwargs', kwargs); END IF;
    IF meta IS NOT NULL THEN defs := defs || pg_catalog.jsonb_build_object('meta', meta); END IF;
    IF schedule IS NULL THEN
        RETURN defs;
    END IF;
    IF v_sched = '' THEN
        RAISE EXCEPTION '% %: schedule must be a cron expression or an interval', caller, coalesce(name, '?')
            USING ERRCODE = 'check_violation';
    END IF;
    -- Cron syntax ('*', '?', '/', ',', '#', '@daily', or several fields) never reads as
    -- an interval; for the rest, what PostgreSQL reads as an interval is one, anything
    -- else is cron (whose syntax the ticker checks, reporting a mistake in last_error).
    IF v_sched !~ '[*?/,#]' AND v_sched !~ '^@[A-Za-z]' THEN
        BEGIN
            v_iv := v_sched::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            v_iv := NULL;
        END;
    END IF;
    IF v_iv IS NULL THEN
        RETURN defs || pg_catalog.jsonb_build_object('cron', v_sched, 'interval_secs', NULL);
    END IF;
    IF extract(month FROM v_iv) <> 0 OR extract(year FROM v_iv) <> 0 THEN
        RAISE EXCEPTION '% %: schedule %: months and years have no fixed length', caller, coalesce(name, '?'), v_sched
            USING ERRCODE = 'check_violation',
                  HINT = 'use a cron expression such as ''0 0 1 * *'' for monthly runs';
    END IF;
    v_secs := extract(epoch FROM v_iv);
    IF v_secs <= 0 OR v_secs <> trunc(v_secs) OR v_secs > 2147483647 THEN
        RAISE EXCEPTION '% %: schedule %: an interval must be a positive whole number of seconds', caller, coalesce(name, '?'), v_sched
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN defs || pg_catalog.jsonb_build_object('cron', NULL, 'interval_secs', v_secs::integer);
END
$$;
