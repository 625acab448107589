package scheduler_test

import (
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// A planning statement that takes longer than its bound (here a trigger someone added
// that sleeps 0.6 s on one row's plan) is cut off, so that the ticks due meanwhile go
// first, and tried again with a longer bound, so that the row still gets planned.
func TestSlowPlanningGivesWayToTicks(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `CREATE FUNCTION slow_plan() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.6); RETURN NEW; END $$`)
	pgtest.Exec(t, pool, `CREATE TRIGGER slow_plan BEFORE UPDATE ON werk_cron_state FOR EACH ROW
		WHEN (NEW.name = 'slow' AND OLD.planned_at IS NULL AND NEW.planned_at IS NOT NULL) EXECUTE FUNCTION slow_plan()`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('fast', 'app.fast', 1, 'all')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	nextJob(t, pool, "fast")

	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('slow', 'app.slow', '0 0 1 1 *')`)
	pgtest.Eventually(t, 10*time.Second, "slow planned", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT planned_at IS NOT NULL FROM werk_cron_state WHERE name = 'slow'`)
	})
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(1100*time.Millisecond))
	if cut := tk.Stats().PlanCutoffs; cut < 1 {
		t.Errorf("%d planning statements cut off; want the 0.6 s one cut off at its 0.4 s bound, then let through", cut)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'fast' AND outcome <> 'enqueued'`); n != 0 {
		t.Errorf("%d of fast's ticks were not enqueued", n)
	}
	checkJobs(t, pool)
}
