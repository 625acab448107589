-- werk_cron_backfill asks the primary to enqueue every tick of the schedule in
-- [from, to] that has no job yet, and returns the request's id. The range may not be
-- reversed, nor begin in the future; its end is taken as now if later. The primary
-- carries the request out within a second (it is woken on werkcron's channel): every
-- tick in the range that has no job yet — recorded missed or skipped_overlap, or never
-- decided — is enqueued under its usual key with a ledger row 'backfilled', so that a
-- tick that has a job never gets a second one and running the same backfill twice
-- changes nothing. last_tick_at is never moved, and ticks the schedule itself is still
-- to decide are left to it. The ticker refuses a range of more than 100,000 ticks, and
-- one reaching back beyond its ledger retention (older ticks may have run and left no
-- record), saying why in the request's error.
--
-- It runs as werkcron's owner, so that an application needs no right on
-- werk_cron_backfills but SELECT (to read the outcome): the request it makes holds only
-- what it asked for, requested_by is the role that logged in, and the progress columns
-- are the ticker's (werk_cron_backfills_before_insert). EXECUTE: the owner, and roles
-- granted it (werk_cron_grant_app).
CREATE OR REPLACE FUNCTION werk_cron_backfill(name text, "from" timestamptz, "to" timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    v_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM werk_cron_jobs j WHERE j.name = werk_cron_backfill.name) THEN
        RAISE EXCEPTION 'werk_cron_backfill %: no such schedule', werk_cron_cut(werk_cron_backfill.name, 200)
            USING ERRCODE = 'no_data_found';
    END IF;
    IF "from" IS NULL OR "to" IS NULL OR NOT pg_catalog.isfinite("from") OR NOT pg_catalog.isfinite("to") THEN
        RAISE EXCEPTION 'werk_cron_backfill %: from and to must be instants', werk_cron_backfill.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF "from" > "to" THEN
        RAISE EXCEPTION 'werk_cron_backfill %: the range is reversed: from % is after to %', werk_cron_backfill.name, "from", "to"
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF "from" > pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'werk_cron_backfill %: the range is in the future: from % has not come yet', werk_cron_backfill.name, "from"
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'a backfill enqueues ticks that have passed; future ticks are the schedule''s own';
    END IF;
    INSERT INTO werk_cron_backfills (name, from_at, to_at)
    VALUES (werk_cron_backfill.name, "from", least("to", pg_catalog.clock_timestamp()))
    RETURNING id INTO v_id;
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    PERFORM werk_cron_trusted_triggers(); -- what it wrote ran no other role's code
    RETURN v_id;
END
$$;

REVOKE EXECUTE ON FUNCTION
    werk_cron_backfill(text, timestamptz, timestamptz) FROM PUBLIC;
