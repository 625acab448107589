-- werk_cron_pause stops a schedule from enqueueing (it stays registered), with an
-- optional reason; werk_cron_resume lets it enqueue again, from now on: ticks that fell
-- in the pause are never backfilled. Both return whether anything changed.
CREATE OR REPLACE FUNCTION werk_cron_pause(name text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE sql AS $$ SELECT werk_cron_set_paused(name, true, reason, 'werk_cron_pause') $$;
