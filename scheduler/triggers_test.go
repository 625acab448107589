package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// A resume inside a transaction that began earlier dates the schedule's restart from
// the UPDATE itself, not from BEGIN: ticks that passed while it was still paused are
// never enqueued, even with catchup = 'all'.
func TestResumeInsideLongTransactionDoesNotBackfill(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, paused) VALUES ('r', 'app.r', 1, 'all', true)`)

	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	began := pgtest.QueryOne[time.Time](t, tx, `SELECT now()`)
	pgtest.Exec(t, tx, `SELECT pg_sleep(2.2)`)
	pgtest.Exec(t, tx, `UPDATE werk_cron_jobs SET paused = false`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 2*time.Second, "a job after the resume", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 1
	})
	first := pgtest.QueryOne[time.Time](t, pool, `SELECT min(scheduled_at) FROM werk_jobs`)
	if first.Before(began.Add(2 * time.Second).Truncate(time.Second)) {
		t.Fatalf("first job at %s: backfilled from the transaction's start %s", first, began)
	}
}

// Giving a schedule that has ended a later ends_at restarts it from that moment: the
// time it spent ended is not backfilled.
func TestEndsAtExtendedAfterTheEndDoesNotBackfill(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, ends_at)
		VALUES ('e', 'app.e', 1, 'all', clock_timestamp() + interval '1 s')`)
	ended := pgtest.QueryOne[time.Time](t, pool, `SELECT ends_at FROM werk_cron_jobs`)
	// Ended, and ticks' time passes (decided) before the extension.
	tk.decidedThrough(t, pool, ended.Add(1500*time.Millisecond))
	extended := pgtest.QueryOne[time.Time](t, pool, `UPDATE werk_cron_jobs SET ends_at = now() + interval '1 day' RETURNING changed_at`)
	pgtest.Eventually(t, 2*time.Second, "a job after the extension", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at > $1`, ended) >= 1
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at > $1 AND scheduled_at < $2`,
		ended, extended.Truncate(time.Second)); n != 0 {
		t.Fatalf("%d jobs backfilled for the time the schedule had ended", n)
	}
}

func TestTriggersGuardTickerState(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('g', 'app.g', 60)`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET last_tick_at = '2026-01-01T00:00:00Z'`)

	// last_tick_at only moves forward: a tick once decided is never decided again.
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET last_tick_at = NULL`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET last_tick_at = '2025-01-01T00:00:00Z'`)
	if got := pgtest.QueryOne[time.Time](t, pool, `SELECT last_tick_at FROM werk_cron_state`); !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("last_tick_at moved back to %s", got)
	}

	// The trigger owns the timestamps; a rename is not a change of timing.
	changed := pgtest.QueryOne[time.Time](t, pool, `SELECT changed_at FROM werk_cron_jobs`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET changed_at = now() - interval '1 day', created_at = now() - interval '1 day'`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET name = 'renamed'`)
	if got := pgtest.QueryOne[time.Time](t, pool, `SELECT changed_at FROM werk_cron_jobs`); !got.Equal(changed) {
		t.Errorf("changed_at went from %s to %s", changed, got)
	}
	if pgtest.QueryOne[bool](t, pool, `SELECT created_at < now() - interval '1 hour' FROM werk_cron_jobs`) {
		t.Errorf("created_at was rewritten by hand")
	}
}
