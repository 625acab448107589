-- Every running ticker of this schema, from pg_locks and pg_stat_activity (so it is
-- never stale): primary is the ticker holding the leader lock, standbys the others.
-- A ticker holds the member key shared for its whole session, and its role may write
-- the tick ledger, as only the owner's and ticker roles (werk_cron_grant) may. Advisory
-- locks have no permissions, so anyone who can connect may take the keys: a session that
-- holds one of them without a ticker's rights is listed as 'not a ticker', and while it
-- holds the leader lock no ticker can lead (werk_cron_await_leadership says so to every
-- standby). Whether a session is a ticker is its role's rights alone: one that holds the
-- member key exclusively keeps tickers from joining (standbys are not listed then), but
-- the primary is still the primary. A primary sets " leader@<unix time>" at the end of its application_name
-- when it takes over. pg_stat_activity hides most columns of other roles' sessions
-- from a viewer without pg_read_all_stats: those are NULL here. (A function under the
-- view, because sqlc does not know the system catalogs.)
CREATE OR REPLACE FUNCTION werk_cron_list_instances()
RETURNS TABLE (pid integer, role text, since timestamptz, application_name text,
               client_addr inet, backend_start timestamptz, usename name)
LANGUAGE sql STABLE AS $$
    WITH members AS MATERIALIZED (
        SELECT l.pid
        FROM pg_catalog.pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ShareLock' AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
          AND l.classid::bigint = (werk_cron_member_key() >> 32) & 4294967295
          AND l.objid::bigint = werk_cron_member_key() & 4294967295
    ),
    leader AS MATERIALIZED (SELECT werk_cron_leader_pid() AS pid),
    sessions AS (
        SELECT a.*, a.pid = l.pid AS leads,
               pg_catalog.has_table_privilege(a.usesysid, 'werk_cron_ledger', 'INSERT') AS ticker
        FROM pg_catalog.pg_stat_activity a, leader l
        WHERE a.pid = l.pid OR a.pid IN (SELECT m.pid FROM members m)
    )
    SELECT s.pid,
           CASE WHEN NOT s.ticker THEN 'not a ticker'
                WHEN s.leads THEN 'primary'
                ELSE 'standby' END,
           CASE WHEN s.leads
                THEN coalesce(pg_catalog.to_timestamp(pg_catalog.substring(s.application_name, ' leader@([0-9]+)$')::bigint),
                              s.backend_start)
                ELSE s.backend_start END,
           pg_catalog.regexp_replace(s.application_name, ' leader@[0-9]+$', ''),
           s.client_addr,
           s.backend_start,
           s.usename
    FROM sessions s
$$;
