-- The channel the ticker listens on for changes. A NOTIFY channel holds 63 bytes: a
-- long schema name is hashed (md5 is a name here, not a secret).
CREATE OR REPLACE FUNCTION werk_cron_channel() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN pg_catalog.octet_length(werk_cron_schema()) <= 48
                THEN 'werk_cron_jobs:' || werk_cron_schema()
                ELSE 'werk_cron_jobs:' || pg_catalog.md5(werk_cron_schema()) END
$$;
