-- Hostile and odd input: nothing another database user can create — a row, a role, a
-- schema, a function — may stop, split or own the ticker.
--
-- Where werkcron lives is fixed now, at migration time (werk_cron_schema()), and the
-- lock keys and the notification channel are computed from it, whoever calls: a schema
-- named after the ticker's role ("$user", first in PostgreSQL's default search_path)
-- no longer gives that ticker another key and channel.
--
-- Every werkcron function runs with search_path = pg_catalog, <its schema> (pinned by
-- werk_cron_pin_search_path, which each migration calls last), and calls the built-ins
-- that take any type (format, unnest, jsonb_build_object, ...) as pg_catalog.f: a
-- function of the same name with exact argument types, created in a schema on the path
-- by someone else, would otherwise win overload resolution over the built-in and run as
-- whoever called (CVE-2018-1058's pattern). The ticker's session uses the same path.
--
-- A row gets no value the ticker cannot handle: timestamps are finite, and args,
-- kwargs, meta and func have sizes that every tick can copy.

-- +goose Up

-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION werk_cron_schema() RETURNS text LANGUAGE sql IMMUTABLE AS %L',
        pg_catalog.format('SELECT %L::text', pg_catalog.current_schema()));
END
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION werk_cron_schema() IS
    'the schema werkcron was migrated into: the lock keys and the notification channel derive from it';

-- The channel the ticker listens on for changes. A NOTIFY channel holds 63 bytes: a
-- long schema name is hashed (md5 is a name here, not a secret).
CREATE FUNCTION werk_cron_channel() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN pg_catalog.octet_length(werk_cron_schema()) <= 48
                THEN 'werk_cron_jobs:' || werk_cron_schema()
                ELSE 'werk_cron_jobs:' || pg_catalog.md5(werk_cron_schema()) END
$$;

-- The keys as before (the same values, so that tickers of two versions agree during an
-- upgrade), but from the fixed schema rather than the caller's current_schema().
CREATE OR REPLACE FUNCTION werk_cron_lock_key() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.hashtextextended('werkcron:' || werk_cron_schema(), 0) $$;

CREATE OR REPLACE FUNCTION werk_cron_member_key() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.hashtextextended('werkcron-member:' || werk_cron_schema(), 0) $$;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_listen() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE pg_catalog.format('LISTEN %I', werk_cron_channel());
    RETURN werk_cron_channel();
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The same channel and payload every time: PostgreSQL delivers it once per
    -- transaction, however many rows changed.
    PERFORM pg_catalog.pg_notify(werk_cron_channel(), '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Every running ticker of this schema, from pg_locks and pg_stat_activity (so it is
-- never stale): primary is the session holding the leader lock; a session that holds
-- the leader lock without being a ticker (advisory locks have no permissions: anyone
-- who can connect may take one) is listed as 'not a ticker', since no ticker can lead
-- while it holds the lock. pg_stat_activity hides most columns of other roles' sessions
-- from a viewer without pg_read_all_stats: those are NULL here.
DROP VIEW werk_cron_instances;
DROP FUNCTION werk_cron_list_instances();
CREATE FUNCTION werk_cron_list_instances()
RETURNS TABLE (pid integer, role text, since timestamptz, application_name text,
               client_addr inet, backend_start timestamptz, usename name)
