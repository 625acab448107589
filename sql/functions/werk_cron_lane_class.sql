-- werk_cron_lane_class is the first half of the advisory keys of the fan-out's lanes
-- (werk_cron_wait_turn; the lane is the second): derived from the schema, as the leader
-- lock's key is, and in the two-integer key space, which the leader lock's bigint key
-- never meets.
CREATE OR REPLACE FUNCTION werk_cron_lane_class() RETURNS integer
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.hashtext('werkcron lanes:' || werk_cron_schema()) $$;
