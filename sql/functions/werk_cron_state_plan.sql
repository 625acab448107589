-- Every schedule the plan holds is found by it: by plan_at (the plan's index), or on a
-- round (werk_cron_rounds) while plan_at is NULL and round_at is its next_run_at. The
-- ticker writes plan_at and round_at with next_run_at; called only after a write that
-- left a row neither way (werk_cron_state_plan's WHEN: an owner's UPDATE of next_run_at
-- in psql, say), in the same statement, it makes that row found by plan_at. So the
-- ticker's own writes never enter PL/pgSQL.
CREATE OR REPLACE FUNCTION werk_cron_state_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE werk_cron_state SET plan_at = next_run_at, round_at = NULL
    WHERE name = NEW.name
      AND ((plan_at IS DISTINCT FROM next_run_at AND (plan_at IS NOT NULL OR round_at IS DISTINCT FROM next_run_at))
           OR (next_run_at IS NULL AND round_at IS NOT NULL));
    RETURN NULL;
END
$$;
