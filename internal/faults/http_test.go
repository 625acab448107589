package faults

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// healthOf returns /healthz's status code and body.
func healthOf(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// A primary that owes a tick it cannot write (werk_jobs locked by another session) is
// unhealthy once the tick is overdue by --owed-after (a minute in production; a test
// build's hook shortens it), keeps its leadership, and is healthy again once it has
// caught up.
func TestHealthzFailsWhileATickIsOwed(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('fast', 'app.fast', 1, 'all')`)
	addr := httpAddr(t)
	p := startTicker(t, dsn, "--http-addr", addr, "--owed-after", "2s")
	waitInstances(t, pool, 1, 10*time.Second)
	waitProgress(t, pool, 5*time.Second)
	// The schedule's first tick may be owed for a moment longer than --owed-after while
	// the ticker starts (on a loaded machine): healthy once it has caught up.
	pgtest.Eventually(t, 10*time.Second, "/healthz healthy before the lock", func() bool {
		code, body := healthOf(t, addr)
		return code == http.StatusOK && body == "ok primary"
	})

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `LOCK TABLE werk_jobs IN ACCESS EXCLUSIVE MODE`)
	var code int
	var body string
	pgtest.Eventually(t, 10*time.Second, "/healthz failing while a tick is owed", func() bool {
		code, body = healthOf(t, addr)
		return code == http.StatusServiceUnavailable
	})
	if !strings.HasPrefix(body, "behind: primary") {
		t.Errorf("/healthz while owing a tick: %q; want it to say the primary is behind", body)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 10*time.Second, "/healthz healthy again after catching up", func() bool {
		code, body = healthOf(t, addr)
		return code == http.StatusOK && body == "ok primary"
	})
	if n := metricsOf(t, addr, "werkcron_promotions_total"); n != 1 {
		t.Errorf("%g promotions: the ticker lost its leadership to the table lock", n)
	}
	if got := waitInstances(t, pool, 1, time.Second); got.osPid != p.pid() {
		t.Errorf("primary is %+v, want the ticker that held the lock all along", got)
	}
	checkLedger(t, pool)
}

// /metrics reads the schedules by state at most every --metrics-cache, however often
// it is scraped: a schedule added meanwhile shows once the cache has expired.
func TestMetricsCountsAreCached(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addr := httpAddr(t)
	startTicker(t, dsn, "--http-addr", addr, "--metrics-cache", "4s")
	waitInstances(t, pool, 1, 10*time.Second)
	const paused = `werkcron_schedules{state="paused"}`
	if n := metricsOf(t, addr, paused); n != 0 {
		t.Fatalf("%g paused schedules before any was added", n)
	}
	read := time.Now()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('p', 'app.p', '@daily', true)`)
	n := metricsOf(t, addr, paused)
	if time.Since(read) < 3*time.Second && n != 0 {
		t.Errorf("%g paused schedules within the cache's life; want the cached 0", n)
	}
	pgtest.Eventually(t, 10*time.Second, "the new schedule counted once the cache expired", func() bool {
		return metricsOf(t, addr, paused) == 1
	})
	if took := time.Since(read); took < 3500*time.Millisecond {
		t.Errorf("the count changed %s after the first read; want the cache's 4s", took)
	}
}
