-- How many of the schedule's newest finished runs failed in a row (at most cap),
-- counting only runs of ticks after the instant given (a resume starts afresh), and
-- only the schedule's own runs: jobs werkcron enqueued for it (the ledger says so), never
-- a job of someone else's that held one of its keys ('foreign').
CREATE OR REPLACE FUNCTION werk_cron_failure_streak(name text, cap integer DEFAULT 1000,
                                         after timestamptz DEFAULT '-infinity') RETURNS integer
LANGUAGE sql STABLE AS $$
    WITH runs AS (
        SELECT t.job_status, pg_catalog.row_number() OVER (ORDER BY t.tick_at DESC) AS n
        FROM (SELECT job_status, tick_at FROM werk_cron_ticks
              WHERE werk_cron_ticks.name = werk_cron_failure_streak.name AND job_status IS NOT NULL
                AND outcome <> 'foreign'
                AND tick_at > werk_cron_failure_streak.after
              ORDER BY tick_at DESC
              LIMIT cap) t
    )
    SELECT coalesce((SELECT pg_catalog.min(n) - 1 FROM runs WHERE job_status <> 'failed')::integer,
                    (SELECT pg_catalog.count(*) FROM runs)::integer)
$$;
