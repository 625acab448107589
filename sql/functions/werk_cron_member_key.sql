-- Every running ticker holds this key in shared mode for the life of its session, so
-- that werk_cron_instances lists standbys too, straight from pg_locks.
CREATE OR REPLACE FUNCTION werk_cron_member_key() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.hashtextextended('werkcron-member:' || werk_cron_schema(), 0) $$;
