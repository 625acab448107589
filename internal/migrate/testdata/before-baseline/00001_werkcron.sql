-- werkcron's schema: schedules (werk_cron_jobs), the tick ledger (werk_cron_ticks) and
-- pgwerk's queue table (werk_jobs, created only if pgwerk has not created it yet).
-- Every object lands in the current schema (the first schema of search_path), so two
-- schemas in one database run two independent werkcron installations.

-- +goose Up

-- pgwerk's job table, column for column and index for index as pgwerk creates it with
-- table prefix "werk", so that pgwerk's workers read these rows unchanged and pgwerk's
-- own CREATE ... IF NOT EXISTS later finds everything in place.
CREATE TABLE IF NOT EXISTS werk_jobs (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key                  text UNIQUE,
    function             text NOT NULL,
    queue                text NOT NULL DEFAULT 'default',
    status               text NOT NULL DEFAULT 'queued',
    priority             smallint NOT NULL DEFAULT 0,
    group_key            text,
    payload              jsonb,
    result               jsonb,
    error                text,
    attempts             integer NOT NULL DEFAULT 0,
    max_attempts         integer NOT NULL DEFAULT 1,
    timeout_secs         integer,
    heartbeat_secs       integer,
    scheduled_at         timestamptz NOT NULL DEFAULT now(),
    enqueued_at          timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    completed_at         timestamptz,
    touched_at           timestamptz,
    expires_at           timestamptz,
    worker_id            uuid,
    meta                 jsonb,
    result_ttl           integer,
    failure_ttl          integer,
    failure_mode         text NOT NULL DEFAULT 'hold',
    ttl                  integer,
    on_success           text,
    on_failure           text,
    on_stopped           text,
    on_success_timeout   integer,
    on_failure_timeout   integer,
    on_stopped_timeout   integer,
    retry_intervals      jsonb,
    repeat_remaining     integer,
    repeat_interval_secs integer,
    repeat_intervals     jsonb,
    cron_name            text
);

CREATE INDEX IF NOT EXISTS werk_jobs_dequeue_idx
    ON werk_jobs (queue, status, priority DESC, scheduled_at);
CREATE INDEX IF NOT EXISTS werk_jobs_dequeue_partial_idx
    ON werk_jobs (queue, priority DESC, scheduled_at) WHERE status IN ('queued', 'scheduled');
CREATE INDEX IF NOT EXISTS werk_jobs_active_recovery_idx
    ON werk_jobs (queue, worker_id, heartbeat_secs, touched_at, started_at) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS werk_jobs_group_key_idx
    ON werk_jobs (queue, status, group_key) WHERE group_key IS NOT NULL;
-- werkcron's own: the overlap check ("is a job of this schedule still queued or running?")
-- reads only unfinished jobs, so the index holds only those and stays small.
CREATE INDEX IF NOT EXISTS werk_jobs_cron_name_unfinished_idx
    ON werk_jobs (cron_name) WHERE cron_name IS NOT NULL AND status IN ('queued', 'scheduled', 'active');

