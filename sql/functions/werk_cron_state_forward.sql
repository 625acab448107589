-- A tick once decided is never decided again, whatever anyone writes: last_tick_at
-- only moves forward (the ledger's pruning relies on it). Called only after a write
-- that moved it back (werk_cron_state_forward's WHEN), in the same statement: it puts
-- the row's last_tick_at back where it was, and the rest of the write stands. (A
-- RETURNING of that very write still shows the value written.) So the ticker's own
-- writes never enter PL/pgSQL.
CREATE OR REPLACE FUNCTION werk_cron_state_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE werk_cron_state SET last_tick_at = OLD.last_tick_at
    WHERE name = NEW.name AND (last_tick_at IS NULL OR last_tick_at < OLD.last_tick_at);
    RETURN NULL;
END
$$;
