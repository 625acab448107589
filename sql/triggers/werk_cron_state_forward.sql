-- See werk_cron_state_forward. An AFTER trigger, not a BEFORE one: PostgreSQL locks every
-- row it updates in a table with a BEFORE ROW UPDATE trigger before it evaluates the
-- trigger's WHEN (a WAL record per row, which every tick paid for each schedule), while
-- an AFTER trigger's WHEN is evaluated as the row is written and queues nothing when it
-- is false, as it is for every write of the ticker.
CREATE OR REPLACE TRIGGER werk_cron_state_forward
    AFTER UPDATE ON werk_cron_state
    FOR EACH ROW
    WHEN (OLD.last_tick_at IS NOT NULL AND (NEW.last_tick_at IS NULL OR NEW.last_tick_at < OLD.last_tick_at))
    EXECUTE PROCEDURE werk_cron_state_forward();
