// Package schedule is werkcron's schedule math, with no database: when a schedule
// fires (Parse, StartBound, Window), what a ticker does with the ticks pending at an
// instant under the schedule's policies (Decide: catch-up, misfire grace, the bounds
// that keep one decision small; LimitRuns: remaining_runs), and which ticks a backfill
// covers (ReachBack, CountTicks). The ticker (internal/ticker) feeds it a schedule's
// row and writes what it decides.
package schedule
