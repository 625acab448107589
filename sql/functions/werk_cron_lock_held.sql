-- True only if this very backend holds the leader lock. Behind a transaction-pooling
-- proxy pg_try_advisory_lock can succeed on one server session while the next statement
-- runs on another, which silently breaks session locks: the ticker checks this after
-- taking the lock and refuses to lead when it is false.
CREATE OR REPLACE FUNCTION werk_cron_lock_held() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
          AND pid = pg_backend_pid()
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint = (werk_cron_lock_key() >> 32) & 4294967295
          AND objid::bigint = werk_cron_lock_key() & 4294967295
          AND objsubid = 1)
$$;
