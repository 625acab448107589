//go:build werkcron_testhooks

package main

// Test hooks of `werkcron run`, compiled only into the binary the fault-injection tests
// build (go build -tags werkcron_testhooks); a production build has none of these flags.

import (
	"flag"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

func init() {
	registerTestHooks = func(fs *flag.FlagSet) func(*scheduler.TickerOptions) {
		skew := fs.Duration("clock-skew", 0, "test build only: pretend the host clock is off by this much (ticks must not change)")
		fs.DurationVar(&owedAfter, "owed-after", owedAfter, "test build only: /healthz fails once the primary owes a tick overdue by this long")
		fs.DurationVar(&stuckAfter, "stuck-after", stuckAfter, "test build only: /healthz fails once the loop has not gone round for this long")
		return func(opts *scheduler.TickerOptions) {
			if d := *skew; d != 0 {
				opts.Now = func() time.Time { return time.Now().Add(d) }
			}
		}
	}
}
