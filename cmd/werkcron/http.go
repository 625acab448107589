package main

// The operations endpoint of `werkcron run --http-addr`: Prometheus /metrics and
// /healthz. The text format is small enough to write by hand, which keeps
// client_golang and its dependencies out of the binary.

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

	"github.com/pgwerk/werkcron/scheduler"
)

// scheduleStates are the states of werk_cron_status, each exported (also at zero, so
// that an alert on "error > 0" has a series to read).
var scheduleStates = []string{"active", "unplanned", "paused", "ended", "error"}

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
	failing  int // schedules whose last run failed
	outcomes scheduler.JobOutcomes
	countsAt time.Time
	countsOK bool
}

func (o *opsServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", o.metrics)
	mux.HandleFunc("GET /healthz", o.healthz)
	return mux
}

// healthz answers 200 while the ticker loop runs and makes progress, as primary or
// standby (a standby is healthy: it is doing its job); 503 once it has stopped, when
// its loop has not gone round for stuckAfter, when as primary it owes a tick overdue by
// more than owedAfter or has ticked nothing for as long while other sessions hold every
// due schedule, or when a session that is not a ticker holds the leader lock (every
// ticker, standbys too, says so: none of them can lead). The body says which.
func (o *opsServer) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	st := &o.ticker.Stats
	fail := func(format string, args ...any) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, format+"\n", args...)
	}
	if !o.alive.Load() {
		fail("stopped")
		return
	}
	role := scheduler.RoleStandby
	if st.Primary.Load() {
		role = scheduler.RolePrimary
	}
	if last := st.LastProgress(); !last.IsZero() && time.Since(last) > stuckAfter {
		fail("stuck %s: its loop last went round %s ago", role, time.Since(last).Round(time.Second))
		return
	}
	if n, last := st.FailingAsPrimary(); n >= failingAfter {
		fail("failing: %d sessions in a row became primary and failed before scheduling anything; the last: %s", n, last)
		return
	}
	if d := st.Overdue(); role == scheduler.RolePrimary && d > owedAfter {
		fail("behind: primary, and it owes a tick overdue by %s (a table locked? see the log)", d.Round(time.Second))
		return
	}
	if d := st.Stalled(); role == scheduler.RolePrimary && d > owedAfter {
		fail("stalled: primary, and for %s every due schedule has been held by other sessions (rows or job keys locked; see werk_cron_status)", d.Round(time.Second))
		return
	}
	if who := st.Intruder(); who != "" {
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
	counts, failing, err := o.sched.CountByState(ctx)
	var outcomes scheduler.JobOutcomes
	if err == nil {
		outcomes, err = o.sched.JobOutcomes(ctx)
	}
	o.countsAt = time.Now()
	o.countsOK = err == nil
	if err != nil {
		o.log.Warn("metrics: read schedules by state and job outcomes", "err", err)
		return
	}
	o.counts, o.failing, o.outcomes = counts, failing, outcomes
}

func (o *opsServer) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	st := &o.ticker.Stats
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	boolean := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}

	fmt.Fprint(w, "# HELP werkcron_ticks_total Ticks this ticker decided, by outcome (missed: ledger rows, one of which may stand for many ticks).\n# TYPE werkcron_ticks_total counter\n")
	for _, c := range []struct {
		outcome string
		v       int64
	}{
		{"enqueued", st.Enqueued.Load()},
		{"duplicate", st.Duplicates.Load()},
		{"missed", st.Missed.Load()},
		{"skipped_overlap", st.SkippedOverlap.Load()},
	} {
		fmt.Fprintf(w, "werkcron_ticks_total{outcome=%q} %d\n", c.outcome, c.v)
	}
	cum, sum := st.Lateness.Snapshot()
	fmt.Fprint(w, "# HELP werkcron_enqueue_lateness_seconds How long after its instant each enqueued tick was committed (database time).\n# TYPE werkcron_enqueue_lateness_seconds histogram\n")
	for i, le := range scheduler.LatenessBuckets {
		fmt.Fprintf(w, "werkcron_enqueue_lateness_seconds_bucket{le=\"%g\"} %d\n", le.Seconds(), cum[i])
	}
	fmt.Fprintf(w, "werkcron_enqueue_lateness_seconds_bucket{le=\"+Inf\"} %d\n", cum[len(cum)-1])
	fmt.Fprintf(w, "werkcron_enqueue_lateness_seconds_sum %g\nwerkcron_enqueue_lateness_seconds_count %d\n", sum.Seconds(), cum[len(cum)-1])
	counter("werkcron_tick_statements_total", "Tick statements (one per batch of due ticks) this ticker ran.", st.Statements.Load())
	counter("werkcron_planned_total", "Schedules this ticker planned (inserted, changed or resumed rows).", st.Planned.Load())
	counter("werkcron_plan_cutoffs_total", "Planning statements cut off by their time bound so that due ticks go first (a slow database, or many dead index entries before vacuum).", st.PlanCutoffs.Load())
	counter("werkcron_plan_reads_total", "Reads of the plan (the schedules due within the primary's horizon).", st.HorizonReads.Load())
	counter("werkcron_promotions_total", "Times this ticker became primary.", st.Promotions.Load())
	gauge("werkcron_is_primary", "1 while this ticker holds the leader lock and enqueues, else 0.", boolean(st.Primary.Load()))
	gauge("werkcron_ticker_running", "1 while the ticker loop runs (as primary or standby).", boolean(o.alive.Load()))
	if last := st.LastProgress(); !last.IsZero() {
		gauge("werkcron_loop_age_seconds", "Seconds since the ticker's loop last went round.", time.Since(last).Seconds())
	}
	gauge("werkcron_overdue_seconds", "How long the oldest tick the primary owes has been due (0: none).", st.Overdue().Seconds())
	gauge("werkcron_held_schedules", "Schedules the primary holds in memory (due within its horizon, or set aside); 0 on a standby.", float64(st.Held()))

	// Schedules by state and job outcomes come from the database (reused for o.ttl),
	// so every ticker (standbys too) reports the same numbers. A failed read keeps the
	// last values and says so (werkcron_schedules_scrape_ok 0), rather than failing the
	// scrape. None has a per-schedule label: a million schedules must not become a
	// million series.
	o.mu.Lock()
	defer o.mu.Unlock()
	o.readCounts(r.Context())
	if o.counts != nil {
		fmt.Fprint(w, "# HELP werkcron_schedules Schedules by state (werk_cron_status.state), read at most every --metrics-cache.\n# TYPE werkcron_schedules gauge\n")
		for _, s := range scheduleStates {
			fmt.Fprintf(w, "werkcron_schedules{state=%q} %d\n", s, o.counts[s])
		}
		gauge("werkcron_schedules_last_run_failed", "Schedules whose newest finished run failed.", float64(o.failing))
		fmt.Fprint(w, "# HELP werkcron_job_outcomes_total Runs of werkcron's jobs that ended, by outcome (recorded in the tick ledger as they end).\n# TYPE werkcron_job_outcomes_total counter\n")
		for _, c := range []struct {
			outcome string
			n       int64
		}{{"complete", o.outcomes.Complete}, {"failed", o.outcomes.Failed}, {"aborted", o.outcomes.Aborted}} {
			fmt.Fprintf(w, "werkcron_job_outcomes_total{outcome=%q} %d\n", c.outcome, c.n)
		}
	}
	gauge("werkcron_schedules_scrape_ok", "1 if the last read of schedules and outcomes from the database succeeded.", boolean(o.countsOK))
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
