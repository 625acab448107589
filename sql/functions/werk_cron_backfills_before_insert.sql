-- A backfill request says what to backfill, and nothing else: whoever inserts it (a
-- role with INSERT on werk_cron_backfills, an owner at a psql prompt, or
-- werk_cron_backfill), its progress starts at none, requested_at is now and
-- requested_by is the role that logged in. The ticker alone moves the progress (its
-- UPDATE rights), and only inside the range asked for (a check on the table).
CREATE OR REPLACE FUNCTION werk_cron_backfills_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.requested_at := pg_catalog.clock_timestamp();
    NEW.requested_by := werk_cron_cut(session_user, 64);
    NEW.through_at := NULL;
    NEW.enqueued := 0;
    NEW.already := 0;
    NEW.done_at := NULL;
    NEW.error := NULL;
    RETURN NEW;
END
$$;