-- One row per schedule. People write the definition columns; the ticker writes only
-- next_run_at, last_tick_at, last_job_id and last_error. The CHECK constraints are named
-- as sentences because their names are what psql prints when an INSERT breaks one.
CREATE TABLE werk_cron_jobs (
    name                text PRIMARY KEY,
    func                text NOT NULL,
    queue               text NOT NULL DEFAULT 'default',
    args                jsonb NOT NULL DEFAULT '[]',
    kwargs              jsonb NOT NULL DEFAULT '{}',
    cron                text,
    interval_secs       integer,
    timezone            text NOT NULL DEFAULT 'UTC',
    timeout_secs        integer,
    result_ttl          integer,
    failure_ttl         integer,
    meta                jsonb,
    priority            smallint NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL DEFAULT 1,
    paused              boolean NOT NULL DEFAULT false,
    catchup             text NOT NULL DEFAULT 'latest',
    catchup_window_secs integer,
    overlap             text NOT NULL DEFAULT 'allow',
    starts_at           timestamptz,
    ends_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    changed_at          timestamptz NOT NULL DEFAULT now(),
    next_run_at         timestamptz,
    last_tick_at        timestamptz,
    last_job_id         uuid,
    last_error          text,

    CONSTRAINT werk_cron_jobs_name_must_not_be_blank CHECK (btrim(name) <> ''),
    CONSTRAINT werk_cron_jobs_func_must_not_be_blank CHECK (btrim(func) <> ''),
    CONSTRAINT werk_cron_jobs_queue_must_not_be_blank CHECK (btrim(queue) <> ''),
    -- Job keys go into a unique index, and 'werk:' || queue must fit a NOTIFY channel
    -- (63 bytes): a longer value would fail every tick of the schedule.
    CONSTRAINT werk_cron_jobs_name_must_be_at_most_200_bytes CHECK (octet_length(name) <= 200),
    CONSTRAINT werk_cron_jobs_queue_must_be_at_most_58_bytes CHECK (octet_length(queue) <= 58),
    CONSTRAINT werk_cron_jobs_needs_exactly_one_of_cron_or_interval_secs
        CHECK ((cron IS NULL) <> (interval_secs IS NULL)),
    CONSTRAINT werk_cron_jobs_cron_must_not_be_blank CHECK (btrim(cron) <> ''),
    CONSTRAINT werk_cron_jobs_interval_secs_must_be_positive CHECK (interval_secs > 0),
    CONSTRAINT werk_cron_jobs_args_must_be_a_json_array CHECK (jsonb_typeof(args) = 'array'),
    CONSTRAINT werk_cron_jobs_kwargs_must_be_a_json_object CHECK (jsonb_typeof(kwargs) = 'object'),
    CONSTRAINT werk_cron_jobs_meta_must_be_a_json_object CHECK (jsonb_typeof(meta) = 'object'),
    CONSTRAINT werk_cron_jobs_timeout_secs_must_be_positive CHECK (timeout_secs > 0),
    CONSTRAINT werk_cron_jobs_result_ttl_must_not_be_negative CHECK (result_ttl >= 0),
    CONSTRAINT werk_cron_jobs_failure_ttl_must_not_be_negative CHECK (failure_ttl >= 0),
    CONSTRAINT werk_cron_jobs_max_attempts_must_be_positive CHECK (max_attempts > 0),
    CONSTRAINT werk_cron_jobs_catchup_must_be_none_latest_or_all
        CHECK (catchup IN ('none', 'latest', 'all')),
    CONSTRAINT werk_cron_jobs_catchup_window_secs_must_be_positive CHECK (catchup_window_secs > 0),
    CONSTRAINT werk_cron_jobs_overlap_must_be_allow_or_skip CHECK (overlap IN ('allow', 'skip')),
    CONSTRAINT werk_cron_jobs_ends_at_must_be_after_starts_at CHECK (ends_at > starts_at)
);

COMMENT ON TABLE werk_cron_jobs IS
    'werkcron schedules: insert a row with func and either cron or interval_secs; the ticker enqueues into werk_jobs';
COMMENT ON COLUMN werk_cron_jobs.changed_at IS
    'set on insert, on a change of cron, interval_secs, timezone or starts_at, on resume, and when a schedule past its ends_at gets a later one; no tick before it is ever enqueued';

