-- name: MigrationSchema :one
-- Where werkcron's migrations go: the schema of the werk_cron_migrations table that the
-- connection's search_path finds (an installation that exists, wherever "$user" may
-- point today), else the first schema of the search_path that exists; '' when there is
-- none; installed says whether that table exists.
SELECT coalesce((SELECT n.nspname::text
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid = pg_catalog.to_regclass('werk_cron_migrations')),
                pg_catalog.current_schema()::text, '')::text AS schema,
       (pg_catalog.to_regclass('werk_cron_migrations') IS NOT NULL)::boolean AS installed;

-- name: NewestMigration :one
-- The newest migration recorded (0: none yet).
SELECT coalesce(pg_catalog.max(version_id), 0)::bigint AS version
FROM werk_cron_migrations
WHERE is_applied;

-- name: LockObjects :exec
-- Serialises the application of werkcron's functions, views and triggers between
-- processes that migrate at once; held until the transaction ends.
SELECT pg_catalog.pg_advisory_xact_lock(@key::bigint);

-- name: DeferFunctionChecks :exec
-- Function bodies are checked when called, not when created, for the rest of the
-- transaction: the object files define functions that call each other in any order.
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

-- name: AppliedObjects :many
-- The object files applied here, with the checksum each had, and the grants a migration
-- kept for the object it dropped.
SELECT path, checksum, grants FROM werk_cron_objects;

-- name: RecordObject :exec
-- The file applied, and any grants kept for its object given.
INSERT INTO werk_cron_objects (path, checksum)
VALUES (@path::text, @checksum::text)
ON CONFLICT (path) DO UPDATE SET checksum = excluded.checksum, grants = NULL,
                                 applied_at = pg_catalog.clock_timestamp();

-- name: ObjectsThere :many
-- The names of werkcron's functions, views and triggers that exist in its schema: an
-- object file whose object is missing (a migration dropped it) is applied whatever its
-- checksum says.
SELECT p.proname::text AS name FROM pg_catalog.pg_proc p
WHERE p.pronamespace = pg_catalog.to_regnamespace(@schema::text) AND p.proname LIKE 'werk\_cron\_%'
UNION
SELECT c.relname::text FROM pg_catalog.pg_class c
WHERE c.relnamespace = pg_catalog.to_regnamespace(@schema::text) AND c.relkind = 'v'
UNION
SELECT t.tgname::text FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = pg_catalog.to_regnamespace(@schema::text) AND NOT t.tgisinternal;

-- name: FunctionsNamed :many
-- The functions of that name in werkcron's schema, by signature (as the server quotes
-- it, ready for DDL).
SELECT p.oid::regprocedure::text AS signature
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = @schema::text AND p.proname = @name::text
ORDER BY p.oid;

-- name: FunctionGrants :many
-- Who may execute the function @signature besides its owner and PUBLIC (what PUBLIC
-- may do is the function file's own decision), as the end of a GRANT statement:
-- ' TO <role>[ WITH GRANT OPTION]'.
SELECT pg_catalog.format(' TO %I%s', r.rolname, CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)::text AS grantee
FROM pg_catalog.pg_proc p
CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
WHERE p.oid = pg_catalog.to_regprocedure(@signature::text) AND a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE';

-- name: ViewGrants :many
-- Every role's rights on the view besides its owner's and PUBLIC's, as GRANT
-- statements, for a view that must be dropped and created again.
SELECT pg_catalog.format('GRANT %s ON %I.%I TO %I%s', a.privilege_type, n.nspname, c.relname, r.rolname,
                         CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)::text AS stmt
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
WHERE n.nspname = @schema::text AND c.relname = @name::text AND a.grantee <> c.relowner;

-- name: ObsoleteObjects :many
-- DROP statements for werkcron's functions, views and triggers that no file defines any
-- more (triggers first, then views, then functions, so that nothing depends on what is
-- dropped). werkcron's are the functions and views named werk_cron_* in its schema, and
-- the triggers whose function is one of those.
SELECT o.stmt::text AS stmt
FROM (
    SELECT 1 AS ord, pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass) AS stmt
    FROM pg_catalog.pg_trigger t
    JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE NOT t.tgisinternal AND n.nspname = @schema::text AND p.proname LIKE 'werk\_cron\_%'
      AND t.tgname <> ALL (@triggers::text[])
    UNION ALL
    SELECT 2, pg_catalog.format('DROP VIEW %I.%I', n.nspname, c.relname)
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'v' AND n.nspname = @schema::text AND c.relname LIKE 'werk\_cron\_%'
      AND c.relname <> ALL (@views::text[])
    UNION ALL
    SELECT 3, pg_catalog.format('DROP FUNCTION %s', p.oid::regprocedure)
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = @schema::text AND p.proname LIKE 'werk\_cron\_%'
      AND p.proname <> ALL (@functions::text[])
) o
ORDER BY o.ord, o.stmt;

-- name: UnpinnedFunctions :many
-- ALTER statements that pin the search_path werkcron's functions run with on each that
-- has another (or none): built-ins first, then werkcron's own objects, then temporary
-- objects (which any role may create, and which PostgreSQL would otherwise search first
-- for tables), never "$user" or public. Three are left as they are: werk_cron_job,
-- werk_cron_run_at and werk_cron_jitter, plain SQL functions that PostgreSQL inlines
-- into the statement that calls them (the tick statement, a backfill,
-- werk_cron_trigger) only as long as they have no SET clause. Inlined, they run with the caller's search_path: the ticker's
-- session and werkcron's functions pin it, and their bodies name built-ins through
-- pg_catalog.
WITH want AS (SELECT pg_catalog.format('pg_catalog, %I, pg_temp', @schema::text) AS path)
SELECT pg_catalog.format('ALTER FUNCTION %s SET search_path = %s', p.oid::regprocedure, w.path)::text AS stmt
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
CROSS JOIN want w
WHERE n.nspname = @schema::text AND p.proname LIKE 'werk\_cron\_%'
  AND p.proname NOT IN ('werk_cron_job', 'werk_cron_run_at', 'werk_cron_jitter')
  AND NOT coalesce('search_path=' || w.path = ANY (p.proconfig), false)
ORDER BY 1;

-- name: RegrantTickers :exec
-- Gives every ticker role what werk_cron_grant gives a ticker now: a role granted before
-- an upgrade added a function or a right it needs (one that holds the ledger's INSERT and
-- DELETE, which werk_cron_grant gives and no other role of werkcron's has) gets it with
-- the upgrade, instead of failing until someone runs werkcron grant again. Idempotent:
-- migrate runs it whenever it applied an object file.
SELECT pg_catalog.count(g.stmt)
FROM (SELECT ro.rolname
      FROM pg_catalog.pg_class c, LATERAL pg_catalog.aclexplode(c.relacl) x
      JOIN pg_catalog.pg_roles ro ON ro.oid = x.grantee
      WHERE c.oid = 'werk_cron_ledger'::regclass AND x.privilege_type IN ('INSERT', 'DELETE')
        AND x.grantee <> c.relowner
      GROUP BY ro.rolname
      HAVING pg_catalog.count(DISTINCT x.privilege_type) = 2) t,
     LATERAL werk_cron_grant(t.rolname::text, true) g(stmt);
