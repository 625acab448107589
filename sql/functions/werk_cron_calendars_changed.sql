-- A calendar's days changed (an insert, update or delete of werk_cron_calendars rows):
-- the schedules whose exclude_calendar names it are planned again, so that their
-- next_run_at skips the days excluded now, and a tick decided on the old days cannot go
-- through (its compare-and-set needs a plan). Marking them unplanned wakes the primary
-- (werk_cron_state_replan). Once per statement, whatever the number of days.
--
-- Runs as the owner: a role that may edit calendars (an application's, see
-- werk_cron_grant_app) may not write the schedules' state itself. A trigger function is
-- called by its trigger alone, and nobody else may attach it to a table.
CREATE OR REPLACE FUNCTION werk_cron_calendars_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    cals text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT pg_catalog.array_agg(DISTINCT n.calendar) INTO cals FROM werk_cron_calendars_inserted n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT pg_catalog.array_agg(DISTINCT o.calendar) INTO cals FROM werk_cron_calendars_deleted o;
    ELSE
        SELECT pg_catalog.array_agg(DISTINCT c.calendar) INTO cals
        FROM (SELECT n.calendar FROM werk_cron_calendars_new n
              UNION SELECT o.calendar FROM werk_cron_calendars_old o) c;
    END IF;
    IF cals IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE werk_cron_state s
    SET next_run_at = NULL, plan_at = NULL, round_at = NULL, planned_at = NULL
    FROM werk_cron_jobs j
    WHERE j.exclude_calendar = ANY (cals) AND s.name = j.name AND s.planned_at IS NOT NULL;
    PERFORM werk_cron_trusted_triggers(); -- what it wrote ran no other role's code
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION
    werk_cron_calendars_changed() FROM PUBLIC;
