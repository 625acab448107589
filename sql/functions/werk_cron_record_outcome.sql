-- Records the outcome of a werkcron job that pgwerk deletes (after its result_ttl, or
-- on its last failure with failure_mode = 'delete') before the primary saw it end, on
-- the job's ledger row: pgwerk's clean-up path, never its workers' status updates. A
-- job deleted before a final status is recorded as it went; a failed job that pgwerk
-- re-queued and ran again is recorded anew.
--
-- It runs as werkcron's owner (so that pgwerk's roles need no right on werkcron's
-- tables), so it trusts nothing it is handed: it refuses to run for any table but
-- werkcron's werk_jobs (EXECUTE is PUBLIC's no longer, and its search_path puts pg_temp
-- last, so a temporary look-alike of werk_jobs or werk_cron_ticks is never read), it
-- writes only a row the ledger records as the schedule's own run of that very job, and
-- it cannot raise on ordinary input, which would roll back pgwerk's whole clean-up
-- batch: texts are cut in bytes, and the job's key is read without a cast that could
-- fail. It finds the row by its primary key, read from the job's key (a tick's), or by
-- the job's id among the schedule's manual runs: one index probe either way.
CREATE OR REPLACE FUNCTION werk_cron_record_outcome() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    j      werk_jobs;
    final  boolean;
    status text;
    err    text;
    tick   timestamptz;
    hit    integer;
BEGIN
    IF TG_RELID <> 'werk_jobs'::regclass OR TG_OP <> 'DELETE' OR TG_LEVEL <> 'ROW' OR TG_WHEN <> 'AFTER' THEN
        RAISE EXCEPTION 'werk_cron_record_outcome records the jobs werkcron''s werk_jobs deletes, not % of %',
                        TG_OP, TG_RELID::regclass
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    j := OLD;
    final := j.status IN ('complete', 'failed', 'aborted');
    IF final THEN
        status := j.status;
        err := j.error;
    ELSE
        -- Deleted before a final status: pgwerk's failure_mode = 'delete' deletes an
        -- active job on its last failure (the error is not kept), and an aborting one;
        -- a job deleted while it waited never ran.
        status := CASE j.status WHEN 'active' THEN 'failed' ELSE 'aborted' END;
        err := CASE j.status
                   WHEN 'active' THEN 'deleted by pgwerk while running (failure_mode = delete keeps no error)'
                   ELSE 'deleted while ' || werk_cron_cut(j.status, 100) END;
    END IF;
    tick := werk_cron_tick_of_key(j.key, j.cron_name);
    IF tick IS NULL THEN
        -- Not a tick's key: a manual run's row is at the instant it was triggered.
        SELECT t.tick_at INTO tick FROM werk_cron_ticks t
        WHERE t.job_id = j.id AND t.name = j.cron_name AND t.outcome = 'triggered';
    END IF;
    UPDATE werk_cron_ticks t
    SET job_status = status, job_started_at = j.started_at,
        job_finished_at = coalesce(j.completed_at, pg_catalog.clock_timestamp()),
        job_attempts = j.attempts, job_error = werk_cron_cut(err, 2048)
    WHERE t.name = j.cron_name AND t.tick_at = tick AND t.job_id = j.id
      AND t.outcome <> 'foreign' -- a job that held the tick's key, not a run werkcron made
      AND (t.job_status IS NULL
           -- recorded already, then re-queued by pgwerk and run again: its last run
           OR (final AND (t.job_status <> status
                          OR t.job_finished_at IS DISTINCT FROM coalesce(j.completed_at, t.job_finished_at))));
    GET DIAGNOSTICS hit = ROW_COUNT;
    IF hit = 0 THEN
        RETURN NULL; -- recorded already, or not a run werkcron made
    END IF;
    PERFORM pg_catalog.nextval(CASE status WHEN 'complete' THEN 'werk_cron_outcomes_complete'::regclass
                                           WHEN 'failed' THEN 'werk_cron_outcomes_failed'::regclass
                                           ELSE 'werk_cron_outcomes_aborted'::regclass END);
    IF status = 'failed' THEN
        PERFORM werk_cron_pause_failing(j.cron_name);
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION werk_cron_record_outcome() FROM PUBLIC;
