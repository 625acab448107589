-- The definition columns, in the order the table has them. State is apart: paused and
-- remaining_runs (see werk_cron_schedule's keep_state), paused_reason (werk_cron_pause),
-- and the owner, managed_by (werkcron apply).
CREATE OR REPLACE FUNCTION werk_cron_definition_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['func', 'queue', 'args', 'kwargs', 'cron', 'interval_secs', 'timezone',
                 'timeout_secs', 'result_ttl', 'failure_ttl', 'meta', 'priority', 'max_attempts',
                 'catchup', 'catchup_window_secs', 'overlap', 'starts_at', 'ends_at',
                 'jitter_secs', 'pause_after_failures', 'labels', 'start_deadline_secs', 'max_runtime_secs',
                 'exclude_calendar']
$$;
