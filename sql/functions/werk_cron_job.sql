-- werk_cron_job is the one definition of a schedule's job: the werk_jobs row that a run
-- of a schedule gets, whether the tick statement, a backfill or werk_cron_trigger
-- enqueues it. The callers pass the schedule's columns (as they read them: the tick
-- statement has them at hand for every tick already), the job's id and key, when it is
-- to run (run_at: a tick plus its jitter, werk_cron_run_at, or now for a manual run),
-- the instant its start_deadline_secs counts from, and when it is enqueued (by default
-- now(); the tick statement that waits for its instant passes the clock read after the
-- wait, and inserts it as the job's enqueued_at: see EnqueueUsualTicks). The result has
-- no enqueued_at column, so that a ticker of the version before, running while its
-- successor migrated the database, still inserts what this returns.
--
-- A job not due when it is enqueued is 'scheduled', pgwerk's status for that; a
-- schedule with overlap buffer_one or buffer_all puts its jobs in one pgwerk
-- concurrency group (group_key), which pgwerk runs one at a time; pgwerk's workers
-- never start a job past its expires_at. The arguments are a schedule's columns under
-- their own names.
--
-- The columns come back in the order of the INSERT INTO werk_jobs that each caller
-- writes (a test checks the three lists against this one). A plain SQL function, neither
-- strict nor SECURITY DEFINER, and without a pinned search_path (see UnpinnedFunctions),
-- so that PostgreSQL inlines it into the statement that calls it: it costs the tick
-- statement nothing.
CREATE OR REPLACE FUNCTION werk_cron_job(
    id uuid, key text, run_at timestamptz, deadline_from timestamptz,
    name text, func text, queue text, args jsonb, kwargs jsonb, priority smallint,
    max_attempts integer, timeout_secs integer, meta jsonb, result_ttl integer,
    failure_ttl integer, overlap text, start_deadline_secs integer,
    enqueued_at timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (id uuid, key text, function text, queue text, status text, priority smallint,
               group_key text, payload jsonb, max_attempts integer, timeout_secs integer,
               scheduled_at timestamptz, expires_at timestamptz, meta jsonb, result_ttl integer,
               failure_ttl integer, cron_name text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT $1, $2, $6, $7, CASE WHEN $3 > $18 THEN 'scheduled' ELSE 'queued' END, $10,
           CASE WHEN $16 IN ('buffer_one', 'buffer_all') THEN 'cron:' || $5 END,
           pg_catalog.jsonb_build_object('args', $8, 'kwargs', $9), $11, $12,
           $3, $4 + $17 * interval '1 second', $13, $14, $15, $5
$$;
