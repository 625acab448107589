-- The instant after which a schedule's ticks belong to its current run: since it last
-- started afresh (changed_at: its timing changed, or it was resumed). An interval
-- schedule's first tick is at changed_at rounded down to the second (its anchor), so
-- its run begins just before that second; a cron schedule's first tick is strictly
-- after changed_at.
CREATE OR REPLACE FUNCTION werk_cron_afresh_since(changed_at timestamptz, is_interval boolean) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN is_interval THEN pg_catalog.date_trunc('second', changed_at) - interval '1 microsecond'
                ELSE changed_at END
$$;
