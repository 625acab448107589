-- werk_cron_await_leadership is a standby's one statement per retry: it waits for the
-- leader lock inside the server, at most the session's lock_timeout, so that the lock
-- passes to a standby the moment the primary's session ends. When the wait ends without
-- the lock, it says who holds it if that is not a ticker (see werk_cron_list_instances):
-- such a session keeps every ticker from leading, and every ticker reports it.
CREATE OR REPLACE FUNCTION werk_cron_await_leadership()
RETURNS TABLE (granted boolean, backend_pid integer, intruder_pid integer, intruder_user text,
               intruder_application text, intruder_addr text)
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM pg_catalog.pg_advisory_lock(werk_cron_lock_key());
        RETURN QUERY SELECT true, pg_catalog.pg_backend_pid(), NULL::integer, NULL::text, NULL::text, NULL::text;
        RETURN;
    EXCEPTION WHEN lock_not_available THEN
        NULL; -- lock_timeout: the lock is someone else's
    END;
    RETURN QUERY
    SELECT false, pg_catalog.pg_backend_pid(), i.pid, i.usename::text,
           werk_cron_cut(i.application_name, 64), i.client_addr::text
    FROM werk_cron_list_instances() i
    WHERE i.role = 'not a ticker' AND i.pid = werk_cron_leader_pid()
    UNION ALL
    SELECT false, pg_catalog.pg_backend_pid(), NULL, NULL, NULL, NULL
    LIMIT 1;
END
$$;
