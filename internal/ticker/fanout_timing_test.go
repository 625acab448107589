package ticker

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// TestTickStatementTiming times the tick statement alone for a fan-out of
// WERK_TIMING_N schedules (default 10,000) all due on one tick, WERK_TIMING_REPS times,
// each after a CHECKPOINT, at the usual pace (each schedule's previous tick awaits its
// outcome), and logs the times. It uses only what the ticker had before health and
// calendars, so that the same file times an older tree too. It runs only with
// WERK_TIMING=1 (a measurement, not a test):
//
//	WERK_TIMING=1 go test -run TestTickStatementTiming -v ./internal/ticker
func TestTickStatementTiming(t *testing.T) {
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
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	registerUUID(conn.TypeMap())
	q := db.New(conn)
	extra := os.Getenv("WERK_TIMING_COLUMNS") // e.g. ", start_deadline_secs" with WERK_TIMING_VALUES ", 600"
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO werk_cron_jobs (name, func, queue, interval_secs%s)
		SELECT 'bench-' || lpad(i::text, 8, '0'), 'bench.task', 'bench', 10%s FROM generate_series(1, $1::int) i`,
		extra, os.Getenv("WERK_TIMING_VALUES")), n)
	pgtest.Exec(t, conn, `UPDATE werk_cron_state SET planned_at = now(), next_run_at = now()`)
	pgtest.Exec(t, conn, `VACUUM ANALYZE werk_cron_jobs`)
	pgtest.Exec(t, conn, `VACUUM ANALYZE werk_cron_state`)
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("bench-%08d", i))
	}
	rows, err := q.GetSchedulesForTicker(ctx, names)
	if err != nil || len(rows) != n {
		t.Fatal(len(rows), err)
	}
	es := make([]*entry, n)
	for i, r := range rows {
		es[i] = newEntry(row(r))
	}
	base := pgtest.QueryOne[time.Time](t, conn, `SELECT date_trunc('second', now()) - interval '100 s'`)
	var took []time.Duration
	for k := 0; k < reps+1; k++ { // the first is a warm-up
		tick := base.Add(time.Duration(k) * 10 * time.Second)
		batch := make([]planned, n)
		for i, e := range es {
			batch[i] = planned{e, decision{enqueue: []time.Time{tick}, next: tick.Add(10 * time.Second)}}
		}
		pgtest.Exec(t, conn, `CHECKPOINT`)
		p := tickParams(batch, 0)
		start := time.Now()
		res, err := db.New(customPlan{conn}).EnqueueDueTicks(ctx, p) // as the ticker runs it
		d := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		won := 0
		for _, r := range res {
			if r.Outcome == "won" {
				won++
			}
		}
		if won != n {
			t.Fatalf("tick %d: %d schedules won, want %d", k, won, n)
		}
		for i, e := range es {
			e.lastTick = tick
			e.lastJobID, e.lastJobAt = p.JobIds[i], tick
		}
		if k > 0 {
			took = append(took, d)
		}
	}
	slices.Sort(took)
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	t.Logf("tick statement, %d schedules, %d reps: median %s, mean %s, min %s, max %s; all: %v",
		n, reps, took[len(took)/2].Round(time.Millisecond), (sum / time.Duration(len(took))).Round(time.Millisecond),
		took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), took)
}
