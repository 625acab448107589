-- One write path for a schedule's definition, and its final columns.
--
-- werk_cron_schedule creates or replaces, werk_cron_alter changes only what it is given,
-- werk_cron_pause and werk_cron_resume change the paused state (with a reason): the Go
-- API, the CLI and psql users all go through them. Every default is the column's own,
-- written once in the table's DDL: the functions take NULL for "not given" and build
-- their statements from what was given, using DEFAULT for the rest.
--
-- Built-in functions that take any type (format, unnest, jsonb_build_object, ...) are
-- called as pg_catalog.f: see 00005 for why.
--
-- New columns: paused_reason (why a schedule is paused), jitter_secs, remaining_runs and
-- pause_after_failures (scheduling policies, which the ticker applies), and two more
-- overlap policies through pgwerk's concurrency groups (buffer_one, buffer_all).

-- +goose Up

ALTER TABLE werk_cron_jobs
    ADD COLUMN paused_reason        text,
    ADD COLUMN jitter_secs          integer,
    ADD COLUMN remaining_runs       integer,
    ADD COLUMN pause_after_failures integer,
    ADD CONSTRAINT werk_cron_jobs_jitter_secs_must_not_be_negative CHECK (jitter_secs >= 0),
    ADD CONSTRAINT werk_cron_jobs_remaining_runs_must_not_be_negative CHECK (remaining_runs >= 0),
    ADD CONSTRAINT werk_cron_jobs_pause_after_failures_must_be_positive CHECK (pause_after_failures > 0),
    DROP CONSTRAINT werk_cron_jobs_overlap_must_be_allow_or_skip,
    ADD CONSTRAINT werk_cron_jobs_overlap_must_be_allow_skip_buffer_one_buffer_all
        CHECK (overlap IN ('allow', 'skip', 'buffer_one', 'buffer_all'));

COMMENT ON COLUMN werk_cron_jobs.paused_reason IS
    'why the schedule is paused: an operator''s reason (werk_cron_pause), or the failures that paused it; cleared on resume';
COMMENT ON COLUMN werk_cron_jobs.jitter_secs IS
    'each job''s scheduled_at is its tick plus a fixed offset in [0, jitter_secs) derived from the name and the tick; the key and the ledger keep the tick';
COMMENT ON COLUMN werk_cron_jobs.remaining_runs IS
    'counted down by each enqueued tick; at 0 the schedule has ended. NULL: unlimited';
COMMENT ON COLUMN werk_cron_jobs.pause_after_failures IS
    'after this many consecutive failed runs the ticker pauses the schedule. NULL: never';
COMMENT ON COLUMN werk_cron_jobs.overlap IS
    'allow; skip: no new job while one is queued or running; buffer_one: at most one running and one waiting; buffer_all: every tick, one at a time';

