-- Small SQL functions beside werk_cron_jobs, in pg_cron's habit, for people at a psql
-- prompt. Plain INSERT/UPDATE/DELETE on werk_cron_jobs stays the primary interface; these
-- only save typing. The Go API and the CLI call the same functions for pause, resume,
-- unschedule and trigger, so that each has one implementation.
--
-- Errors: an unknown schedule raises no_data_found (P0002); a bad argument raises
-- check_violation (23514). Messages name the schedule and the argument.

-- +goose Up

-- werk_cron_schedule creates or replaces a schedule. `schedule` is either a cron
-- expression ('0 9 * * 1-5', '@daily', '*/10 * * * * *') or a PostgreSQL interval
-- ('5 minutes', '1 hour 30 minutes', 'PT90S'), which becomes interval_secs and must be
-- whole seconds. Every other argument defaults to the column's default, and replacing
-- a schedule sets every definition column (an omitted argument resets it); what the
-- ticker wrote (last_tick_at, ...) is kept, so re-running the same call changes nothing.
--
--   SELECT * FROM werk_cron_schedule('ping', 'myapp.tasks.ping', '30 seconds');
--   SELECT * FROM werk_cron_schedule('report', 'myapp.tasks.report', '0 9 * * 1-5',
--                                    timezone => 'Europe/Berlin', args => '["sales"]');
-- +goose StatementBegin
CREATE FUNCTION werk_cron_schedule(
    name                text,
    func                text,
    schedule            text,
    queue               text        DEFAULT 'default',
    args                jsonb       DEFAULT '[]',
    kwargs              jsonb       DEFAULT '{}',
    timezone            text        DEFAULT 'UTC',
    timeout_secs        integer     DEFAULT NULL,
    result_ttl          integer     DEFAULT NULL,
    failure_ttl         integer     DEFAULT NULL,
    meta                jsonb       DEFAULT NULL,
    priority            integer     DEFAULT 0,
    max_attempts        integer     DEFAULT 1,
    paused              boolean     DEFAULT false,
    catchup             text        DEFAULT 'latest',
    catchup_window_secs integer     DEFAULT NULL,
    overlap             text        DEFAULT 'allow',
    starts_at           timestamptz DEFAULT NULL,
    ends_at             timestamptz DEFAULT NULL
) RETURNS werk_cron_jobs
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
    v_name  text := coalesce(werk_cron_schedule.name, werk_cron_schedule.func);
    v_sched text := btrim(werk_cron_schedule.schedule);
    v_cron  text;
    v_secs  numeric;
    v_iv    interval;
    v_row   werk_cron_jobs;
