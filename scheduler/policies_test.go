package scheduler_test

// Scheduling policies: overlap buffer_one and buffer_all (pgwerk's concurrency groups),
// jitter, remaining_runs, and backfill.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// dequeueable is what pgwerk's dequeue may take from queue now: its WHERE clause for
// waiting jobs (repos.py), including the concurrency groups: no job of a group that has
// one active.
func dequeueable(t *testing.T, pool *pgxpool.Pool, queue string) []uuid.UUID {
	t.Helper()
	return queryList[uuid.UUID](t, pool, `SELECT id FROM werk_jobs
		WHERE queue = $1 AND status IN ('queued', 'scheduled') AND scheduled_at <= NOW()
		  AND (expires_at IS NULL OR expires_at > NOW())
		  AND (group_key IS NULL OR group_key NOT IN (
		        SELECT DISTINCT group_key FROM werk_jobs
		        WHERE queue = $1 AND status = 'active' AND group_key IS NOT NULL))
		ORDER BY priority, scheduled_at`, queue)
}

// jobsByStatus counts a schedule's jobs by status.
func jobsByStatus(t *testing.T, pool *pgxpool.Pool, name string) map[string]int {
	t.Helper()
	return countsBy(t, pool, `SELECT status, count(*)::int FROM werk_jobs WHERE cron_name = $1 GROUP BY 1`, name)
}

// outcomes counts a schedule's decided ticks by ledger outcome.
func outcomes(t *testing.T, pool *pgxpool.Pool, name string) map[string]int {
	t.Helper()
	return countsBy(t, pool, `SELECT outcome, sum(ticks)::int FROM werk_cron_ticks WHERE name = $1 GROUP BY 1`, name)
}

// countsBy runs a query of (key, count) rows into a map.
func countsBy(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		m[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// buffer_one: while its job runs, ticks leave at most one job waiting, and the others
// are recorded skipped_overlap; pgwerk's dequeue does not start the waiting one while
// the running one is active (the group), and does once it is done.
func TestOverlapBufferOneKeepsOneWaiting(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, overlap, queue)
		VALUES ('b1', 'app.b1', 1, 'buffer_one', 'b1q')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	w := newWorker(t, dsn, pool)

	first := nextJob(t, pool, "b1")
	w.start(first)
	held := dbNow(t, pool)
	tk.decidedThrough(t, pool, held.Add(3500*time.Millisecond))
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET paused = true WHERE name = 'b1'`) // no more ticks: counts hold still

	if got := jobsByStatus(t, pool, "b1"); got["active"] != 1 || got["queued"]+got["scheduled"] != 1 || len(got) > 2 {
		t.Fatalf("jobs of a buffer_one schedule whose job ran for 3.5 s: %v; want one active and one waiting", got)
	}
	if o := outcomes(t, pool, "b1"); o["skipped_overlap"] < 2 || o["enqueued"] != 2 {
		t.Fatalf("ledger: %v; want 2 enqueued and the ticks since recorded skipped_overlap", o)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'b1' AND group_key IS DISTINCT FROM 'cron:b1'`); n != 0 {
		t.Fatalf("%d jobs of b1 outside the group cron:b1", n)
	}
	if d := dequeueable(t, pool, "b1q"); len(d) != 0 {
		t.Fatalf("pgwerk's dequeue would start %v while b1's job is active", d)
	}
	w.ack(first)
	if d := dequeueable(t, pool, "b1q"); len(d) != 1 {
		t.Fatalf("after the running job finished, pgwerk's dequeue would start %d jobs; want the waiting one", len(d))
	}
}

