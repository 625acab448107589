-- A fan-out's tick rewrites no index entry of a schedule's state. The plan was an index
-- on werk_cron_state.next_run_at, which every tick moves, so every tick's update of the
-- state row was a new row version with an entry in that index and in the primary key:
-- measured at 100,000 due, those writes took 1.23-1.31 s and 1,130-1,160 bytes of WAL
-- per job, against 0.99-1.03 s and 860 bytes when the row is updated in place (HOT),
-- with no index entry.
--
-- - The plan's index moves to a column of its own, plan_at: next_run_at for a schedule
--   the plan finds by itself ("loose"); NULL for one kept on a round. next_run_at stays
--   what it was, the schedule's next instant, and is indexed no more.
-- - werk_cron_rounds: a fan-out's tick statement writes one row per next instant its
--   schedules share (when 64 or more do), naming them, and leaves their plan_at NULL:
--   their state rows change no indexed column, so they are updated in place. round_at
--   says which round a schedule is on; it is on it while its next_run_at is round_at
--   (and plan_at is NULL). A round no schedule is on any more is deleted by the ticker.
-- - werk_cron_state keeps half of each page free, so that a tick that rewrites every row
--   of a page finds room there for each new version.

-- +goose Up

ALTER TABLE werk_cron_state
    ADD COLUMN plan_at timestamptz,
    ADD COLUMN round_at timestamptz,
    ADD CONSTRAINT werk_cron_state_plan_at_must_be_finite CHECK (pg_catalog.isfinite(plan_at)),
    ADD CONSTRAINT werk_cron_state_round_at_must_be_finite CHECK (pg_catalog.isfinite(round_at)),
    SET (fillfactor = 45);
COMMENT ON COLUMN werk_cron_state.plan_at IS
    'the plan''s index: next_run_at, unless the schedule is on a round (werk_cron_rounds); written with next_run_at';
COMMENT ON COLUMN werk_cron_state.round_at IS
    'the instant of the round (werk_cron_rounds) the schedule is on, while next_run_at is that instant and plan_at is NULL; the ticker''s';

UPDATE werk_cron_state SET plan_at = next_run_at WHERE next_run_at IS NOT NULL;
DROP INDEX werk_cron_state_next_run_at_idx;
-- What the primary reads at every wake-up: the schedules due within its horizon (with
-- the rounds due, werk_cron_rounds_due_at_idx).
CREATE INDEX werk_cron_state_plan_at_idx ON werk_cron_state (plan_at) WHERE plan_at IS NOT NULL;

CREATE TABLE werk_cron_rounds (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    due_at timestamptz NOT NULL,
    names  text[] NOT NULL
);
COMMENT ON TABLE werk_cron_rounds IS
    'the plan of schedules a fan-out ticks together: their next instant, due_at, and their names; a schedule is on a round while its werk_cron_state.next_run_at and round_at are due_at and plan_at is NULL. Written by the ticker';
CREATE INDEX werk_cron_rounds_due_at_idx ON werk_cron_rounds (due_at);

-- Roles given the ticker's rights before get them on plan_at, round_at and
-- werk_cron_rounds from werk_cron_grant, which werkcron migrate runs again for each of
-- them once it has applied the new werk_cron_grant (RegrantTickers).

-- +goose Down
-- Not reversible in place: restore a backup taken before the upgrade.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron migration 00015 (rounds) cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
