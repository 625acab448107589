-- werk_cron_run_at is when a tick's job runs: the tick plus its jitter (werk_cron_jitter,
-- which the key decides), the same for the tick statement and a backfill of that tick.
-- The key and the ledger keep the tick itself. Inlined where it is called, and only for
-- that is it STABLE: PostgreSQL inlines no function declared more stable than its body,
-- and timestamptz + interval is STABLE (it depends on the time zone). Declared IMMUTABLE,
-- it ran as a query of its own per tick: 30 ms of a 10,000-tick statement.
CREATE OR REPLACE FUNCTION werk_cron_run_at(key text, tick_at timestamptz, jitter_secs integer)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jitter_secs > 0 THEN tick_at + werk_cron_jitter(key, jitter_secs) ELSE tick_at END
$$;
