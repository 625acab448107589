-- What happened at each decided tick, one row per tick: the ledger (werk_cron_ledger),
-- and each schedule's newest enqueued tick, whose ledger row is written with its job's
-- outcome (so that a tick at its usual pace writes no ledger row at all: see
-- queries/tick.sql): until then it is shown from werk_cron_state, 'enqueued', with its
-- job and no outcome yet. A query by name (and tick) reads both through their keys.
CREATE OR REPLACE VIEW werk_cron_ticks AS
SELECT l.name, l.tick_at, l.outcome, l.job_id, l.decided_at, l.ticks, l.job_status, l.job_started_at,
       l.job_finished_at, l.job_attempts, l.job_error
FROM werk_cron_ledger l
UNION ALL
SELECT s.name, s.last_job_at, 'enqueued', s.last_job_id, coalesce(j.enqueued_at, s.last_job_at), 1,
       NULL, NULL, NULL, NULL, NULL
FROM werk_cron_state s
LEFT JOIN werk_jobs j ON j.id = s.last_job_id
WHERE s.last_job_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM werk_cron_ledger l WHERE l.name = s.name AND l.tick_at = s.last_job_at);
