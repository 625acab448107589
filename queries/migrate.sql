-- name: MigrationSchema :one
-- Where werkcron's migrations go: the schema of the werk_cron_migrations table that the
-- connection's search_path finds (an installation that exists, wherever "$user" may
-- point today), else the first schema of the search_path that exists; '' when there is
-- none.
SELECT coalesce((SELECT n.nspname::text
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid = pg_catalog.to_regclass('werk_cron_migrations')),
                pg_catalog.current_schema()::text, '')::text AS schema;
