-- Inserted schedules wake the ticker once per statement: an INSERT of a million
-- schedules sends one notification.
CREATE OR REPLACE TRIGGER werk_cron_jobs_notify_insert
    AFTER INSERT ON werk_cron_jobs
    FOR EACH STATEMENT EXECUTE PROCEDURE werk_cron_jobs_notify();
