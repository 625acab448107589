-- See werk_cron_jobs_before_write.
CREATE OR REPLACE TRIGGER werk_cron_jobs_before_insert
    BEFORE INSERT ON werk_cron_jobs
    FOR EACH ROW EXECUTE PROCEDURE werk_cron_jobs_before_write();
