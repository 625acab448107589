-- Pauses or resumes a schedule for werk_cron_pause and werk_cron_resume, with a reason
-- kept in paused_reason until a resume clears it (pausing a paused schedule keeps its
-- first reason unless a new one is given). Returns whether anything changed; caller
-- names the function in error messages.
CREATE OR REPLACE FUNCTION werk_cron_set_paused(name text, paused boolean, reason text, caller text) RETURNS boolean
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    was boolean;
BEGIN
    SELECT j.paused INTO was FROM werk_cron_jobs j WHERE j.name = werk_cron_set_paused.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% %: no such schedule', caller, werk_cron_set_paused.name
            USING ERRCODE = 'no_data_found';
    END IF;
    IF was = werk_cron_set_paused.paused THEN
        IF was AND reason IS NOT NULL THEN
            UPDATE werk_cron_jobs j SET paused_reason = reason WHERE j.name = werk_cron_set_paused.name;
        END IF;
        RETURN false;
    END IF;
    UPDATE werk_cron_jobs j
    SET paused = werk_cron_set_paused.paused,
        paused_reason = CASE WHEN werk_cron_set_paused.paused THEN reason END
    WHERE j.name = werk_cron_set_paused.name;
    RETURN true;
END
$$;
