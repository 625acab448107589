-- A schedule whose definition changed (its updated_at moved) is planned afresh: its
-- state is marked for the planner, which wakes the primary (werk_cron_state_replan),
-- and runs given anew (remaining_runs set) are counted from there. Writing the state row
-- is also what fences a tick decided on the old definition: the tick statement's
-- compare-and-set reads the row this writes.
CREATE OR REPLACE FUNCTION werk_cron_jobs_after_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    UPDATE werk_cron_state s
    SET next_run_at = NULL, plan_at = NULL, round_at = NULL, planned_at = NULL, last_error = NULL, defined_at = NEW.updated_at,
        remaining_runs = CASE WHEN NEW.remaining_runs IS DISTINCT FROM OLD.remaining_runs
                              THEN NEW.remaining_runs ELSE s.remaining_runs END
    WHERE s.name = NEW.name;
    RETURN NULL;
END
$$;

-- Runs as the owner: a role that may change a definition (an application's, see
-- werk_cron_grant_app) may not write the state itself. A trigger function is called by
-- its trigger alone, and nobody else may attach it to a table.
REVOKE EXECUTE ON FUNCTION
    werk_cron_jobs_after_update() FROM PUBLIC;
