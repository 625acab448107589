-- Records the outcome of a werkcron job that pgwerk deletes (after its result_ttl, or
-- on its last failure with failure_mode = 'delete') before the primary saw it end, on
-- the job's ledger row: pgwerk's clean-up path, never its workers' status updates. A
-- job deleted before a final status is recorded as it went; a failed job that pgwerk
-- re-queued and ran again is recorded anew. Runs as werkcron's owner, so that pgwerk's
-- roles need no right on werkcron's tables. OLD is the job as it was deleted.
CREATE OR REPLACE FUNCTION werk_cron_record_outcome() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    j      werk_jobs := OLD;
    final  boolean := OLD.status IN ('complete', 'failed', 'aborted');
    status text;
    err    text;
    hit    integer;
BEGIN
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
                   ELSE 'deleted while ' || j.status END;
    END IF;
    UPDATE werk_cron_ticks t
    SET job_status = status, job_started_at = j.started_at,
        job_finished_at = coalesce(j.completed_at, pg_catalog.clock_timestamp()),
        job_attempts = j.attempts, job_error = pg_catalog.left(err, 2000)
    WHERE t.job_id = j.id AND t.name = j.cron_name
      AND t.outcome <> 'foreign' -- a job that is not the schedule's (see the tick statement)
      AND (t.job_status IS NULL
           -- recorded already, then re-queued by pgwerk and run again: its last run
           OR (final AND (t.job_status <> status
                          OR t.job_finished_at IS DISTINCT FROM coalesce(j.completed_at, t.job_finished_at))));
    GET DIAGNOSTICS hit = ROW_COUNT;
    IF hit = 0 THEN
        RETURN NULL; -- recorded already, or not one of the ticker's jobs
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
