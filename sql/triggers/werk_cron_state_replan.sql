-- A schedule becoming unplanned wakes the primary ticker: a definition change
-- (werk_cron_jobs_after_update), or an operator's `UPDATE werk_cron_state SET
-- planned_at = NULL`. The ticker's own writes never clear planned_at, so they never
-- wake it, and this WHEN is evaluated without entering PL/pgSQL.
CREATE OR REPLACE TRIGGER werk_cron_state_replan
    AFTER UPDATE ON werk_cron_state
    FOR EACH ROW
    WHEN (OLD.planned_at IS NOT NULL AND NEW.planned_at IS NULL)
    EXECUTE PROCEDURE werk_cron_notify();
