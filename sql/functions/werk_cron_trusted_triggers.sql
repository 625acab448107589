-- werk_cron_trusted_triggers returns true, or raises (SQLSTATE WC001, naming them) when
-- a table the ticker and werkcron's SECURITY DEFINER functions write to has a trigger
-- that would run code of a role other than the table's owner, werkcron's owner (the
-- owner of werk_cron_ledger) or a superuser. A trigger's function runs with the rights
-- of whoever writes the row, so a role granted TRIGGER on werk_jobs (a pgwerk worker
-- granted ALL, say) could otherwise run its own code as the ticker on every enqueue, or
-- as werkcron's owner when werk_cron_trigger enqueues. Its function, and the functions
-- and operators of its WHEN clause (pg_depend records both), are what a trigger runs.
--
-- Called by what writes werk_jobs or werk_cron_jobs, the tables ordinary roles hold
-- rights on (a pgwerk worker often ALL of werk_jobs): the tick statement and a backfill
-- chunk (a statement holds the ROW EXCLUSIVE lock of every table it writes from its
-- start, which CREATE TRIGGER waits for, so the triggers this sees are those that can
-- fire in it), and werk_cron_trigger, werk_cron_backfill and werk_cron_pause_failing
-- after their writes (a function's statements take their locks one by one). Raising
-- rolls back everything the statement did. What writes only werkcron's own tables
-- (outcomes on pgwerk's delete, run summaries, state), on which werkcron grants TRIGGER
-- to nobody, does not pay for the check: pgwerk's clean-up runs it once per job.
CREATE OR REPLACE FUNCTION werk_cron_trusted_triggers() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found text;
BEGIN
    SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%I on %I (%s)', t.tgname, c.relname, r.rolname), ', '
                                 ORDER BY pg_catalog.format('%I on %I (%s)', t.tgname, c.relname, r.rolname))
    INTO found
    FROM pg_catalog.pg_trigger t
    JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
    CROSS JOIN LATERAL (
        SELECT t.tgfoid AS fn
        UNION
        SELECT d.refobjid FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid
          AND d.refclassid = 'pg_catalog.pg_proc'::regclass
        UNION
        SELECT o.oprcode::oid FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_operator o ON o.oid = d.refobjid
        WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid
          AND d.refclassid = 'pg_catalog.pg_operator'::regclass
    ) f
    JOIN pg_catalog.pg_proc p ON p.oid = f.fn
    JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
    WHERE t.tgrelid IN ('werk_jobs'::regclass, 'werk_cron_jobs'::regclass, 'werk_cron_state'::regclass,
                        'werk_cron_ledger'::regclass, 'werk_cron_health'::regclass,
                        'werk_cron_backfills'::regclass, 'werk_cron_holdups'::regclass, 'werk_cron_rounds'::regclass)
      AND NOT t.tgisinternal AND t.tgenabled <> 'D'
      AND NOT r.rolsuper
      AND p.proowner <> c.relowner
      AND p.proowner <> (SELECT l.relowner FROM pg_catalog.pg_class l WHERE l.oid = 'werk_cron_ledger'::regclass);
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'werkcron will not run code of other roles: triggers on its tables run their functions: %',
            werk_cron_cut(found, 1024)
            USING ERRCODE = 'WC001',
                  HINT = 'drop those triggers (and grant no TRIGGER, nor ALL, on these tables); '
                         'only the tables'' owner and werkcron''s owner may put triggers there';
    END IF;
    RETURN true;
END
$$;
