-- werk_cron_grant gives role what a ticker needs once an owner has migrated, and no
-- more: read schedules and write only the ticker's state (werk_cron_state, werk_cron_rounds), insert
-- jobs and read only the columns of werk_jobs a tick and its outcome look at, keep the
-- tick ledger (its outcome columns too), the hold-ups and the backfill requests'
-- progress, read the views and the calendars, advance the outcome counters, pause a
-- schedule for its failures, sum up its runs and look at its health. No DDL, no DELETE on werk_jobs. The ticker then runs
-- with --no-migrate under role. Returns the statements, one per row; with apply =>
-- false it only returns them
-- (what `werkcron grant ROLE` prints). PUBLIC (and any name that is not an existing
-- role) is refused: the ticker's rights include enqueueing any function on any queue.
-- What an application needs is werk_cron_grant_app's.
CREATE OR REPLACE FUNCTION werk_cron_grant(role text, apply boolean DEFAULT true) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r    text := pg_catalog.quote_ident(role);
    s    text := pg_catalog.quote_ident(werk_cron_schema());
    stmt text;
BEGIN
    IF role IS NULL OR pg_catalog.lower(role) = 'public' THEN
        RAISE EXCEPTION 'werk_cron_grant: refusing to grant the ticker''s rights to PUBLIC (every role)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'create a role for the ticker: CREATE ROLE werkcron_ticker LOGIN';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role) THEN
        RAISE EXCEPTION 'werk_cron_grant: no role named %', r
            USING ERRCODE = 'undefined_object',
                  HINT = 'create it first: CREATE ROLE ' || r || ' LOGIN';
    END IF;
    FOREACH stmt IN ARRAY ARRAY[
        pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %s', s, r),
        pg_catalog.format('GRANT SELECT ON %s.werk_cron_jobs TO %s', s, r),
        pg_catalog.format('GRANT SELECT, UPDATE (next_run_at, plan_at, round_at, last_tick_at, last_job_id, last_job_at, '
                          'remaining_runs, last_error, planned_at, health_check_at) ON %s.werk_cron_state TO %s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s.werk_cron_rounds TO %s', s, r),
        pg_catalog.format('GRANT SELECT ON %1$s.werk_cron_health, %1$s.werk_cron_calendars TO %2$s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, DELETE, UPDATE (job_id, outcome, ticks, decided_at, job_status, job_started_at, '
                          'job_finished_at, job_attempts, job_error) ON %s.werk_cron_ledger TO %s', s, r),
        pg_catalog.format('GRANT INSERT, SELECT (id, key, function, status, cron_name, enqueued_at, started_at, completed_at, '
                          'attempts, error, expires_at) '
                          'ON %s.werk_jobs TO %s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s.werk_cron_holdups TO %s', s, r),
        pg_catalog.format('GRANT SELECT, DELETE, UPDATE (through_at, enqueued, already, done_at, error) ON %s.werk_cron_backfills TO %s', s, r),
        pg_catalog.format('GRANT SELECT ON %1$s.werk_cron_ticks, %1$s.werk_cron_status, %1$s.werk_cron_instances TO %2$s', s, r),
        pg_catalog.format('GRANT SELECT, USAGE ON SEQUENCE %1$s.werk_cron_outcomes_complete, %1$s.werk_cron_outcomes_failed, '
                          '%1$s.werk_cron_outcomes_aborted, %1$s.werk_cron_outcomes_expired TO %2$s', s, r),
        pg_catalog.format('GRANT EXECUTE ON FUNCTION %1$s.werk_cron_schema(), %1$s.werk_cron_channel(), '
                          '%1$s.werk_cron_listen(), %1$s.werk_cron_lock_key(), %1$s.werk_cron_lock_held(), %1$s.werk_cron_leader_pid(), '
                          '%1$s.werk_cron_lane_class(), %1$s.werk_cron_wait_turn(bigint, timestamptz, integer, timestamptz), '
                          '%1$s.werk_cron_member_key(), %1$s.werk_cron_list_instances(), %1$s.werk_cron_await_leadership(), '
                          '%1$s.werk_cron_jitter(text, integer), %1$s.werk_cron_run_at(text, timestamptz, integer), '
                          '%1$s.werk_cron_job(uuid, text, timestamptz, timestamptz, text, text, text, jsonb, jsonb, smallint, '
                          'integer, integer, jsonb, integer, integer, text, integer, timestamptz), %1$s.werk_cron_cut(text, integer), '
                          '%1$s.werk_cron_pause_failing(text), '
                          '%1$s.werk_cron_note_runs(text[], timestamptz[], text[], timestamptz[]), '
                          '%1$s.werk_cron_refresh_health(text[], boolean) TO %2$s', s, r)
    ] LOOP
        IF apply THEN
            EXECUTE stmt;
        END IF;
        RETURN NEXT stmt || ';';
    END LOOP;
END
$$;
