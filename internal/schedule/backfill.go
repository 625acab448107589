package schedule

import (
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

// ReachBack is s reaching back to from, for a backfill: an interval's grid extended
// backwards from its anchor (its first tick), a cron expression as it is; either
// without the days its calendar excludes.
func ReachBack(s cron.Schedule, from time.Time) cron.Schedule {
	iv, ok := Inner(s).(cron.Interval)
	if !ok || !iv.Anchor.After(from) {
		return s
	}
	k := (iv.Anchor.Sub(from) + iv.Every - 1) / iv.Every
	iv.Anchor = iv.Anchor.Add(-k * iv.Every)
	if x, ok := s.(*ExcludingSchedule); ok {
		return &ExcludingSchedule{Schedule: iv, Loc: x.Loc, Calendar: x.Calendar}
	}
	return iv
}

// CountTicks counts the ticks of s in (after, until], stopping at limit.
func CountTicks(s cron.Schedule, after, until time.Time, limit int) int {
	n := 0
	for at, ok := s.Next(after); ok && !at.After(until) && n < limit; at, ok = s.Next(at) {
		n++
	}
	return n
}