-- The before-write trigger of 00003, plus: a resume clears paused_reason; remaining_runs
-- counted down by a tick (last_tick_at moves in the same write) is the ticker's write,
-- not a new definition; runs given back to a schedule that had used them all up start it
-- afresh, like a new end for one that had ended.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_jobs_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o werk_cron_jobs;
    n werk_cron_jobs;
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.name := coalesce(NEW.name, NEW.func);
        NEW.created_at := clock_timestamp();
        NEW.updated_at := NEW.created_at;
        NEW.changed_at := NEW.created_at;
        NEW.next_run_at := NULL;
        NEW.planned_at := NULL;
        NEW.last_error := NULL;
        IF NOT NEW.paused THEN
            NEW.paused_reason := NULL;
        END IF;
    ELSE
        NEW.created_at := OLD.created_at;
        -- A tick once decided is never decided again, whatever a person writes here.
        NEW.last_tick_at := greatest(OLD.last_tick_at, NEW.last_tick_at);
        IF OLD.paused AND NOT NEW.paused THEN
            NEW.paused_reason := NULL;
        END IF;
        -- The definition is every column but the ticker's and this trigger's own.
        o := OLD;
        n := NEW;
        o.created_at := NULL; o.updated_at := NULL; o.changed_at := NULL; o.next_run_at := NULL;
        o.last_tick_at := NULL; o.last_job_id := NULL; o.last_error := NULL; o.planned_at := NULL;
        n.created_at := NULL; n.updated_at := NULL; n.changed_at := NULL; n.next_run_at := NULL;
        n.last_tick_at := NULL; n.last_job_id := NULL; n.last_error := NULL; n.planned_at := NULL;
        IF NEW.last_tick_at IS DISTINCT FROM OLD.last_tick_at THEN
            o.remaining_runs := NULL; -- counted down by the tick statement
            n.remaining_runs := NULL;
        END IF;
        -- Compared as text: a whole-row = on werk_cron_jobs is resolved when this runs,
        -- and an operator of that exact type created by someone else would win over the
        -- built-in record comparison (text = text cannot be outranked).
        IF n::text IS DISTINCT FROM o::text THEN
            NEW.updated_at := clock_timestamp();
            -- A new definition is planned afresh.
            NEW.next_run_at := NULL;
            NEW.planned_at := NULL;
            NEW.last_error := NULL;
        ELSE
            NEW.updated_at := OLD.updated_at;
        END IF;
        -- A new timing, a resume, a new end for a schedule that had ended, or runs given
        -- back to one that had used them all start it afresh: nothing from before this
        -- moment is ever enqueued for it.
        IF (NEW.cron, NEW.interval_secs, NEW.timezone, NEW.starts_at)
               IS DISTINCT FROM (OLD.cron, OLD.interval_secs, OLD.timezone, OLD.starts_at)
           OR (OLD.paused AND NOT NEW.paused)
           OR (OLD.ends_at < clock_timestamp() AND (NEW.ends_at IS NULL OR NEW.ends_at > OLD.ends_at))
           OR (OLD.remaining_runs = 0 AND (NEW.remaining_runs IS NULL OR NEW.remaining_runs > 0)) THEN
            NEW.changed_at := clock_timestamp();
        ELSE
            NEW.changed_at := OLD.changed_at;
        END IF;
    END IF;

    IF NEW.timezone IS DISTINCT FROM (CASE WHEN TG_OP = 'UPDATE' THEN OLD.timezone END) THEN
        BEGIN
            -- Raises for an unknown zone; far cheaper than a pg_timezone_names lookup.
            PERFORM now() AT TIME ZONE NEW.timezone;
        EXCEPTION WHEN invalid_parameter_value THEN
            RAISE EXCEPTION 'werk_cron_jobs %: unknown time zone %', coalesce(NEW.name, '?'), NEW.timezone
                USING ERRCODE = 'check_violation',
                      HINT = 'use an IANA zone name such as UTC, Europe/Berlin or America/New_York';
        END;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Which writes run the trigger: everything a person may change. The ticker's own writes
-- (next_run_at, planned_at, last_tick_at forward, last_job_id, last_error, and
-- remaining_runs counted down together with last_tick_at) do not, which keeps a tick of
-- many schedules cheap: this WHEN is evaluated without entering PL/pgSQL.
DROP TRIGGER werk_cron_jobs_before_update ON werk_cron_jobs;
CREATE TRIGGER werk_cron_jobs_before_update
    BEFORE UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN ((OLD.name, OLD.func, OLD.queue, OLD.args, OLD.kwargs, OLD.cron, OLD.interval_secs,
           OLD.timezone, OLD.timeout_secs, OLD.result_ttl, OLD.failure_ttl, OLD.meta,
           OLD.priority, OLD.max_attempts, OLD.paused, OLD.catchup, OLD.catchup_window_secs,
           OLD.overlap, OLD.starts_at, OLD.ends_at, OLD.created_at, OLD.updated_at, OLD.changed_at,
           OLD.paused_reason, OLD.jitter_secs, OLD.pause_after_failures)
          IS DISTINCT FROM
          (NEW.name, NEW.func, NEW.queue, NEW.args, NEW.kwargs, NEW.cron, NEW.interval_secs,
           NEW.timezone, NEW.timeout_secs, NEW.result_ttl, NEW.failure_ttl, NEW.meta,
           NEW.priority, NEW.max_attempts, NEW.paused, NEW.catchup, NEW.catchup_window_secs,
           NEW.overlap, NEW.starts_at, NEW.ends_at, NEW.created_at, NEW.updated_at, NEW.changed_at,
           NEW.paused_reason, NEW.jitter_secs, NEW.pause_after_failures)
          OR NEW.last_tick_at IS DISTINCT FROM greatest(OLD.last_tick_at, NEW.last_tick_at)
          OR (NEW.remaining_runs IS DISTINCT FROM OLD.remaining_runs
              AND NEW.last_tick_at IS NOT DISTINCT FROM OLD.last_tick_at))
    EXECUTE FUNCTION werk_cron_jobs_before_write();

