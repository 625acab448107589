-- The tick writes as little as it can. Measured with 10,000 schedules due at once (a
-- checkpoint before each tick), a tick cost 1,900 bytes of WAL per job where River's
-- periodic jobs cost 807 and the bare job insert 634: the schedule's wide row was
-- rewritten with its index entries, and the ledger row was written with four index
-- entries at the tick and written again when the job ended.
--
-- - The state a tick changes moves out of werk_cron_jobs into werk_cron_state, a narrow
--   row per schedule (its next_run_at, last_tick_at, last job, runs left, last_error,
--   and the planner's marks), so that a tick never rewrites a definition, its args,
--   kwargs and meta. werk_cron_jobs keeps the definition and the pause state.
-- - An enqueued tick's ledger row is written once, when its job's outcome is recorded
--   (or when pgwerk deletes the job, or when a newer tick of the schedule is enqueued
--   while it is unrecorded): until then the schedule's newest enqueued tick is kept by
--   werk_cron_state (last_tick_at only moves forward; last_job_id and last_job_at name
--   it) and by its job's key. Ticks without a job (missed, skipped, foreign) are written
--   when decided, as before.
-- - A schedule's run summary (its newest outcome, its newest run that did not fail) is
--   kept per schedule in werk_cron_health, written when outcomes are recorded; failure
--   streaks count the ledger's failed rows through an index of those alone.
-- - Indexes that served only reads the tick no longer makes go: werk_jobs'
--   cron_name index (overlap is read from the schedule's last job and its ledger rows
--   awaiting an outcome), the ledger's job_id index (a manual run is found by its id
--   among manual runs; any other job by its key).

-- +goose Up

-- Grants to give again when an object file next creates its object: a migration that
-- must drop a view keeps the view's grants here (werkcron migrate gives them and clears
-- them).
ALTER TABLE werk_cron_objects ADD COLUMN grants text[];
COMMENT ON COLUMN werk_cron_objects.grants IS
    'GRANT statements to run when the file next creates its object (kept by a migration that dropped it)';

-- Views, and werk_cron_jobs' triggers, read the columns that move: the object files
-- create them again, as they are now, and each view gets back the grants it had. The
-- tick ledger becomes werk_cron_ledger, and werk_cron_ticks a view over it and
-- werk_cron_state: whoever could read the ledger may read the view.
-- +goose StatementBegin
DO $$
DECLARE
    v text;
BEGIN
    INSERT INTO werk_cron_objects (path, checksum, grants)
    SELECT 'views/' || g.view || '.sql', '', pg_catalog.array_agg(g.stmt ORDER BY g.stmt)
    FROM (SELECT c.relname::text AS view,
                 pg_catalog.format('GRANT %s ON %I TO %I%s', a.privilege_type, c.relname, r.rolname,
                                   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS stmt
          FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
          JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
          WHERE c.relnamespace = pg_catalog.current_schema()::regnamespace AND c.relkind = 'v'
            AND c.relname LIKE 'werk\_cron\_%' AND a.grantee <> c.relowner
          UNION ALL
          SELECT 'werk_cron_ticks', pg_catalog.format('GRANT SELECT ON werk_cron_ticks TO %I', r.rolname)
          FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
          JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
          WHERE c.oid = 'werk_cron_ticks'::regclass AND a.grantee <> c.relowner AND a.privilege_type = 'SELECT') g
    GROUP BY g.view
    ON CONFLICT (path) DO UPDATE SET grants = excluded.grants;
    FOR v IN SELECT c.relname FROM pg_catalog.pg_class c
             WHERE c.relnamespace = pg_catalog.current_schema()::regnamespace AND c.relkind = 'v'
               AND c.relname LIKE 'werk\_cron\_%'
    LOOP
        EXECUTE pg_catalog.format('DROP VIEW %I', v);
    END LOOP;
    FOR v IN SELECT g.tgname FROM pg_catalog.pg_trigger g
             WHERE g.tgrelid = 'werk_cron_jobs'::regclass AND NOT g.tgisinternal
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON werk_cron_jobs', v);
    END LOOP;
END
$$;
-- +goose StatementEnd

CREATE TABLE werk_cron_state (
    name           text PRIMARY KEY REFERENCES werk_cron_jobs (name) ON UPDATE CASCADE ON DELETE CASCADE,
    next_run_at    timestamptz,
    last_tick_at   timestamptz,
    last_job_id    uuid,
    last_job_at    timestamptz,
    remaining_runs integer,
    last_error     text,
    planned_at     timestamptz,
    defined_at     timestamptz NOT NULL,
    CONSTRAINT werk_cron_state_next_run_at_must_be_finite CHECK (pg_catalog.isfinite(next_run_at)),
    CONSTRAINT werk_cron_state_last_tick_at_must_be_finite CHECK (pg_catalog.isfinite(last_tick_at)),
    CONSTRAINT werk_cron_state_remaining_runs_must_not_be_negative CHECK (remaining_runs >= 0),
    CONSTRAINT werk_cron_state_last_error_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(last_error) <= 1024)
) WITH (fillfactor = 70);
COMMENT ON TABLE werk_cron_state IS
    'what the ticker keeps per schedule: the plan, the newest decided tick and job, runs left, why it cannot run; one row per werk_cron_jobs row, written by the ticker';
