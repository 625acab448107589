-- True only if this very backend holds the leader lock. Behind a transaction-pooling
-- proxy pg_try_advisory_lock can succeed on one server session while the next statement
-- runs on another, which silently breaks session locks: the ticker checks this after
-- taking the lock, and at every heartbeat, and refuses to lead when it is false.
CREATE OR REPLACE FUNCTION werk_cron_lock_held() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(werk_cron_leader_pid() = pg_catalog.pg_backend_pid(), false)
$$;
