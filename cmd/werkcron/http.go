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
	"sync/atomic"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

// scheduleStates are the states of werk_cron_status, each exported (also at zero, so
// that an alert on "error > 0" has a series to read).
var scheduleStates = []string{"active", "unplanned", "paused", "ended", "error"}

// opsServer serves /metrics and /healthz for one ticker.
type opsServer struct {
	ticker *scheduler.Ticker
	sched  *scheduler.Scheduler // for schedules by state, read at each scrape
	alive  *atomic.Bool         // true while the ticker's Run loop runs
	log    *slog.Logger
}

func (o *opsServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", o.metrics)
	mux.HandleFunc("GET /healthz", o.healthz)
	return mux
}

// healthz answers 200 while the ticker loop runs, as primary or standby (a standby is
// healthy: it is doing its job), and 503 once it has stopped.
func (o *opsServer) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !o.alive.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "stopped")
		return
	}
	role := scheduler.RoleStandby
	if o.ticker.Stats.Primary.Load() {
		role = scheduler.RolePrimary
	}
	fmt.Fprintln(w, "ok", role)
}

func (o *opsServer) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	st := &o.ticker.Stats
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
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
	counter("werkcron_promotions_total", "Times this ticker became primary.", st.Promotions.Load())
	primary := int64(0)
	if st.Primary.Load() {
		primary = 1
	}
	gauge("werkcron_is_primary", "1 while this ticker holds the leader lock and enqueues, else 0.", primary)
	alive := int64(0)
	if o.alive.Load() {
		alive = 1
	}
	gauge("werkcron_ticker_running", "1 while the ticker loop runs (as primary or standby).", alive)

	// Schedules by state come from the database, so every ticker (standbys too)
	// reports the same numbers. A failed query drops these series and says so, rather
	// than failing the scrape: the counters above are still worth having.
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	counts, err := o.sched.CountByState(ctx)
	ok := int64(1)
	if err != nil {
		ok = 0
		o.log.Warn("metrics: count schedules by state", "err", err)
	} else {
		fmt.Fprint(w, "# HELP werkcron_schedules Schedules by state (werk_cron_status.state).\n# TYPE werkcron_schedules gauge\n")
		for _, s := range scheduleStates {
			fmt.Fprintf(w, "werkcron_schedules{state=%q} %d\n", s, counts[s])
		}
	}
	gauge("werkcron_schedules_scrape_ok", "1 if the schedules were read from the database for this scrape.", ok)
}

// serveOps listens on addr and serves until ctx is done. Listening happens before it
// returns, so that a taken port fails `werkcron run` at once.
func serveOps(ctx context.Context, addr string, o *opsServer) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	srv := &http.Server{
		Handler:           o.handler(),
		ReadHeaderTimeout: 5 * time.Second,
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
