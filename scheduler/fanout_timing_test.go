package scheduler_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler"
)

// TestFanoutTiming times a whole fan-out as a running ticker does it: WERK_TIMING_N
// schedules (default 10,000) due on one tick every 10 s, from the tick's instant until
// the ticker has committed every schedule's decision (its Ticked signals), for
// WERK_TIMING_REPS ticks after a warm-up, and logs the times. It uses only what the
// ticker had before health and calendars, so that the same file times an older tree
// too. It runs only with WERK_TIMING=1 (a measurement, not a test):
//
//	WERK_TIMING=1 go test -run TestFanoutTiming -v ./scheduler
func TestFanoutTiming(t *testing.T) {
	if os.Getenv("WERK_TIMING") == "" {
		t.Skip("a measurement: set WERK_TIMING=1")
	}
	n, reps := 10000, 7
	if v, err := strconv.Atoi(os.Getenv("WERK_TIMING_N")); err == nil {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("WERK_TIMING_REPS")); err == nil {
		reps = v
	}
	dsn, pool := migratedDB(t)
	const every = 10 * time.Second
	anchor := dbNow(t, pool).Truncate(time.Second).Add(every)
	pgtest.Exec(t, pool, fmt.Sprintf(`INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at%s)
		SELECT 'bench-' || lpad(i::text, 8, '0'), 'bench.task', 'bench', $2::int, $3%s FROM generate_series(1, $1::int) i`,
		os.Getenv("WERK_TIMING_COLUMNS"), os.Getenv("WERK_TIMING_VALUES")), n, int(every/time.Second), anchor)
	pgtest.Exec(t, pool, `VACUUM ANALYZE werk_cron_jobs`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{}, func(s *ticker.TestSignals) { s.Ticked.Init(t) })
	tk.waitRole(t, scheduler.RolePrimary, 10*time.Second)
	pgtest.Eventually(t, time.Minute, "every schedule planned", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE planned_at IS NULL`) == 0
	})
	var took, work []time.Duration
	for k := 0; k <= reps; k++ {
		tick := anchor.Add(time.Duration(k) * every)
		if k > 0 {
			pgtest.Exec(t, pool, `CHECKPOINT`)
		}
		decided := 0
		for decided < n {
			select {
			case m := <-tk.Signals.Ticked.WaitC():
				decided += m
			case <-time.After(time.Until(tick) + time.Minute):
				t.Fatalf("tick %d: %d of %d decided", k, decided, n)
			}
		}
		d := time.Since(tick) // host and database share a clock here
		// From the start of the tick's first statement (its jobs' enqueued_at): the work
		// of the fan-out, without the wait for the loop to come round to it.
		first := pgtest.QueryOne[time.Time](t, pool, `SELECT min(enqueued_at) FROM werk_jobs WHERE scheduled_at = $1`, tick)
		if k > 0 {
			took = append(took, d)
			work = append(work, d-first.Sub(tick))
		}
	}
	t.Logf("fan-out, %d schedules, %d ticks: from the tick %s; from the first statement %s", n, reps, summary(took), summary(work))
}

// summary is the median, mean, least and most of ds, and ds in order.
func summary(ds []time.Duration) string {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	all := make([]time.Duration, len(ds))
	for i, d := range ds {
		all[i] = r(d)
	}
	return fmt.Sprintf("median %s, mean %s, min %s, max %s %v", r(ds[len(ds)/2]), r(sum/time.Duration(len(ds))), r(ds[0]), r(ds[len(ds)-1]), all)
}
