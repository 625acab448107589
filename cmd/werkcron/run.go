package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "[flags]", `
Creates or updates werkcron's tables (werk_cron_jobs, werk_cron_ticks, and pgwerk's
werk_jobs when it is missing) in the first schema of the search_path. Safe to run from
several processes at once, and again: it only applies what is missing.

Example:
  DATABASE_URL=postgres://app@db/app werkcron migrate`)
	setup := e.dbFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := setup(); err != nil {
		return err
	}
	return scheduler.Migrate(ctx, e.dsn, e.log)
}

// registerTestHooks is nil in a production build. A build with the werkcron_testhooks
// tag (testhooks.go, for the fault-injection tests) sets it: it adds run's test-only
// flags to fs and returns what applies them to the ticker's options.
var registerTestHooks func(fs *flag.FlagSet) func(*scheduler.TickerOptions)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "[flags]", `
Migrates the database (unless --no-migrate), then runs the ticker until SIGTERM or
SIGINT. Run as many as you like against one database: one is primary and enqueues,
the others stand by and take over within a second when the primary's session ends.
Logs go to stderr.

Example:
  DATABASE_URL=postgres://app@db/app werkcron run --log-format json`)
	setup := e.dbFlags(fs)
	noMigrate := fs.Bool("no-migrate", false, "do not migrate first (for a role without DDL rights)")
	retry := fs.Duration("standby-retry", scheduler.DefaultStandbyRetry, "how long a standby waits for the leader lock before asking again")
	grace := fs.Duration("misfire-grace", scheduler.DefaultMisfireGrace, "how late a tick of a catchup='none' schedule may still be enqueued")
	retention := fs.Duration("retention", scheduler.DefaultRetention, "how long werk_cron_ticks rows are kept")
	heartbeat := fs.Duration("heartbeat", scheduler.DefaultHeartbeat, "how often an idle primary checks its session and the database clock")
	httpAddr := fs.String("http-addr", "", "serve Prometheus /metrics and /healthz on this address, e.g. :9090 (default off)")
	parallel := fs.Int("parallel", scheduler.DefaultParallel, "how many connections write a large fan-out (1000+ ticks due at once) together")
	metricsCache := fs.Duration("metrics-cache", defaultCountsTTL, "how long /metrics reuses its count of schedules by state (a read of every schedule)")
	var allowFuncs, allowQueues listFlag
	fs.Var(&allowFuncs, "allow-func", "enqueue only functions matching these patterns, e.g. 'myapp.tasks.*' (repeat or comma-separate; default any)")
	fs.Var(&allowQueues, "allow-queue", "enqueue only onto queues matching these patterns (repeat or comma-separate; default any)")
	var applyTestHooks func(*scheduler.TickerOptions)
	if registerTestHooks != nil {
		applyTestHooks = registerTestHooks(fs)
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// The ticker would quietly replace a zero or negative value with its default.
	for flag, d := range map[string]time.Duration{"standby-retry": *retry, "misfire-grace": *grace, "retention": *retention, "heartbeat": *heartbeat} {
		if d <= 0 {
			return fmt.Errorf("--%s %s: want a positive duration such as 5s: %w", flag, d, errUsage)
		}
	}
	if *parallel < 1 {
		return fmt.Errorf("--parallel %d: want at least 1 connection: %w", *parallel, errUsage)
	}
	if err := setup(); err != nil {
		return err
	}
	if !*noMigrate {
		if err := scheduler.Migrate(ctx, e.dsn, e.log); err != nil {
			return err
		}
	}
	if os.Getenv("GOGC") == "" {
		// The ticker makes little garbage, and its heap is mostly the schedules it holds
		// (at most those due within its horizon), so collecting at 50% growth instead of
		// Go's 100% costs next to no CPU and keeps its peak lower when a horizon fills up
		// (BENCHMARKS.md measures RSS). GOGC set in the environment wins.
		debug.SetGCPercent(50)
	}
	opts := scheduler.TickerOptions{
		StandbyRetry: *retry,
		MisfireGrace: *grace,
		Retention:    *retention,
		Heartbeat:    *heartbeat,
		Parallel:     *parallel,
		Logger:       e.log,
		AllowFuncs:   allowFuncs,
		AllowQueues:  allowQueues,
	}
	if applyTestHooks != nil {
		applyTestHooks(&opts)
	}
	t, err := scheduler.NewTicker(e.dsn, opts)
	if err != nil {
		return err
	}
	var alive atomic.Bool
	if *httpAddr != "" {
		// The counts' reads wait at most a second for a lock (a LOCK TABLE werk_jobs, say):
		// a scrape then reports the counts unknown rather than hanging.
		s, done, err := e.openScheduler(ctx, "werkcron metrics", time.Second)
		if err != nil {
			return err
		}
		defer done()
		hctx, stop := context.WithCancel(ctx)
		defer stop()
		addr, err := serveOps(hctx, *httpAddr, &opsServer{ticker: t, sched: s, alive: &alive, log: e.log, ttl: *metricsCache, done: hctx})
		if err != nil {
			return err
		}
		e.log.Info("serving /metrics and /healthz", "addr", addr.String())
	}
	e.log.Info("werkcron ticker starting", "standby_retry", *retry, "misfire_grace", *grace)
	alive.Store(true)
	err = t.Run(ctx)
	alive.Store(false)
	if err != nil {
		return fmt.Errorf("ticker: %w", err)
	}
	e.log.Info("werkcron ticker stopped")
	return nil
}

// listFlag is a flag that may be repeated or given a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
