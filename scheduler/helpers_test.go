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

// startTicker runs a ticker on dsn and waits until it has a role (primary or standby).
func startTicker(t *testing.T, dsn string, opts scheduler.TickerOptions) *runningTicker {
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
	ctx, cancel := context.WithCancel(context.Background())
	rt.cancel = cancel
	go func() { rt.done <- tk.Run(ctx) }()
	t.Cleanup(rt.stop)
	return rt
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

// startOfSecond returns just after the database's clock starts a new second.
func startOfSecond(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	frac := pgtest.QueryOne[float64](t, pool, `SELECT extract(epoch FROM clock_timestamp() - date_trunc('second', clock_timestamp()))`)
	time.Sleep(time.Duration((1-frac)*float64(time.Second)) + 20*time.Millisecond)
}
