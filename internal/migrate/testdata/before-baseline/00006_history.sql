-- Run history: every enqueued tick's job outcome, kept in the ledger after pgwerk
-- deletes the job, and failure signals.
--
-- A trigger on werk_jobs, restricted to werkcron's jobs (cron_name set) and to the
-- moment a job reaches a final status (complete, failed, aborted), copies the outcome
-- onto the tick's ledger row; a job deleted before it got there (pgwerk's
-- failure_mode = 'delete' deletes a job on its last failure, from 'active') is recorded
-- as it went. Jobs without cron_name never enter PL/pgSQL: the trigger's WHEN decides.
-- The trigger runs as werkcron's owner (SECURITY DEFINER, search_path pinned), so the
-- role of pgwerk's workers needs no right on werkcron's tables.
--
-- A manually triggered run (werk_cron_trigger) gets a ledger row of its own, outcome
-- 'triggered', at the instant it was triggered, and its outcome like any other.
--
-- pause_after_failures: when a schedule's newest runs are that many failures in a row,
-- werk_cron_pause_failing pauses it, saying why. The trigger calls it as the failure is
-- recorded (never waiting: a schedule row another session holds is left), and the ticker
-- calls it before it enqueues such a schedule, so that a pause the trigger could not
-- make is made before the next job.

-- +goose Up

ALTER TABLE werk_cron_ticks
    ADD COLUMN job_status      text,
    ADD COLUMN job_started_at  timestamptz,
    ADD COLUMN job_finished_at timestamptz,
    ADD COLUMN job_attempts    integer,
    ADD COLUMN job_error       text,
    DROP CONSTRAINT werk_cron_ticks_outcome_is_known,
    ADD CONSTRAINT werk_cron_ticks_outcome_is_known
        CHECK (outcome IN ('enqueued', 'duplicate', 'foreign', 'skipped_overlap', 'missed', 'triggered')),
    ADD CONSTRAINT werk_cron_ticks_job_status_is_final
        CHECK (job_status IN ('complete', 'failed', 'aborted'));
-- Room on each page for the outcome to be written into the same page (a HOT update, no
-- index touched): it is written once per run, on pgwerk's workers' path.
ALTER TABLE werk_cron_ticks SET (fillfactor = 70);

COMMENT ON COLUMN werk_cron_ticks.job_status IS
    'the outcome of the tick''s job when it reached a final status: complete, failed or aborted; NULL while it runs, or for ticks without a job';
COMMENT ON COLUMN werk_cron_ticks.job_error IS
    'the job''s error, its first 2,000 characters';

-- A job finds its ledger row by its id: no parsing of keys on pgwerk's path, and the
-- same for ticks (jittered or not) and manual runs. Only rows with a job are indexed.
CREATE INDEX werk_cron_ticks_job_id_idx ON werk_cron_ticks (job_id) WHERE job_id IS NOT NULL;

-- Job outcomes recorded so far, for werkcron_job_outcomes_total: sequences, because
-- nextval holds no lock until commit (a counter row would make every worker that
-- finishes a job wait for the others). A rolled-back outcome still counts: a metric.
CREATE SEQUENCE werk_cron_outcomes_complete;
CREATE SEQUENCE werk_cron_outcomes_failed;
CREATE SEQUENCE werk_cron_outcomes_aborted;

-- The instant after which a schedule's ticks belong to its current run: since it last
-- started afresh (changed_at: its timing changed, or it was resumed). An interval
-- schedule's first tick is at changed_at rounded down to the second (its anchor), so
-- its run begins just before that second; a cron schedule's first tick is strictly
-- after changed_at.
CREATE FUNCTION werk_cron_afresh_since(changed_at timestamptz, is_interval boolean) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN is_interval THEN pg_catalog.date_trunc('second', changed_at) - interval '1 microsecond'
                ELSE changed_at END
$$;

-- How many of the schedule's newest finished runs failed in a row (at most cap),
-- counting only runs of ticks after the instant given (a resume starts afresh).
-- +goose StatementBegin
CREATE FUNCTION werk_cron_failure_streak(name text, cap integer DEFAULT 1000,
                                         after timestamptz DEFAULT '-infinity') RETURNS integer
LANGUAGE sql STABLE AS $$
    WITH runs AS (
        SELECT t.job_status, pg_catalog.row_number() OVER (ORDER BY t.tick_at DESC) AS n
        FROM (SELECT job_status, tick_at FROM werk_cron_ticks
              WHERE werk_cron_ticks.name = werk_cron_failure_streak.name AND job_status IS NOT NULL
                AND tick_at > werk_cron_failure_streak.after
              ORDER BY tick_at DESC
              LIMIT cap) t
    )
    SELECT coalesce((SELECT pg_catalog.min(n) - 1 FROM runs WHERE job_status <> 'failed')::integer,
                    (SELECT pg_catalog.count(*) FROM runs)::integer)
$$;
-- +goose StatementEnd

-- werk_cron_pause_failing pauses the schedule if its newest runs since it last started
-- afresh (changed_at: its timing changed, or it was resumed) are at least
-- pause_after_failures failures in a row, with paused_reason saying how many and the
-- last error's first line. It never waits for the schedule's row: if another session
-- holds it, nothing happens now (the ticker tries again before the schedule's next
-- job). Returns whether it paused the schedule.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_pause_failing(name text) RETURNS boolean
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
    FROM werk_cron_ticks t
    WHERE t.name = werk_cron_pause_failing.name AND t.job_status IS NOT NULL
    ORDER BY t.tick_at DESC LIMIT 1;
    UPDATE werk_cron_jobs j
    SET paused = true,
        paused_reason = pg_catalog.left(pg_catalog.format('paused after %s failed runs in a row (pause_after_failures = %s); the last: %s',
                                                          streak, threshold, coalesce(nullif(last_err, ''), 'no error given')), 1000)
    WHERE j.name = werk_cron_pause_failing.name;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- The outcome capture. NEW is the job as it is now (status final), or OLD for a delete.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_record_outcome() RETURNS trigger
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
    WHERE t.job_id = j.id AND t.name = j.cron_name
      AND t.outcome <> 'foreign' -- a job that is not the schedule's (see the tick statement)
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

CREATE TRIGGER werk_jobs_record_cron_outcome
    AFTER UPDATE OF status ON werk_jobs
    FOR EACH ROW
    WHEN (NEW.cron_name IS NOT NULL AND NEW.status IN ('complete', 'failed', 'aborted')
          AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION werk_cron_record_outcome();

CREATE TRIGGER werk_jobs_record_cron_outcome_on_delete
    AFTER DELETE ON werk_jobs
    FOR EACH ROW
    WHEN (OLD.cron_name IS NOT NULL AND OLD.status NOT IN ('complete', 'failed', 'aborted'))
    EXECUTE FUNCTION werk_cron_record_outcome();

-- werk_cron_trigger records the manual run in the ledger ('triggered', at the instant
-- it was triggered), so that its outcome shows in the history. (A manual run at the very
-- microsecond of a tick would stand for that tick: one job ran for that instant.)
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
    RETURN v_id;
END
$$;
-- +goose StatementEnd

-- Only the ticker (werk_cron_grant) and the trigger (as the owner) pause for failures.
REVOKE EXECUTE ON FUNCTION werk_cron_pause_failing(text) FROM PUBLIC;

SELECT werk_cron_pin_search_path();

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00006 (run history) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