-- werk_cron_definition turns the arguments of werk_cron_schedule and werk_cron_alter into
-- the columns they set, as a JSON object holding only what was given (the schedule text
-- becomes cron or interval_secs, and the other of the two is set to NULL). caller and
-- name are for error messages. Checks here are only those that need the arguments
-- themselves (the schedule text); everything else is the table's constraints.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_definition(
    caller text, name text, func text, schedule text, queue text, args jsonb, kwargs jsonb,
    timezone text, timeout_secs integer, result_ttl integer, failure_ttl integer, meta jsonb,
    priority integer, max_attempts integer, paused boolean, catchup text,
    catchup_window_secs integer, overlap text, starts_at timestamptz, ends_at timestamptz,
    jitter_secs integer, remaining_runs integer, pause_after_failures integer
) RETURNS jsonb
LANGUAGE plpgsql STABLE
    SET search_path FROM CURRENT AS $$
DECLARE
    v_sched text := btrim(schedule);
    v_iv    interval;
    v_secs  numeric;
    defs    jsonb;
BEGIN
    defs := jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'func', func, 'queue', queue, 'args', args, 'kwargs', kwargs, 'timezone', timezone,
        'timeout_secs', timeout_secs, 'result_ttl', result_ttl, 'failure_ttl', failure_ttl,
        'meta', meta, 'priority', priority, 'max_attempts', max_attempts, 'paused', paused,
        'catchup', catchup, 'catchup_window_secs', catchup_window_secs, 'overlap', overlap,
        'starts_at', starts_at, 'ends_at', ends_at, 'jitter_secs', jitter_secs,
        'remaining_runs', remaining_runs, 'pause_after_failures', pause_after_failures));
    -- jsonb_strip_nulls also drops JSON nulls inside args and kwargs: put those back.
    IF args IS NOT NULL THEN defs := defs || pg_catalog.jsonb_build_object('args', args); END IF;
    IF kwargs IS NOT NULL THEN defs := defs || pg_catalog.jsonb_build_object('kwargs', kwargs); END IF;
    IF meta IS NOT NULL THEN defs := defs || pg_catalog.jsonb_build_object('meta', meta); END IF;
    IF schedule IS NULL THEN
        RETURN defs;
    END IF;
    IF v_sched = '' THEN
        RAISE EXCEPTION '% %: schedule must be a cron expression or an interval', caller, coalesce(name, '?')
            USING ERRCODE = 'check_violation';
    END IF;
    -- Cron syntax ('*', '?', '/', ',', '#', '@daily', or several fields) never reads as
    -- an interval; for the rest, what PostgreSQL reads as an interval is one, anything
    -- else is cron (whose syntax the ticker checks, reporting a mistake in last_error).
    IF v_sched !~ '[*?/,#]' AND v_sched !~ '^@[A-Za-z]' THEN
        BEGIN
            v_iv := v_sched::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            v_iv := NULL;
        END;
    END IF;
    IF v_iv IS NULL THEN
        RETURN defs || pg_catalog.jsonb_build_object('cron', v_sched, 'interval_secs', NULL);
    END IF;
    IF extract(month FROM v_iv) <> 0 OR extract(year FROM v_iv) <> 0 THEN
        RAISE EXCEPTION '% %: schedule %: months and years have no fixed length', caller, coalesce(name, '?'), v_sched
            USING ERRCODE = 'check_violation',
                  HINT = 'use a cron expression such as ''0 0 1 * *'' for monthly runs';
    END IF;
    v_secs := extract(epoch FROM v_iv);
    IF v_secs <= 0 OR v_secs <> trunc(v_secs) OR v_secs > 2147483647 THEN
        RAISE EXCEPTION '% %: schedule %: an interval must be a positive whole number of seconds', caller, coalesce(name, '?'), v_sched
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN defs || pg_catalog.jsonb_build_object('cron', NULL, 'interval_secs', v_secs::integer);
END
$$;
-- +goose StatementEnd