COMMENT ON COLUMN werk_cron_state.next_run_at IS
    'the plan of record: when the ticker next looks at this schedule (its next tick, or a retry); NULL while awaiting planning, and for paused, ended or failing schedules';
COMMENT ON COLUMN werk_cron_state.last_tick_at IS
    'the newest tick decided (enqueued, missed, skipped); only ever moves forward';
COMMENT ON COLUMN werk_cron_state.last_job_id IS
    'the job of the newest enqueued tick';
COMMENT ON COLUMN werk_cron_state.last_job_at IS
    'the tick of last_job_id while its ledger row is not written yet (it is written with the job''s outcome); NULL when there is none to write';
COMMENT ON COLUMN werk_cron_state.remaining_runs IS
    'runs left: werk_cron_jobs.remaining_runs when it was last set, counted down by each enqueued tick; at 0 the schedule has ended. NULL: unlimited';
COMMENT ON COLUMN werk_cron_state.planned_at IS
    'when the ticker last planned this schedule (wrote next_run_at and last_error); NULL: awaiting planning. Set it to NULL to make the ticker look again';
COMMENT ON COLUMN werk_cron_state.defined_at IS
    'the updated_at of the definition this state was planned for: a new definition plans afresh';
ALTER TABLE werk_cron_state SET (autovacuum_vacuum_scale_factor = 0.05);

-- What the primary reads at every wake-up: the schedules due within its horizon.
CREATE INDEX werk_cron_state_next_run_at_idx ON werk_cron_state (next_run_at) WHERE next_run_at IS NOT NULL;
-- What the planner reads: schedules awaiting planning, newest change first.
CREATE INDEX werk_cron_state_unplanned_idx ON werk_cron_state (defined_at DESC, name DESC) WHERE planned_at IS NULL;
-- A new primary looks again at the schedules in error.
CREATE INDEX werk_cron_state_in_error_idx ON werk_cron_state (name) WHERE last_error IS NOT NULL;

INSERT INTO werk_cron_state (name, next_run_at, last_tick_at, last_job_id, remaining_runs, last_error, planned_at, defined_at)
SELECT name, next_run_at, last_tick_at, last_job_id, remaining_runs, last_error, planned_at, updated_at
FROM werk_cron_jobs;

ALTER TABLE werk_cron_jobs
    DROP COLUMN next_run_at,
    DROP COLUMN last_tick_at,
    DROP COLUMN last_job_id,
    DROP COLUMN last_error,
    DROP COLUMN planned_at;
COMMENT ON COLUMN werk_cron_jobs.remaining_runs IS
    'runs allowed from when it was set: werk_cron_state.remaining_runs counts them down (NULL: unlimited)';

-- The ledger's table is werk_cron_ledger now; werk_cron_ticks, the name people read, is a
-- view of it with each schedule's newest enqueued tick, whose row is still to be written.
ALTER TABLE werk_cron_ticks RENAME TO werk_cron_ledger;
ALTER TABLE werk_cron_ledger RENAME CONSTRAINT werk_cron_ticks_pkey TO werk_cron_ledger_pkey;
ALTER TABLE werk_cron_ledger RENAME CONSTRAINT werk_cron_ticks_outcome_is_known TO werk_cron_ledger_outcome_is_known;
ALTER TABLE werk_cron_ledger RENAME CONSTRAINT werk_cron_ticks_ticks_must_be_positive TO werk_cron_ledger_ticks_must_be_positive;
ALTER TABLE werk_cron_ledger RENAME CONSTRAINT werk_cron_ticks_job_status_is_final TO werk_cron_ledger_job_status_is_final;
ALTER TABLE werk_cron_ledger RENAME CONSTRAINT werk_cron_ticks_name_must_be_at_most_200_bytes TO werk_cron_ledger_name_must_be_at_most_200_bytes;
ALTER TABLE werk_cron_ledger RENAME CONSTRAINT werk_cron_ticks_job_error_must_be_at_most_2_kb TO werk_cron_ledger_job_error_must_be_at_most_2_kb;
ALTER INDEX werk_cron_ticks_tick_at_idx RENAME TO werk_cron_ledger_tick_at_idx;
ALTER INDEX werk_cron_ticks_awaiting_idx RENAME TO werk_cron_ledger_awaiting_idx;
COMMENT ON TABLE werk_cron_ledger IS
    'what happened at each decided tick (read it as werk_cron_ticks, which also shows each schedule''s newest enqueued tick until its row is written with its outcome)';

