-- Wakes the primary ticker: "look at the unplanned rows". The channel carries the
-- schema (werk_cron_channel), so that two installations in one database do not wake
-- each other; what changed is read from the planner's index, never from the payload.
CREATE OR REPLACE FUNCTION werk_cron_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The same channel and payload every time: PostgreSQL delivers it once per
    -- transaction, however many rows changed.
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    RETURN NULL;
END
$$;
