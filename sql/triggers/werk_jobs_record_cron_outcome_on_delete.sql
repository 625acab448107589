-- werkcron's one trigger on pgwerk's table: a deleted werkcron job (cron_name set) has
-- its outcome recorded (werk_cron_record_outcome). Jobs without cron_name never enter
-- PL/pgSQL: the WHEN decides.
CREATE OR REPLACE TRIGGER werk_jobs_record_cron_outcome_on_delete
    AFTER DELETE ON werk_jobs
    FOR EACH ROW
    WHEN (OLD.cron_name IS NOT NULL)
    EXECUTE PROCEDURE werk_cron_record_outcome();
