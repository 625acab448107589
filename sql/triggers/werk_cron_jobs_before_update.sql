-- Which updates run werk_cron_jobs_before_write: everything a person may change. The
-- ticker's own writes (next_run_at, planned_at, last_tick_at forward, last_job_id,
-- last_error, and remaining_runs counted down together with last_tick_at) do not, which
-- keeps a tick of many schedules cheap: this WHEN is evaluated without entering
-- PL/pgSQL.
CREATE OR REPLACE TRIGGER werk_cron_jobs_before_update
    BEFORE UPDATE ON werk_cron_jobs
    FOR EACH ROW
    WHEN ((OLD.name, OLD.func, OLD.queue, OLD.args, OLD.kwargs, OLD.cron, OLD.interval_secs,
           OLD.timezone, OLD.timeout_secs, OLD.result_ttl, OLD.failure_ttl, OLD.meta,
           OLD.priority, OLD.max_attempts, OLD.paused, OLD.catchup, OLD.catchup_window_secs,
           OLD.overlap, OLD.starts_at, OLD.ends_at, OLD.created_at, OLD.updated_at, OLD.changed_at,
           OLD.paused_reason, OLD.jitter_secs, OLD.pause_after_failures)
          IS DISTINCT FROM
          (NEW.name, NEW.func, NEW.queue, NEW.args, NEW.kwargs, NEW.cron, NEW.interval_secs,
           NEW.timezone, NEW.timeout_secs, NEW.result_ttl, NEW.failure_ttl, NEW.meta,
           NEW.priority, NEW.max_attempts, NEW.paused, NEW.catchup, NEW.catchup_window_secs,
           NEW.overlap, NEW.starts_at, NEW.ends_at, NEW.created_at, NEW.updated_at, NEW.changed_at,
           NEW.paused_reason, NEW.jitter_secs, NEW.pause_after_failures)
          OR NEW.last_tick_at IS DISTINCT FROM greatest(OLD.last_tick_at, NEW.last_tick_at)
          OR (NEW.remaining_runs IS DISTINCT FROM OLD.remaining_runs
              AND NEW.last_tick_at IS NOT DISTINCT FROM OLD.last_tick_at))
    EXECUTE PROCEDURE werk_cron_jobs_before_write();
