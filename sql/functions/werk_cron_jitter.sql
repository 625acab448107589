-- werk_cron_jitter is the offset of a job's run from its tick, for a schedule with
-- jitter_secs: in [0, jitter_secs), to the millisecond, from a hash of the job's key (the
-- schedule's name and tick), so that every ticker, every retry and a backfill give a tick
-- the same one. The key and the ledger keep the tick itself. Inlined into
-- werk_cron_run_at, so it is not STRICT (PostgreSQL inlines a STRICT function only if
-- its body is strict too, and CASE is not): no jitter_secs is no jitter.
CREATE OR REPLACE FUNCTION werk_cron_jitter(key text, jitter_secs integer) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jitter_secs > 0
                THEN ((pg_catalog.hashtextextended(key, 0) & 9223372036854775807)
                      % (jitter_secs::bigint * 1000))::pg_catalog.float8 * interval '1 millisecond'
                ELSE interval '0' END
$$;