// buffer_all: every tick is enqueued, all in one group, which pgwerk runs one at a time.
func TestOverlapBufferAllQueuesEveryTickInOneGroup(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, overlap, queue)
		VALUES ('ba', 'app.ba', 1, 'buffer_all', 'baq')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	w := newWorker(t, dsn, pool)

	first := nextJob(t, pool, "ba")
	w.start(first)
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(3500*time.Millisecond))
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET paused = true WHERE name = 'ba'`) // no more ticks: counts hold still

	got := jobsByStatus(t, pool, "ba")
	if got["active"] != 1 || got["queued"] < 3 {
		t.Fatalf("jobs of a buffer_all schedule whose job ran for 3.5 s: %v; want one active and every tick since queued", got)
	}
	if o := outcomes(t, pool, "ba"); o["skipped_overlap"] != 0 || o["enqueued"] != got["active"]+got["queued"] {
		t.Fatalf("ledger %v, jobs %v: want every tick enqueued", o, got)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'ba' AND group_key IS DISTINCT FROM 'cron:ba'`); n != 0 {
		t.Fatalf("%d jobs of ba outside the group cron:ba", n)
	}
	if d := dequeueable(t, pool, "baq"); len(d) != 0 {
		t.Fatalf("pgwerk's dequeue would start %d of ba's jobs while one is active", len(d))
	}
	w.ack(first)
	if d := dequeueable(t, pool, "baq"); len(d) != got["queued"] {
		t.Fatalf("after the running job finished, %d jobs are dequeueable; want the %d waiting", len(d), got["queued"])
	}
	// A manual run joins the group too.
	manual := pgtest.QueryOne[uuid.UUID](t, pool, `SELECT werk_cron_trigger('ba')`)
	if g := pgtest.QueryOne[*string](t, pool, `SELECT group_key FROM werk_jobs WHERE id = $1`, manual); g == nil || *g != "cron:ba" {
		t.Fatalf("a manual run of ba has group_key %v; want cron:ba", g)
	}
	checkJobs(t, pool)
}

