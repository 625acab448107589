-- See werk_cron_jobs_after_update: only for a new definition (updated_at moves).
CREATE OR REPLACE TRIGGER werk_cron_jobs_after_update
    AFTER UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at)
    EXECUTE PROCEDURE werk_cron_jobs_after_update();
