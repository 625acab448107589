package main

// The operations endpoint of `werkcron run --http-addr`: Prometheus /metrics and
// /healthz. /metrics is served by client_golang from a registry of its own: werkcron's
// metrics (read from the ticker's counters and the database at scrape time), plus the
// standard process and Go runtime collectors.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgwerk/werkcron/scheduler"
)

// scheduleStates are the states of werk_cron_status, each exported (also at zero, so
// that an alert on "error > 0" has a series to read).
var scheduleStates = []string{"active", "unplanned", "paused", "ended", "error"}

// scheduleHealths are the values of werk_cron_status.health, each exported (also at
// zero, for alerts on "late > 0").
var scheduleHealths = []string{scheduler.HealthOK, scheduler.HealthFailing, scheduler.HealthLate,
	scheduler.HealthOverdue, scheduler.HealthPaused, scheduler.HealthError, scheduler.HealthEnded}

var (
	// stuckAfter: a ticker whose loop has not gone round for this long (as primary or
	// standby) is unhealthy: something holds it that no bound caught.
	stuckAfter = time.Minute
	// owedAfter: a primary that owes a tick overdue by this long (one it could not
	// write, whatever the reason) is unhealthy. Variables, so that a test build's hooks
	// (testhooks.go) can shorten them.
	owedAfter = time.Minute
)

const (
	// failingAfter: this many sessions in a row that became primary and failed before
	// scheduling anything make the ticker unhealthy, although it looks busy reconnecting.
	failingAfter = 3
	// defaultCountsTTL: schedules by state are read from the database at most this
	// often (run --metrics-cache), however often /metrics is scraped: the read scans
	// every schedule.
	defaultCountsTTL = 15 * time.Second
)

// opsServer serves /metrics and /healthz for one ticker.
type opsServer struct {
	ticker *scheduler.Ticker
	sched  *scheduler.Scheduler // for schedules by state
	alive  *atomic.Bool         // true while the ticker's Run loop runs
	log    *slog.Logger
	ttl    time.Duration // how long counts are reused
	// done, when set, is done once the ticker shuts down: a read of the counts in flight
	// is cut off then, so that closing the pool does not wait for it.
	done context.Context

	mu       sync.Mutex // guards the cached counts and serialises their reads
	counts   map[string]int
	health   map[string]int // schedules by health
	failing  int            // schedules whose last run failed
	outcomes scheduler.JobOutcomes
	countsAt time.Time
	countsOK bool
	reads    int64 // reads of the counts from the database (exported by a test build)
}

// testCollector is nil in a production build. A build with the werkcron_testhooks tag
// (testhooks.go, for the fault-injection tests) sets it: it returns test-only metrics
// of o, which /metrics then serves too.
var testCollector func(o *opsServer) prometheus.Collector

func (o *opsServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics())
	mux.HandleFunc("GET /healthz", o.healthz)
	return mux
}

// snapshot reads the ticker's counters once, for one scrape or health check.
func (o *opsServer) snapshot() scheduler.TickerStats { return o.ticker.Stats() }

// healthz answers 200 while the ticker loop runs and makes progress, as primary or
// standby (a standby is healthy: it is doing its job); 503 once it has stopped, when
// its loop has not gone round for stuckAfter, when as primary it owes a tick overdue by
// more than owedAfter or has ticked nothing for as long while other sessions hold every
// due schedule, or when a session that is not a ticker holds the leader lock (every
// ticker, standbys too, says so: none of them can lead). The body says which.
func (o *opsServer) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	st := o.snapshot()
	fail := func(format string, args ...any) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, format+"\n", args...)
	}
	if !o.alive.Load() {
		fail("stopped")
		return
	}
	role := scheduler.RoleStandby
	if st.Primary {
		role = scheduler.RolePrimary
	}
	if last := st.LastProgress; !last.IsZero() && time.Since(last) > stuckAfter {
		fail("stuck %s: its loop last went round %s ago", role, time.Since(last).Round(time.Second))
		return
	}
	if n, last := st.FailedLeads, st.LastFailure; n >= failingAfter {
		fail("failing: %d sessions in a row became primary and failed before scheduling anything; the last: %s", n, last)
		return
	}
	if d := st.Overdue; role == scheduler.RolePrimary && d > owedAfter {
		fail("behind: primary, and it owes a tick overdue by %s (a table locked? see the log)", d.Round(time.Second))
		return
	}
	if d := st.Stalled; role == scheduler.RolePrimary && d > owedAfter {
		fail("stalled: primary, and for %s every due schedule has been held by other sessions (rows or job keys locked; see werk_cron_status)", d.Round(time.Second))
		return
	}
	if who := st.Intruder; who != "" {
		fail("no ticker can lead: the leader lock is held by a session that is not a werkcron ticker (%s); see werk_cron_instances", who)
		return
	}
	fmt.Fprintln(w, "ok", role)
}

