package ticker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// runTicker runs a ticker on dsn until the test ends; rows, when not zero, caps its
// reads of the plan.
func runTicker(t *testing.T, dsn string, opts Options, rows int) *Ticker {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	tk, err := NewConfig(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	tk.horizonRows = rows
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tk.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	return tk
}

// dueTogether inserts n schedules, f1 to fn, every intervalSecs from the same whole
// second 3 s from now, and returns that instant (by the database's clock).
func dueTogether(t *testing.T, setup *pgx.Conn, n, intervalSecs int) time.Time {
	t.Helper()
	return dueTogetherIn(t, setup, n, intervalSecs, 3)
}

// dueTogetherIn is dueTogether from the whole second inSecs from now.
func dueTogetherIn(t *testing.T, setup *pgx.Conn, n, intervalSecs, inSecs int) time.Time {
	t.Helper()
	ctx := context.Background()
	var at time.Time
	if err := setup.QueryRow(ctx, `SELECT date_trunc('second', now()) + make_interval(secs => $1)`, inSecs).Scan(&at); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at)
		SELECT 'f' || i, 'app.f', $3, $1 FROM generate_series(1, $2) i`, at, n, intervalSecs); err != nil {
		t.Fatal(err)
	}
	return at
}

// A tick is decided ahead of its instant (tickAt) and sent ahead of it, and written at
// it, not before: the database, whose clock decides, takes each tick's statement at the
// first try, and no job is enqueued before its tick. A statement that did not wait for
// the instant in the database would find the tick still in the future and advance
// nothing, and the tick would take two more statements (the general one, then a retry).
func TestTickDecidedAheadIsWrittenAtItsInstant(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	if _, err := setup.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('each-second', 'app.f', 1)`); err != nil {
		t.Fatal(err)
	}
	tk := runTicker(t, dsn, Options{}, 0)

	const ticks = 3
	pgtest.Eventually(t, 15*time.Second, "three ticks", func() bool {
		return tk.Stats.Enqueued.Load() >= ticks
	})
	enqueued, statements := tk.Stats.Enqueued.Load(), tk.Stats.Statements.Load()
	if statements != enqueued {
		t.Errorf("%d tick statements for %d ticks, want one each", statements, enqueued)
	}
	var early, jobs int
	if err := setup.QueryRow(ctx, `SELECT count(*) FILTER (WHERE enqueued_at < scheduled_at), count(*)
		FROM werk_jobs WHERE cron_name = 'each-second'`).Scan(&early, &jobs); err != nil {
		t.Fatal(err)
	}
	if jobs < ticks || early != 0 {
		t.Errorf("%d jobs, %d of them enqueued before their instant; want at least %d, none early", jobs, early, ticks)
	}
}

// A fan-out larger than one read, of schedules due again two seconds later: each round
// after the first is decided while the statements of the one before run, and the plan
// read beside them must still hold every schedule's next tick. Every schedule gets one
// job at each instant, the second as punctually as the first: a schedule the primary
// lost track of would wait for the plan to be read again, past its instant.
func TestFanoutRoundsKeepEverySchedulesNextTick(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const n, rows = 350, 100
	at := dueTogether(t, setup, n, 2)
	tk := runTicker(t, dsn, Options{Parallel: 2}, rows)

	second := at.Add(2 * time.Second)
	pgtest.Eventually(t, 20*time.Second, "a job for every schedule at both instants", func() bool {
		var jobs int
		err := setup.QueryRow(ctx, `SELECT count(*) FROM werk_jobs WHERE scheduled_at IN ($1, $2)`, at, second).Scan(&jobs)
		return err == nil && jobs >= 2*n
	})
	var jobs, ticks int
	var late time.Duration
	if err := setup.QueryRow(ctx, `SELECT count(*), count(DISTINCT (cron_name, scheduled_at)),
		coalesce(max(enqueued_at - scheduled_at) FILTER (WHERE scheduled_at = $2), '0')
		FROM werk_jobs WHERE scheduled_at IN ($1, $2)`, at, second).Scan(&jobs, &ticks, &late); err != nil {
		t.Fatal(err)
	}
	if jobs != 2*n || ticks != 2*n {
		t.Errorf("%d jobs for %d ticks, want %d of each", jobs, ticks, 2*n)
	}
	// A schedule left out of the horizon is found again only when the primary reads the
	// plan past its end, seconds after the instant.
	if late > time.Second {
		t.Errorf("the second instant's last job was enqueued %s after it, want well within a second", late)
	}
	if st := tk.Stats.Snapshot(); st.ReadsAhead < 2 {
		t.Errorf("%d reads of the plan made beside the statements, want at least 2", st.ReadsAhead)
	}
}
