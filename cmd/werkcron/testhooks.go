//go:build werkcron_testhooks

package main

// Test hooks of `werkcron run`, compiled only into the binary the fault-injection tests
// build (go build -tags werkcron_testhooks); a production build has none of these flags.

import (
	"flag"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	werkticker "github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler"
)

func init() {
	// How often /metrics went to the database for its counts, so that a test can tell a
	// cached answer from a fresh one however slow the machine is.
	testCollector = func(o *opsServer) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "werkcron_test_counts_reads_total",
			Help: "Test build only: reads of schedules by state and job outcomes from the database by /metrics.",
		}, func() float64 {
			o.mu.Lock()
			defer o.mu.Unlock()
			return float64(o.reads)
		})
	}
	registerTestHooks = func(fs *flag.FlagSet) func(*scheduler.TickerOptions) {
		skew := fs.Duration("clock-skew", 0, "test build only: pretend the host clock is off by this much (ticks must not change)")
		fs.DurationVar(&owedAfter, "owed-after", owedAfter, "test build only: /healthz fails once the primary owes a tick overdue by this long")
		fs.DurationVar(&stuckAfter, "stuck-after", stuckAfter, "test build only: /healthz fails once the loop has not gone round for this long")
		horizon := fs.Int("horizon-rows", 0, "test build only: rows of the plan the primary reads at once (0: the default)")
		return func(opts *scheduler.TickerOptions) {
			werkticker.SetHorizonRows(*horizon)
			if d := *skew; d != 0 {
				opts.Now = func() time.Time { return time.Now().Add(d) }
			}
		}
	}
}
