-- werk_cron_tick_of_key returns the tick that a job key of the schedule name stands for
-- (cron:<name>:<YYYY-MM-DDTHH:MM:SSZ>, the key a tick's job gets), and NULL for any other
-- text: a manual run's key, another schedule's, another scheduler's, a malformed one.
-- It never raises, whatever the text: werk_cron_record_outcome calls it on pgwerk's
-- delete path, where an error would roll back pgwerk's clean-up.
CREATE OR REPLACE FUNCTION werk_cron_tick_of_key(key text, name text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    prefix text := 'cron:' || name || ':';
    t      text;
    parts  text[];
    y      integer;
    mo     integer;
    d      integer;
BEGIN
    IF key IS NULL OR name IS NULL OR pg_catalog.left(key, pg_catalog.length(prefix)) <> prefix THEN
        RETURN NULL;
    END IF;
    t := pg_catalog.substr(key, pg_catalog.length(prefix) + 1);
    parts := pg_catalog.regexp_match(t, '^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$');
    IF parts IS NULL THEN
        RETURN NULL;
    END IF;
    y := parts[1]::integer;
    mo := parts[2]::integer;
    d := parts[3]::integer;
    -- One check at a time: SQL does not promise to stop at the first true one of an OR,
    -- and make_date raises for a month that does not exist.
    IF y < 1 OR mo < 1 OR mo > 12 OR d < 1 THEN
        RETURN NULL;
    END IF;
    IF d > pg_catalog.date_part('day', pg_catalog.make_date(y, mo, 1) + interval '1 month - 1 day') THEN
        RETURN NULL;
    END IF;
    IF parts[4]::integer > 23 OR parts[5]::integer > 59 OR parts[6]::integer > 59 THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.make_timestamptz(y, mo, d, parts[4]::integer, parts[5]::integer, parts[6]::integer, 'UTC');
END
$$;
