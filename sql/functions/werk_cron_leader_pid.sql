-- werk_cron_leader_pid is the server process that holds the leader lock (the session of
-- the primary, or of whoever took the lock), or NULL while nobody does. pg_locks shows a
-- bigint advisory key as classid = its high 32 bits, objid = its low 32 bits.
CREATE OR REPLACE FUNCTION werk_cron_leader_pid() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT l.pid
    FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
      AND l.classid::bigint = (werk_cron_lock_key() >> 32) & 4294967295
      AND l.objid::bigint = werk_cron_lock_key() & 4294967295
    LIMIT 1
$$;
