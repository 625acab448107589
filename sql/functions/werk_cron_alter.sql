-- werk_cron_alter changes only what it is given (NULL keeps the current value), like
-- pg_cron's alter_job. `schedule` replaces the timing (cron or interval). Columns listed
-- in clear go back to their default (NULL for the optional ones): clear =>
-- '{timeout_secs,ends_at}'. Raises no_data_found for an unknown name. labels replaces
-- every label; clear => '{managed_by}' hands a schedule that an owner keeps in a file
-- (werkcron apply) back to people.
--
--   SELECT * FROM werk_cron_alter('report', schedule => '0 8 * * 1-5');
--   SELECT * FROM werk_cron_alter('report', queue => 'reports', clear => '{jitter_secs}');
CREATE OR REPLACE FUNCTION werk_cron_alter(
    name                 text,
    func                 text        DEFAULT NULL,
    schedule             text        DEFAULT NULL,
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
    clear                text[]      DEFAULT NULL,
    labels               jsonb       DEFAULT NULL
) RETURNS werk_cron_jobs
LANGUAGE plpgsql AS $$
DECLARE
    clearable text[] := pg_catalog.array_cat(
                            pg_catalog.array_remove(pg_catalog.array_remove(pg_catalog.array_remove(
                                werk_cron_definition_columns(), 'func'), 'cron'), 'interval_secs'),
                            ARRAY['remaining_runs', 'managed_by']);
    defs  jsonb;
    cols  text;
    sets  text;
    bad   text;
    v_row werk_cron_jobs;
BEGIN
    defs := werk_cron_definition('werk_cron_alter', name, func, schedule, queue, args, kwargs,
        timezone, timeout_secs, result_ttl, failure_ttl, meta, priority, max_attempts, paused,
        catchup, catchup_window_secs, overlap, starts_at, ends_at, jitter_secs, remaining_runs,
        pause_after_failures, start_deadline_secs, max_runtime_secs, exclude_calendar);
    IF labels IS NOT NULL THEN
        defs := defs || pg_catalog.jsonb_build_object('labels', labels);
    END IF;
    SELECT c INTO bad FROM pg_catalog.unnest(clear) c WHERE NOT c = ANY (clearable) LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'werk_cron_alter %: clear: % is not a column that can go back to its default', name, bad
            USING ERRCODE = 'check_violation',
                  HINT = 'clearable: ' || pg_catalog.array_to_string(clearable, ', ');
    END IF;
    SELECT c INTO bad FROM pg_catalog.unnest(clear) c WHERE defs ? c LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'werk_cron_alter %: % is both given and cleared', name, bad
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT string_agg(pg_catalog.format('%I', k), ', ') INTO cols FROM jsonb_object_keys(defs) k;
    SELECT string_agg(pg_catalog.format('%I = DEFAULT', c), ', ') INTO sets FROM pg_catalog.unnest(clear) c;
    IF cols IS NULL AND sets IS NULL THEN
        SELECT * INTO v_row FROM werk_cron_jobs j WHERE j.name = werk_cron_alter.name;
    ELSE
        EXECUTE pg_catalog.format('UPDATE werk_cron_jobs AS j SET %s WHERE j.name = $2 RETURNING j.*',
                       pg_catalog.concat_ws(', ',
                                 CASE WHEN cols IS NOT NULL THEN pg_catalog.format('(%s) = (SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::werk_cron_jobs, $1))', cols, cols) END,
                                 sets))
            INTO v_row USING defs, name;
    END IF;
    IF v_row.name IS NULL THEN
        RAISE EXCEPTION 'werk_cron_alter %: no such schedule', name
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_row;
END
$$;
