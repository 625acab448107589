package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// migratedDB returns the URL of a fresh, migrated database and a pool on it.
func migratedDB(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	dsn := pgtest.MigratedDB(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return dsn, pool
}

// testLogger writes the ticker's logs to the test log (visible with -v or on failure).
func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runningTicker is a Ticker running in a goroutine of the test.
type runningTicker struct {
	*scheduler.Ticker
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	role   string
	roleCh chan string
	once   sync.Once
}

// startTicker runs a ticker on dsn. Its Idle signal is on, for decidedThrough; init
// hooks turn on (or reset) the test signals a test waits for itself, before the ticker
// runs, as they must be.
func startTicker(t *testing.T, dsn string, opts scheduler.TickerOptions, init ...func(*ticker.TestSignals)) *runningTicker {
	t.Helper()
	rt := &runningTicker{done: make(chan error, 1), roleCh: make(chan string, 16)}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	opts.OnRole = func(role string) {
		rt.mu.Lock()
		rt.role = role
		rt.mu.Unlock()
		select {
		case rt.roleCh <- role:
		default:
		}
	}
	tk, err := scheduler.NewTicker(dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	rt.Ticker = tk
	scheduler.TickerSignals(tk).Idle.Init(t)
	for _, f := range init {
		f(scheduler.TickerSignals(tk))
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt.cancel = cancel
	go func() { rt.done <- tk.Run(ctx) }()
	t.Cleanup(rt.stop)
	return rt
}

// primary starts a ticker on dsn and waits for it to lead.
func primary(t *testing.T, dsn string) *runningTicker {
	t.Helper()
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	return tk
}

// waitRole waits until the ticker reports role.
func (rt *runningTicker) waitRole(t *testing.T, role string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		if rt.Role() == role {
			return
		}
		select {
		case <-rt.roleCh:
		case <-deadline:
			t.Fatalf("ticker did not become %s within %s (is %q)", role, within, rt.Role())
		}
	}
}

func (rt *runningTicker) Role() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.role
}

// decidedThrough waits until the primary reports that it has decided every tick due up
// to at least at (a ticker.TestSignals.Idle value, its estimate of the database's
// clock, at or past at) and returns the instant it reported. This is how a test shows
// that something did not happen by at: what the ticker has not done by then, it was
// never going to do. The ticker must have seen the change the test made (planned the
// row, say) before at; at is best off the tick grid (not a whole second for whole-second
// schedules), as an Idle value a millisecond or two past a tick may come before that
// tick is decided (ticker.go: sleep reads the clock again after the due check).
//
// An idle primary with nothing due sleeps until its heartbeat (6 s); once the database's
// clock has passed at, decidedThrough wakes it with the notification a schedule change
// sends, so that it looks again and reports sooner.
func (rt *runningTicker) decidedThrough(t *testing.T, pool *pgxpool.Pool, at time.Time) time.Time {
	t.Helper()
	wait := time.Until(at) + 10*time.Second // host and database share a clock here
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poke := time.NewTicker(200 * time.Millisecond)
	defer poke.Stop()
	var last time.Time
	for {
		select {
		case v := <-scheduler.TickerSignals(rt.Ticker).Idle.WaitC():
			if !v.Before(at) {
				return v
			}
			last = v
		case <-poke.C:
			pgtest.Exec(t, pool, `SELECT pg_notify('werk_cron_jobs:' || current_schema(), '') WHERE clock_timestamp() >= $1`, at)
		case <-deadline.C:
			t.Fatalf("the primary did not report everything up to %s decided within %s (its last report: up to %s; role %q)",
				at.Format(time.RFC3339Nano), wait.Round(time.Millisecond), last.Format(time.RFC3339Nano), rt.Role())
		}
	}
}

// stop stops the ticker and waits for Run to return.
func (rt *runningTicker) stop() {
	rt.once.Do(func() {
		rt.cancel()
		select {
		case <-rt.done:
		case <-time.After(10 * time.Second):
			panic("ticker did not stop within 10s")
		}
	})
}

// queryList returns the first column of every row.
func queryList[T any](t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []T {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// checkJobs asserts what must hold of every job the ticker wrote: at most one per
// (schedule, tick), and none enqueued before its tick.
func checkJobs(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM (SELECT cron_name, scheduled_at FROM werk_jobs
		WHERE cron_name IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d (schedule, tick) pairs have more than one job", n)
	}
	// (The ticker's own jobs: those its ledger calls enqueued; a test may insert others.)
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs j JOIN werk_cron_ticks k ON k.job_id = j.id
		WHERE k.outcome = 'enqueued' AND j.enqueued_at < j.scheduled_at`); n != 0 {
		t.Fatalf("%d jobs enqueued before their tick", n)
	}
}

// dbNow is the database's clock.
func dbNow(t *testing.T, pool *pgxpool.Pool) time.Time {
	t.Helper()
	return pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`)
}

// untilDBClock returns once the database's clock has reached at: for tests about time
// passing (a ticker down while ticks fall due, a tick's place within its second), where
// the clock the ticker decides by is the database's.
func untilDBClock(t *testing.T, pool *pgxpool.Pool, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(time.Until(at) + 10*time.Second)
	for {
		left := at.Sub(dbNow(t, pool))
		if left <= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database's clock did not reach %s", at.Format(time.RFC3339Nano))
		}
		time.Sleep(left) // the passing of time is what the caller waits for
	}
}

// startOfSecond returns just after the database's clock starts a new second.
func startOfSecond(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	untilDBClock(t, pool, dbNow(t, pool).Truncate(time.Second).Add(time.Second+20*time.Millisecond))
}

// waitPlanned waits, batch by batch of the planner (its Planned signal, which the test
// turned on), until the schedule name (every schedule: "") is planned.
func waitPlanned(t *testing.T, pool *pgxpool.Pool, signals *ticker.TestSignals, name string) {
	t.Helper()
	for {
		if pgtest.QueryOne[bool](t, pool, `SELECT bool_and(planned_at IS NOT NULL) FROM werk_cron_state WHERE $1 IN ('', name)`, name) {
			return
		}
		signals.Planned.WaitOrTimeout()
	}
}
