package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pgwerk/werkcron/scheduler"
)

// newOps returns the operations endpoint of a ticker that was never started, over a
// migrated database with one paused and one unplanned schedule, and the pool its counts
// are read through.
func newOps(t *testing.T, ttl time.Duration) (*opsServer, *pgxpool.Pool) {
	t.Helper()
	dsn := migrated(t)
	execSQL(t, dsn, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('p', 'app.p', '@daily', true), ('u', 'app.u', '@daily', false)`)
	tk, err := scheduler.NewTicker(dsn, scheduler.TickerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	o := &opsServer{ticker: tk, sched: scheduler.New(pool, scheduler.Options{}), alive: new(atomic.Bool),
		log: slog.New(slog.DiscardHandler), ttl: ttl}
	return o, pool
}

// werkcron's own series, as the hand-written text format had them (names, types,
// labels, help texts and buckets), for a ticker that has not run: counters at zero, no
// werkcron_loop_age_seconds.
const exposition = `
# HELP werkcron_ticks_total Ticks this ticker decided, by outcome (missed, excluded: ledger rows, one of which may stand for many ticks).
# TYPE werkcron_ticks_total counter
werkcron_ticks_total{outcome="enqueued"} 0
werkcron_ticks_total{outcome="duplicate"} 0
werkcron_ticks_total{outcome="missed"} 0
werkcron_ticks_total{outcome="skipped_overlap"} 0
werkcron_ticks_total{outcome="excluded"} 0
# HELP werkcron_enqueue_lateness_seconds How long after its instant each enqueued tick was committed (database time).
# TYPE werkcron_enqueue_lateness_seconds histogram
werkcron_enqueue_lateness_seconds_bucket{le="0.001"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.0025"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.005"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.01"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.025"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.05"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.1"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.25"} 0
werkcron_enqueue_lateness_seconds_bucket{le="0.5"} 0
werkcron_enqueue_lateness_seconds_bucket{le="1"} 0
werkcron_enqueue_lateness_seconds_bucket{le="2.5"} 0
werkcron_enqueue_lateness_seconds_bucket{le="5"} 0
werkcron_enqueue_lateness_seconds_bucket{le="10"} 0
werkcron_enqueue_lateness_seconds_bucket{le="+Inf"} 0
werkcron_enqueue_lateness_seconds_sum 0
werkcron_enqueue_lateness_seconds_count 0
# HELP werkcron_tick_statements_total Tick statements (one per batch of due ticks) this ticker ran.
# TYPE werkcron_tick_statements_total counter
werkcron_tick_statements_total 0
# HELP werkcron_planned_total Schedules this ticker planned (inserted, changed or resumed rows).
# TYPE werkcron_planned_total counter
werkcron_planned_total 0
# HELP werkcron_plan_cutoffs_total Planning statements cut off by their time bound so that due ticks go first (a slow database, or many dead index entries before vacuum).
# TYPE werkcron_plan_cutoffs_total counter
werkcron_plan_cutoffs_total 0
# HELP werkcron_plan_reads_total Reads of the plan (the schedules due within the primary's horizon).
# TYPE werkcron_plan_reads_total counter
werkcron_plan_reads_total 0
# HELP werkcron_promotions_total Times this ticker became primary.
# TYPE werkcron_promotions_total counter
werkcron_promotions_total 0
# HELP werkcron_is_primary 1 while this ticker holds the leader lock and enqueues, else 0.
# TYPE werkcron_is_primary gauge
werkcron_is_primary 0
# HELP werkcron_ticker_running 1 while the ticker loop runs (as primary or standby).
# TYPE werkcron_ticker_running gauge
werkcron_ticker_running 1
# HELP werkcron_overdue_seconds How long the oldest tick the primary owes has been due (0: none).
# TYPE werkcron_overdue_seconds gauge
werkcron_overdue_seconds 0
# HELP werkcron_held_schedules Schedules the primary holds in memory (due within its horizon, or set aside); 0 on a standby.
# TYPE werkcron_held_schedules gauge
werkcron_held_schedules 0
# HELP werkcron_schedules Schedules by state (werk_cron_status.state), read at most every --metrics-cache.
# TYPE werkcron_schedules gauge
werkcron_schedules{state="active"} 0
werkcron_schedules{state="unplanned"} 1
werkcron_schedules{state="paused"} 1
werkcron_schedules{state="ended"} 0
werkcron_schedules{state="error"} 0
# HELP werkcron_schedules_health Schedules by health (werk_cron_status.health), read at most every --metrics-cache.
# TYPE werkcron_schedules_health gauge
werkcron_schedules_health{health="ok"} 1
werkcron_schedules_health{health="failing"} 0
werkcron_schedules_health{health="late"} 0
werkcron_schedules_health{health="overdue"} 0
werkcron_schedules_health{health="paused"} 1
werkcron_schedules_health{health="error"} 0
werkcron_schedules_health{health="ended"} 0
# HELP werkcron_schedules_last_run_failed Schedules whose newest finished run failed.
# TYPE werkcron_schedules_last_run_failed gauge
werkcron_schedules_last_run_failed 0
# HELP werkcron_job_outcomes_total Runs of werkcron's jobs that ended, by outcome (recorded in the tick ledger as they end).
# TYPE werkcron_job_outcomes_total counter
werkcron_job_outcomes_total{outcome="complete"} 0
werkcron_job_outcomes_total{outcome="failed"} 0
werkcron_job_outcomes_total{outcome="aborted"} 0
werkcron_job_outcomes_total{outcome="expired"} 0
# HELP werkcron_schedules_scrape_ok 1 if the last read of schedules and outcomes from the database succeeded.
# TYPE werkcron_schedules_scrape_ok gauge
werkcron_schedules_scrape_ok 1
`

var werkcronSeries = []string{"werkcron_ticks_total", "werkcron_enqueue_lateness_seconds", "werkcron_tick_statements_total",
	"werkcron_planned_total", "werkcron_plan_cutoffs_total", "werkcron_plan_reads_total", "werkcron_promotions_total",
	"werkcron_is_primary", "werkcron_ticker_running", "werkcron_loop_age_seconds", "werkcron_overdue_seconds",
	"werkcron_held_schedules", "werkcron_schedules", "werkcron_schedules_health", "werkcron_schedules_last_run_failed", "werkcron_job_outcomes_total",
	"werkcron_schedules_scrape_ok"}

// The collector exports what the hand-written format did, and what it describes (a
// pedantic registry checks every metric against its description).
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	o, _ := newOps(t, time.Hour)
	o.alive.Store(true)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(opsCollector{o})
	o.mu.Lock()
	o.readCounts(context.Background())
	o.mu.Unlock()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exposition), werkcronSeries...); err != nil {
		t.Error(err)
	}
}

// getWith GETs url with the Accept header given (none if empty).
func getWith(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// readsOf is how often o read its counts from the database.
func readsOf(o *opsServer) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reads
}

// parseMetrics reads the text format as Prometheus does.
func parseMetrics(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	values := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "/" + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				values[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				values[key] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				values[key] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				values[key+"/count"] = float64(m.GetHistogram().GetSampleCount())
			case m.Summary != nil:
				values[key+"/count"] = float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return values
}

// /metrics serves werkcron's metrics and the process and Go runtime collectors' in the
// format the scraper asks for; a test build's series are absent from this one.
func TestMetricsHandler(t *testing.T) {
	t.Parallel()
	o, _ := newOps(t, time.Hour)
	srv := httptest.NewServer(o.handler())
	defer srv.Close()

	resp, body := getWith(t, srv.URL+"/metrics", "")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, ct)
	}
	values := parseMetrics(t, body)
	for _, want := range []string{"werkcron_ticks_total/outcome=enqueued", "werkcron_enqueue_lateness_seconds/count",
		"werkcron_schedules/state=paused", "werkcron_schedules_scrape_ok", "process_resident_memory_bytes",
		"process_open_fds", "go_goroutines", "go_gc_duration_seconds/count"} {
		if _, ok := values[want]; !ok {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	if v := values["werkcron_ticker_running"]; v != 0 {
		t.Errorf("werkcron_ticker_running %g before the ticker runs", v)
	}
	if strings.Contains(string(body), "werkcron_test_") {
		t.Errorf("a production build serves a test build's series:\n%s", body)
	}

	resp, _ = getWith(t, srv.URL+"/metrics", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Errorf("/metrics asked for protobuf: Content-Type %q", ct)
	}
}

// Schedules by state are reused for --metrics-cache; a failed read keeps the last
// values and says so, rather than failing the scrape.
func TestMetricsCountsCacheAndFailedRead(t *testing.T) {
	t.Parallel()
	o, pool := newOps(t, time.Hour)
	srv := httptest.NewServer(o.handler())
	defer srv.Close()
	scrape := func() map[string]float64 {
		t.Helper()
		resp, body := getWith(t, srv.URL+"/metrics", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
		}
		return parseMetrics(t, body)
	}
	const paused = "werkcron_schedules/state=paused"
	if m := scrape(); m[paused] != 1 || m["werkcron_schedules_scrape_ok"] != 1 || readsOf(o) != 1 {
		t.Fatalf("first scrape: %g paused, scrape_ok %g, %d reads", m[paused], m["werkcron_schedules_scrape_ok"], readsOf(o))
	}
	if _, err := pool.Exec(context.Background(), `UPDATE werk_cron_jobs SET paused = true`); err != nil {
		t.Fatal(err)
	}
	if m := scrape(); m[paused] != 1 || readsOf(o) != 1 {
		t.Errorf("scrape within the cache's life: %g paused, %d reads; want the cached 1 and no new read", m[paused], readsOf(o))
	}

	// The cache expires; the read fails (the pool is closed).
	pool.Close()
	o.mu.Lock()
	o.ttl = 0
	o.mu.Unlock()
	m := scrape()
	if m["werkcron_schedules_scrape_ok"] != 0 || readsOf(o) != 2 {
		t.Errorf("scrape with the database gone: scrape_ok %g, %d reads; want 0 after a second read", m["werkcron_schedules_scrape_ok"], readsOf(o))
	}
	if m[paused] != 1 || m["werkcron_schedules/state=unplanned"] != 1 {
		t.Errorf("scrape with the database gone: %g paused, %g unplanned; want the last values, 1 and 1", m[paused], m["werkcron_schedules/state=unplanned"])
	}
}

// /healthz reads the ticker through the same snapshot: stopped before its loop runs,
// then a healthy standby until it has gone round.
func TestHealthzOfATickerNotYetRunning(t *testing.T) {
	t.Parallel()
	o, _ := newOps(t, time.Hour)
	srv := httptest.NewServer(o.handler())
	defer srv.Close()
	if resp, body := getWith(t, srv.URL+"/healthz", ""); resp.StatusCode != http.StatusServiceUnavailable || string(body) != "stopped\n" {
		t.Errorf("/healthz before the ticker runs: %s %q", resp.Status, body)
	}
	o.alive.Store(true)
	if resp, body := getWith(t, srv.URL+"/healthz", ""); resp.StatusCode != http.StatusOK || string(body) != "ok standby\n" {
		t.Errorf("/healthz of a running ticker that has not led: %s %q", resp.Status, body)
	}
}
