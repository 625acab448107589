package faults

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
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

// scrape reads /metrics once and returns a lookup of its series' values, so that
// several series are read from the same answer.
func scrape(t *testing.T, addr string) func(series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no series %s in /metrics:\n%s", series, body)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// /metrics reads the schedules by state at most every --metrics-cache, however often
// it is scraped: a schedule added meanwhile shows once the cache has expired, not
// before. The test build counts /metrics' reads of the database
// (werkcron_test_counts_reads_total), so that every scrape tells whether it was
// answered from the cache: the checks hold on a machine of any speed.
func TestMetricsCountsAreCached(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	// One ticker whose cache outlives the test, one whose cache expires within it.
	const ttl = 2 * time.Second
	longAddr, shortAddr := httpAddr(t), httpAddr(t)
	startTicker(t, dsn, "--http-addr", longAddr, "--metrics-cache", "1h")
	startTicker(t, dsn, "--http-addr", shortAddr, "--metrics-cache", ttl.String())
	waitInstances(t, pool, 2, 10*time.Second)
	const paused, reads = `werkcron_schedules{state="paused"}`, "werkcron_test_counts_reads_total"

	// The first scrape of each reads the database, before the schedule is added.
	var start time.Time // before the short-lived cache was filled
	for _, addr := range []string{longAddr, shortAddr} {
		start = time.Now()
		if m := scrape(t, addr); m(paused) != 0 || m(reads) != 1 {
			t.Fatalf("%s: first scrape: %g paused schedules, %g reads of the database; want 0 and 1", addr, m(paused), m(reads))
		}
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('p', 'app.p', '@daily', true)`)

	// Within the cache's life, scrapes are answered from it, however many.
	for range 20 {
		if m := scrape(t, longAddr); m(paused) != 0 || m(reads) != 1 {
			t.Fatalf("scrape within --metrics-cache 1h: %g paused schedules, %g reads of the database; want the cached 0 and no new read", m(paused), m(reads))
		}
	}

	// Scraped without pause, the other reads the database again once its cache has
	// expired, and only then shows the new schedule: an answer from the first read
	// (before the insert) says 0, one from a later read (after it) says 1.
	var scrapes int
	var n, r float64
	for deadline := time.Now().Add(30 * time.Second); ; scrapes++ {
		m := scrape(t, shortAddr)
		n, r = m(paused), m(reads)
		if want := min(r-1, 1); n != want {
			t.Fatalf("scrape %d: %g paused schedules after %g reads of the database; want %g", scrapes, n, r, want)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new schedule not counted within 30s of --metrics-cache %s (%d scrapes, %g reads)", ttl, scrapes, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Each read starts at least ttl after the one before it ended, the first one ended
	// after start: in the time taken, at most this many more.
	elapsed := time.Since(start)
	if most := float64(elapsed / ttl); r-1 > most {
		t.Errorf("%g reads of the database in %s of scraping (%d scrapes) with --metrics-cache %s; want at most %g", r-1, elapsed.Round(time.Millisecond), scrapes, ttl, most)
	}
	if elapsed < ttl {
		t.Errorf("the new schedule counted %s after the cache was filled; want --metrics-cache %s", elapsed.Round(time.Millisecond), ttl)
	}
}