// jitterOffsets returns each enqueued tick's offset (scheduled_at - tick) by tick.
func jitterOffsets(t *testing.T, pool *pgxpool.Pool, name string) map[time.Time]time.Duration {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT k.tick_at, j.scheduled_at, j.status, j.enqueued_at
		FROM werk_cron_ticks k JOIN werk_jobs j ON j.id = k.job_id WHERE k.name = $1`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[time.Time]time.Duration{}
	for rows.Next() {
		var tick, at, enqueued time.Time
		var status string
		if err := rows.Scan(&tick, &at, &status, &enqueued); err != nil {
			t.Fatal(err)
		}
		// pgwerk's status for a job not due yet.
		if want := map[bool]string{true: "scheduled", false: "queued"}[at.After(enqueued)]; status != want {
			t.Errorf("%s: job of the tick at %s, due %s, enqueued %s: status %s, want %s", name, tick, at, enqueued, status, want)
		}
		m[tick.UTC()] = at.Sub(tick)
	}
	return m
}

// jitter: each job is due at its tick plus an offset inside [0, jitter_secs) that
// depends on the schedule and the tick only: schedules differ, and the same schedule on
// another installation (another ticker deciding the same tick) gets the same offsets.
func TestJitterOffsetsAreInsideTheWindowAndStable(t *testing.T) {
	t.Parallel()
	dsnA, poolA := migratedDB(t)
	dsnB, poolB := migratedDB(t)
	const window = 30 * time.Second
	// The same ticks on both installations: interval grids anchored at one starts_at.
	start := dbNow(t, poolA).Truncate(time.Second).Add(2 * time.Second)
	for _, p := range []*pgxpool.Pool{poolA, poolB} {
		pgtest.Exec(t, p, `INSERT INTO werk_cron_jobs (name, func, interval_secs, jitter_secs, starts_at) VALUES ('j1', 'app.j', 1, 30, $1)`, start)
	}
	pgtest.Exec(t, poolA, `INSERT INTO werk_cron_jobs (name, func, interval_secs, jitter_secs, starts_at) VALUES ('j2', 'app.j', 1, 30, $1)`, start)
	a := startTicker(t, dsnA, scheduler.TickerOptions{})
	b := startTicker(t, dsnB, scheduler.TickerOptions{})
	a.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	b.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	until := start.Add(3500 * time.Millisecond)
	a.decidedThrough(t, poolA, until)
	b.decidedThrough(t, poolB, until)

	j1, j2, j1b := jitterOffsets(t, poolA, "j1"), jitterOffsets(t, poolA, "j2"), jitterOffsets(t, poolB, "j1")
	if len(j1) < 3 || len(j2) < 3 {
		t.Fatalf("ticks enqueued: j1 %d, j2 %d; want at least 3 each", len(j1), len(j2))
	}
	same, compared := 0, 0
	for tick, off := range j1 {
		if off < 0 || off >= window {
			t.Errorf("j1's tick at %s is due %s after it; want within [0, %s)", tick, off, window)
		}
		if other, ok := j2[tick]; ok {
			compared++
			if other == off {
				same++
			}
		}
		if again, ok := j1b[tick]; ok && again != off {
			t.Errorf("j1's tick at %s: offset %s here, %s when another ticker decided it", tick, off, again)
		} else if !ok {
			t.Errorf("the other installation did not decide j1's tick at %s", tick)
		}
	}
	for tick, off := range j2 {
		if off < 0 || off >= window {
			t.Errorf("j2's tick at %s is due %s after it; want within [0, %s)", tick, off, window)
		}
	}
	if compared == 0 || same == compared {
		t.Errorf("j1 and j2 have the same offsets at all %d common ticks; want them spread", compared)
	}
	// The ledger and the key keep the tick itself.
	if n := pgtest.QueryOne[int64](t, poolA, `SELECT count(*) FROM werk_cron_ticks k JOIN werk_jobs j ON j.id = k.job_id
		WHERE j.key <> 'cron:' || k.name || ':' || to_char(k.tick_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`); n != 0 {
		t.Errorf("%d jobs whose key is not their tick's", n)
	}
}

// remaining_runs = 3: three jobs, then the schedule has ended; runs given back start it
// again from then on.
func TestRemainingRunsEndsTheSchedule(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	three := 3
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "r3", Func: "app.r3", Interval: time.Second, RemainingRuns: &three}); err != nil {
		t.Fatal(err)
	}
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 10*time.Second, "three jobs of r3", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'r3'`) >= 3
	})
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(2500*time.Millisecond))
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'r3'`); n != 3 {
		t.Fatalf("r3 has %d jobs 2.5 s after its third; want exactly 3", n)
	}
	st := statusOf(t, s, "r3")
	if st.State != "ended" || st.RemainingRuns == nil || *st.RemainingRuns != 0 || !st.NextRunAt.IsZero() {
		t.Fatalf("r3 after its runs: state %s, remaining %v, next %s; want ended, 0, none", st.State, deref(st.RemainingRuns), st.NextRunAt)
	}

	// One run given back: one more job, from now on (nothing of the time it was ended;
	// an interval's grid starts afresh at the second of the change).
	given := dbNow(t, pool).Truncate(time.Second)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET remaining_runs = 1 WHERE name = 'r3'`)
	pgtest.Eventually(t, 5*time.Second, "a fourth job of r3", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'r3'`) == 4
	})
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(2500*time.Millisecond))
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'r3' AND scheduled_at < $1`, given); n != 3 {
		t.Fatalf("%d jobs of r3 before the run was given back; want the 3 of before", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'r3'`); n != 4 {
		t.Fatalf("r3 has %d jobs after one run was given back; want 4", n)
	}
	if st := statusOf(t, s, "r3"); st.State != "ended" {
		t.Fatalf("r3 after its given-back run: %s; want ended", st.State)
	}
	checkJobs(t, pool)
}

// remaining_runs with catchup 'all' after an outage: the pending ticks enqueued are at
// most the runs left, the oldest, and the schedule ends there.
func TestRemainingRunsCapsCatchup(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, remaining_runs)
		VALUES ('rc', 'app.rc', 1, 'all', 2)`)
	start := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', changed_at) FROM werk_cron_jobs WHERE name = 'rc'`)
	untilDBClock(t, pool, start.Add(3500*time.Millisecond)) // no ticker yet: four ticks pending
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(1500*time.Millisecond))
	ticks := queryList[time.Time](t, pool, `SELECT tick_at FROM werk_cron_ticks WHERE name = 'rc' ORDER BY tick_at`)
	jobs := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'rc'`)
	if len(ticks) != 2 || jobs != 2 {
		t.Fatalf("rc (2 runs left, ~5 ticks pending): %d ledger rows, %d jobs; want 2 and 2", len(ticks), jobs)
	}
	if !ticks[0].Equal(start) || !ticks[1].Equal(start.Add(time.Second)) {
		t.Fatalf("rc enqueued %v; want the two oldest pending ticks, from %s", ticks, start)
	}
	if st := pgtest.QueryOne[string](t, pool, `SELECT state FROM werk_cron_status WHERE name = 'rc'`); st != "ended" {
		t.Fatalf("rc: %s; want ended", st)
	}
}

func statusOf(t *testing.T, s *scheduler.Scheduler, name string) scheduler.ScheduleStatus {
	t.Helper()
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Schedules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no status row for %s", name)
	return scheduler.ScheduleStatus{}
}

// Backfill after an outage of a catchup = 'none' schedule: every missed tick gets its
// job once, under its usual key; the ticks of a pause (never decided) too; a second
// backfill adds nothing; last_tick_at never moves; bad ranges are refused clearly.
func TestBackfillFillsGapsOnce(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('bf', 'app.bf', 1, 'none')`)
	opts := scheduler.TickerOptions{MisfireGrace: 200 * time.Millisecond}
	tk := startTicker(t, dsn, opts)
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	nextJob(t, pool, "bf")
	tk.stop()
	// The outage: 2.5 s of ticks pass with no ticker.
	untilDBClock(t, pool, dbNow(t, pool).Add(2500*time.Millisecond))
	tk = startTicker(t, dsn, opts)
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(1100*time.Millisecond))
	if o := outcomes(t, pool, "bf"); o["missed"] < 2 {
		t.Fatalf("after a 2.5 s outage: %v; want missed ticks", o)
	}
	// A pause of 1.5 s: its ticks are never decided.
	if err := s.Pause(ctx, "bf"); err != nil {
		t.Fatal(err)
	}
	untilDBClock(t, pool, dbNow(t, pool).Add(1500*time.Millisecond))
	if err := s.Resume(ctx, "bf"); err != nil {
		t.Fatal(err)
	}
	tk.decidedThrough(t, pool, dbNow(t, pool).Add(1500*time.Millisecond))

	first := pgtest.QueryOne[time.Time](t, pool, `SELECT min(tick_at) FROM werk_cron_ticks WHERE name = 'bf'`)
	lastTick := pgtest.QueryOne[time.Time](t, pool, `SELECT last_tick_at FROM werk_cron_state WHERE name = 'bf'`)
	before := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'bf'`)
	wantTicks := int64(lastTick.Sub(first)/time.Second) + 1 // every tick from the first to the last decided

	b, err := s.Backfill(ctx, "bf", first, lastTick)
	if err != nil {
		t.Fatal(err)
	}
	jobs := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'bf' AND scheduled_at <= $1`, lastTick)
	if jobs != wantTicks {
		t.Fatalf("after the backfill, %d jobs for the %d ticks from %s to %s; want one each", jobs, wantTicks, first, lastTick)
	}
	if int64(b.Enqueued) != wantTicks-before || int64(b.Already) != before {
		t.Fatalf("backfill reports %d enqueued, %d already; want %d and the %d jobs there were", b.Enqueued, b.Already, wantTicks-before, before)
	}
	if b.Enqueued < 3 { // at least the outage's misses and the pause's ticks
		t.Fatalf("backfill enqueued %d; want the outage's and the pause's ticks", b.Enqueued)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'bf' AND outcome = 'backfilled'`); n != int64(b.Enqueued) {
		t.Fatalf("%d ledger rows 'backfilled'; want %d", n, b.Enqueued)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'bf' AND outcome = 'missed' AND tick_at <= $1`, lastTick); n != 0 {
		t.Fatalf("%d ticks still missed in the backfilled range", n)
	}
	if now := pgtest.QueryOne[time.Time](t, pool, `SELECT last_tick_at FROM werk_cron_state WHERE name = 'bf'`); now.Before(lastTick) {
		t.Fatalf("last_tick_at moved back to %s (was %s)", now, lastTick)
	}
	checkJobs(t, pool)

	again, err := s.Backfill(ctx, "bf", first, lastTick)
	if err != nil {
		t.Fatal(err)
	}
	if again.Enqueued != 0 || again.Already != int(wantTicks) {
		t.Fatalf("second backfill: %d enqueued, %d already; want 0 and %d", again.Enqueued, again.Already, wantTicks)
	}

	// Refusals: in the database (reversed, future, unknown) and by the ticker (too many
	// ticks, before the ledger's retention).
	now := dbNow(t, pool)
	for _, c := range []struct {
		name     string
		from, to time.Time
		want     string
		refused  bool
		notFound bool
	}{
		{"reversed", now.Add(-time.Minute), now.Add(-2 * time.Minute), "reversed", false, false},
		{"future", now.Add(time.Hour), now.Add(2 * time.Hour), "future", false, false},
		{"too many ticks", now.Add(-48 * time.Hour), now, "more than 100000 ticks", true, false},
		{"beyond retention", now.Add(-8 * 24 * time.Hour), now.Add(-8*24*time.Hour + time.Minute), "retention", true, false},
	} {
		_, err := s.Backfill(ctx, "bf", c.from, c.to)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, scheduler.ErrBackfillRefused) != c.refused {
			t.Errorf("%s: %v; want an error saying %q (refused by the ticker: %v)", c.name, err, c.want, c.refused)
		}
	}
	if _, err := s.Backfill(ctx, "nope", now.Add(-time.Minute), now); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("backfill of an unknown schedule: %v; want ErrNotFound", err)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'bf' AND scheduled_at < $1`, first); n != 0 {
		t.Errorf("%d jobs enqueued by refused backfills", n)
	}
}

// The primary prunes ledger rows older than its retention, and backfill requests done
// as long ago; newer ones stay.
func TestPruneLedgerAndBackfillRequests(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('p', 'app.p', '0 0 1 1 *')`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_ledger (name, tick_at, outcome) VALUES
		('p', now() - interval '2 hours', 'missed'), ('p', now() - interval '1 minute', 'missed')`)
	// Requests done two hours and a minute ago (a request's progress is the ticker's to
	// write: the owner sets it here after the insert).
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES
		('p', now() - interval '3 hours', now() - interval '2 hours'), ('p', now() - interval '3 hours', now() - interval '2 hours')`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_backfills SET through_at = to_at,
		done_at = CASE WHEN id = (SELECT min(id) FROM werk_cron_backfills) THEN now() - interval '2 hours' ELSE now() - interval '1 minute' END`)
	startTicker(t, dsn, scheduler.TickerOptions{Retention: time.Hour})
	pgtest.Eventually(t, 10*time.Second, "old ledger rows and requests pruned", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT (SELECT count(*) FROM werk_cron_ticks) + (SELECT count(*) FROM werk_cron_backfills)`) == 2
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE tick_at > now() - interval '1 hour'`); n != 1 {
		t.Errorf("%d recent ledger rows; want the one kept", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_backfills WHERE done_at > now() - interval '1 hour'`); n != 1 {
		t.Errorf("%d recent requests; want the one kept", n)
	}
}