BEGIN
    IF v_sched IS NULL OR v_sched = '' THEN
        RAISE EXCEPTION 'werk_cron_schedule %: schedule must be a cron expression or an interval', coalesce(v_name, '?')
            USING ERRCODE = 'check_violation';
    END IF;
    -- Cron syntax ('*', '?', '/', ',', '#', '@daily') never reads as an interval; for the
    -- rest, what PostgreSQL reads as an interval is one, anything else is cron (whose
    -- syntax the ticker checks, reporting a mistake in last_error).
    IF v_sched ~ '[*?/,#]' OR v_sched ~ '^@[A-Za-z]' THEN
        v_cron := v_sched;
    ELSE
        BEGIN
            v_iv := v_sched::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            v_cron := v_sched;
        END;
    END IF;
    IF v_cron IS NULL THEN
        IF extract(month FROM v_iv) <> 0 OR extract(year FROM v_iv) <> 0 THEN
            RAISE EXCEPTION 'werk_cron_schedule %: schedule %: months and years have no fixed length', v_name, v_sched
                USING ERRCODE = 'check_violation',
                      HINT = 'use a cron expression such as ''0 0 1 * *'' for monthly runs';
        END IF;
        v_secs := extract(epoch FROM v_iv);
        IF v_secs <= 0 OR v_secs <> trunc(v_secs) OR v_secs > 2147483647 THEN
            RAISE EXCEPTION 'werk_cron_schedule %: schedule %: an interval must be a positive whole number of seconds', v_name, v_sched
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;

    INSERT INTO werk_cron_jobs AS j
        (name, func, queue, args, kwargs, cron, interval_secs, timezone, timeout_secs,
         result_ttl, failure_ttl, meta, priority, max_attempts, paused, catchup,
         catchup_window_secs, overlap, starts_at, ends_at)
    VALUES
        (v_name, werk_cron_schedule.func, coalesce(werk_cron_schedule.queue, 'default'),
         coalesce(werk_cron_schedule.args, '[]'), coalesce(werk_cron_schedule.kwargs, '{}'),
         v_cron, v_secs::integer, coalesce(werk_cron_schedule.timezone, 'UTC'),
         werk_cron_schedule.timeout_secs, werk_cron_schedule.result_ttl,
         werk_cron_schedule.failure_ttl, werk_cron_schedule.meta,
         coalesce(werk_cron_schedule.priority, 0)::smallint, coalesce(werk_cron_schedule.max_attempts, 1),
         coalesce(werk_cron_schedule.paused, false), coalesce(werk_cron_schedule.catchup, 'latest'),
         werk_cron_schedule.catchup_window_secs, coalesce(werk_cron_schedule.overlap, 'allow'),
         werk_cron_schedule.starts_at, werk_cron_schedule.ends_at)
    ON CONFLICT ON CONSTRAINT werk_cron_jobs_pkey DO UPDATE SET
        func = excluded.func, queue = excluded.queue, args = excluded.args,
        kwargs = excluded.kwargs, cron = excluded.cron, interval_secs = excluded.interval_secs,
        timezone = excluded.timezone, timeout_secs = excluded.timeout_secs,
        result_ttl = excluded.result_ttl, failure_ttl = excluded.failure_ttl,
        meta = excluded.meta, priority = excluded.priority,
        max_attempts = excluded.max_attempts, paused = excluded.paused,
        catchup = excluded.catchup, catchup_window_secs = excluded.catchup_window_secs,
        overlap = excluded.overlap, starts_at = excluded.starts_at, ends_at = excluded.ends_at
    RETURNING j.* INTO v_row;
    RETURN v_row;
END
$$;
-- +goose StatementEnd

-- werk_cron_unschedule deletes a schedule (its ledger rows stay until pruned; its jobs
-- stay in werk_jobs). Returns true; raises no_data_found for an unknown name.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_unschedule(name text) RETURNS boolean
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
    DELETE FROM werk_cron_jobs j WHERE j.name = werk_cron_unschedule.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'werk_cron_unschedule %: no such schedule', werk_cron_unschedule.name
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- werk_cron_pause stops a schedule from enqueueing (it stays registered);
-- werk_cron_resume lets it enqueue again, from now on: ticks that fell in the pause are
-- never backfilled. Both return whether anything changed (false: it was so already).
-- +goose StatementBegin
CREATE FUNCTION werk_cron_set_paused(name text, paused boolean, caller text) RETURNS boolean
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
    was boolean;
BEGIN
    SELECT j.paused INTO was FROM werk_cron_jobs j WHERE j.name = werk_cron_set_paused.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% %: no such schedule', caller, werk_cron_set_paused.name
            USING ERRCODE = 'no_data_found';
    END IF;
    IF was = werk_cron_set_paused.paused THEN
        RETURN false;
    END IF;
    UPDATE werk_cron_jobs j SET paused = werk_cron_set_paused.paused WHERE j.name = werk_cron_set_paused.name;
    RETURN true;
END
$$;
-- +goose StatementEnd

CREATE FUNCTION werk_cron_pause(name text) RETURNS boolean
LANGUAGE sql
    SET search_path FROM CURRENT AS $$ SELECT werk_cron_set_paused(name, true, 'werk_cron_pause') $$;

