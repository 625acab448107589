-- A tick once decided is never decided again, whatever anyone writes: last_tick_at
-- only moves forward (the ledger's pruning relies on it). Called only for a write that
-- would move it back (werk_cron_state_before_update's WHEN), so the ticker's own writes
-- never enter PL/pgSQL.
CREATE OR REPLACE FUNCTION werk_cron_state_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_tick_at := OLD.last_tick_at;
    RETURN NEW;
END
$$;
