-- werk_cron_refresh_health looks at the health of the named schedules and writes it to
-- werk_cron_health where it changed, sending one NOTIFY werk_cron_health per change (in
-- the same transaction: a change is announced exactly when it commits). Health is the
-- first that applies of:
--
--   paused    the schedule is paused;
--   error     the ticker cannot schedule it (last_error), or another session holds it up;
--   overdue   a run (its newest job, or one whose ledger row awaits an outcome) has been
--             active for max_runtime_secs or longer;
--   late      its newest tick's job was not started by its start deadline: it waits
--             past its expires_at, or was recorded expired;
--   failing   its newest recorded run failed;
--   ended     planned, with nothing left to run;
--   ok        none of these.
--
-- A schedule without a row in werk_cron_health is ok (since it was created): a row is
-- written when its health first changes, or a run is recorded.
--
-- Who calls it: the primary ticker, for schedules it planned, set aside or saw tick, and
-- at the instants a deadline or a run-time limit passes (werk_cron_state.health_check_at,
-- which is what this returns as next_check_at: NULL when only events can change the
-- health); and werk_cron_note_runs, wherever an outcome is recorded (pgwerk's delete path
-- too). With wait => false a schedule whose health row another session holds is skipped
-- (skipped => true: look again shortly); with wait => true it is waited for. Either way
-- the health rows are locked before the facts are read, so that two sessions looking at
-- once never write a health from facts older than the other's.
--
-- It runs as werkcron's owner (the ticker may not write werk_cron_health, nor may the
-- roles pgwerk deletes jobs as), never raises on ordinary input, and calls
-- werk_cron_trusted_triggers after its writes. EXECUTE: the owner and ticker roles.
CREATE OR REPLACE FUNCTION werk_cron_refresh_health(names text[], wait boolean DEFAULT false)
RETURNS TABLE (name text, health text, previous text, changed boolean, skipped boolean, next_check_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    t_now  timestamptz := pg_catalog.clock_timestamp();
    wanted text[];
    locked text[];
BEGIN
    SELECT pg_catalog.array_agg(DISTINCT u.n) INTO wanted
    FROM pg_catalog.unnest(names) AS u(n)
    WHERE u.n IS NOT NULL;
    IF wanted IS NULL THEN
        RETURN;
    END IF;
    -- A row for each schedule that has none (its health is ok, since it was created),
    -- unless the schedule is being deleted (FOR KEY SHARE, which the foreign key takes
    -- anyway, without waiting).
    INSERT INTO werk_cron_health AS h (name, health, health_since)
    SELECT j.name, 'ok', j.created_at
    FROM werk_cron_jobs j
    WHERE j.name = ANY (wanted)
      AND NOT EXISTS (SELECT 1 FROM werk_cron_health x WHERE x.name = j.name)
    FOR KEY SHARE OF j SKIP LOCKED
    ON CONFLICT ON CONSTRAINT werk_cron_health_pkey DO NOTHING;
    IF wait THEN
        SELECT pg_catalog.array_agg(x.name) INTO locked
        FROM (SELECT h.name FROM werk_cron_health h WHERE h.name = ANY (wanted)
              ORDER BY h.name FOR NO KEY UPDATE) x;
    ELSE
        SELECT pg_catalog.array_agg(x.name) INTO locked
        FROM (SELECT h.name FROM werk_cron_health h WHERE h.name = ANY (wanted)
              ORDER BY h.name FOR NO KEY UPDATE SKIP LOCKED) x;
    END IF;
    locked := coalesce(locked, '{}');

    -- A new statement: its snapshot sees everything committed before the locks were had.
    RETURN QUERY
    WITH f AS MATERIALIZED (
        SELECT c.name, c.paused, c.start_deadline_secs AS deadline, c.max_runtime_secs AS runtime,
               s.last_error, s.planned_at, s.next_run_at, s.last_job_id, s.last_job_at,
               EXISTS (SELECT 1 FROM werk_cron_holdups u WHERE u.name = c.name) AS held,
               h.health AS was, h.health_since AS was_since, h.last_run_at, h.last_run_status,
               j.id AS job, j.key AS job_key, j.status AS job_status, j.expires_at, j.started_at, j.scheduled_at
        FROM pg_catalog.unnest(locked) AS n(name)
        JOIN werk_cron_jobs c ON c.name = n.name
        JOIN werk_cron_state s ON s.name = c.name
        JOIN werk_cron_health h ON h.name = c.name
        LEFT JOIN werk_jobs j ON j.id = s.last_job_id
    ),
    -- The runs still to end of the schedules with a run-time limit: the newest job, and
    -- those whose ledger rows await an outcome (older ticks', backfilled, manual runs).
    -- A job that expired unstarted never runs.
    r AS MATERIALIZED (
        SELECT f.name, f.runtime, o.tick_at, o.job, o.status, o.started_at, o.scheduled_at
        FROM f
        CROSS JOIN LATERAL (
            SELECT coalesce(f.last_job_at, werk_cron_tick_of_key(f.job_key, f.name)) AS tick_at, f.job,
                   f.job_status AS status, f.started_at, f.scheduled_at, f.expires_at
            WHERE f.job IS NOT NULL
            UNION ALL
            SELECT l.tick_at, b.id, b.status, b.started_at, b.scheduled_at, b.expires_at
            FROM werk_cron_ledger l
            JOIN werk_jobs b ON b.id = l.job_id
            WHERE l.name = f.name AND l.job_status IS NULL AND l.job_id IS NOT NULL AND l.outcome <> 'foreign'
              AND l.job_id IS DISTINCT FROM f.job
        ) o
        WHERE f.runtime IS NOT NULL
          AND (o.status = 'active'
               OR (o.status IN ('queued', 'scheduled') AND (o.expires_at IS NULL OR o.expires_at > t_now)))
    ),
    o AS (
        SELECT r.name,
               (pg_catalog.array_agg(r.tick_at ORDER BY r.started_at) FILTER (WHERE r.status = 'active' AND
                    coalesce(r.started_at, t_now) + r.runtime * interval '1 second' <= t_now))[1] AS over_tick,
               (pg_catalog.array_agg(r.job ORDER BY r.started_at) FILTER (WHERE r.status = 'active' AND
                    coalesce(r.started_at, t_now) + r.runtime * interval '1 second' <= t_now))[1] AS over_job,
               pg_catalog.min(coalesce(r.started_at, t_now) + r.runtime * interval '1 second')
                   FILTER (WHERE r.status = 'active') AS over_at,
               -- The earliest a run can reach its limit: an active one at its start plus
               -- the limit; one still waiting no sooner than that after now (a look then
               -- sees whether it started meanwhile).
               pg_catalog.min(CASE WHEN r.status = 'active' THEN coalesce(r.started_at, t_now) + r.runtime * interval '1 second'
                                   ELSE greatest(t_now, r.scheduled_at) + r.runtime * interval '1 second' END)
                   FILTER (WHERE r.status <> 'active' OR coalesce(r.started_at, t_now) + r.runtime * interval '1 second' > t_now)
                   AS runtime_check
        FROM r
        GROUP BY r.name
    ),
    c AS MATERIALIZED (
        SELECT f.name, f.was, f.was_since, f.last_run_at, f.last_job_id, o.over_tick, o.over_job, o.over_at,
               v.late, v.health,
               CASE v.health
                   -- Since the deadline or the limit passed, when that came after the
                   -- health before began (a primary that was away announces it late).
                   WHEN 'late' THEN greatest(f.was_since, least(coalesce(f.expires_at, t_now), t_now))
                   WHEN 'overdue' THEN greatest(f.was_since, least(coalesce(o.over_at, t_now), t_now))
                   ELSE t_now END AS since,
               CASE WHEN v.health = 'late' AND f.job IS NOT NULL
                        THEN coalesce(f.last_job_at, werk_cron_tick_of_key(f.job_key, f.name))
                    WHEN v.health = 'late' THEN f.last_run_at
                    WHEN v.health = 'overdue' THEN o.over_tick
                    WHEN v.health IN ('failing', 'ok') THEN f.last_run_at END AS tick_at,
               CASE WHEN v.health = 'late' THEN f.last_job_id
                    WHEN v.health = 'overdue' THEN o.over_job END AS job_id,
               least(CASE WHEN f.deadline IS NOT NULL AND f.job_status IN ('queued', 'scheduled')
                               AND f.expires_at > t_now THEN f.expires_at END,
                     o.runtime_check) AS next_check_at
        FROM f
        LEFT JOIN o ON o.name = f.name
        CROSS JOIN LATERAL (
            SELECT l.late,
                   CASE WHEN f.paused THEN 'paused'
                        WHEN f.last_error IS NOT NULL OR f.held THEN 'error'
                        WHEN o.over_job IS NOT NULL THEN 'overdue'
                        WHEN l.late THEN 'late'
                        WHEN f.last_run_status = 'failed' THEN 'failing'
                        WHEN f.planned_at IS NOT NULL AND f.next_run_at IS NULL THEN 'ended'
                        ELSE 'ok' END AS health
            FROM (SELECT coalesce(CASE WHEN f.job IS NOT NULL
                                       THEN f.job_status IN ('queued', 'scheduled') AND f.expires_at <= t_now
                                       ELSE f.last_job_id IS NOT NULL AND f.last_run_status = 'expired' END,
                                  false) AS late) l
        ) v
    ),
    u AS (
        UPDATE werk_cron_health h
        SET health = c.health, health_since = c.since
        FROM c
        WHERE h.name = c.name AND h.health IS DISTINCT FROM c.health
        RETURNING h.name, h.health, h.health_since
    ),
    sent AS (
        SELECT pg_catalog.count(pg_catalog.pg_notify('werk_cron_health', pg_catalog.json_build_object(
                   'schema', werk_cron_schema(),
                   'name', u.name,
                   'health', u.health,
                   'previous', c.was,
                   'since', pg_catalog.to_char(u.health_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   'tick', pg_catalog.to_char(c.tick_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'job', coalesce(c.job_id, (SELECT l.job_id FROM werk_cron_ledger l
                                              WHERE l.name = c.name AND l.tick_at = c.tick_at
                                                AND l.outcome <> 'foreign'))
               )::text)) AS n
        FROM u
        JOIN c ON c.name = u.name
    )
    SELECT w.n::text, coalesce(c.health, ''), coalesce(c.was, ''),
           (u.name IS NOT NULL)::boolean, (c.name IS NULL)::boolean, c.next_check_at
    FROM pg_catalog.unnest(wanted) AS w(n)
    LEFT JOIN c ON c.name = w.n
    LEFT JOIN u ON u.name = w.n
    CROSS JOIN sent
    WHERE c.name IS NOT NULL
       OR (w.n <> ALL (locked) AND EXISTS (SELECT 1 FROM werk_cron_health x WHERE x.name = w.n));
    PERFORM werk_cron_trusted_triggers(); -- what it wrote ran no other role's code
END
$$;

REVOKE EXECUTE ON FUNCTION
    werk_cron_refresh_health(text[], boolean) FROM PUBLIC;