-- A schedule's runs, summed up as their outcomes are recorded.
CREATE TABLE werk_cron_health (
    name                 text PRIMARY KEY REFERENCES werk_cron_jobs (name) ON UPDATE CASCADE ON DELETE CASCADE,
    last_run_at          timestamptz,
    last_run_status      text,
    last_run_finished_at timestamptz,
    last_ok_at           timestamptz,
    CONSTRAINT werk_cron_health_last_run_status_is_final
        CHECK (last_run_status IN ('complete', 'failed', 'aborted', 'unknown'))
) WITH (fillfactor = 80);
COMMENT ON TABLE werk_cron_health IS
    'each schedule''s runs, summed up by the ticker as their outcomes are recorded';
COMMENT ON COLUMN werk_cron_health.last_run_at IS 'the tick of the newest run whose outcome is recorded';
COMMENT ON COLUMN werk_cron_health.last_ok_at IS 'the tick of the newest run that did not fail (a failure streak is what came after it)';

INSERT INTO werk_cron_health (name, last_run_at, last_run_status, last_run_finished_at, last_ok_at)
SELECT j.name, r.tick_at, r.job_status, r.job_finished_at, ok.tick_at
FROM werk_cron_jobs j
LEFT JOIN LATERAL (SELECT t.tick_at, t.job_status, t.job_finished_at FROM werk_cron_ledger t
                   WHERE t.name = j.name AND t.job_status IS NOT NULL AND t.outcome <> 'foreign'
                   ORDER BY t.tick_at DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT t.tick_at FROM werk_cron_ledger t
                   WHERE t.name = j.name AND t.job_status IS NOT NULL AND t.job_status <> 'failed'
                     AND t.outcome <> 'foreign'
                   ORDER BY t.tick_at DESC LIMIT 1) ok ON true
WHERE r.tick_at IS NOT NULL;

-- The ledger's indexes: its primary key (name, tick_at) for one schedule's history and
-- for every lookup of a tick; tick_at for pruning by age (rows arrive in time order,
-- so its entries are appended); the rows awaiting an outcome (written for a job that is
-- not a schedule's newest: a backfilled tick, a manual run, a tick a newer one
-- superseded); failed runs, which failure streaks and counts read; manual runs by job.
DROP INDEX werk_cron_ticks_job_id_idx;
CREATE INDEX werk_cron_ledger_failed_idx ON werk_cron_ledger (name, tick_at)
    WHERE job_status = 'failed' AND outcome <> 'foreign';
CREATE INDEX werk_cron_ledger_manual_idx ON werk_cron_ledger (job_id) WHERE outcome = 'triggered';

DROP INDEX IF EXISTS werk_jobs_cron_name_unfinished_idx;

-- Whoever could read werk_cron_jobs (where the state was) may read the state and the
-- run summary; ticker roles granted before get the new tables' rights, as
-- werk_cron_grant gives them (a role with the ticker's INSERT and DELETE on the ledger
-- is a ticker's).
-- +goose StatementBegin
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN
        SELECT DISTINCT ro.rolname
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) x
        JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
        WHERE c.oid = 'werk_cron_jobs'::regclass AND x.privilege_type = 'SELECT' AND x.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON werk_cron_state, werk_cron_health TO %I', r);
    END LOOP;
    FOR r IN
        SELECT ro.rolname
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) x
        JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
        WHERE c.oid = 'werk_cron_ledger'::regclass AND x.privilege_type IN ('INSERT', 'DELETE')
          AND x.grantee <> c.relowner
        GROUP BY ro.rolname
        HAVING pg_catalog.count(DISTINCT x.privilege_type) = 2
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, UPDATE (next_run_at, last_tick_at, last_job_id, last_job_at, remaining_runs, '
                                  'last_error, planned_at) ON werk_cron_state TO %I', r);
        -- when a job was enqueued is when its deferred tick was decided
        EXECUTE pg_catalog.format('GRANT SELECT (enqueued_at) ON werk_jobs TO %I', r);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00012 (tick state) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