-- The definition columns, in the order the table has them. State is apart: paused and
-- remaining_runs (see werk_cron_schedule's keep_state), paused_reason (werk_cron_pause).
CREATE FUNCTION werk_cron_definition_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['func', 'queue', 'args', 'kwargs', 'cron', 'interval_secs', 'timezone',
                 'timeout_secs', 'result_ttl', 'failure_ttl', 'meta', 'priority', 'max_attempts',
                 'catchup', 'catchup_window_secs', 'overlap', 'starts_at', 'ends_at',
                 'jitter_secs', 'pause_after_failures']
$$;

DROP FUNCTION werk_cron_schedule(text, text, text, text, jsonb, jsonb, text, integer, integer,
    integer, jsonb, integer, integer, boolean, text, integer, text, timestamptz, timestamptz);

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
--   SELECT * FROM werk_cron_schedule('ping', 'myapp.tasks.ping', '30 seconds');
--   SELECT * FROM werk_cron_schedule('report', 'myapp.tasks.report', '0 9 * * 1-5',
--                                    timezone => 'Europe/Berlin', args => '["sales"]');
-- +goose StatementBegin
CREATE FUNCTION werk_cron_schedule(
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
    keep_state           boolean     DEFAULT false
) RETURNS werk_cron_jobs
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
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
        pause_after_failures) || pg_catalog.jsonb_build_object('name', v_name);
    SELECT string_agg(pg_catalog.format('%I', k), ', ') INTO cols FROM jsonb_object_keys(defs) k;
    -- On replace: what was given, and DEFAULT for every other definition column; the
    -- state columns only when given (and not keep_state).
    SELECT string_agg(CASE WHEN defs ? d THEN pg_catalog.format('%1$I = excluded.%1$I', d)
                           ELSE pg_catalog.format('%I = DEFAULT', d) END, ', ')
      INTO sets FROM pg_catalog.unnest(werk_cron_definition_columns()) d;
    FOREACH c IN ARRAY ARRAY['paused', 'remaining_runs'] LOOP
        IF defs ? c AND NOT keep_state THEN
            sets := sets || pg_catalog.format(', %1$I = excluded.%1$I', c);
        END IF;
    END LOOP;
    EXECUTE pg_catalog.format('INSERT INTO werk_cron_jobs AS j (%s) SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::werk_cron_jobs, $1) '
                   'ON CONFLICT ON CONSTRAINT werk_cron_jobs_pkey DO UPDATE SET %s RETURNING j.*', cols, cols, sets)
        INTO v_row USING defs;
    RETURN v_row;
END
$$;
-- +goose StatementEnd

