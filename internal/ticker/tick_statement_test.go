package ticker

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// The tick statement takes all of a schedule's ticks or none: when one of them does not
// get in (here its compare-and-set value is off, as when the row's lock was let go
// between two of its ticks), the schedule writes nothing — no job, no ledger row, no
// new last_tick_at — and is not reported as won, so the ticker looks at it again.
func TestTickStatementTakesAllOfAScheduleOrNothing(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	registerUUID(conn.TypeMap())
	q := db.New(conn)

	if _, err := conn.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('s', 'app.s', 5, 'all')`); err != nil {
		t.Fatal(err)
	}
	rows, err := q.GetSchedulesForTicker(ctx, []string{"s"})
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	r := row(rows[0])
	e := newEntry(r)
	// Two ticks already past (the statement checks them against the row and the
	// database clock, not against the schedule's grid).
	anchor := r.ChangedAt.Truncate(time.Second).Add(-10 * time.Second)
	batch := []planned{{e, decision{enqueue: []time.Time{anchor, anchor.Add(5 * time.Second)}, next: anchor.Add(10 * time.Second)}}}

	written := func() (jobs, ledger int64, last *time.Time) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM werk_jobs), (SELECT count(*) FROM werk_cron_ticks),
			(SELECT last_tick_at FROM werk_cron_jobs)`).Scan(&jobs, &ledger, &last); err != nil {
			t.Fatal(err)
		}
		return
	}
	outcomes := func(p db.EnqueueDueTicksParams) map[string]int {
		t.Helper()
		rows, err := q.EnqueueDueTicks(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, r := range rows {
			got[r.Outcome]++
		}
		return got
	}

	p := tickParams(batch)
	p.PrevTickAts[1] = anchor.Add(-time.Hour) // the second tick does not get in
	if got := outcomes(p); got["won"] != 0 {
		t.Errorf("half the ticks in: outcomes %v, want no 'won'", got)
	}
	if jobs, ledger, last := written(); jobs != 0 || ledger != 0 || last != nil {
		t.Fatalf("half the ticks in: %d jobs, %d ledger rows, last_tick_at %v; want nothing written", jobs, ledger, last)
	}

	if got := outcomes(tickParams(batch)); got["won"] != 1 {
		t.Errorf("all ticks in: outcomes %v, want 'won'", got)
	}
	if jobs, ledger, last := written(); jobs != 2 || ledger != 2 || last == nil || !last.Equal(anchor.Add(5*time.Second)) {
		t.Fatalf("all ticks in: %d jobs, %d ledger rows, last_tick_at %v; want 2, 2 and the second tick", jobs, ledger, last)
	}
}
