-- Every running ticker of this schema, from pg_locks and pg_stat_activity (so it is
-- never stale): primary is the session holding the leader lock; a session that holds
-- the leader lock without being a ticker (advisory locks have no permissions: anyone
-- who can connect may take one) is listed as 'not a ticker', since no ticker can lead
-- while it holds the lock. Tickers hold the member key shared for their whole session.
-- A primary sets " leader@<unix time>" at the end of its application_name when it takes
-- over. pg_stat_activity hides most columns of other roles' sessions from a viewer
-- without pg_read_all_stats: those are NULL here. (A function under the view, because
-- sqlc does not know the system catalogs.)
CREATE OR REPLACE FUNCTION werk_cron_list_instances()
RETURNS TABLE (pid integer, role text, since timestamptz, application_name text,
               client_addr inet, backend_start timestamptz, usename name)
LANGUAGE sql STABLE AS $$
    WITH keys AS (
        SELECT werk_cron_lock_key() AS leader, werk_cron_member_key() AS member,
               (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS db
    ),
    held AS (
        SELECT l.pid, l.mode, l.classid::bigint AS hi, l.objid::bigint AS lo
        FROM pg_catalog.pg_locks l, keys k
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = k.db
    ),
    leaders AS (
        SELECT h.pid FROM held h, keys k
        WHERE h.hi = (k.leader >> 32) & 4294967295 AND h.lo = k.leader & 4294967295
    ),
    -- Tickers hold the membership key shared; a session holding it exclusively is not one.
    members AS (
        SELECT h.pid FROM held h, keys k
        WHERE h.hi = (k.member >> 32) & 4294967295 AND h.lo = k.member & 4294967295
          AND h.mode = 'ShareLock'
    )
    SELECT a.pid,
           CASE WHEN l.pid IS NOT NULL AND m.pid IS NULL THEN 'not a ticker'
                WHEN l.pid IS NOT NULL THEN 'primary'
                ELSE 'standby' END,
           CASE WHEN l.pid IS NOT NULL
                THEN coalesce(pg_catalog.to_timestamp(pg_catalog.substring(a.application_name, ' leader@([0-9]+)$')::bigint),
                              a.backend_start)
                ELSE a.backend_start END,
           pg_catalog.regexp_replace(a.application_name, ' leader@[0-9]+$', ''),
           a.client_addr,
           a.backend_start,
           a.usename
    FROM pg_catalog.pg_stat_activity a
    LEFT JOIN leaders l ON l.pid = a.pid
    LEFT JOIN members m ON m.pid = a.pid
    WHERE l.pid IS NOT NULL OR m.pid IS NOT NULL
$$;
