-- See werk_cron_jobs_before_write.
CREATE OR REPLACE TRIGGER werk_cron_jobs_before_update
    BEFORE UPDATE ON werk_cron_jobs
    FOR EACH ROW EXECUTE PROCEDURE werk_cron_jobs_before_write();