LANGUAGE sql STABLE AS $$
    WITH keys AS (
        SELECT werk_cron_lock_key() AS leader, werk_cron_member_key() AS member,
               (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS db
    ),
    held AS (
        SELECT l.pid, l.mode, l.classid::bigint AS hi, l.objid::bigint AS lo
        FROM pg_catalog.pg_locks l, keys k
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = k.db
    ),
    leaders AS (
        SELECT h.pid FROM held h, keys k
        WHERE h.hi = (k.leader >> 32) & 4294967295 AND h.lo = k.leader & 4294967295
    ),
    -- Tickers hold the membership key shared; a session holding it exclusively is not one.
    members AS (
        SELECT h.pid FROM held h, keys k
        WHERE h.hi = (k.member >> 32) & 4294967295 AND h.lo = k.member & 4294967295
          AND h.mode = 'ShareLock'
    )
    SELECT a.pid,
           CASE WHEN l.pid IS NOT NULL AND m.pid IS NULL THEN 'not a ticker'
                WHEN l.pid IS NOT NULL THEN 'primary'
                ELSE 'standby' END,
           CASE WHEN l.pid IS NOT NULL
                THEN coalesce(pg_catalog.to_timestamp(pg_catalog.substring(a.application_name, ' leader@([0-9]+)$')::bigint),
                              a.backend_start)
                ELSE a.backend_start END,
           pg_catalog.regexp_replace(a.application_name, ' leader@[0-9]+$', ''),
           a.client_addr,
           a.backend_start,
           a.usename
    FROM pg_catalog.pg_stat_activity a
    LEFT JOIN leaders l ON l.pid = a.pid
    LEFT JOIN members m ON m.pid = a.pid
    WHERE l.pid IS NOT NULL OR m.pid IS NOT NULL
$$;

CREATE VIEW werk_cron_instances AS
SELECT * FROM werk_cron_list_instances() ORDER BY 2, 3;

-- werk_cron_trigger, with its built-ins called from pg_catalog.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION werk_cron_trigger(name text) RETURNS uuid
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s    werk_cron_jobs;
    v_id uuid := pg_catalog.gen_random_uuid();
BEGIN
    SELECT * INTO s FROM werk_cron_jobs j WHERE j.name = werk_cron_trigger.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'werk_cron_trigger %: no such schedule', werk_cron_trigger.name
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                           timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
    VALUES (v_id, 'cron:' || s.name || ':manual:' || v_id::text, s.func, s.queue, 'queued', s.priority,
            pg_catalog.jsonb_build_object('args', s.args, 'kwargs', s.kwargs), s.max_attempts,
            s.timeout_secs, pg_catalog.now(), s.meta, s.result_ttl, s.failure_ttl, s.name);
    PERFORM pg_catalog.pg_notify('werk:' || s.queue, '');
    RETURN v_id;
END
$$;
-- +goose StatementEnd

-- Rows the ticker can always handle. An infinite starts_at or ends_at had no meaning
-- here (and one such row stopped every schedule); existing ones are made finite first:
-- an end at +infinity or a start at -infinity is no end or start at all; a start at
-- +infinity or an end at -infinity never runs, and is paused saying why.
UPDATE werk_cron_jobs SET ends_at = NULL WHERE ends_at = 'infinity';
UPDATE werk_cron_jobs SET starts_at = NULL WHERE starts_at = '-infinity';
UPDATE werk_cron_jobs
SET paused = true, starts_at = NULL, ends_at = NULL,
    paused_reason = 'werkcron 00005: starts_at was infinity or ends_at -infinity, so it could never run'
WHERE starts_at = 'infinity' OR ends_at = '-infinity';
UPDATE werk_cron_jobs SET last_tick_at = NULL WHERE NOT pg_catalog.isfinite(last_tick_at);

ALTER TABLE werk_cron_jobs
    ADD CONSTRAINT werk_cron_jobs_starts_at_must_be_finite CHECK (pg_catalog.isfinite(starts_at)),
    ADD CONSTRAINT werk_cron_jobs_ends_at_must_be_finite CHECK (pg_catalog.isfinite(ends_at)),
    ADD CONSTRAINT werk_cron_jobs_last_tick_at_must_be_finite CHECK (pg_catalog.isfinite(last_tick_at)),
    ADD CONSTRAINT werk_cron_jobs_next_run_at_must_be_finite CHECK (pg_catalog.isfinite(next_run_at)),
    -- Sizes every tick can copy into a job (and a worker decode): 64 KB of JSON each,
    -- 1 KB for func and paused_reason, 256 bytes for cron (the parser's limit), 64 for
    -- a zone name. NOT VALID, then validated below, so that an old oversized row is
    -- reported rather than failing the upgrade.
    ADD CONSTRAINT werk_cron_jobs_args_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(args::text) <= 65536) NOT VALID,
    ADD CONSTRAINT werk_cron_jobs_kwargs_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(kwargs::text) <= 65536) NOT VALID,
    ADD CONSTRAINT werk_cron_jobs_meta_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(meta::text) <= 65536) NOT VALID,
    ADD CONSTRAINT werk_cron_jobs_func_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(func) <= 1024) NOT VALID,
    ADD CONSTRAINT werk_cron_jobs_paused_reason_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(paused_reason) <= 1024) NOT VALID,
    ADD CONSTRAINT werk_cron_jobs_cron_must_be_at_most_256_bytes CHECK (pg_catalog.octet_length(cron) <= 256) NOT VALID,
    ADD CONSTRAINT werk_cron_jobs_timezone_must_be_at_most_64_bytes CHECK (pg_catalog.octet_length(timezone) <= 64) NOT VALID;

-- +goose StatementBegin
DO $$
DECLARE
    c text;
BEGIN
    FOREACH c IN ARRAY ARRAY['args_must_be_at_most_64_kb', 'kwargs_must_be_at_most_64_kb',
                             'meta_must_be_at_most_64_kb', 'func_must_be_at_most_1_kb',
                             'paused_reason_must_be_at_most_1_kb', 'cron_must_be_at_most_256_bytes',
                             'timezone_must_be_at_most_64_bytes'] LOOP
        BEGIN
            EXECUTE pg_catalog.format('ALTER TABLE werk_cron_jobs VALIDATE CONSTRAINT %I', 'werk_cron_jobs_' || c);
        EXCEPTION WHEN check_violation THEN
            RAISE WARNING 'werk_cron_jobs: existing rows break werk_cron_jobs_%, which is checked for new writes only until they are fixed', c;
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- A new primary looks again at the schedules in error (a newer ticker may know a zone
-- the last one did not, or have another allow-list), a batch at a time through this
-- index, between ticks.
CREATE INDEX werk_cron_jobs_in_error_idx ON werk_cron_jobs (name) WHERE last_error IS NOT NULL;

-- werk_cron_pin_search_path gives every function of werkcron's schema the search_path
-- pg_catalog, <schema>: built-ins first, then werkcron's own objects, never "$user"
-- or public. Each migration calls it last, for the functions it created.
-- +goose StatementBegin
CREATE FUNCTION werk_cron_pin_search_path() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure
             FROM pg_catalog.pg_proc p
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = werk_cron_schema()
               AND p.proname LIKE 'werk\_cron%'
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I', f, werk_cron_schema());
    END LOOP;
END
$$;
-- +goose StatementEnd

SELECT werk_cron_pin_search_path();

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00005 (hardening) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
