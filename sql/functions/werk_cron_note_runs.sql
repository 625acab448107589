-- werk_cron_note_runs sums up newly recorded runs in werk_cron_health: for each
-- schedule, its newest recorded run (by tick, whatever order the outcomes come in) and
-- its newest run that did not fail, which is where a failure streak begins. Whoever
-- records an outcome calls it: the primary's passes, and the trigger on pgwerk's
-- deletes. A new row is only written for a schedule whose row this statement holds
-- (FOR KEY SHARE, which is what the foreign key would take anyway), so that no outcome
-- fails for a schedule deleted at that moment, and never waits for it: a schedule row
-- another session holds for update (or deletes) gets its summary with a later outcome.
-- Existing rows are updated without any lock on the schedule. Then the health of the
-- schedules whose health these runs may change (a run that failed or expired, or a
-- schedule whose health is not ok) is looked at again (werk_cron_refresh_health, which
-- announces a change): a run that completed on an ok schedule costs nothing more. It
-- runs as the owner (that lock needs a right on werk_cron_jobs no ticker has); EXECUTE:
-- the owner and ticker roles (werk_cron_grant).
--
-- pgwerk's clean-up calls it for every werkcron job it deletes, with one run: so it is
-- PL/pgSQL (a session plans its statements once), one run needs no summing up, a new
-- row is only tried for schedules that have none, and every table is read through its
-- key with the names themselves (name = ANY (...)): the planner takes an array of
-- parameters for ten rows, and joined with a table of a few thousand schedules it
-- scanned the whole table, for every deleted job.
CREATE OR REPLACE FUNCTION werk_cron_note_runs(names text[], ticks timestamptz[], statuses text[],
                                               finished timestamptz[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    -- Per schedule: its newest run (tick, status, finished) and newest run that did not fail.
    p_names  text[];
    p_ticks  timestamptz[];
    p_status text[];
    p_ended  timestamptz[];
    p_ok     timestamptz[];
    updated  text[];
BEGIN
    IF pg_catalog.cardinality(names) = 1 THEN
        IF names[1] IS NULL OR ticks[1] IS NULL OR statuses[1] IS NULL THEN
            RETURN; -- not a run: the input is checked, not trusted
        END IF;
        p_names := names; p_ticks := ticks; p_status := statuses; p_ended := finished;
        p_ok := ARRAY[CASE WHEN statuses[1] <> 'failed' THEN ticks[1] END];
    ELSE
        SELECT pg_catalog.array_agg(n.name), pg_catalog.array_agg(n.tick_at), pg_catalog.array_agg(n.status),
               pg_catalog.array_agg(n.finished_at), pg_catalog.array_agg(n.ok_at)
        INTO p_names, p_ticks, p_status, p_ended, p_ok
        FROM (SELECT DISTINCT ON (r.name) r.name, r.tick_at, r.status, r.finished_at,
                     pg_catalog.max(r.tick_at) FILTER (WHERE r.status <> 'failed') OVER (PARTITION BY r.name) AS ok_at
              FROM ROWS FROM (pg_catalog.unnest(names), pg_catalog.unnest(ticks), pg_catalog.unnest(statuses),
                              pg_catalog.unnest(finished)) AS r(name, tick_at, status, finished_at)
              WHERE r.name IS NOT NULL AND r.tick_at IS NOT NULL AND r.status IS NOT NULL
              ORDER BY r.name, r.tick_at DESC) n;
    END IF;

    WITH p AS (
        SELECT * FROM ROWS FROM (pg_catalog.unnest(p_names), pg_catalog.unnest(p_ticks), pg_catalog.unnest(p_status),
                                 pg_catalog.unnest(p_ended), pg_catalog.unnest(p_ok))
                      AS p(name, tick_at, status, finished_at, ok_at)
    ),
    u AS (
        UPDATE werk_cron_health h
        SET last_run_at = CASE WHEN h.last_run_at IS NULL OR p.tick_at >= h.last_run_at THEN p.tick_at ELSE h.last_run_at END,
            last_run_status = CASE WHEN h.last_run_at IS NULL OR p.tick_at >= h.last_run_at THEN p.status ELSE h.last_run_status END,
            last_run_finished_at = CASE WHEN h.last_run_at IS NULL OR p.tick_at >= h.last_run_at THEN p.finished_at
                                        ELSE h.last_run_finished_at END,
            last_ok_at = CASE WHEN p.ok_at IS NULL THEN h.last_ok_at ELSE greatest(h.last_ok_at, p.ok_at) END
        FROM p
        WHERE h.name = p.name AND h.name = ANY (p_names)
        RETURNING h.name
    )
    SELECT pg_catalog.array_agg(u.name) INTO updated FROM u;

    IF pg_catalog.cardinality(updated) IS DISTINCT FROM pg_catalog.cardinality(p_names) THEN
        -- A new row: the schedule has been ok since it was created (until the look below).
        -- ON CONFLICT: another session wrote one meanwhile.
        INSERT INTO werk_cron_health AS h (name, last_run_at, last_run_status, last_run_finished_at, last_ok_at, health_since)
        SELECT p.name, p.tick_at, p.status, p.finished_at, p.ok_at, s.created_at
        FROM ROWS FROM (pg_catalog.unnest(p_names), pg_catalog.unnest(p_ticks), pg_catalog.unnest(p_status),
                        pg_catalog.unnest(p_ended), pg_catalog.unnest(p_ok)) AS p(name, tick_at, status, finished_at, ok_at)
        JOIN (SELECT j.name, j.created_at FROM werk_cron_jobs j
              WHERE j.name = ANY (p_names) AND j.name <> ALL (coalesce(updated, '{}'))
              FOR KEY SHARE OF j SKIP LOCKED) s ON s.name = p.name
        ON CONFLICT (name) DO UPDATE
            SET last_run_at = CASE WHEN h.last_run_at IS NULL OR excluded.last_run_at >= h.last_run_at THEN excluded.last_run_at ELSE h.last_run_at END,
                last_run_status = CASE WHEN h.last_run_at IS NULL OR excluded.last_run_at >= h.last_run_at THEN excluded.last_run_status
                                       ELSE h.last_run_status END,
                last_run_finished_at = CASE WHEN h.last_run_at IS NULL OR excluded.last_run_at >= h.last_run_at
                                            THEN excluded.last_run_finished_at ELSE h.last_run_finished_at END,
                last_ok_at = CASE WHEN excluded.last_ok_at IS NULL THEN h.last_ok_at ELSE greatest(h.last_ok_at, excluded.last_ok_at) END;
    END IF;

    PERFORM pg_catalog.count(*)
    FROM werk_cron_refresh_health(ARRAY(
        SELECT DISTINCT r.name
        FROM ROWS FROM (pg_catalog.unnest(names), pg_catalog.unnest(statuses)) AS r(name, status)
        LEFT JOIN werk_cron_health h ON h.name = r.name AND h.name = ANY (names)
        WHERE r.name IS NOT NULL
          AND (r.status IN ('failed', 'expired') OR coalesce(h.health, 'ok') <> 'ok')), true);
END
$$;

REVOKE EXECUTE ON FUNCTION
    werk_cron_note_runs(text[], timestamptz[], text[], timestamptz[]) FROM PUBLIC;
