-- werk_cron_definition_defaults returns what each column of a schedule's definition
-- (werk_cron_definition_columns()) and of its state (paused, remaining_runs) becomes when
-- it is not given: a JSON object of the table's defaults, evaluated from its DDL, NULL
-- for a column without one. `werkcron apply` compares a file with the table through it,
-- and `werkcron export` leaves out what is at its default, so that no default is
-- written down twice.
CREATE OR REPLACE FUNCTION werk_cron_definition_defaults() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    sel  text;
    defs jsonb;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s AS %I',
               coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), 'NULL'), a.attname), ', ')
      INTO sel
      FROM pg_catalog.pg_attribute a
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = 'werk_cron_jobs'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname = ANY (werk_cron_definition_columns() || ARRAY['paused', 'remaining_runs']);
    EXECUTE 'SELECT pg_catalog.to_jsonb(d) FROM (SELECT ' || sel || ') d' INTO defs;
    RETURN defs;
END
$$;
