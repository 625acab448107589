package faults

// The table is the plan: what a ticker reads and holds does not grow with the number of
// schedules. A new primary ticks what is due without loading or planning the table, and
// one INSERT of many schedules is planned in bounded batches while ticks go on, woken by
// one notification. (How fast, at a million, is measured by `make bench`: BENCHMARKS.md.)

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// idleSchedules is how many schedules due far in the future the tests add: enough that
// reading or holding them all would show, few enough to insert and plan in a few
// seconds on a busy machine.
const idleSchedules = 10000

// metricsOf starts nothing: it reads one series of the ticker's /metrics at addr.
func metricsOf(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no series %s in /metrics:\n%s", series, body)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func httpAddr(t *testing.T) string {
	t.Helper()
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// A standby that takes over after the primary's SIGKILL trusts the plan in the table:
// it plans no row, holds only what is due within its horizon (the one 1 s schedule,
// not the 10,000 others), and ticks at once.
func TestTakeoverReadsOnlyDueRows(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron)
		SELECT 'idle-' || i, 'app.idle', '0 0 1 1 *' FROM generate_series(1, $1) i`, idleSchedules)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('fast', 'app.fast', 1, 'all')`)
	addrA, addrB := httpAddr(t), httpAddr(t)
	a := startTicker(t, dsn, "--http-addr", addrA)
	pgtest.Eventually(t, 60*time.Second, "every schedule planned", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE planned_at IS NULL`) == 0
	})
	// The counter moves just after the batch's commit, which the query above may see
	// first: read it until it has caught up.
	pgtest.Eventually(t, 5*time.Second, "the first primary counting every row it planned", func() bool {
		return metricsOf(t, addrA, "werkcron_planned_total") >= idleSchedules+1
	})
	startTicker(t, dsn, "--http-addr", addrB)
	primary := waitInstances(t, pool, 2, 30*time.Second)
	if primary.osPid != a.pid() {
		t.Fatalf("primary is %+v, want the first ticker", primary)
	}

	a.signal(syscall.SIGKILL)
	killed := pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`)
	a.wait(t, 5*time.Second)
	pgtest.Eventually(t, 30*time.Second, "a job of fast enqueued by the new primary", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'fast' AND enqueued_at > $1`, killed) > 0
	})
	if metricsOf(t, addrB, "werkcron_is_primary") != 1 {
		t.Fatalf("the standby did not take over")
	}
	if planned := metricsOf(t, addrB, "werkcron_planned_total"); planned != 0 {
		t.Errorf("the new primary planned %g rows; want none: the plan in the table stands", planned)
	}
	if held := metricsOf(t, addrB, "werkcron_held_schedules"); held > 10 {
		t.Errorf("the new primary holds %g schedules in memory; want only those due soon (fast), not the %d others", held, idleSchedules)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE name LIKE 'idle-%' AND last_tick_at IS NOT NULL`); n != 0 {
		t.Errorf("%d idle schedules decided a tick", n)
	}
	checkLedger(t, pool)
}

// One INSERT of 10,000 schedules while a 1 s schedule runs: one notification wakes the
// primary (not one per row), which plans them in many bounded batches between ticks, so
// that the 1 s schedule loses no tick, and a schedule added right after runs.
func TestBulkInsertWhileTicking(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('fast', 'app.fast', 1, 'all')`)
	addr := httpAddr(t)
	startTicker(t, dsn, "--http-addr", addr)
	pgtest.Eventually(t, 10*time.Second, "fast's first job", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'fast'`) > 0
	})

	// Count the notifications the insert sends, on a session of our own.
	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, `SELECT werk_cron_listen()`); err != nil {
		t.Fatal(err)
	}
	began := pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron)
		SELECT 'bulk-' || i, 'app.bulk', '0 0 1 1 *' FROM generate_series(1, $1) i`, idleSchedules)
	notes := 0
	for {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := listener.WaitForNotification(wctx)
		cancel()
		if err != nil {
			break
		}
		notes++
	}
	if notes != 1 {
		t.Errorf("one INSERT of %d schedules sent %d notifications; want 1", idleSchedules, notes)
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('late', 'app.late', 1)`)
	pgtest.Eventually(t, 30*time.Second, "the schedule added after the bulk insert runs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'late'`) > 0
	})
	pgtest.Eventually(t, 60*time.Second, "every schedule planned", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE planned_at IS NULL`) == 0
	})
	pgtest.Eventually(t, 5*time.Second, "the primary counting every row it planned", func() bool {
		return metricsOf(t, addr, "werkcron_planned_total") >= idleSchedules+2
	})
	if statements := metricsOf(t, addr, "werkcron_tick_statements_total"); statements < 2 {
		t.Errorf("%g tick statements: fast did not tick while the rows were planned", statements)
	}
	// fast (catchup = 'all') lost no tick, and got none twice, whatever the planning.
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'fast' AND outcome <> 'enqueued'`); n != 0 {
		t.Errorf("%d of fast's ticks were not enqueued", n)
	}
	worst := pgtest.QueryOne[float64](t, pool, `SELECT coalesce(extract(epoch FROM max(enqueued_at - scheduled_at)), 0)::float8
		FROM werk_jobs WHERE cron_name = 'fast' AND scheduled_at >= $1`, began)
	t.Logf("fast's worst lateness while %d schedules were inserted and planned: %.3f s (a figure, not a goal: see BENCHMARKS.md)",
		idleSchedules, worst)
	checkLedger(t, pool)
}