CREATE FUNCTION werk_cron_resume(name text) RETURNS boolean
LANGUAGE sql
    SET search_path FROM CURRENT AS $$ SELECT werk_cron_set_paused(name, false, 'werk_cron_resume') $$;

-- werk_cron_trigger enqueues one job of a schedule now, outside its schedule, and
-- returns the job's id. The key, cron:<name>:manual:<job id>, can never collide with a
-- tick's (cron:<name>:<YYYY-MM-DDTHH:MM:SSZ>), and nothing of the schedule's own state
-- (last_tick_at, next_run_at, the tick ledger) changes: the next tick comes as planned.
-- It runs for a paused schedule too (asking for it is explicit), and ignores
-- overlap = 'skip'; the job does count for a later tick's overlap check.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_trigger(name text) RETURNS uuid
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
    s    werk_cron_jobs;
    v_id uuid := gen_random_uuid();
BEGIN
    SELECT * INTO s FROM werk_cron_jobs j WHERE j.name = werk_cron_trigger.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'werk_cron_trigger %: no such schedule', werk_cron_trigger.name
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    VALUES (v_id, 'cron:' || s.name || ':manual:' || v_id, s.func, s.queue, 'queued', s.priority,
            jsonb_build_object('args', s.args, 'kwargs', s.kwargs), s.max_attempts,
            s.timeout_secs, now(), s.meta, s.result_ttl, s.failure_ttl, s.name);
    PERFORM pg_notify('werk:' || s.queue, '');
    RETURN v_id;
END
$$;
-- +goose StatementEnd

-- werk_cron_grant gives role what a ticker needs once an owner has migrated, and no
-- more: read schedules and write only the ticker's own columns of werk_cron_jobs, insert
-- jobs, keep the tick ledger, read the views. No DDL, no DELETE on werk_jobs. The ticker
-- then runs with --no-migrate under role. Returns the statements, one per row; with
-- apply => false it only returns them (what `werkcron grant ROLE` prints).
-- +goose StatementBegin
CREATE FUNCTION werk_cron_grant(role text, apply boolean DEFAULT true) RETURNS SETOF text
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    r    text := quote_ident(role);
    s    text := quote_ident(current_schema());
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY ARRAY[
        format('GRANT USAGE ON SCHEMA %s TO %s', s, r),
        format('GRANT SELECT, UPDATE (next_run_at, last_tick_at, last_job_id, last_error) ON %s.werk_cron_jobs TO %s', s, r),
        format('GRANT SELECT, INSERT, DELETE ON %s.werk_cron_ticks TO %s', s, r),
        format('GRANT SELECT, INSERT ON %s.werk_jobs TO %s', s, r),
        format('GRANT SELECT ON %s.werk_cron_status, %s.werk_cron_instances TO %s', s, s, r),
        format('GRANT EXECUTE ON FUNCTION %1$s.werk_cron_listen(), %1$s.werk_cron_lock_key(), '
               '%1$s.werk_cron_lock_held(), %1$s.werk_cron_member_key(), '
               '%1$s.werk_cron_list_instances() TO %2$s', s, r)
    ] LOOP
        IF apply THEN
            EXECUTE stmt;
        END IF;
        RETURN NEXT stmt || ';';
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS werk_cron_grant(text, boolean);
DROP FUNCTION IF EXISTS werk_cron_trigger(text);
DROP FUNCTION IF EXISTS werk_cron_resume(text);
DROP FUNCTION IF EXISTS werk_cron_pause(text);
DROP FUNCTION IF EXISTS werk_cron_set_paused(text, boolean, text);
DROP FUNCTION IF EXISTS werk_cron_unschedule(text);
DROP FUNCTION IF EXISTS werk_cron_schedule(text, text, text, text, jsonb, jsonb, text, integer,
    integer, integer, jsonb, integer, integer, boolean, text, integer, text, timestamptz, timestamptz);
