-- werk_cron_grant_app gives role what an application needs to manage schedules through
-- werkcron, and no more: write the definition of schedules (werk_cron_jobs, every
-- column but those the ticker keeps; with the owner werkcron apply records) and call
-- werk_cron_schedule, werk_cron_alter, werk_cron_pause, werk_cron_resume and
-- werk_cron_unschedule; keep the holiday calendars (werk_cron_calendars; an edit plans
-- the schedules using the calendar again); ask for backfills (werk_cron_backfill) and
-- trigger runs (werk_cron_trigger, which also needs INSERT on werk_jobs, which a pgwerk
-- producer holds anyway); read the schedules' state and run summaries, the ticks
-- (werk_cron_ticks), the backfill requests and the views. Nothing that writes the
-- ledger, a backfill's progress, the ticker's state, the hold-ups or a schedule's
-- health: an application cannot forge a run's outcome, suppress a tick, or make a
-- backfill run past its bounds. Returns the statements, one per row; with
-- apply => false it only returns them (what `werkcron grant --app ROLE` prints).
-- PUBLIC, and a name that is not an existing role, are refused.
CREATE OR REPLACE FUNCTION werk_cron_grant_app(role text, apply boolean DEFAULT true) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r     text := pg_catalog.quote_ident(role);
    s     text := pg_catalog.quote_ident(werk_cron_schema());
    cols  text;
    fns   text;
    stmt  text;
BEGIN
    IF role IS NULL OR pg_catalog.lower(role) = 'public' THEN
        RAISE EXCEPTION 'werk_cron_grant_app: refusing to grant an application''s rights to PUBLIC (every role)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'create a role for the application: CREATE ROLE myapp LOGIN';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role) THEN
        RAISE EXCEPTION 'werk_cron_grant_app: no role named %', r
            USING ERRCODE = 'undefined_object',
                  HINT = 'create it first: CREATE ROLE ' || r || ' LOGIN';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY o)
    INTO cols
    FROM pg_catalog.unnest(ARRAY['name'] || werk_cron_definition_columns()
                           || ARRAY['paused', 'paused_reason', 'remaining_runs', 'managed_by']) WITH ORDINALITY AS u(c, o);
    SELECT pg_catalog.string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.proname)
    INTO fns
    FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = werk_cron_schema()::regnamespace
      AND p.proname IN ('werk_cron_schedule', 'werk_cron_alter', 'werk_cron_pause', 'werk_cron_resume',
                        'werk_cron_unschedule', 'werk_cron_trigger', 'werk_cron_backfill');
    FOREACH stmt IN ARRAY ARRAY[
        pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %s', s, r),
        pg_catalog.format('GRANT SELECT, DELETE, INSERT (%1$s), UPDATE (%1$s) ON %2$s.werk_cron_jobs TO %3$s', cols, s, r),
        pg_catalog.format('GRANT SELECT ON %1$s.werk_cron_state, %1$s.werk_cron_health, %1$s.werk_cron_ticks, '
                          '%1$s.werk_cron_backfills, %1$s.werk_cron_status, %1$s.werk_cron_instances TO %2$s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s.werk_cron_calendars TO %s', s, r),
        pg_catalog.format('GRANT INSERT ON %s.werk_jobs TO %s', s, r),
        pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', fns, r)
    ] LOOP
        IF apply THEN
            EXECUTE stmt;
        END IF;
        RETURN NEXT stmt || ';';
    END LOOP;
END
$$;
