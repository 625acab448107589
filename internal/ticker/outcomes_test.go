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

// testRecorder is a recorder of a primary over its own connection, for driving its
// steps by hand.
func testRecorder(t *testing.T, dsn string) *recorder {
	t.Helper()
	conn := connect(t, dsn)
	registerCodecs(conn.TypeMap())
	tk := &Ticker{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := &primary{Ticker: tk, conn: conn, q: db.New(conn), hz: newHorizon(10)}
	p.recorder = &recorder{primary: p}
	return p.recorder
}

// counters reads the outcome counters.
func counters(t *testing.T, dsn string) db.JobOutcomeCountsRow {
	t.Helper()
	r, err := db.New(connect(t, dsn)).JobOutcomeCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A pass in chunks smaller than what awaits goes through every schedule's rows by its
// cursor: each final job is recorded once and counted once, a job still queued is left
// awaiting, and the pass that finds nothing left stops the looking.
func TestRecordPassInChunks(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	// Three schedules with seven manual runs each; of each schedule's runs, four
	// complete, two fail, one stays queued.
	for _, s := range []string{
		`INSERT INTO werk_cron_jobs (name, func, cron) SELECT 's' || i, 'app.s', '@daily' FROM generate_series(1, 3) i`,
		`SELECT werk_cron_trigger('s' || i) FROM generate_series(1, 3) i, generate_series(1, 7) n`,
		`WITH runs AS (SELECT id, row_number() OVER (PARTITION BY cron_name ORDER BY enqueued_at) AS n FROM werk_jobs)
		 UPDATE werk_jobs j SET status = CASE WHEN r.n <= 4 THEN 'complete' ELSE 'failed' END,
		        started_at = now(), completed_at = now(), attempts = 1, error = CASE WHEN r.n > 4 THEN 'boom' END
		 FROM runs r WHERE r.id = j.id AND r.n <= 6`,
	} {
		if _, err := setup.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	before := counters(t, dsn)

	tk := testRecorder(t, dsn)
	// A chunk doubles when its statement took under a quarter of its bound: a bound
	// long enough that a loaded machine does not change the count of statements.
	tk.pending, tk.chunk, tk.bound = true, 4, 20*time.Second
	pass := func() int {
		t.Helper()
		statements := 0
		for statements == 0 || tk.passing {
			if statements++; statements > 20 {
				t.Fatalf("a pass not over after %d statements", statements)
			}
			if err := tk.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return statements
	}
	// 21 awaiting rows, read 4, then 8 (a chunk that went through doubles, up to
	// outcomeChunk), then the last 9.
	if n := pass(); n != 3 {
		t.Errorf("the pass took %d statements, want 3", n)
	}
	if got := pgtest.QueryOne[int64](t, setup, `SELECT count(*) FROM werk_cron_ticks WHERE job_status IS NOT NULL`); got != 18 {
		t.Errorf("%d outcomes recorded, want 18", got)
	}
	after := counters(t, dsn)
	if after.Complete-before.Complete != 12 || after.Failed-before.Failed != 6 || after.Aborted != before.Aborted {
		t.Errorf("counters moved by %d complete, %d failed, %d aborted; want 12, 6, 0",
			after.Complete-before.Complete, after.Failed-before.Failed, after.Aborted-before.Aborted)
	}
	if !tk.pending {
		t.Fatalf("stopped looking while three jobs are queued")
	}
	// The queued ones end (aborted by an operator); the next pass records them, and the
	// one after finds nothing left and stops the looking.
	pgtest.Exec(t, setup, `UPDATE werk_jobs SET status = 'aborted', completed_at = now() WHERE status = 'queued'`)
	pass()
	pass()
	if tk.pending {
		t.Errorf("still looking with nothing awaiting")
	}
	if n := tk.Stats.Outcomes.Load(); n != 21 {
		t.Errorf("Stats.Outcomes %d, want 21", n)
	}
	if c := counters(t, dsn); c.Aborted-before.Aborted != 3 {
		t.Errorf("counted %d aborted, want 3", c.Aborted-before.Aborted)
	}
}

// Before the ticks of schedules that pause after failures, their newest awaiting rows
// are read, each schedule's own: one schedule's many do not crowd out another's.
func TestRecordOutcomesOfNamedSchedules(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	for _, s := range []string{
		`INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('a', 'app.a', '@daily'), ('z', 'app.z', '@daily'), ('other', 'app.o', '@daily')`,
		`SELECT werk_cron_trigger(s) FROM unnest('{a,z,other}'::text[]) s, generate_series(1, 5)`,
		`UPDATE werk_jobs SET status = 'failed', started_at = now(), completed_at = now(), attempts = 1`,
	} {
		pgtest.Exec(t, conn, s)
	}
	tk := testRecorder(t, dsn)
	// Bounded as any pass is, not by the 200 ms before a tick: what is tested is which rows
	// are read, and a loaded machine may take longer.
	if _, err := tk.recordOutcomes(ctx, statementTimeout, db.RecordOutcomesParams{Names: []string{"a", "z"}, MaxRows: 3}); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT name, count(*) FILTER (WHERE job_status IS NOT NULL) FROM werk_cron_ticks GROUP BY name`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		got[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got["a"] != 3 || got["z"] != 3 || got["other"] != 0 {
		t.Errorf("recorded per schedule %v, want a and z 3 each, other none", got)
	}
	newest := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM (
		SELECT job_status, row_number() OVER (PARTITION BY name ORDER BY tick_at DESC) AS n FROM werk_cron_ticks
		WHERE name IN ('a', 'z')) r WHERE n <= 3 AND job_status IS NOT NULL`)
	if newest != 6 {
		t.Errorf("%d of the 6 newest rows of a and z recorded, want all", newest)
	}
}

// A statement that would run into the next due tick waits for it: with the tick 5 ms
// away, the step reads nothing and looks again just after the tick; with it a second
// away, the step reads, bounded by it.
func TestRecordStepGivesWayToADueTick(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	tk := testRecorder(t, dsn)
	now := time.Now()
	tk.opts.Now = time.Now
	tk.dbAt, tk.hostAt = now, now
	tk.hz.reset([]*entry{{name: "soon", next: now.Add(5 * time.Millisecond), index: -1}}, now.Add(time.Hour), false)
	tk.pending = true

	if err := tk.step(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tk.Stats.OutcomeLooks.Load(); n != 0 {
		t.Errorf("read outcomes %d times 5 ms before a tick", n)
	}
	if !tk.notBefore.After(now.Add(5 * time.Millisecond)) {
		t.Errorf("looks again at %s, before the tick at %s", tk.notBefore, now.Add(5*time.Millisecond))
	}

	tk.hz.reset([]*entry{{name: "later", next: time.Now().Add(time.Second), index: -1}}, now.Add(time.Hour), false)
	if err := tk.step(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tk.Stats.OutcomeLooks.Load(); n != 1 {
		t.Errorf("read outcomes %d times with a second to go, want 1", n)
	}
}

// After a pass, the recorder waits ten times as long as the pass spent on rows whose
// jobs were still in flight, at least a second and at most a minute: a backlog nobody
// works costs the primary a tenth of its time (unless its pass takes more than six
// seconds), while the rest of a large fan-out whose jobs are ending is recorded soon
// after the pass that recorded most of it, and no outcome waits for minutes.
func TestPassWaitCountsOnlyTheRowsStillInFlight(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		busy           time.Duration
		rows, recorded int64
		want           time.Duration
	}{
		{3 * time.Second, 100_000, 0, 30 * time.Second},       // nothing ended: a backlog
		{30 * time.Second, 100_000, 0, outcomeMaxWait},        // a backlog whose pass is long
		{30 * time.Second, 100_000, 96_000, 12 * time.Second}, // most ended meanwhile
		{30 * time.Second, 100_000, 100_000, outcomeGap},      // all recorded
		{50 * time.Millisecond, 10, 0, outcomeGap},            // a short pass
		{2 * time.Second, 0, 0, 20 * time.Second},             // a pass that read nothing
	} {
		if got := passWait(c.busy, c.rows, c.recorded); got != c.want {
			t.Errorf("passWait(%s, %d rows, %d recorded) = %s, want %s", c.busy, c.rows, c.recorded, got, c.want)
		}
	}
}