// readCounts reads schedules by state and the job outcome counters from the database,
// at most every o.ttl; the caller holds o.mu.
func (o *opsServer) readCounts(ctx context.Context) {
	if !o.countsAt.IsZero() && time.Since(o.countsAt) < o.ttl {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if o.done != nil {
		defer context.AfterFunc(o.done, cancel)()
	}
	o.reads++
	counts, failing, err := o.sched.CountByState(ctx)
	var outcomes scheduler.JobOutcomes
	var health map[string]int
	if err == nil {
		outcomes, err = o.sched.JobOutcomes(ctx)
	}
	if err == nil {
		health, err = o.sched.CountByHealth(ctx)
	}
	o.countsAt = time.Now()
	o.countsOK = err == nil
	if err != nil {
		o.log.Warn("metrics: read schedules by state and job outcomes", "err", err)
		return
	}
	o.counts, o.failing, o.outcomes, o.health = counts, failing, outcomes, health
}

// The descriptions of werkcron's own metrics: names, help texts and labels.
var (
	ticksDesc = prometheus.NewDesc("werkcron_ticks_total",
		"Ticks this ticker decided, by outcome (missed, excluded: ledger rows, one of which may stand for many ticks).", []string{"outcome"}, nil)
	latenessDesc = prometheus.NewDesc("werkcron_enqueue_lateness_seconds",
		"How long after its instant each enqueued tick was committed (database time).", nil, nil)
	statementsDesc = prometheus.NewDesc("werkcron_tick_statements_total",
		"Tick statements (one per batch of due ticks) this ticker ran.", nil, nil)
	plannedDesc = prometheus.NewDesc("werkcron_planned_total",
		"Schedules this ticker planned (inserted, changed or resumed rows).", nil, nil)
	planCutoffsDesc = prometheus.NewDesc("werkcron_plan_cutoffs_total",
		"Planning statements cut off by their time bound so that due ticks go first (a slow database, or many dead index entries before vacuum).", nil, nil)
	planReadsDesc = prometheus.NewDesc("werkcron_plan_reads_total",
		"Reads of the plan (the schedules due within the primary's horizon).", nil, nil)
	promotionsDesc = prometheus.NewDesc("werkcron_promotions_total",
		"Times this ticker became primary.", nil, nil)
	isPrimaryDesc = prometheus.NewDesc("werkcron_is_primary",
		"1 while this ticker holds the leader lock and enqueues, else 0.", nil, nil)
	runningDesc = prometheus.NewDesc("werkcron_ticker_running",
		"1 while the ticker loop runs (as primary or standby).", nil, nil)
	loopAgeDesc = prometheus.NewDesc("werkcron_loop_age_seconds",
		"Seconds since the ticker's loop last went round.", nil, nil)
	overdueDesc = prometheus.NewDesc("werkcron_overdue_seconds",
		"How long the oldest tick the primary owes has been due (0: none).", nil, nil)
	heldDesc = prometheus.NewDesc("werkcron_held_schedules",
		"Schedules the primary holds in memory (due within its horizon, or set aside); 0 on a standby.", nil, nil)
	schedulesDesc = prometheus.NewDesc("werkcron_schedules",
		"Schedules by state (werk_cron_status.state), read at most every --metrics-cache.", []string{"state"}, nil)
	healthDesc = prometheus.NewDesc("werkcron_schedules_health",
		"Schedules by health (werk_cron_status.health), read at most every --metrics-cache.", []string{"health"}, nil)
	lastRunFailedDesc = prometheus.NewDesc("werkcron_schedules_last_run_failed",
		"Schedules whose newest finished run failed.", nil, nil)
	jobOutcomesDesc = prometheus.NewDesc("werkcron_job_outcomes_total",
		"Runs of werkcron's jobs that ended, by outcome (recorded in the tick ledger as they end).", []string{"outcome"}, nil)
	scrapeOKDesc = prometheus.NewDesc("werkcron_schedules_scrape_ok",
		"1 if the last read of schedules and outcomes from the database succeeded.", nil, nil)
)

// opsCollector exports a ticker's metrics, read when they are collected: the ticker's
// counters as they are (through snapshot), and the counts from the database as
// readCounts last cached them. It keeps no copy of any count.
type opsCollector struct{ o *opsServer }

func (c opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ticksDesc, latenessDesc, statementsDesc, plannedDesc, planCutoffsDesc,
		planReadsDesc, promotionsDesc, isPrimaryDesc, runningDesc, loopAgeDesc, overdueDesc, heldDesc,
		schedulesDesc, healthDesc, lastRunFailedDesc, jobOutcomesDesc, scrapeOKDesc} {
		ch <- d
	}
}

