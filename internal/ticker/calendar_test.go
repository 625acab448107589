package ticker

import (
	"context"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/schedule"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// End to end, against PostgreSQL: a decision after an outage records the ticks of an
// excluded local day 'excluded' (at most ten rows, the oldest counting the rest), gives
// none of them a job, and enqueues the first tick of the next local day, whose UTC date
// is the excluded one.
func TestTickStatementRecordsExcludedTicks(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	registerCodecs(conn.TypeMap())
	q := db.New(conn)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_jobs (name, func, cron, timezone, catchup, exclude_calendar)
		VALUES ('h', 'app.h', '0 * * * *', 'Europe/Berlin', 'all', 'hol')`)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_calendars (calendar, day) VALUES ('hol', '2026-10-25')`)
	plan(t, conn, "h")
	// The schedule last ticked at 23:00 CEST on the 24th; the ticker looks at it at 00:30
	// CET on the 26th (the state row says so; the definition's start is moved back in
	// the entry, which the statement does not check).
	pgtest.Exec(t, conn, `UPDATE werk_cron_state SET last_tick_at = '2026-10-24T21:00:00Z' WHERE name = 'h'`)
	rows, err := q.GetSchedulesForTicker(ctx, []string{"h"})
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	e := newEntry(row(rows[0]))
	e.changedAt = utc("2026-10-01T00:00:00Z")
	tk := &primary{Ticker: &Ticker{opts: Options{Now: time.Now}}, clock: clock{dbAt: time.Now(), hostAt: time.Now()}}
	if err := tk.withCalendars(ctx, q, []*entry{e}, true); err != nil {
		t.Fatal(err)
	}
	x, ok := e.sched.(*schedule.ExcludingSchedule)
	if !ok || x.Calendar.Len() != 1 {
		t.Fatalf("schedule %T with calendar %+v, want the day of 'hol'", e.sched, x)
	}
	now := utc("2026-10-25T23:30:00Z")
	d := schedule.Decide(e.sched, e.window(time.Second), now)
	d.Excluded = schedule.ExcludedTicks(e.window(time.Second), x, d.Newest())
	if len(d.Enqueue) != 1 || !d.Enqueue[0].Equal(utc("2026-10-25T23:00:00Z")) || len(d.Missed) != 0 {
		t.Fatalf("decided %+v, want the one tick of the 26th (00:00 CET) enqueued", d)
	}
	res, err := q.EnqueueDueTicks(ctx, tickParams([]planned{{e, d}}, 0))
	if err != nil {
		t.Fatal(err)
	}
	won := 0
	for _, r := range res {
		if r.Outcome == "won" {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("tick statement: %+v, want the schedule won", res)
	}
	var excluded, ticks int64
	var oldest, newest time.Time
	if err := conn.QueryRow(ctx, `SELECT count(*), sum(ticks), min(tick_at), max(tick_at) FROM werk_cron_ticks
		WHERE name = 'h' AND outcome = 'excluded' AND job_id IS NULL`).Scan(&excluded, &ticks, &oldest, &newest); err != nil {
		t.Fatal(err)
	}
	// The 25th in Berlin runs from 22:00Z on the 24th to 23:00Z on the 25th: 25 hours.
	if excluded != schedule.MaxMissedRows || ticks != 25 || !newest.Equal(utc("2026-10-25T22:00:00Z")) {
		t.Errorf("ledger: %d excluded rows for %d ticks, the newest %s; want %d rows for 25 ticks, the newest 22:00Z on the 25th",
			excluded, ticks, newest, schedule.MaxMissedRows)
	}
	if jobs := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_jobs`); jobs != 1 {
		t.Errorf("%d jobs, want the one of the 26th", jobs)
	}
	if last := pgtest.QueryOne[time.Time](t, conn, `SELECT last_tick_at FROM werk_cron_state`); !last.Equal(utc("2026-10-25T23:00:00Z")) {
		t.Errorf("last_tick_at %s", last)
	}
}