-- werk_cron_alter changes only what it is given (NULL keeps the current value), like
-- pg_cron's alter_job. `schedule` replaces the timing (cron or interval). Columns listed
-- in clear go back to their default (NULL for the optional ones): clear =>
-- '{timeout_secs,ends_at}'. Raises no_data_found for an unknown name.
--
--   SELECT * FROM werk_cron_alter('report', schedule => '0 8 * * 1-5');
--   SELECT * FROM werk_cron_alter('report', queue => 'reports', clear => '{jitter_secs}');
-- +goose StatementBegin
CREATE FUNCTION werk_cron_alter(
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
    clear                text[]      DEFAULT NULL
) RETURNS werk_cron_jobs
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    clearable text[] := pg_catalog.array_cat(
                            pg_catalog.array_remove(pg_catalog.array_remove(pg_catalog.array_remove(
                                werk_cron_definition_columns(), 'func'), 'cron'), 'interval_secs'),
                            ARRAY['remaining_runs']);
    defs  jsonb;
    cols  text;
    sets  text;
    bad   text;
    v_row werk_cron_jobs;
BEGIN
    defs := werk_cron_definition('werk_cron_alter', name, func, schedule, queue, args, kwargs,
        timezone, timeout_secs, result_ttl, failure_ttl, meta, priority, max_attempts, paused,
        catchup, catchup_window_secs, overlap, starts_at, ends_at, jitter_secs, remaining_runs,
        pause_after_failures);
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
-- +goose StatementEnd

-- Pause with a reason (kept in paused_reason until the resume clears it). Pausing a
-- paused schedule keeps its first reason unless a new one is given.
DROP FUNCTION werk_cron_pause(text);
DROP FUNCTION werk_cron_resume(text);
DROP FUNCTION werk_cron_set_paused(text, boolean, text);

-- +goose StatementBegin
CREATE FUNCTION werk_cron_set_paused(name text, paused boolean, reason text, caller text) RETURNS boolean
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
    was boolean;
BEGIN
    SELECT j.paused INTO was FROM werk_cron_jobs j WHERE j.name = werk_cron_set_paused.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% %: no such schedule', caller, werk_cron_set_paused.name
            USING ERRCODE = 'no_data_found';
    END IF;
    IF was = werk_cron_set_paused.paused THEN
        IF was AND reason IS NOT NULL THEN
            UPDATE werk_cron_jobs j SET paused_reason = reason WHERE j.name = werk_cron_set_paused.name;
        END IF;
        RETURN false;
    END IF;
    UPDATE werk_cron_jobs j
    SET paused = werk_cron_set_paused.paused,
        paused_reason = CASE WHEN werk_cron_set_paused.paused THEN reason END
    WHERE j.name = werk_cron_set_paused.name;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- werk_cron_pause stops a schedule from enqueueing (it stays registered), with an
-- optional reason; werk_cron_resume lets it enqueue again, from now on: ticks that fell
-- in the pause are never backfilled. Both return whether anything changed.
CREATE FUNCTION werk_cron_pause(name text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE sql
    SET search_path FROM CURRENT AS $$ SELECT werk_cron_set_paused(name, true, reason, 'werk_cron_pause') $$;

CREATE FUNCTION werk_cron_resume(name text) RETURNS boolean
LANGUAGE sql
    SET search_path FROM CURRENT AS $$ SELECT werk_cron_set_paused(name, false, NULL, 'werk_cron_resume') $$;

-- Schedules the ticker has had to set aside for a while because another session holds
-- what their tick needs (the schedule's row, or a job key held by an uncommitted
-- transaction). The row itself may be the locked thing, so the ticker cannot write
-- last_error there: it writes here, and the status view shows it. Unlogged: it is the
-- ticker's current view, rebuilt by each new primary, not history.
CREATE UNLOGGED TABLE werk_cron_holdups (
    name   text PRIMARY KEY,
    since  timestamptz NOT NULL,
    reason text NOT NULL
);
COMMENT ON TABLE werk_cron_holdups IS
    'schedules the ticker has set aside because another session holds their row or a job key; written by the ticker, shown by werk_cron_status';

-- The status view shows why a paused schedule is paused, and why a held-up one waits
-- (as an error: it is one while it lasts).
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
       c.paused_reason
FROM werk_cron_jobs c
LEFT JOIN werk_jobs j ON j.id = c.last_job_id
LEFT JOIN werk_cron_holdups h ON h.name = c.name
ORDER BY c.name;

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00004 (one write path) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
