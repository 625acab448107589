package scheduler_test

// What operators do in psql — open transactions, row locks, keys held uncommitted,
// table locks — holds up only the schedules it touches: every other schedule's job is
// enqueued within a second of its tick, no tick gets two jobs, and with catchup = 'all'
// none is lost.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// addEverySecond inserts n schedules name1..nameN firing every second with catchup.
func addEverySecond(t *testing.T, pool *pgxpool.Pool, prefix string, n int, catchup string) {
	t.Helper()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup)
		SELECT $1 || i, 'app.' || $1, '* * * * * *', $3 FROM generate_series(1, $2) i`, prefix, n, catchup)
}

// nextWholeSecond is the database's next whole second at least ahead from now.
func nextWholeSecond(t *testing.T, pool *pgxpool.Pool, ahead time.Duration) time.Time {
	t.Helper()
	return pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', clock_timestamp() + $1::interval) + interval '1 s'`,
		fmt.Sprintf("%d milliseconds", ahead.Milliseconds()))
}

// checkOnTime asserts that every schedule whose name starts with prefix has exactly one
// job for each whole-second tick in [from, to], enqueued within a second of its tick.
func checkOnTime(t *testing.T, pool *pgxpool.Pool, prefix string, from, to time.Time) {
	t.Helper()
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*)
		FROM werk_cron_jobs c CROSS JOIN generate_series($2::timestamptz, $3::timestamptz, interval '1 s') g
		WHERE c.name LIKE $1 || '%'
		  AND (SELECT count(*) FROM werk_jobs j WHERE j.cron_name = c.name AND j.scheduled_at = g
		         AND j.enqueued_at < g + interval '1 s') <> 1`, prefix, from, to); n != 0 {
		t.Errorf("%d ticks of the %s* schedules in [%s, %s] lack a job enqueued within 1 s of the tick",
			n, prefix, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
}

// checkEveryTickOnce asserts that the schedule has exactly one job for every whole
// second in [from, to]: with catchup = 'all' no tick is lost, and none doubled.
func checkEveryTickOnce(t *testing.T, pool *pgxpool.Pool, name string, from, to time.Time) {
	t.Helper()
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM generate_series($2::timestamptz, $3::timestamptz, interval '1 s') g
		WHERE (SELECT count(*) FROM werk_jobs j WHERE j.key = 'cron:' || $1 || ':' || to_char(g AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) <> 1`,
		name, from, to); n != 0 {
		t.Errorf("%s: %d ticks in [%s, %s] without exactly one job", name, n, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
}

// A job key held by an uncommitted transaction (someone inserting the very key of a
// tick) holds up that schedule alone. Committed, the tick is foreign (werkcron did not
// make that job for it: no second job, and its outcome is not the schedule's);
// rolled back, the tick gets its own job after all: exactly one job either way.
func TestKeyHeldUncommittedIsolatesOneSchedule(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"commit", "rollback"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			dsn, pool := migratedDB(t)
			pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup) VALUES ('race', 'app.race', '* * * * * *', 'all')`)
			addEverySecond(t, pool, "other", 20, "all")
			tk := startTicker(t, dsn, scheduler.TickerOptions{})
			tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

			ctx := context.Background()
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			tick := nextWholeSecond(t, pool, time.Second)
			var outside uuid.UUID
			if err := tx.QueryRow(ctx, `INSERT INTO werk_jobs (key, function, cron_name, scheduled_at)
				VALUES ($1, 'app.race', 'race', $2) RETURNING id`, keyOf("race", tick), tick).Scan(&outside); err != nil {
				t.Fatal(err)
			}
			// The others tick on while the key stays held: that tick, and the next.
			pgtest.Eventually(t, 5*time.Second, "the other schedules past the held tick", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE function = 'app.other' AND scheduled_at = $1`,
					tick.Add(time.Second)) == 20
			})
			checkOnTime(t, pool, "other", tick, tick.Add(time.Second))
			if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'race' AND tick_at >= $1`, tick); n != 0 {
				t.Fatalf("the held schedule decided %d ticks from the held one on, while the key was held", n)
			}
			waitHeldUp(t, pool, "race", "uncommitted transaction")
			if end == "commit" {
				err = tx.Commit(ctx)
			} else {
				err = tx.Rollback(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			pgtest.Eventually(t, 15*time.Second, "the held schedule catching up", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'race' AND tick_at >= $1`, tick) >= 3
			})
			var outcome string
			var jobID *uuid.UUID
			if err := pool.QueryRow(ctx, `SELECT outcome, job_id FROM werk_cron_ticks WHERE name = 'race' AND tick_at = $1`, tick).Scan(&outcome, &jobID); err != nil {
				t.Fatal(err)
			}
			switch {
			case end == "commit" && (outcome != "foreign" || jobID == nil || *jobID != outside):
				// The operator's job holds the key, but werkcron did not make it for the tick.
				t.Errorf("after commit: ledger says %s with job %v, want foreign, naming %s", outcome, jobID, outside)
			case end == "rollback" && (outcome != "enqueued" || jobID == nil):
				t.Errorf("after rollback: ledger says %s with job %v, want enqueued with a job of its own", outcome, jobID)
			}
			last := pgtest.QueryOne[time.Time](t, pool, `SELECT last_tick_at FROM werk_cron_state WHERE name = 'race'`)
			checkEveryTickOnce(t, pool, "race", tick.Add(-time.Second), last)
			// Rolled back, nothing went wrong; committed, the schedule says whose key it was,
			// until its next decision goes through.
			if msg := pgtest.QueryOne[*string](t, pool, `SELECT last_error FROM werk_cron_state WHERE name = 'race'`); msg != nil &&
				(end == "rollback" || !strings.Contains(*msg, keyOf("race", tick))) {
				t.Errorf("last_error %q", *msg)
			}
			checkJobs(t, pool)
		})
	}
}

