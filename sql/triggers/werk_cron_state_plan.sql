-- See werk_cron_state_plan. An AFTER trigger, for the reason werk_cron_state_forward
-- gives: its WHEN is false for every write of the ticker, and then costs nothing.
CREATE OR REPLACE TRIGGER werk_cron_state_plan
    AFTER INSERT OR UPDATE ON werk_cron_state
    FOR EACH ROW
    WHEN ((NEW.plan_at IS DISTINCT FROM NEW.next_run_at
           AND (NEW.plan_at IS NOT NULL OR NEW.round_at IS DISTINCT FROM NEW.next_run_at))
          OR (NEW.next_run_at IS NULL AND NEW.round_at IS NOT NULL))
    EXECUTE PROCEDURE werk_cron_state_plan();

-- Rows left neither way while this trigger was missing (a werkcron older than migration
-- 00015 ran on the database meanwhile: it writes next_run_at alone, and drops this
-- file's trigger as unknown to it) are put in the plan's index when the file is applied
-- again, by the werkcron that knows it.
UPDATE werk_cron_state SET plan_at = next_run_at, round_at = NULL
WHERE (plan_at IS DISTINCT FROM next_run_at AND (plan_at IS NOT NULL OR round_at IS DISTINCT FROM next_run_at))
   OR (next_run_at IS NULL AND round_at IS NOT NULL);
