-- The ledger side of recording outcomes off the worker path (see 00008): an index of
-- the rows that await their job's outcome, the outcome 'unknown', and the ticker's
-- rights to write outcomes.
--
-- A job whose row vanished with no DELETE trigger firing (TRUNCATE, or deleted before
-- werkcron recorded outcomes) is recorded 'unknown' by the ticker, so that its ledger
-- row stops waiting.

-- +goose Up

-- The ledger rows whose job's outcome is still to be recorded, in the order the ticker
-- goes through them (and finds one schedule's). An outcome write moves a row out of it.
CREATE INDEX werk_cron_ticks_awaiting_idx ON werk_cron_ticks (name, tick_at)
    WHERE job_status IS NULL AND job_id IS NOT NULL AND outcome <> 'foreign';

-- The free room 00006 left on each page served in-page (HOT) outcome writes on the
-- workers' path; an outcome write now leaves the index above, which no HOT update can.
ALTER TABLE werk_cron_ticks RESET (fillfactor);

-- 'unknown': the job's row was gone before its outcome could be recorded. NOT VALID:
-- the rows there passed the old check, which the new one only widens, so the ledger is
-- not scanned for it.
ALTER TABLE werk_cron_ticks
    DROP CONSTRAINT werk_cron_ticks_job_status_is_final,
    ADD CONSTRAINT werk_cron_ticks_job_status_is_final
        CHECK (job_status IN ('complete', 'failed', 'aborted', 'unknown')) NOT VALID;

COMMENT ON COLUMN werk_cron_ticks.job_status IS
    'the outcome of the tick''s job: complete, failed or aborted (recorded by the primary ticker, about a second after the job ends when few jobs are in flight, or when pgwerk deletes the job), unknown if the job''s row vanished unrecorded; NULL while it waits or runs, before it is recorded, or for ticks without a job';

-- werk_cron_grant: as in 00007, and the ticker now writes outcomes — the ledger's job_*
-- columns, from the columns of werk_jobs that hold them — and advances the outcome
-- counters (USAGE on their sequences: nextval).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_grant(role text, apply boolean DEFAULT true) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r    text := pg_catalog.quote_ident(role);
    s    text := pg_catalog.quote_ident(werk_cron_schema());
    stmt text;
BEGIN
    IF role IS NULL OR pg_catalog.lower(role) = 'public' THEN
        RAISE EXCEPTION 'werk_cron_grant: refusing to grant the ticker''s rights to PUBLIC (every role)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'create a role for the ticker: CREATE ROLE werkcron_ticker LOGIN';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role) THEN
        RAISE EXCEPTION 'werk_cron_grant: no role named %', r
            USING ERRCODE = 'undefined_object',
                  HINT = 'create it first: CREATE ROLE ' || r || ' LOGIN';
    END IF;
    FOREACH stmt IN ARRAY ARRAY[
        pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %s', s, r),
        pg_catalog.format('GRANT SELECT, UPDATE (next_run_at, planned_at, last_tick_at, last_job_id, last_error, remaining_runs) '
                          'ON %s.werk_cron_jobs TO %s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, DELETE, UPDATE (job_id, outcome, ticks, decided_at, job_status, job_started_at, '
                          'job_finished_at, job_attempts, job_error) ON %s.werk_cron_ticks TO %s', s, r),
        pg_catalog.format('GRANT INSERT, SELECT (id, key, function, status, cron_name, started_at, completed_at, attempts, error) '
                          'ON %s.werk_jobs TO %s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s.werk_cron_holdups TO %s', s, r),
        pg_catalog.format('GRANT SELECT, DELETE, UPDATE (through_at, enqueued, already, done_at, error) ON %s.werk_cron_backfills TO %s', s, r),
        pg_catalog.format('GRANT SELECT ON %1$s.werk_cron_status, %1$s.werk_cron_instances TO %2$s', s, r),
        pg_catalog.format('GRANT SELECT, USAGE ON SEQUENCE %1$s.werk_cron_outcomes_complete, %1$s.werk_cron_outcomes_failed, '
                          '%1$s.werk_cron_outcomes_aborted TO %2$s', s, r),
        pg_catalog.format('GRANT EXECUTE ON FUNCTION %1$s.werk_cron_schema(), %1$s.werk_cron_channel(), '
                          '%1$s.werk_cron_listen(), %1$s.werk_cron_lock_key(), %1$s.werk_cron_lock_held(), '
                          '%1$s.werk_cron_member_key(), %1$s.werk_cron_list_instances(), %1$s.werk_cron_jitter(text, integer), '
                          '%1$s.werk_cron_pause_failing(text) TO %2$s', s, r)
    ] LOOP
        IF apply THEN
            EXECUTE stmt;
        END IF;
        RETURN NEXT stmt || ';';
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Ticker roles granted before this migration get the new rights now, so that their
-- ticker records outcomes after the upgrade without a new `werkcron grant`: a role
-- granted INSERT and DELETE on the ledger (every werk_cron_grant so far gave both;
-- an application that only triggers runs needs INSERT alone) is a ticker's.
-- +goose StatementBegin
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN
        SELECT ro.rolname
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) x
        JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
        WHERE c.oid = 'werk_cron_ticks'::regclass AND x.privilege_type IN ('INSERT', 'DELETE')
          AND x.grantee <> c.relowner
        GROUP BY ro.rolname
        HAVING pg_catalog.count(DISTINCT x.privilege_type) = 2
    LOOP
        PERFORM werk_cron_grant(r);
    END LOOP;
END
$$;
-- +goose StatementEnd

SELECT werk_cron_pin_search_path();

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00009 (outcome ledger) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
