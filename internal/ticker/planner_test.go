package ticker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// The planner's locking read returns a state row changed after the read's snapshot as it
// is now, joined with the definition as the snapshot saw it (PostgreSQL re-checks the
// locked row alone). A schedule resumed while it was read thus came back still paused,
// with the resume's defined_at, and was planned as never to run again: 'ended', without
// a word. planRows reads such a row again and plans it as it is.
func TestPlannerReadsAgainARowChangedWhileRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t, pgtest.MigratedDB(t))
	registerCodecs(conn.TypeMap())
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_jobs (name, func, interval_secs, paused) VALUES ('resumed', 'app.x', 1, true)`)
	read, err := db.New(conn).GetSchedulesForTicker(ctx, []string{"resumed"})
	if err != nil || len(read) != 1 {
		t.Fatal(read, err)
	}
	pgtest.Exec(t, conn, `UPDATE werk_cron_jobs SET paused = false WHERE name = 'resumed'`)
	stale := row(read[0]) // the definition as the snapshot saw it: paused
	stale.DefinedAt = pgtest.QueryOne[time.Time](t, conn, `SELECT defined_at FROM werk_cron_state WHERE name = 'resumed'`)
	if stale.DefinedAt.Equal(stale.UpdatedAt) {
		t.Fatal("the resume did not move defined_at")
	}

	pl := &planner{primary: &primary{Ticker: &Ticker{log: slog.New(slog.NewTextHandler(io.Discard, nil))}, conn: conn, q: db.New(conn)}}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := db.New(conn).WithTx(tx)
	pgtest.Exec(t, tx, `SELECT 1 FROM werk_cron_state WHERE name = 'resumed' FOR NO KEY UPDATE`)
	planned, err := pl.planRows(ctx, q, []row{stale})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0].paused || planned[0].next.IsZero() {
		t.Errorf("planned %+v; want the schedule as it is: running, with a next tick", planned)
	}
	if got := pgtest.QueryOne[string](t, conn, `SELECT state FROM werk_cron_status WHERE name = 'resumed'`); got != "active" {
		t.Errorf("state %s; want active", got)
	}
}
