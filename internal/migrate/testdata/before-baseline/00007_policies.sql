-- Scheduling policies: buffer_one and buffer_all (through pgwerk's concurrency groups),
-- jitter, limited runs (columns of 00004, applied by the tick statement), and backfill.
--
-- Backfill: cron math lives in the ticker, so werk_cron_backfill records a request that
-- the primary carries out within a second (it is woken by a notification, like for a
-- changed schedule): every tick of the schedule in [from, to] that has no job yet —
-- recorded missed or skipped_overlap, or never decided — is enqueued under its usual
-- key, with a ledger row 'backfilled', so that a tick that has a job never gets a second
-- one and running the same backfill twice changes nothing. last_tick_at is never moved,
-- and ticks the schedule itself is still to decide (after last_tick_at, while it runs)
-- are left to it. The request row says how far it has come, when it was done, how many
-- ticks were enqueued and how many had a job already, or why it could not be done
-- (werkcron backfill waits for that and prints it). The ticker refuses a range of more
-- than 100,000 ticks, and one reaching back beyond its ledger retention (older ticks
-- may have run and left no record).

-- +goose Up

-- A backfilled tick's ledger row says so.
ALTER TABLE werk_cron_ticks
    DROP CONSTRAINT werk_cron_ticks_outcome_is_known,
    ADD CONSTRAINT werk_cron_ticks_outcome_is_known
        CHECK (outcome IN ('enqueued', 'duplicate', 'foreign', 'skipped_overlap', 'missed', 'triggered', 'backfilled'));

CREATE TABLE werk_cron_backfills (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    from_at      timestamptz NOT NULL,
    to_at        timestamptz NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    requested_by text NOT NULL DEFAULT current_user,
    -- Progress, kept as the primary goes (a few thousand ticks per statement), so that a
    -- new primary takes over a long backfill where the last one stopped.
    through_at   timestamptz,
    enqueued     integer NOT NULL DEFAULT 0,
    already      integer NOT NULL DEFAULT 0,
    done_at      timestamptz,
    error        text,
    CONSTRAINT werk_cron_backfills_from_at_must_not_be_after_to_at CHECK (from_at <= to_at),
    CONSTRAINT werk_cron_backfills_instants_must_be_finite CHECK (pg_catalog.isfinite(from_at) AND pg_catalog.isfinite(to_at))
);
COMMENT ON TABLE werk_cron_backfills IS
    'backfill requests (werk_cron_backfill); the primary ticker carries them out, oldest first, fills in done_at, enqueued, already or error, and deletes them with the ledger rows of their age';
-- What the primary looks at: the requests not done yet.
CREATE INDEX werk_cron_backfills_pending_idx ON werk_cron_backfills (id) WHERE done_at IS NULL;

-- werk_cron_jitter is the offset of a job's run from its tick, for a schedule with
-- jitter_secs: in [0, jitter_secs), to the millisecond, from a hash of the job's key (the
-- schedule's name and tick), so that every ticker, every retry and a backfill give a tick
-- the same one. The key and the ledger keep the tick itself.
CREATE FUNCTION werk_cron_jitter(key text, jitter_secs integer) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN jitter_secs > 0
                THEN ((pg_catalog.hashtextextended(key, 0) & 9223372036854775807)
                      % (jitter_secs::bigint * 1000))::float8 * interval '1 millisecond'
                ELSE interval '0' END
$$;

-- werk_cron_backfill asks the primary to enqueue every tick of the schedule in
-- [from, to] that has no job yet, and returns the request's id (see the top of this
-- file). The range may not be reversed, nor begin in the future; its end is taken as
-- now if later. It holds at most 100,000 ticks of the schedule (the ticker refuses a
-- longer one, in the request's error).
-- +goose StatementBegin
CREATE FUNCTION werk_cron_backfill(name text, "from" timestamptz, "to" timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM werk_cron_jobs j WHERE j.name = werk_cron_backfill.name) THEN
        RAISE EXCEPTION 'werk_cron_backfill %: no such schedule', werk_cron_backfill.name
            USING ERRCODE = 'no_data_found';
    END IF;
    IF "from" IS NULL OR "to" IS NULL OR NOT pg_catalog.isfinite("from") OR NOT pg_catalog.isfinite("to") THEN
        RAISE EXCEPTION 'werk_cron_backfill %: from and to must be instants', werk_cron_backfill.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF "from" > "to" THEN
        RAISE EXCEPTION 'werk_cron_backfill %: the range is reversed: from % is after to %', werk_cron_backfill.name, "from", "to"
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF "from" > pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'werk_cron_backfill %: the range is in the future: from % has not come yet', werk_cron_backfill.name, "from"
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'a backfill enqueues ticks that have passed; future ticks are the schedule''s own';
    END IF;
    INSERT INTO werk_cron_backfills (name, from_at, to_at)
    VALUES (werk_cron_backfill.name, "from", least("to", pg_catalog.clock_timestamp()))
    RETURNING id INTO v_id;
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    RETURN v_id;
END
$$;
-- +goose StatementEnd

-- The status view gains the run history of 00006 — the outcome of the last run,
-- failures in a row since the schedule last started afresh (as pause_after_failures
-- counts them: a resumed schedule does not show the streak that paused it), failures in
-- the last 24 hours, read per schedule from its ledger rows, newest first — and the
-- policies that shape what a schedule enqueues: overlap, jitter_secs and remaining_runs
-- (werkcron ls shows them).
DROP VIEW werk_cron_status;
CREATE VIEW werk_cron_status AS
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

-- werk_cron_grant gives role what a ticker needs once an owner has migrated, and no
-- more: read schedules and write only the ticker's own columns of werk_cron_jobs,
-- insert jobs and read only the columns of werk_jobs a tick looks at, keep the tick
-- ledger, the hold-ups and the backfill requests, read the views and the outcome
-- counters, pause a schedule for its failures. No DDL, no DELETE on werk_jobs. The
-- ticker then runs with --no-migrate under role. Returns the statements, one per row;
-- with apply => false it only returns them (what `werkcron grant ROLE` prints). PUBLIC
-- (and any name that is not an existing role) is refused: the ticker's rights include
-- enqueueing any function on any queue.
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
        pg_catalog.format('GRANT SELECT, INSERT, DELETE, UPDATE (job_id, outcome, ticks, decided_at) ON %s.werk_cron_ticks TO %s', s, r),
        pg_catalog.format('GRANT INSERT, SELECT (id, key, function, status, cron_name) ON %s.werk_jobs TO %s', s, r),
        pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s.werk_cron_holdups TO %s', s, r),
        pg_catalog.format('GRANT SELECT, DELETE, UPDATE (through_at, enqueued, already, done_at, error) ON %s.werk_cron_backfills TO %s', s, r),
        pg_catalog.format('GRANT SELECT ON %1$s.werk_cron_status, %1$s.werk_cron_instances, %1$s.werk_cron_outcomes_complete, '
                          '%1$s.werk_cron_outcomes_failed, %1$s.werk_cron_outcomes_aborted TO %2$s', s, r),
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

SELECT werk_cron_pin_search_path();

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00007 (policies) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