-- What happened at each decided tick. With the forward-only last_tick_at, this ledger (not
-- the job row's key, which pgwerk deletes after result_ttl) is what makes a tick happen once.
CREATE TABLE werk_cron_ticks (
    name       text NOT NULL,
    tick_at    timestamptz NOT NULL,
    outcome    text NOT NULL,
    job_id     uuid,
    decided_at timestamptz NOT NULL DEFAULT now(),
    -- How many ticks the row stands for: 1, except on the oldest 'missed' row of a long
    -- outage, which also stands for the older missed ticks that got no row of their own.
    ticks      integer NOT NULL DEFAULT 1,
    PRIMARY KEY (name, tick_at),
    CONSTRAINT werk_cron_ticks_outcome_is_known
        CHECK (outcome IN ('enqueued', 'duplicate', 'skipped_overlap', 'missed')),
    CONSTRAINT werk_cron_ticks_ticks_must_be_positive CHECK (ticks > 0)
);
CREATE INDEX werk_cron_ticks_tick_at_idx ON werk_cron_ticks (tick_at);

-- Before each write by a person: default the name, keep the timestamps, keep
-- last_tick_at moving forward only, and check the zone. clock_timestamp(), not now():
-- now() is when the transaction began, and a resume inside a long transaction must not
-- date itself back over ticks that passed while the schedule was still paused.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_jobs_before_write() RETURNS trigger
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
    ELSE
        NEW.created_at := OLD.created_at;
        -- A tick once decided is never decided again, whatever a person writes here.
        NEW.last_tick_at := greatest(OLD.last_tick_at, NEW.last_tick_at);
        -- The definition is every column but the ticker's and this trigger's own.
        o := OLD;
        n := NEW;
        o.created_at := NULL; o.updated_at := NULL; o.changed_at := NULL; o.next_run_at := NULL;
        o.last_tick_at := NULL; o.last_job_id := NULL; o.last_error := NULL;
        n.created_at := NULL; n.updated_at := NULL; n.changed_at := NULL; n.next_run_at := NULL;
        n.last_tick_at := NULL; n.last_job_id := NULL; n.last_error := NULL;
        IF n IS DISTINCT FROM o THEN
            NEW.updated_at := clock_timestamp();
        ELSE
            NEW.updated_at := OLD.updated_at;
        END IF;
        -- A new timing, a resume, or a new end for a schedule that had ended starts it
        -- afresh: nothing from before this moment is ever enqueued for it.
        IF (NEW.cron, NEW.interval_secs, NEW.timezone, NEW.starts_at)
               IS DISTINCT FROM (OLD.cron, OLD.interval_secs, OLD.timezone, OLD.starts_at)
           OR (OLD.paused AND NOT NEW.paused)
           OR (OLD.ends_at < clock_timestamp() AND (NEW.ends_at IS NULL OR NEW.ends_at > OLD.ends_at)) THEN
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

CREATE TRIGGER werk_cron_jobs_before_insert
    BEFORE INSERT ON werk_cron_jobs
    FOR EACH ROW EXECUTE FUNCTION werk_cron_jobs_before_write();

-- The ticker's own writes (next_run_at, last_tick_at forward, last_job_id, last_error)
-- skip the trigger: this WHEN is evaluated without entering PL/pgSQL, which keeps a
-- tick of many schedules cheap. Everything else a person may change is listed here.
CREATE TRIGGER werk_cron_jobs_before_update
    BEFORE UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN ((OLD.name, OLD.func, OLD.queue, OLD.args, OLD.kwargs, OLD.cron, OLD.interval_secs,
           OLD.timezone, OLD.timeout_secs, OLD.result_ttl, OLD.failure_ttl, OLD.meta,
           OLD.priority, OLD.max_attempts, OLD.paused, OLD.catchup, OLD.catchup_window_secs,
           OLD.overlap, OLD.starts_at, OLD.ends_at, OLD.created_at, OLD.updated_at, OLD.changed_at)
          IS DISTINCT FROM
          (NEW.name, NEW.func, NEW.queue, NEW.args, NEW.kwargs, NEW.cron, NEW.interval_secs,
           NEW.timezone, NEW.timeout_secs, NEW.result_ttl, NEW.failure_ttl, NEW.meta,
           NEW.priority, NEW.max_attempts, NEW.paused, NEW.catchup, NEW.catchup_window_secs,
           NEW.overlap, NEW.starts_at, NEW.ends_at, NEW.created_at, NEW.updated_at, NEW.changed_at)
          OR NEW.last_tick_at IS DISTINCT FROM greatest(OLD.last_tick_at, NEW.last_tick_at))
    EXECUTE FUNCTION werk_cron_jobs_before_write();

-- Tell running tickers which schedule changed. The channel carries the schema so that two
-- installations in one database do not wake each other; the payload is the schedule name.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    channel text := 'werk_cron_jobs:' || TG_TABLE_SCHEMA;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify(channel, OLD.name);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.name <> OLD.name) THEN
        PERFORM pg_notify(channel, NEW.name);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER werk_cron_jobs_notify_insert_delete
    AFTER INSERT OR DELETE ON werk_cron_jobs
    FOR EACH ROW EXECUTE FUNCTION werk_cron_jobs_notify();

-- Only definition changes wake the ticker (the before-update trigger moves updated_at
-- exactly then): its own writes must not, or every tick would cause a reload.
CREATE TRIGGER werk_cron_jobs_notify_update
    AFTER UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION werk_cron_jobs_notify();

-- LISTEN takes no parameters, so the ticker subscribes through this function, which
-- derives the channel from the schema the tables live in.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_listen() RETURNS text
LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    channel text := 'werk_cron_jobs:' || current_schema();
BEGIN
    EXECUTE format('LISTEN %I', channel);
    RETURN channel;
END
$$;
-- +goose StatementEnd

-- The advisory lock that makes one ticker primary. Derived from the schema name, so two
-- installations in one database (two schemas) elect their primaries independently.
-- pg_locks shows a bigint advisory key as classid = high 32 bits, objid = low 32 bits.
CREATE FUNCTION werk_cron_lock_key() RETURNS bigint
LANGUAGE sql STABLE
    SET search_path FROM CURRENT AS $$ SELECT hashtextextended('werkcron:' || current_schema(), 0) $$;

