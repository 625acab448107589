-- One row per schedule, for people at a psql prompt: its state (paused, error,
-- unplanned, ended, active), timing, plan and last tick; the status of its last job;
-- why it is paused or in error (including a hold-up: another session holding what its
-- tick needs); the outcome of its last run, its failures in a row since it last started
-- afresh (as pause_after_failures counts them) and in the last 24 hours, read per
-- schedule from its ledger rows; the policies that shape what it enqueues; and last,
-- its labels and the owner that keeps it in a file (werkcron apply), NULL for none.
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
       c.paused_reason,
       r.job_status AS last_run_status,
       r.job_finished_at AS last_run_finished_at,
       werk_cron_failure_streak(c.name, 1000, werk_cron_afresh_since(c.changed_at, c.interval_secs IS NOT NULL)) AS consecutive_failures,
       (SELECT count(*) FROM werk_cron_ticks f
        WHERE f.name = c.name AND f.tick_at > now() - interval '1 day' AND f.job_status = 'failed')::integer AS failures_24h,
       c.overlap,
       c.jitter_secs,
       c.remaining_runs,
       c.labels,
       c.managed_by
FROM werk_cron_jobs c
LEFT JOIN werk_jobs j ON j.id = c.last_job_id
LEFT JOIN werk_cron_holdups h ON h.name = c.name
LEFT JOIN LATERAL (SELECT t.job_status, t.job_finished_at FROM werk_cron_ticks t
                   WHERE t.name = c.name AND t.job_status IS NOT NULL
                   ORDER BY t.tick_at DESC LIMIT 1) r ON true
ORDER BY c.name;