// A tick skipped for overlap has no job: backfill gives it one, once, and leaves the
// ticks that had a job alone.
func TestBackfillFillsSkippedOverlapTicks(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, overlap) VALUES ('sk', 'app.sk', 1, 'skip')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	// No worker runs the first job: the ticks after it are skipped for overlap.
	pgtest.Eventually(t, 10*time.Second, "three ticks skipped for overlap", func() bool {
		return outcomes(t, pool, "sk")["skipped_overlap"] >= 3
	})
	if err := s.Pause(ctx, "sk"); err != nil {
		t.Fatal(err)
	}
	first := pgtest.QueryOne[time.Time](t, pool, `SELECT min(tick_at) FROM werk_cron_ticks WHERE name = 'sk'`)
	last := pgtest.QueryOne[time.Time](t, pool, `SELECT max(tick_at) FROM werk_cron_ticks WHERE name = 'sk'`)
	had := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'sk'`)
	ticks := int64(last.Sub(first)/time.Second) + 1

	b, err := s.Backfill(ctx, "sk", first, last)
	if err != nil {
		t.Fatal(err)
	}
	// Every tick of the range without a job gets one: the skipped ones, and any a busy
	// ticker recorded missed on the way.
	if int64(b.Enqueued) != ticks-had || int64(b.Already) != had {
		t.Errorf("backfill: %d enqueued, %d already; want the %d ticks without a job and the %d that had one", b.Enqueued, b.Already, ticks-had, had)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(DISTINCT scheduled_at) FROM werk_jobs WHERE cron_name = 'sk'`); n != ticks {
		t.Errorf("%d ticks with a job from %s to %s; want all %d", n, first, last, ticks)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'sk' AND outcome = 'skipped_overlap'`); n != 0 {
		t.Errorf("%d ticks still recorded skipped_overlap after the backfill", n)
	}
	if again, err := s.Backfill(ctx, "sk", first, last); err != nil || again.Enqueued != 0 {
		t.Errorf("second backfill: %+v, %v; want nothing enqueued", again, err)
	}
	checkJobs(t, pool)
}
