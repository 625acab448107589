-- werk_cron_schema() is the schema werkcron is installed in, written into the function
-- itself when it is created, so that the lock keys and the notification channel come
-- out the same whoever calls (a schema named after the caller's role, "$user", first in
-- PostgreSQL's default search_path, must not change them).
DO $$
BEGIN
    EXECUTE pg_catalog.format(
        'CREATE OR REPLACE FUNCTION werk_cron_schema() RETURNS text LANGUAGE sql IMMUTABLE AS %L',
        pg_catalog.format('SELECT %L::text', pg_catalog.current_schema()));
END
$$;
COMMENT ON FUNCTION
    werk_cron_schema() IS
    'the schema werkcron was migrated into: the lock keys and the notification channel derive from it';
