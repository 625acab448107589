-- werk_cron_pause_failing pauses the schedule if its newest runs since it last started
-- afresh (changed_at: its timing changed, or it was resumed) are at least
-- pause_after_failures failures in a row, with paused_reason saying how many and the
-- last error's first line. It never waits for the schedule's row: if another session
-- holds it, nothing happens now (the ticker tries again before the schedule's next
-- job). Returns whether it paused the schedule. paused_reason is cut to its 1 KB in
-- bytes, whatever characters the job's error holds.
CREATE OR REPLACE FUNCTION werk_cron_pause_failing(name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    threshold integer;
    since     timestamptz;
    streak    integer;
    last_err  text;
BEGIN
    SELECT j.pause_after_failures, werk_cron_afresh_since(j.changed_at, j.interval_secs IS NOT NULL)
    INTO threshold, since
    FROM werk_cron_jobs j
    WHERE j.name = werk_cron_pause_failing.name AND NOT j.paused AND j.pause_after_failures IS NOT NULL
    FOR NO KEY UPDATE SKIP LOCKED;
    IF threshold IS NULL THEN
        RETURN false; -- no such policy, paused already, or held by another session
    END IF;
    streak := werk_cron_failure_streak(werk_cron_pause_failing.name, threshold, since);
    IF streak < threshold THEN
        RETURN false;
    END IF;
    SELECT pg_catalog.split_part(coalesce(t.job_error, ''), E'\n', 1) INTO last_err
    FROM werk_cron_ledger t
    WHERE t.name = werk_cron_pause_failing.name AND t.job_status = 'failed' AND t.outcome <> 'foreign'
    ORDER BY t.tick_at DESC LIMIT 1;
    UPDATE werk_cron_jobs j
    SET paused = true,
        paused_reason = werk_cron_cut(pg_catalog.format('paused after %s failed runs in a row (pause_after_failures = %s); the last: %s',
                                                        streak, threshold, coalesce(nullif(last_err, ''), 'no error given')), 1024)
    WHERE j.name = werk_cron_pause_failing.name;
    PERFORM werk_cron_trusted_triggers(); -- what it wrote ran no other role's code
    RETURN true;
END
$$;

-- Only the ticker (werk_cron_grant) and the trigger (as the owner) pause for failures.
REVOKE EXECUTE ON FUNCTION
    werk_cron_pause_failing(text) FROM PUBLIC;
