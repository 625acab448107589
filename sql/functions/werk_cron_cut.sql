-- werk_cron_cut returns s cut to at most max_bytes bytes, at a character boundary:
-- werkcron's size limits are in bytes, and a text cut by characters (left(s, n)) can
-- break them with multibyte characters (1,000 × '€' is 3,000 bytes), or a character in
-- two if cut by bytes. Never raises; NULL stays NULL.
CREATE OR REPLACE FUNCTION werk_cron_cut(s text, max_bytes integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    n    integer;
    over integer;
BEGIN
    IF pg_catalog.octet_length(s) <= max_bytes THEN
        RETURN s;
    END IF;
    -- From max_bytes characters down: each step drops at least one character and never
    -- more bytes than are over (a character is at most four bytes), so the first length
    -- that fits is close to the longest that does.
    n := least(pg_catalog.length(s), greatest(max_bytes, 0));
    LOOP
        over := pg_catalog.octet_length(pg_catalog.left(s, n)) - max_bytes;
        EXIT WHEN over <= 0 OR n <= 0;
        n := n - greatest(over / 4, 1);
    END LOOP;
    RETURN pg_catalog.left(s, greatest(n, 0));
END
$$;
