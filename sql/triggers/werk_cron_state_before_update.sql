-- See werk_cron_state_forward.
CREATE OR REPLACE TRIGGER werk_cron_state_before_update
    BEFORE UPDATE ON werk_cron_state
    FOR EACH ROW
    WHEN (OLD.last_tick_at IS NOT NULL AND (NEW.last_tick_at IS NULL OR NEW.last_tick_at < OLD.last_tick_at))
    EXECUTE PROCEDURE werk_cron_state_forward();
