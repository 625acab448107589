-- Run outcomes leave pgwerk's worker path.
--
-- 00006 copied a run's outcome onto its ledger row from a trigger on pgwerk's status
-- update. Measured, that write cost pgwerk's workers 10-11% per cron job (BENCHMARKS.md),
-- where 5% is allowed; an empty trigger alone cost 1.6%. Now pgwerk's status updates fire
-- no werkcron trigger at all, and outcomes are recorded in two places instead:
--
--  * The primary ticker reads the ledger rows that still await their job's outcome (a
--    partial index of 00009 holds just them) against werk_jobs, and writes the final
--    ones, a few thousand rows per statement, about once a second while any await
--    (queries/outcomes.sql). Before it enqueues a schedule that pauses after failures, it
--    records that schedule's outcomes first, so the pause comes before the next job.
--  * A job deleted before the primary saw its outcome (pgwerk deletes a finished job
--    after result_ttl, or on its last failure with failure_mode = 'delete') is recorded
--    by a trigger on the DELETE: pgwerk's clean-up path, not its workers'. A failed job
--    that pgwerk re-queued and ran again is recorded anew when it is deleted.
--
-- Two migrations, so that neither holds a lock on werk_jobs and one on the ledger at
-- once: with the old trigger alive, a worker finishing a cron job holds werk_jobs and
-- then writes the ledger, and a migration locking them the other way round would
-- deadlock with it.

-- +goose Up

-- The outcome capture on delete. OLD is the job as it was deleted.
-- +goose StatementBegin
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
-- +goose StatementEnd

-- werk_cron_trigger now also tells the primary (on werkcron's channel) that a run awaits
-- its outcome: the primary looks for outcomes only while it knows some await.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_trigger(name text) RETURNS uuid
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s    werk_cron_jobs;
    v_id uuid := pg_catalog.gen_random_uuid();
    v_at timestamptz := pg_catalog.clock_timestamp();
BEGIN
    SELECT * INTO s FROM werk_cron_jobs j WHERE j.name = werk_cron_trigger.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'werk_cron_trigger %: no such schedule', werk_cron_trigger.name
            USING ERRCODE = 'no_data_found';
    END IF;
    -- In the schedule's concurrency group, like its ticks' jobs, for overlap buffer_one
    -- and buffer_all: a manual run too waits for the running one.
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, group_key, payload, max_attempts,
                           timeout_secs, scheduled_at, enqueued_at, meta, result_ttl, failure_ttl, cron_name)
    VALUES (v_id, 'cron:' || s.name || ':manual:' || v_id::text, s.func, s.queue, 'queued', s.priority,
            CASE WHEN s.overlap IN ('buffer_one', 'buffer_all') THEN 'cron:' || s.name END,
            pg_catalog.jsonb_build_object('args', s.args, 'kwargs', s.kwargs), s.max_attempts,
            s.timeout_secs, v_at, v_at, s.meta, s.result_ttl, s.failure_ttl, s.name);
    INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id, decided_at)
    VALUES (s.name, v_at, 'triggered', v_id, v_at)
    ON CONFLICT DO NOTHING;
    PERFORM pg_catalog.pg_notify('werk:' || s.queue, '');
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    RETURN v_id;
END
$$;
-- +goose StatementEnd

-- pgwerk's status updates fire no werkcron trigger from now on, and its deletes this
-- one. This migration locks werk_jobs (for the triggers) and no werkcron table, the
-- order pgwerk's workers lock in while the old trigger lives: 00009 then changes the
-- ledger, which pgwerk's sessions reach only through the delete trigger by then.
DROP TRIGGER werk_jobs_record_cron_outcome ON werk_jobs;
DROP TRIGGER werk_jobs_record_cron_outcome_on_delete ON werk_jobs;
CREATE TRIGGER werk_jobs_record_cron_outcome_on_delete
    AFTER DELETE ON werk_jobs
    FOR EACH ROW
    WHEN (OLD.cron_name IS NOT NULL)
    EXECUTE FUNCTION werk_cron_record_outcome();

SELECT werk_cron_pin_search_path();

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00008 (outcomes off the worker path) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
