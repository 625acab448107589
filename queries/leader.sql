-- Leadership and session plumbing for the ticker's one dedicated connection.

-- name: TryLeaderLock :one
-- Session-level: held until unlocked or until the session ends, whatever happens to it.
SELECT pg_try_advisory_lock(werk_cron_lock_key()) AS locked, pg_backend_pid() AS backend_pid;

-- name: BackendPid :one
-- The server session's process id, for telling a session of its own from a pooled one.
-- It calls no werkcron function: it runs before the session's search_path is pinned.
SELECT pg_catalog.pg_backend_pid() AS backend_pid;

-- name: LeaveOutUserSchema :exec
-- The first setting of the ticker's own session, before any werkcron function is
-- called: "$user" leaves its search_path unless the schema named after the ticker's
-- role is that role's own. A schema of that name that another role created (anyone
-- with CREATE on the database can) would otherwise come first, and answer for
-- werk_cron_schema() and the lock functions; the role's own schema is the pattern
-- PostgreSQL's documentation recommends, and may hold werkcron itself.
SELECT pg_catalog.set_config('search_path',
    coalesce((SELECT pg_catalog.string_agg(p.entry, ',' ORDER BY p.n)
              FROM pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.current_setting('search_path'), ','))
                   WITH ORDINALITY AS p(entry, n)
              WHERE pg_catalog.replace(pg_catalog.btrim(p.entry, E' \t\r\n'), '"', '') OPERATOR(pg_catalog.<>) '$user'
                 OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace s
                            JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.nspowner
                            WHERE s.nspname OPERATOR(pg_catalog.=) current_user
                              AND r.rolname OPERATOR(pg_catalog.=) current_user)), ''),
    false);

-- name: LeaderHeartbeat :one
-- The primary's periodic check: the database's clock, and whether this very backend
-- (see werk_cron_lock_held) still holds the leader lock.
SELECT clock_timestamp()::timestamptz AS now, werk_cron_lock_held() AS held,
       pg_backend_pid() AS backend_pid;

-- name: ReleaseLeaderLock :one
SELECT pg_advisory_unlock(werk_cron_lock_key()) AS released;

-- name: ListenForChanges :one
-- Subscribe this session to changes of werk_cron_jobs; returns the channel name.
SELECT werk_cron_listen()::text AS channel;

-- name: DatabaseNow :one
-- The database's clock, which every ticker agrees on, whatever its host's clock says.
SELECT clock_timestamp()::timestamptz AS now;

-- name: AwaitLeadership :one
-- A standby's one statement per retry (werk_cron_await_leadership): waits for the
-- leader lock at most lock_timeout (set with SetLockTimeout) and says whether it was
-- granted; when not, who holds it if that is not a ticker (intruder_pid 0: a ticker, or
-- nobody any more). A standby waits here instead
-- of polling: the server hands it the lock the moment the primary's session ends.
SELECT w.granted::boolean AS granted, w.backend_pid::integer AS backend_pid,
       coalesce(w.intruder_pid, 0)::integer AS intruder_pid, coalesce(w.intruder_user, '')::text AS intruder_user,
       coalesce(w.intruder_application, '')::text AS intruder_application,
       coalesce(w.intruder_addr, '')::text AS intruder_addr
FROM werk_cron_await_leadership() AS w;

-- name: SetLockTimeout :exec
SELECT set_config('lock_timeout', @timeout::text, false);

-- name: MarkLeader :exec
-- What werk_cron_instances shows for a primary: its application name stamped with the
-- database's time of the takeover (not the host's, which may be skewed).
SELECT set_config('application_name', @name::text || ' leader@' || floor(extract(epoch FROM clock_timestamp()))::bigint::text, false);

-- name: JoinTickers :one
-- Held (shared) for the whole session: what lists this ticker in werk_cron_instances.
-- Tried, not waited for: anyone may hold the key exclusively (advisory locks have no
-- permissions), and that must not keep a ticker from standing by.
SELECT pg_try_advisory_lock_shared(werk_cron_member_key()) AS joined;

-- name: SetSessionSettings :exec
-- The ticker's session, set up once it is known to be a session of its own (and not a
-- transaction-pooled one, where a session setting would leak to other clients):
--   - search_path becomes pg_catalog, <werkcron's schema>, as every werkcron function's
--     is: built-ins first, then werkcron's own objects, never "$user" (a schema named
--     after the ticker's role would hand it other lock keys and another channel) or
--     public (where anyone with CREATE could put a look-alike of a built-in).
--     werk_cron_schema() is fixed at migration time.
--   - TCP keepalives and tcp_user_timeout, the numbers of the ticker's own dialer
--     (internal/leader/tcp.go says why each): when the ticker's host vanishes without
--     closing the connection (power loss, a partition), the server ends the session,
--     releasing the leader lock to the waiting standby, about 4 s after the last segment
--     it received, instead of after the operating system's default of two hours (15
--     minutes with a reply in flight). Only the peer's kernel must answer: a stopped or
--     busy ticker keeps its session. No effect over a Unix socket.
--   - no statement_timeout: a server-wide one shorter than --standby-retry would cancel
--     the standby's wait for the lock; the ticker bounds its statements with client
--     deadlines.
--   - no JIT: a tick statement of 10,000 ticks is estimated above jit_above_cost (its
--     overlap checks are costed for every tick), and compiling its 200-odd expressions
--     took ~100 ms of a ~350 ms statement that runs once. The ticker runs nothing that
--     compiling pays for.
--   - custom plans, whatever plan_cache_mode a DBA set: the tick statements, sent
--     unnamed to be planned for their arrays, would otherwise get generic plans, which
--     guess ten elements per array and search `name = ANY (@tick_names)` element by
--     element for every row instead of hashing it.
SELECT set_config('search_path', 'pg_catalog, ' || quote_ident(werk_cron_schema()), false),
       set_config('tcp_keepalives_idle', '1', false),
       set_config('tcp_keepalives_interval', '1', false),
       set_config('tcp_keepalives_count', '3', false),
       set_config('tcp_user_timeout', '3500', false),
       set_config('statement_timeout', '0', false),
       set_config('jit', 'off', false),
       set_config('plan_cache_mode', 'force_custom_plan', false);
