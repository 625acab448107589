-- See werk_cron_pause.
CREATE OR REPLACE FUNCTION werk_cron_resume(name text) RETURNS boolean
LANGUAGE sql AS $$ SELECT werk_cron_set_paused(name, false, NULL, 'werk_cron_resume') $$;
