-- werk_cron_run_at is when a tick's job runs: the tick plus its jitter (werk_cron_jitter,
-- which the key decides), the same for the tick statement and a backfill of that tick.
-- The key and the ledger keep the tick itself. Inlined where it is called.
CREATE OR REPLACE FUNCTION werk_cron_run_at(key text, tick_at timestamptz, jitter_secs integer)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jitter_secs > 0 THEN tick_at + werk_cron_jitter(key, jitter_secs) ELSE tick_at END
$$;
