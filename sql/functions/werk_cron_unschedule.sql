-- werk_cron_unschedule deletes a schedule (its ledger rows stay until pruned; its jobs
-- stay in werk_jobs). Returns true; raises no_data_found for an unknown name.
CREATE OR REPLACE FUNCTION werk_cron_unschedule(name text) RETURNS boolean
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    DELETE FROM werk_cron_jobs j WHERE j.name = werk_cron_unschedule.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'werk_cron_unschedule %: no such schedule', werk_cron_unschedule.name
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN true;
END
$$;
