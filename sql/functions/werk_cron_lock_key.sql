-- The advisory lock that makes one ticker primary, derived from the schema werkcron
-- lives in (werk_cron_schema(), fixed when it is installed, whoever calls), so that two
-- installations in one database elect their primaries independently and a schema named
-- after the caller's role ("$user") cannot hand it another key. pg_locks shows a bigint
-- advisory key as classid = its high 32 bits, objid = its low 32 bits.
CREATE OR REPLACE FUNCTION werk_cron_lock_key() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.hashtextextended('werkcron:' || werk_cron_schema(), 0) $$;
