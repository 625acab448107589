-- See werk_cron_jobs_after_insert.
CREATE OR REPLACE TRIGGER werk_cron_jobs_after_insert
    AFTER INSERT ON werk_cron_jobs
    REFERENCING NEW TABLE AS werk_cron_jobs_inserted
    FOR EACH STATEMENT EXECUTE PROCEDURE werk_cron_jobs_after_insert();
