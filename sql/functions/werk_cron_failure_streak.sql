-- How many of the schedule's newest recorded runs failed in a row (at most cap),
-- counting only runs of ticks after the instant given (a resume starts afresh), and
-- only the schedule's own runs: jobs werkcron enqueued for it (the ledger says so), never
-- a job of someone else's that held one of its keys ('foreign'). A streak is the failed
-- runs after the newest run that did not fail (werk_cron_health.last_ok_at), read
-- through the ledger's index of failed runs alone, so that it costs the same however
-- long the history.
CREATE OR REPLACE FUNCTION werk_cron_failure_streak(name text, cap integer DEFAULT 1000,
                                                     after timestamptz DEFAULT '-infinity') RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.count(*)::integer
    FROM (SELECT 1 FROM werk_cron_ledger t
          WHERE t.name = werk_cron_failure_streak.name AND t.job_status = 'failed' AND t.outcome <> 'foreign'
            AND t.tick_at > greatest(werk_cron_failure_streak.after,
                                     coalesce((SELECT h.last_ok_at FROM werk_cron_health h
                                               WHERE h.name = werk_cron_failure_streak.name), '-infinity'))
          LIMIT cap) f
$$;
