-- Records the outcome of a werkcron job that pgwerk deletes (after its result_ttl, or
-- on its last failure with failure_mode = 'delete') before the primary saw it end:
-- pgwerk's clean-up path, never its workers' status updates. A job deleted before a
-- final status is recorded as it went (expired, if it waited past its expires_at); a failed job that pgwerk re-queued and ran again
-- is recorded anew. The run's ledger row is updated, or, for a schedule's newest
-- enqueued tick (whose row is written with its outcome; see werk_cron_state.last_job_at),
-- written.
--
-- It runs as werkcron's owner (so that pgwerk's roles need no right on werkcron's
-- tables), so it trusts nothing it is handed: it refuses to run for any table but
-- werkcron's werk_jobs (EXECUTE is PUBLIC's no longer, and its search_path puts pg_temp
-- last, so a temporary look-alike of werk_jobs or werk_cron_ledger is never read), it
-- writes only a run werkcron made (its ledger row, or the schedule's state naming that
-- very job), and it cannot raise on ordinary input, which would roll back pgwerk's
-- whole clean-up batch: texts are cut in bytes, the job's key is read without a cast
-- that could fail, and a schedule deleted meanwhile gets no summary. It finds the row by
-- its primary key, read from the job's key (a tick's), or by the job's id among manual
-- runs, after a look at the schedule's state by its key: two index probes at most.
CREATE OR REPLACE FUNCTION werk_cron_record_outcome() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    j        werk_jobs;
    final    boolean;
    status   text;
    err      text;
    tick     timestamptz;
    finished timestamptz;
    hit      integer;
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
    ELSIF j.status IN ('queued', 'scheduled') AND j.expires_at <= pg_catalog.clock_timestamp() THEN
        -- Not started by its start deadline: pgwerk's workers skip it, and its clean-up
        -- deletes it.
        status := 'expired';
        err := 'not started by its start deadline (expires_at ' ||
               pg_catalog.to_char(j.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')';
    ELSE
        -- Deleted before a final status: pgwerk's failure_mode = 'delete' deletes an
        -- active job on its last failure (the error is not kept), and an aborting one;
        -- a job deleted while it waited never ran.
        status := CASE j.status WHEN 'active' THEN 'failed' ELSE 'aborted' END;
        err := CASE j.status
                   WHEN 'active' THEN 'deleted by pgwerk while running (failure_mode = delete keeps no error)'
                   ELSE 'deleted while ' || werk_cron_cut(j.status, 100) END;
    END IF;
    finished := CASE WHEN status = 'expired' THEN j.expires_at
                     ELSE coalesce(j.completed_at, pg_catalog.clock_timestamp()) END;
    tick := werk_cron_tick_of_key(j.key, j.cron_name);
    IF tick IS NULL THEN
        -- Not a tick's key: a manual run's row is at the instant it was triggered.
        SELECT t.tick_at INTO tick FROM werk_cron_ledger t
        WHERE t.job_id = j.id AND t.outcome = 'triggered' AND t.name = j.cron_name;
    END IF;
    IF tick IS NULL THEN
        RETURN NULL; -- not a run werkcron made
    END IF;
    -- A schedule's newest enqueued tick has no ledger row yet (its row is written with
    -- its outcome): written here, if the schedule's state names this very job. A tick
    -- statement enqueuing the schedule's next tick meanwhile writes this one's row (its
    -- outcome not known yet) and moves the state on: the insert waits for that row and
    -- completes it with the outcome (an insert's conflict sees the newest committed row,
    -- whatever its snapshot).
    INSERT INTO werk_cron_ledger AS t (name, tick_at, outcome, job_id, decided_at, job_status, job_started_at,
                                       job_finished_at, job_attempts, job_error)
    SELECT s.name, tick, 'enqueued', j.id, j.enqueued_at, status, j.started_at, finished, j.attempts,
           werk_cron_cut(err, 2048)
    FROM werk_cron_state s
    WHERE s.name = j.cron_name AND s.last_job_id = j.id AND s.last_job_at = tick
    ON CONFLICT (name, tick_at) DO UPDATE
    SET job_status = excluded.job_status, job_started_at = excluded.job_started_at,
        job_finished_at = excluded.job_finished_at, job_attempts = excluded.job_attempts, job_error = excluded.job_error
    WHERE t.job_id = excluded.job_id AND t.outcome <> 'foreign' AND t.job_status IS NULL;
    GET DIAGNOSTICS hit = ROW_COUNT;
    IF hit = 0 THEN
        -- Any other run has its row (or the state moved on before the insert looked, its
        -- row committed by then): record the outcome on it.
        UPDATE werk_cron_ledger t
        SET job_status = status, job_started_at = j.started_at, job_finished_at = finished,
            job_attempts = j.attempts, job_error = werk_cron_cut(err, 2048)
        WHERE t.name = j.cron_name AND t.tick_at = tick AND t.job_id = j.id
          AND t.outcome <> 'foreign' -- a job that held the tick's key, not a run werkcron made
          AND (t.job_status IS NULL
               -- recorded already, then re-queued by pgwerk and run again: its last run
               OR (final AND (t.job_status <> status OR t.job_finished_at IS DISTINCT FROM coalesce(j.completed_at, t.job_finished_at))));
        GET DIAGNOSTICS hit = ROW_COUNT;
    END IF;
    IF hit = 0 THEN
        RETURN NULL; -- recorded already, or not a run werkcron made
    END IF;
    PERFORM pg_catalog.nextval(CASE status WHEN 'complete' THEN 'werk_cron_outcomes_complete'::regclass
                                           WHEN 'failed' THEN 'werk_cron_outcomes_failed'::regclass
                                           WHEN 'expired' THEN 'werk_cron_outcomes_expired'::regclass
                                           ELSE 'werk_cron_outcomes_aborted'::regclass END);
    PERFORM werk_cron_note_runs(ARRAY[j.cron_name], ARRAY[tick], ARRAY[status], ARRAY[finished]);
    IF status = 'failed' THEN
        PERFORM werk_cron_pause_failing(j.cron_name);
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION
    werk_cron_record_outcome() FROM PUBLIC;
