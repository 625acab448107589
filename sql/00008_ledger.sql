-- A tick whose job key is held by a job that is not the schedule's (another cron_name
-- or function) got no job of its own: its ledger row says 'foreign' and names that job,
-- instead of passing for an ordinary 'duplicate'. The status view counts consecutive
-- failures since the schedule last started afresh (resumed, or its timing changed), as
-- pause_after_failures does, so a resumed schedule no longer shows the streak that
-- paused it. A job's outcome is never copied onto a 'foreign' row.

-- +goose Up

ALTER TABLE werk_cron_ticks
    DROP CONSTRAINT werk_cron_ticks_outcome_is_known,
    ADD CONSTRAINT werk_cron_ticks_outcome_is_known
        CHECK (outcome IN ('enqueued', 'duplicate', 'foreign', 'skipped_overlap', 'missed', 'triggered', 'backfilled'));

CREATE OR REPLACE VIEW werk_cron_status AS
SELECT c.name,
       CASE WHEN c.paused THEN 'paused'
            WHEN c.last_error IS NOT NULL OR h.name IS NOT NULL THEN 'error'
            WHEN c.planned_at IS NULL THEN 'unplanned'
            WHEN c.next_run_at IS NULL OR c.ends_at < now() THEN 'ended'
            ELSE 'active' END AS state,
       coalesce(c.cron, 'every ' || c.interval_secs || 's') AS schedule,
       c.timezone,
       c.func,
       c.queue,
       c.paused,
       c.next_run_at,
       date_trunc('second', c.next_run_at - now()) AS next_in,
       c.last_tick_at,
       j.status AS last_job_status,
       c.last_job_id,
       coalesce(c.last_error,
                'held up since ' || to_char(h.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ': ' || h.reason) AS last_error,
       c.paused_reason,
       r.job_status AS last_run_status,
       r.job_finished_at AS last_run_finished_at,
       werk_cron_failure_streak(c.name, 1000, werk_cron_afresh_since(c.changed_at, c.interval_secs IS NOT NULL)) AS consecutive_failures,
       (SELECT count(*) FROM werk_cron_ticks f
        WHERE f.name = c.name AND f.tick_at > now() - interval '1 day' AND f.job_status = 'failed')::integer AS failures_24h,
       c.overlap,
       c.jitter_secs,
       c.remaining_runs
FROM werk_cron_jobs c
LEFT JOIN werk_jobs j ON j.id = c.last_job_id
LEFT JOIN werk_cron_holdups h ON h.name = c.name
LEFT JOIN LATERAL (SELECT t.job_status, t.job_finished_at FROM werk_cron_ticks t
                   WHERE t.name = c.name AND t.job_status IS NOT NULL
                   ORDER BY t.tick_at DESC LIMIT 1) r ON true
ORDER BY c.name;

-- The outcome capture, as in 00006, but never onto a 'foreign' ledger row: the job named
-- there is not the schedule's, and its failures must not count as the schedule's.
-- NEW is the job as it is now (status final), or OLD for a delete.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_record_outcome() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    j      werk_jobs;
    status text;
    err    text;
    hit    integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        j := OLD;
        -- Deleted before a final status: pgwerk's failure_mode = 'delete' deletes an
        -- active job on its last failure (the error is not kept), and an aborting one;
        -- a job deleted while it waited never ran.
        status := CASE j.status WHEN 'active' THEN 'failed' ELSE 'aborted' END;
        err := CASE j.status
                   WHEN 'active' THEN 'deleted by pgwerk while running (failure_mode = delete keeps no error)'
                   ELSE 'deleted while ' || j.status END;
    ELSE
        j := NEW;
        status := j.status;
        err := j.error;
    END IF;
    UPDATE werk_cron_ticks t
    SET job_status = status, job_started_at = j.started_at,
        job_finished_at = coalesce(j.completed_at, pg_catalog.clock_timestamp()),
        job_attempts = j.attempts, job_error = pg_catalog.left(err, 2000)
    WHERE t.job_id = j.id AND t.name = j.cron_name AND t.outcome <> 'foreign'
      AND (TG_OP = 'UPDATE' OR t.job_status IS NULL);
    GET DIAGNOSTICS hit = ROW_COUNT;
    IF hit = 0 THEN
        RETURN NULL; -- not one of the ticker's jobs (another cron scheduler's, say)
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
-- +goose StatementEnd

SELECT werk_cron_pin_search_path();

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00008 (ledger) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