func (c opsCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	st := o.snapshot()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	boolean := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}

	counter(ticksDesc, st.Enqueued, "enqueued")
	counter(ticksDesc, st.Duplicates, "duplicate")
	counter(ticksDesc, st.Missed, "missed")
	counter(ticksDesc, st.SkippedOverlap, "skipped_overlap")
	counter(ticksDesc, st.Excluded, "excluded")
	buckets := make(map[float64]uint64, len(scheduler.LatenessBuckets))
	for i, le := range scheduler.LatenessBuckets {
		buckets[le.Seconds()] = uint64(st.Lateness[i])
	}
	total := st.Lateness[len(st.Lateness)-1]
	ch <- prometheus.MustNewConstHistogram(latenessDesc, uint64(total), st.LatenessSum.Seconds(), buckets)
	counter(statementsDesc, st.Statements)
	counter(plannedDesc, st.Planned)
	counter(planCutoffsDesc, st.PlanCutoffs)
	counter(planReadsDesc, st.HorizonReads)
	counter(promotionsDesc, st.Promotions)
	gauge(isPrimaryDesc, boolean(st.Primary))
	gauge(runningDesc, boolean(o.alive.Load()))
	if last := st.LastProgress; !last.IsZero() {
		gauge(loopAgeDesc, time.Since(last).Seconds())
	}
	gauge(overdueDesc, st.Overdue.Seconds())
	gauge(heldDesc, float64(st.Held))

	// Schedules by state and job outcomes, as the last read left them (see metrics).
	// None has a per-schedule label: a million schedules must not become a million
	// series.
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts != nil {
		for _, s := range scheduleStates {
			gauge(schedulesDesc, float64(o.counts[s]), s)
		}
		for _, h := range scheduleHealths {
			gauge(healthDesc, float64(o.health[h]), h)
		}
		gauge(lastRunFailedDesc, float64(o.failing))
		counter(jobOutcomesDesc, o.outcomes.Complete, "complete")
		counter(jobOutcomesDesc, o.outcomes.Failed, "failed")
		counter(jobOutcomesDesc, o.outcomes.Aborted, "aborted")
		counter(jobOutcomesDesc, o.outcomes.Expired, "expired")
	}
	gauge(scrapeOKDesc, boolean(o.countsOK))
}

// metrics serves /metrics. Before each scrape it reads schedules by state and job
// outcomes from the database (reused for o.ttl, and under the request's context, so
// that a client that goes away cuts the read off), so every ticker (standbys too)
// reports the same numbers. A failed read keeps the last values and says so
// (werkcron_schedules_scrape_ok 0), rather than failing the scrape.
func (o *opsServer) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		opsCollector{o},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	if testCollector != nil {
		reg.MustRegister(testCollector(o))
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
		// A collector that fails (the process collector without /proc, say) costs its
		// own metrics, not the scrape.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.readCounts(r.Context())
		o.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// serveOps listens on addr and serves until ctx is done. Listening happens before it
// returns, so that a taken port fails `werkcron run` at once. Every phase of a request
// has a deadline, and idle keep-alive connections are closed, so that clients that
// open connections and never finish (or never leave) cost nothing lasting.
func serveOps(ctx context.Context, addr string, o *opsServer) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	srv := &http.Server{
		Handler:           o.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("http server", "err", err)
		}
	}()
	return ln.Addr(), nil
}