-- True only if this very backend holds the leader lock. Behind a transaction-pooling
-- proxy pg_try_advisory_lock can succeed on one server session while the next statement
-- runs on another, which silently breaks session locks: the ticker checks this after
-- taking the lock and refuses to lead when it is false.
CREATE FUNCTION werk_cron_lock_held() RETURNS boolean
LANGUAGE sql STABLE
    SET search_path FROM CURRENT AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
          AND pid = pg_backend_pid()
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint = (werk_cron_lock_key() >> 32) & 4294967295
          AND objid::bigint = werk_cron_lock_key() & 4294967295
          AND objsubid = 1)
$$;

-- Every running ticker holds this key in shared mode for the life of its session, so
-- that werk_cron_instances can list standbys too, straight from pg_locks.
CREATE FUNCTION werk_cron_member_key() RETURNS bigint
LANGUAGE sql STABLE
    SET search_path FROM CURRENT AS $$ SELECT hashtextextended('werkcron-member:' || current_schema(), 0) $$;

-- Every running ticker of this schema, from pg_locks and pg_stat_activity (so it is
-- never stale): primary is the session holding the leader lock. A primary sets
-- " leader@<unix time>" at the end of its application_name when it takes over.
-- (A function under the view, because sqlc does not know the system catalogs.)
CREATE FUNCTION werk_cron_list_instances()
RETURNS TABLE (pid integer, role text, since timestamptz, application_name text,
               client_addr inet, backend_start timestamptz)
LANGUAGE sql STABLE
    SET search_path FROM CURRENT AS $$
    WITH keys AS (
        SELECT werk_cron_lock_key() AS leader, werk_cron_member_key() AS member,
               (SELECT oid FROM pg_database WHERE datname = current_database()) AS db
    ),
    held AS (
        SELECT l.pid, l.classid::bigint AS hi, l.objid::bigint AS lo
        FROM pg_locks l, keys k
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = k.db
    )
    SELECT a.pid,
           CASE WHEN leader.pid IS NOT NULL THEN 'primary' ELSE 'standby' END,
           CASE WHEN leader.pid IS NOT NULL
                THEN coalesce(to_timestamp(substring(a.application_name FROM ' leader@([0-9]+)$')::bigint),
                              a.backend_start)
                ELSE a.backend_start END,
           regexp_replace(a.application_name, ' leader@[0-9]+$', ''),
           a.client_addr,
           a.backend_start
    FROM keys k
    JOIN held member ON member.hi = (k.member >> 32) & 4294967295 AND member.lo = k.member & 4294967295
    JOIN pg_stat_activity a ON a.pid = member.pid
    LEFT JOIN held leader ON leader.pid = member.pid
         AND leader.hi = (k.leader >> 32) & 4294967295 AND leader.lo = k.leader & 4294967295
$$;

CREATE VIEW werk_cron_instances AS
SELECT * FROM werk_cron_list_instances() ORDER BY 2, 3;

-- One row per schedule, for people at a psql prompt.
CREATE VIEW werk_cron_status AS
SELECT c.name,
       CASE WHEN c.paused THEN 'paused'
            WHEN c.last_error IS NOT NULL THEN 'error'
            -- Past its end, or no tick left before the end once a ticker decided one.
            WHEN c.ends_at < now()
              OR (c.next_run_at IS NULL AND c.ends_at IS NOT NULL AND c.last_tick_at IS NOT NULL) THEN 'ended'
            -- No ticker has planned it yet (none running, or it was just added).
            WHEN c.next_run_at IS NULL THEN 'unplanned'
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
       c.last_error
FROM werk_cron_jobs c
LEFT JOIN werk_jobs j ON j.id = c.last_job_id
ORDER BY c.name;

-- +goose Down
DROP VIEW IF EXISTS werk_cron_status;
DROP VIEW IF EXISTS werk_cron_instances;
DROP FUNCTION IF EXISTS werk_cron_list_instances();
DROP FUNCTION IF EXISTS werk_cron_member_key();
DROP FUNCTION IF EXISTS werk_cron_lock_held();
DROP FUNCTION IF EXISTS werk_cron_lock_key();
DROP FUNCTION IF EXISTS werk_cron_listen();
DROP TABLE IF EXISTS werk_cron_ticks;
DROP TABLE IF EXISTS werk_cron_jobs;
DROP FUNCTION IF EXISTS werk_cron_jobs_notify();
DROP FUNCTION IF EXISTS werk_cron_jobs_before_write();
DROP INDEX IF EXISTS werk_jobs_cron_name_unfinished_idx;
-- werk_jobs stays: it is pgwerk's table and may hold jobs that are not ours.
