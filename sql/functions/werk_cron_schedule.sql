-- werk_cron_schedule creates or replaces a schedule. `schedule` is either a cron
-- expression ('0 9 * * 1-5', '@daily', '*/10 * * * * *') or a PostgreSQL interval
-- ('5 minutes', '1 hour 30 minutes', 'PT90S'), which becomes interval_secs and must be
-- whole seconds. Every other argument is optional: omitted, a new schedule takes the
-- column's default, and a replaced one is reset to it, so that the same call always
-- leaves the same definition; what the ticker recorded (last_tick_at, ...) is kept, and
-- re-running the same call changes nothing.
--
-- paused and remaining_runs are state as much as definition: omitted, a replaced
-- schedule keeps its own. With keep_state => true (what an application registering its
-- schedules at every start wants) they apply only to a new schedule, so that a restart
-- never resumes a schedule an operator paused, nor refills its runs.
--
-- labels (a JSON object of strings) is definition like the rest: omitted, it is reset
-- to {}. managed_by names the owner that keeps the schedule in a file (werkcron apply);
-- omitted, a replaced schedule keeps its owner.
--
--   SELECT * FROM werk_cron_schedule('ping', 'myapp.tasks.ping', '30 seconds');
--   SELECT * FROM werk_cron_schedule('report', 'myapp.tasks.report', '0 9 * * 1-5',
--                                    timezone => 'Europe/Berlin', args => '["sales"]');
CREATE OR REPLACE FUNCTION werk_cron_schedule(
    name                 text,
    func                 text,
    schedule             text,
    queue                text        DEFAULT NULL,
    args                 jsonb       DEFAULT NULL,
    kwargs               jsonb       DEFAULT NULL,
    timezone             text        DEFAULT NULL,
    timeout_secs         integer     DEFAULT NULL,
    result_ttl           integer     DEFAULT NULL,
    failure_ttl          integer     DEFAULT NULL,
    meta                 jsonb       DEFAULT NULL,
    priority             integer     DEFAULT NULL,
    max_attempts         integer     DEFAULT NULL,
    paused               boolean     DEFAULT NULL,
    catchup              text        DEFAULT NULL,
    catchup_window_secs  integer     DEFAULT NULL,
    overlap              text        DEFAULT NULL,
    starts_at            timestamptz DEFAULT NULL,
    ends_at              timestamptz DEFAULT NULL,
    jitter_secs          integer     DEFAULT NULL,
    remaining_runs       integer     DEFAULT NULL,
    pause_after_failures integer     DEFAULT NULL,
    start_deadline_secs  integer     DEFAULT NULL,
    max_runtime_secs     integer     DEFAULT NULL,
    exclude_calendar     text        DEFAULT NULL,
    keep_state           boolean     DEFAULT false,
    labels               jsonb       DEFAULT NULL,
    managed_by           text        DEFAULT NULL
) RETURNS werk_cron_jobs
LANGUAGE plpgsql AS $$
DECLARE
    v_name text := coalesce(name, func);
    defs   jsonb;
    cols   text;
    sets   text;
    c      text;
    v_row  werk_cron_jobs;
BEGIN
    IF func IS NULL OR schedule IS NULL THEN
        RAISE EXCEPTION 'werk_cron_schedule %: func and schedule are required', coalesce(v_name, '?')
            USING ERRCODE = 'not_null_violation';
    END IF;
    defs := werk_cron_definition('werk_cron_schedule', v_name, func, schedule, queue, args, kwargs,
        timezone, timeout_secs, result_ttl, failure_ttl, meta, priority, max_attempts, paused,
        catchup, catchup_window_secs, overlap, starts_at, ends_at, jitter_secs, remaining_runs,
        pause_after_failures, start_deadline_secs, max_runtime_secs, exclude_calendar) || pg_catalog.jsonb_build_object('name', v_name);
    IF labels IS NOT NULL THEN
        defs := defs || pg_catalog.jsonb_build_object('labels', labels);
    END IF;
    IF managed_by IS NOT NULL THEN
        defs := defs || pg_catalog.jsonb_build_object('managed_by', managed_by);
    END IF;
    SELECT string_agg(pg_catalog.format('%I', k), ', ') INTO cols FROM jsonb_object_keys(defs) k;
    -- On replace: what was given, and DEFAULT for every other definition column; the
    -- state columns only when given (and not keep_state); the owner only when given.
    SELECT string_agg(CASE WHEN defs ? d THEN pg_catalog.format('%1$I = excluded.%1$I', d)
                           ELSE pg_catalog.format('%I = DEFAULT', d) END, ', ')
      INTO sets FROM pg_catalog.unnest(werk_cron_definition_columns()) d;
    FOREACH c IN ARRAY ARRAY['paused', 'remaining_runs'] LOOP
        IF defs ? c AND NOT keep_state THEN
            sets := sets || pg_catalog.format(', %1$I = excluded.%1$I', c);
        END IF;
    END LOOP;
    IF defs ? 'managed_by' THEN
        sets := sets || ', managed_by = excluded.managed_by';
    END IF;
    EXECUTE pg_catalog.format('INSERT INTO werk_cron_jobs AS j (%s) SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::werk_cron_jobs, $1) '
                   'ON CONFLICT ON CONSTRAINT werk_cron_jobs_pkey DO UPDATE SET %s RETURNING j.*', cols, cols, sets)
        INTO v_row USING defs;
    RETURN v_row;
END
$$;
