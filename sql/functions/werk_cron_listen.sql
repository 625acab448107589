-- LISTEN takes no parameters, so the ticker subscribes through this function, which
-- names werkcron's channel (werk_cron_channel). Returns the channel.
CREATE OR REPLACE FUNCTION werk_cron_listen() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE pg_catalog.format('LISTEN %I', werk_cron_channel());
    RETURN werk_cron_channel();
END
$$;
