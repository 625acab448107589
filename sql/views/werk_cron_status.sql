-- One row per schedule, for people at a psql prompt: its state (paused, error,
-- unplanned, ended, active); its health (ok, failing, late, overdue, paused, error,
-- ended: see werk_cron_refresh_health) and since when, as the primary keeps it in
-- werk_cron_health (a schedule without a row there is ok since it was created); timing,
-- plan and last tick (werk_cron_state); the status of its last job; why it is paused or
-- in error (including a hold-up: another session holding what its tick needs); the
-- outcome of its last recorded run (werk_cron_health), its failures in a row since it
-- last started afresh (as pause_after_failures counts them) and in the last 24 hours;
-- the policies that shape what it enqueues, with the runs it has left, and those that
-- watch it (start deadline, run-time limit) and the calendar whose days it skips; and
-- last, its labels and the owner that keeps it in a file (werkcron apply), NULL for none.
CREATE OR REPLACE VIEW werk_cron_status AS
SELECT c.name,
       CASE WHEN c.paused THEN 'paused'
            WHEN s.last_error IS NOT NULL OR h.name IS NOT NULL THEN 'error'
            WHEN s.planned_at IS NULL THEN 'unplanned'
            WHEN s.next_run_at IS NULL OR c.ends_at < now() THEN 'ended'
            ELSE 'active' END AS state,
       coalesce(r.health, 'ok') AS health,
       coalesce(r.health_since, c.created_at) AS health_since,
       coalesce(c.cron, 'every ' || c.interval_secs || 's') AS schedule,
       c.timezone,
       c.func,
       c.queue,
       c.paused,
       s.next_run_at,
       date_trunc('second', s.next_run_at - now()) AS next_in,
       s.last_tick_at,
       j.status AS last_job_status,
       s.last_job_id,
       coalesce(s.last_error,
                'held up since ' || to_char(h.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ': ' || h.reason) AS last_error,
       c.paused_reason,
       r.last_run_status,
       r.last_run_finished_at,
       -- werk_cron_failure_streak's count, written out: a function in a view runs with
       -- the reader's rights, and a reader of this view need not read the ledger.
       (SELECT count(*) FROM (
            SELECT 1 FROM werk_cron_ledger f
            WHERE f.name = c.name AND f.job_status = 'failed' AND f.outcome <> 'foreign'
              AND f.tick_at > greatest(werk_cron_afresh_since(c.changed_at, c.interval_secs IS NOT NULL),
                                       coalesce(r.last_ok_at, '-infinity'))
            LIMIT 1000) streak)::integer AS consecutive_failures,
       (SELECT count(*) FROM werk_cron_ledger f
        WHERE f.name = c.name AND f.tick_at > now() - interval '1 day'
          AND f.job_status = 'failed' AND f.outcome <> 'foreign')::integer AS failures_24h,
       c.overlap,
       c.jitter_secs,
       s.remaining_runs,
       c.start_deadline_secs,
       c.max_runtime_secs,
       c.exclude_calendar,
       c.labels,
       c.managed_by
FROM werk_cron_jobs c
JOIN werk_cron_state s ON s.name = c.name
LEFT JOIN werk_jobs j ON j.id = s.last_job_id
LEFT JOIN werk_cron_holdups h ON h.name = c.name
LEFT JOIN werk_cron_health r ON r.name = c.name
ORDER BY c.name;
