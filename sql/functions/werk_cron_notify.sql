-- Wakes the primary ticker: "look at the schedules awaiting planning". The same
-- channel and payload every time: PostgreSQL delivers it once per transaction, however
-- many rows changed.
CREATE OR REPLACE FUNCTION werk_cron_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    RETURN NULL;
END
$$;
