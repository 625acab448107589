-- A row wakes the ticker when it becomes unplanned: a definition change
-- (werk_cron_jobs_before_write clears planned_at), or an operator's
-- `SET planned_at = NULL`. The ticker's own writes never clear planned_at, so they never
-- wake it. The same payload every time: PostgreSQL delivers it once per transaction.
CREATE OR REPLACE TRIGGER werk_cron_jobs_notify_unplanned
    AFTER UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN (OLD.planned_at IS NOT NULL AND NEW.planned_at IS NULL)
    EXECUTE PROCEDURE werk_cron_jobs_notify();
