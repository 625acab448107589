-- New schedules get their state, awaiting planning (and, if paused, their health), and
-- wake the primary ticker: once per statement, so that an INSERT of a million schedules
-- is one notification. The channel carries the schema (werk_cron_channel), so that two
-- installations in one database do not wake each other; what changed is read from the
-- planner's index, never from the payload.
CREATE OR REPLACE FUNCTION werk_cron_jobs_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO werk_cron_state (name, remaining_runs, defined_at)
    SELECT n.name, n.remaining_runs, n.updated_at FROM werk_cron_jobs_inserted n;
    -- A schedule's health is ok until it changes (werk_cron_health has no row for it until
    -- then), but one inserted paused is paused from the start.
    INSERT INTO werk_cron_health (name, health, health_since)
    SELECT n.name, 'paused', n.created_at FROM werk_cron_jobs_inserted n WHERE n.paused
    ON CONFLICT (name) DO NOTHING;
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    RETURN NULL;
END
$$;

-- Runs as the owner: a role that may insert schedules (an application's, see
-- werk_cron_grant_app) may not write their state itself. A trigger function is called
-- by its trigger alone, and nobody else may attach it to a table.
REVOKE EXECUTE ON FUNCTION
    werk_cron_jobs_after_insert() FROM PUBLIC;