// waitHeldUp waits until the status view shows the schedule as held up (state error,
// last_error naming the hold-up and why).
func waitHeldUp(t *testing.T, pool *pgxpool.Pool, name, why string) {
	t.Helper()
	pgtest.Eventually(t, 5*time.Second, name+" shown as held up in werk_cron_status", func() bool {
		var state string
		var lastError *string
		if err := pool.QueryRow(context.Background(), `SELECT state, last_error FROM werk_cron_status WHERE name = $1`, name).Scan(&state, &lastError); err != nil {
			t.Fatal(err)
		}
		return state == "error" && lastError != nil && strings.Contains(*lastError, "held up since") && strings.Contains(*lastError, why)
	})
}

// A schedule held by another session — its definition changed by an UPDATE not yet
// committed, or its state row locked — holds up that schedule alone; it catches up per
// its policy once the lock is gone (catchup = 'all': every tick, once). A definition row
// merely locked (SELECT ... FOR UPDATE, as a tool editing it would) holds up nothing: the
// tick reads the definition without locking it.
func TestRowHeldHoldsUpNobodyElse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, hold string
		holdsUp    bool
	}{
		{"definition locked", `SELECT 1 FROM werk_cron_jobs WHERE name = 'held' FOR UPDATE`, false},
		{"definition changed", `UPDATE werk_cron_jobs SET meta = '{"edited": true}' WHERE name = 'held'`, true},
		{"state locked", `SELECT 1 FROM werk_cron_state WHERE name = 'held' FOR UPDATE`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dsn, pool := migratedDB(t)
			pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup) VALUES ('held', 'app.held', '* * * * * *', 'all')`)
			addEverySecond(t, pool, "free", 5, "latest")
			tk := startTicker(t, dsn, scheduler.TickerOptions{})
			tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
			pgtest.Eventually(t, 3*time.Second, "every schedule ticking", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(DISTINCT cron_name) FROM werk_jobs`) == 6
			})

			ctx := context.Background()
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			pgtest.Exec(t, tx, c.hold)
			from := nextWholeSecond(t, pool, 0)
			to := from.Add(2 * time.Second)
			pgtest.Eventually(t, 5*time.Second, "the free schedules past the lock", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE function = 'app.free' AND scheduled_at = $1`, to) == 5
			})
			checkOnTime(t, pool, "free", from, to)
			if !c.holdsUp {
				checkOnTime(t, pool, "held", from, to)
				checkJobs(t, pool)
				return
			}
			waitHeldUp(t, pool, "held", "row is locked by another session")
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			pgtest.Eventually(t, 15*time.Second, "the held schedule catching up", func() bool {
				return pgtest.QueryOne[bool](t, pool, `SELECT last_tick_at > $1 FROM werk_cron_state WHERE name = 'held'`, to)
			})
			checkEveryTickOnce(t, pool, "held", from, to)
			pgtest.Eventually(t, 3*time.Second, "the hold-up cleared from the status view", func() bool {
				return pgtest.QueryOne[string](t, pool, `SELECT state FROM werk_cron_status WHERE name = 'held'`) == "active"
			})
			if tk.Role() != scheduler.RolePrimary || tk.Stats().Promotions != 1 {
				t.Errorf("ticker is %s after %d promotions", tk.Role(), tk.Stats().Promotions)
			}
			checkJobs(t, pool)
		})
	}
}

// A table lock on werk_jobs (pgwerk's migrations take one) or on werk_cron_jobs (an
// operator's DDL) delays every tick while it lasts; the ticker keeps its leadership and
// catches up per catchup afterwards. The lock on werk_cron_jobs lasts longer than the
// horizon (5 s), so that the primary has to read the plan while it is held.
func TestTableLockDelaysTicksAndKeepsLeadership(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		table string
		hold  time.Duration
	}{{"werk_jobs", 2500 * time.Millisecond}, {"werk_cron_jobs", 5500 * time.Millisecond}} {
		t.Run(c.table, func(t *testing.T) {
			t.Parallel()
			dsn, pool := migratedDB(t)
			pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup) VALUES
				('all', 'app.all', '* * * * * *', 'all'), ('latest', 'app.latest', '* * * * * *', 'latest')`)
			tk := startTicker(t, dsn, scheduler.TickerOptions{})
			tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
			pgtest.Eventually(t, 3*time.Second, "both ticking", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(DISTINCT cron_name) FROM werk_jobs`) == 2
			})

			ctx := context.Background()
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			pgtest.Exec(t, tx, `LOCK TABLE `+c.table+` IN ACCESS EXCLUSIVE MODE`)
			locked := pgtest.QueryOne[time.Time](t, tx, `SELECT clock_timestamp()`)
			time.Sleep(c.hold) // the lock is the fault under test; nothing to wait on but time
			released := pgtest.QueryOne[time.Time](t, tx, `SELECT clock_timestamp()`)
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			pgtest.Eventually(t, 3*time.Second, "both caught up", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE last_tick_at >= $1`, released.Truncate(time.Second)) == 2
			})
			if tk.Role() != scheduler.RolePrimary || tk.Stats().Promotions != 1 {
				t.Errorf("ticker is %s after %d promotions: it lost its leadership to a table lock", tk.Role(), tk.Stats().Promotions)
			}
			// 'all': every tick of the lock, once. 'latest': the newest pending one, and the
			// ticks in between recorded missed.
			checkEveryTickOnce(t, pool, "all", locked.Truncate(time.Second), released.Truncate(time.Second))
			if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'latest' AND outcome = 'missed'
				AND tick_at > $1 AND tick_at < $2`, locked, released); n == 0 {
				t.Errorf("latest: no ticks of the lock recorded missed")
			}
			checkJobs(t, pool)
		})
	}
}
