package faults

// Issue 19: a large fan-out is written by several connections of the primary at once
// (run --parallel; internal/ticker/fanout.go), each statement its own transaction under
// the same compare-and-set, and every statement on a connection other than the leader's
// own session fenced by that session (queries/tick.sql: it goes through only while the
// session whose backend is leader_pid holds the leader lock). These tests take the
// primary away while such statements are in flight and check that no tick is enqueued
// twice and none is lost, and that the old primary's connections write nothing once its
// session has lost the lock.
//
// The schedules are interval schedules sharing one anchor (starts_at), so that all of
// them fall due at the same instant, with catchup = 'all', so that every tick must get
// its job: none may be recorded missed.

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// tickStatement matches pg_stat_activity.query of a tick statement, EnqueueDueTicks or
// (a fan-out's ticks at their usual pace) EnqueueUsualTicks: sqlc's name comment comes
// first; the statement itself is longer than track_activity_query_size.
const tickStatement = `-- name: Enqueue%Ticks :many%`

// addFanout inserts n interval schedules <prefix>00001, ... every `every` seconds with
// catchup = 'all', all anchored (starts_at) an hour ahead and, when ticks > 0, ending
// (ends_at) after that many ticks. anchorFanout then brings their first tick near, once
// the primary has planned them: how long planning takes depends on the machine.
func addFanout(t testing.TB, pool *pgxpool.Pool, prefix string, n, every, ticks int) {
	t.Helper()
	anchor := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', clock_timestamp()) + interval '1 h'`)
	var ends *time.Time
	if ticks > 0 {
		e := anchor.Add(time.Duration((ticks-1)*every) * time.Second)
		ends = &e
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, starts_at, ends_at)
		SELECT $1 || lpad(i::text, 5, '0'), 'app.fan', $3, 'all', $4, $5 FROM generate_series(1, $2) i`,
		prefix, n, every, anchor, ends)
}

// anchorFanout waits until the primary has planned every schedule <prefix>* (addFanout's),
// then moves their anchor (and ends_at with it) to the whole second at least lead from
// the database's now, or further on a machine that took long to plan them: the move
// makes the primary plan them all again, and every one must be planned before the
// anchor, so the lead is at least twice the time the first planning took, and 3 s more.
// A busy machine can take longer the second time: when they are not all planned for the
// anchor while a move (an UPDATE of every schedule, which took u the last time) can
// still end 3 s before it (before the primary decides anything of it: 3 s + 2u), they
// are moved again, twice as far. It returns the anchor: their first tick.
func anchorFanout(t testing.TB, pool *pgxpool.Pool, prefix string, lead time.Duration) time.Time {
	t.Helper()
	n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_jobs WHERE name LIKE $1 || '%'`, prefix)
	pgtest.Eventually(t, 3*time.Minute, "every schedule planned", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state
			WHERE name LIKE $1 || '%' AND planned_at IS NOT NULL AND next_run_at IS NOT NULL`, prefix) == n
	})
	// From the insert (defined_at) to the last row planned: the primary's start too.
	took := time.Duration(pgtest.QueryOne[float64](t, pool, `SELECT extract(epoch FROM max(planned_at) - min(defined_at))::float8
		FROM werk_cron_state WHERE name LIKE $1 || '%'`, prefix) * float64(time.Second))
	lead = max(lead, 2*took+3*time.Second)
	for try := 1; ; try++ {
		anchor := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', clock_timestamp() + make_interval(secs => $1)) + interval '1 s'`,
			lead.Seconds())
		moved := time.Now()
		pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET starts_at = $2::timestamptz, ends_at = $2::timestamptz + (ends_at - starts_at)
			WHERE name LIKE $1 || '%'`, prefix, anchor)
		move := time.Since(moved)
		for time.Until(anchor) > 3*time.Second+2*move {
			if plannedFor(t, pool, prefix, anchor) {
				t.Logf("%d schedules %s* planned in %s; anchored %s ahead (the move took %s) and planned again in %s",
					n, prefix, ms(took), ms(lead), ms(move), ms(time.Since(moved)))
				return anchor
			}
			time.Sleep(20 * time.Millisecond)
		}
		if try == 3 {
			t.Fatalf("%d schedules %s* anchored %s ahead were not all planned again in time, three times: "+
				"the machine is too slow for this test", n, prefix, ms(lead))
		}
		t.Logf("%d schedules %s* anchored %s ahead (the move took %s) were not all planned again %s before the anchor; "+
			"moving them further", n, prefix, ms(lead), ms(move), ms(time.Until(anchor)))
		lead *= 2
	}
}

// plannedFor reports whether every schedule <prefix>* is planned, its next run at anchor.
func plannedFor(t testing.TB, pool *pgxpool.Pool, prefix string, anchor time.Time) bool {
	t.Helper()
	return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state
		WHERE name LIKE $1 || '%' AND (planned_at IS NULL OR next_run_at IS DISTINCT FROM $2)`, prefix, anchor) == 0
}

// waitPlanned waits until the primary has planned every schedule: each has its
// next_run_at, so that all of them are due at the anchor.
func waitPlanned(t testing.TB, pool *pgxpool.Pool, prefix string, anchor time.Time) {
	t.Helper()
	pgtest.Eventually(t, 60*time.Second, "every schedule planned for the anchor", func() bool {
		return plannedFor(t, pool, prefix, anchor)
	})
	if left := time.Until(anchor); left < 500*time.Millisecond {
		t.Fatalf("planning took until %s before the anchor: the machine is too slow for this test's timing", left)
	}
}

// ticksFrom returns count ticks every `every` seconds from anchor on.
func ticksFrom(anchor time.Time, every, count int) []time.Time {
	out := make([]time.Time, count)
	for i := range out {
		out[i] = anchor.Add(time.Duration(i*every) * time.Second)
	}
	return out
}

// waitJobs waits until every schedule <prefix>* has at least one job for each of ticks.
func waitJobs(t testing.TB, pool *pgxpool.Pool, prefix string, n int, ticks []time.Time, within time.Duration) {
	t.Helper()
	want := int64(n * len(ticks))
	var got int64
	start := time.Now()
	for {
		got = pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM (SELECT DISTINCT cron_name, scheduled_at FROM werk_jobs
			WHERE cron_name LIKE $1 || '%' AND scheduled_at = ANY ($2)) d`, prefix, ticks)
		if got >= want {
			return
		}
		if time.Since(start) > within {
			t.Fatalf("after %s, %d of the %d ticks (%d schedules x %d) have a job", within, got, want, n, len(ticks))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkFanout asserts, from one snapshot, that each of the n schedules <prefix>* has
// exactly one job for each of ticks (its key cron:<name>:<tick>), and exactly one row
// for it in werk_cron_ticks (the ledger, or the schedule's newest tick kept in
// werk_cron_state), 'enqueued', naming that job; that none of them has a job or a row
// for any other tick up to the newest of ticks (no 'missed', no tick off the grid); and
// that no (schedule, tick) anywhere has two jobs.
func checkFanout(t testing.TB, pool *pgxpool.Pool, prefix string, n int, ticks []time.Time) {
	t.Helper()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if got := pgtest.QueryOne[int64](t, tx, `SELECT count(*) FROM werk_cron_jobs WHERE name LIKE $1 || '%'`, prefix); got != int64(n) {
		t.Fatalf("%d schedules %s*, want %d", got, prefix, n)
	}
	if d := pgtest.QueryOne[string](t, tx, `SELECT coalesce(string_agg(format('%s@%s x%s', cron_name, scheduled_at, c), ', '), '')
		FROM (SELECT cron_name, scheduled_at, count(*) AS c FROM werk_jobs WHERE cron_name IS NOT NULL
		      GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 5) d`); d != "" {
		t.Errorf("ticks enqueued twice (the first few): %s", d)
	}
	var noJob, dupJobs, badKeys, noRow, dupRows, wrongRows int64
	var examples string
	if err := tx.QueryRow(ctx, `WITH want AS (
			SELECT j.name, tk AS tick FROM werk_cron_jobs j CROSS JOIN unnest($2::timestamptz[]) tk
			WHERE j.name LIKE $1 || '%'
		), jobs AS (
			SELECT cron_name AS name, scheduled_at AS tick, count(*) AS n, min(id::text) AS id,
			       bool_and(key = 'cron:' || cron_name || ':' || to_char(scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) AS key_ok
			FROM werk_jobs WHERE cron_name LIKE $1 || '%' GROUP BY 1, 2
		), rows AS (
			SELECT name, tick_at AS tick, count(*) AS n, count(*) FILTER (WHERE outcome = 'enqueued') AS enqueued,
			       min(job_id::text) AS job
			FROM werk_cron_ticks WHERE name LIKE $1 || '%' GROUP BY 1, 2
		), verdict AS (
			SELECT w.name, w.tick,
			       CASE WHEN coalesce(j.n, 0) = 0 THEN 'no job'
			            WHEN j.n > 1 THEN 'jobs twice'
			            WHEN NOT j.key_ok THEN 'wrong key'
			            WHEN coalesce(r.n, 0) = 0 THEN 'no werk_cron_ticks row'
			            WHEN r.n > 1 THEN 'werk_cron_ticks rows twice'
			            WHEN r.enqueued <> 1 OR r.job IS DISTINCT FROM j.id THEN 'werk_cron_ticks row not enqueued with its job'
			       END AS wrong
			FROM want w LEFT JOIN jobs j USING (name, tick) LEFT JOIN rows r USING (name, tick)
		)
		SELECT count(*) FILTER (WHERE wrong = 'no job'), count(*) FILTER (WHERE wrong = 'jobs twice'),
		       count(*) FILTER (WHERE wrong = 'wrong key'), count(*) FILTER (WHERE wrong = 'no werk_cron_ticks row'),
		       count(*) FILTER (WHERE wrong = 'werk_cron_ticks rows twice'),
		       count(*) FILTER (WHERE wrong = 'werk_cron_ticks row not enqueued with its job'),
		       coalesce((SELECT string_agg(format('%s@%s: %s', v.name, v.tick, v.wrong), '; ')
		                 FROM (SELECT * FROM verdict WHERE wrong IS NOT NULL ORDER BY name, tick LIMIT 5) v), '')
		FROM verdict`, prefix, ticks).Scan(&noJob, &dupJobs, &badKeys, &noRow, &dupRows, &wrongRows, &examples); err != nil {
		t.Fatal(err)
	}
	if noJob+dupJobs+badKeys+noRow+dupRows+wrongRows != 0 {
		t.Errorf("of %d schedules x %d ticks: %d without a job (lost), %d with jobs twice, %d with a wrong key, "+
			"%d without a werk_cron_ticks row, %d with rows twice, %d whose row is not 'enqueued' with its job; e.g. %s",
			n, len(ticks), noJob, dupJobs, badKeys, noRow, dupRows, wrongRows, examples)
	}
	newest := ticks[len(ticks)-1]
	if extra := pgtest.QueryOne[string](t, tx, `SELECT coalesce(string_agg(x, '; '), '') FROM (
			(SELECT format('job %s@%s', cron_name, scheduled_at) AS x FROM werk_jobs
			 WHERE cron_name LIKE $1 || '%' AND scheduled_at <= $3 AND scheduled_at <> ALL ($2) LIMIT 5)
			UNION ALL
			(SELECT format('werk_cron_ticks %s@%s %s', name, tick_at, outcome) FROM werk_cron_ticks
			 WHERE name LIKE $1 || '%' AND tick_at <= $3 AND (tick_at <> ALL ($2) OR outcome <> 'enqueued') LIMIT 5)) e`,
		prefix, ticks, newest); extra != "" {
		t.Errorf("jobs or werk_cron_ticks rows besides the enqueued ticks (the first few): %s", extra)
	}
}

// backend is one server session of a ticker process, from pg_stat_activity.
type backend struct {
	pid    int32
	helper bool // a connection of the fan-out (application_name "... fan-out")
	leader bool // stamped " leader@": its session leads
	active bool // running a statement
	tick   bool // the statement (running, or the last one) is the tick statement
}

// appOf is a regular expression for the application_name of every session of the
// ticker process p ("werkcron <host>/<pid>", with " leader@..." or " fan-out").
func appOf(p *proc) string { return fmt.Sprintf("/%d( |$)", p.pid()) }

// backendsOf lists the server sessions of the ticker process p. It reads only
// pg_stat_activity, which takes no lock a stopped backend could hold.
func backendsOf(pool *pgxpool.Pool, p *proc) ([]backend, error) {
	rows, err := pool.Query(ctx, `SELECT pid, application_name LIKE '% fan-out', application_name LIKE '% leader@%',
			coalesce(state = 'active', false), coalesce(query LIKE $2, false)
		FROM pg_stat_activity WHERE datname = current_database() AND application_name ~ $1`, appOf(p), tickStatement)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (backend, error) {
		var b backend
		err := r.Scan(&b.pid, &b.helper, &b.leader, &b.active, &b.tick)
		return b, err
	})
}

// dbNow is the database's clock.
func dbNow(t testing.TB, pool *pgxpool.Pool) time.Time {
	t.Helper()
	return pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`)
}

// sleepUntil sleeps until the database's clock reads at.
func sleepUntil(t testing.TB, pool *pgxpool.Pool, at time.Time) {
	t.Helper()
	time.Sleep(at.Sub(dbNow(t, pool))) // the sleep is the schedule's own timing
}

// 1. SIGKILL of a primary writing a fan-out of 20,000 ticks over four connections: the
// schedules share one instant, written as two statements of 10,000, each in four parts
// of 2,500; the primary is killed once part of the instant has committed and at least
// three of its connections, two of them the fan-out's, are in the tick statement.
//
// The server notices that a client died only when it next writes to it: each statement
// of the dead primary runs on until it has written everything and sends its result (of
// 2,500 rows here, more than the server's output buffer: it meets the closed socket, and
// the statement rolls back). So that the standby surely takes over while the dead
// primary's fan-out connections are still in their statements, their server processes
// are stopped (SIGSTOP: a busy server) just before the kill, and let go (SIGCONT) once the
// standby leads and writes the same instant, waiting on their row locks where they hold
// any (lock_timeout ends each wait; it sets those schedules aside and tries again). Every
// schedule must end with exactly one job for the instant, the ledger with each tick once,
// and the next tick must follow for every schedule.
//
// (A statement of a primary whose connection is closed, as here, commits after its
// death only when its result fits the output buffer, a hundred rows or so: never in a
// fan-out whose schedules have a tick each, as its parts have at least 1,000 ticks. So
// neither the fence nor the compare-and-set is what this test exercises: it is the
// standby's writing around the dead primary's statements. A statement that commits
// after the standby decided the same ticks is test 2's standby-running.)
func TestFanoutSigkillPrimary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a fan-out of 20,000 twice, with server processes stopped")
	}
	// A cluster of its own: a stopped server process may hold what other sessions wait for.
	c := newCluster(t)
	dsn := createDB(t, c.DSN("postgres"), "werk")
	pool := migrate(t, dsn)
	const n, every = 20000, 20
	addFanout(t, pool, "f", n, every, 0)
	// Statements that last long enough (half a second per part) that one seen in flight
	// is still in flight when its server process is stopped, however busy the machine.
	slowJobInserts(t, pool)
	// Reads of the plan of 10,000: the fan-out takes two, so that the second part is
	// written while the first has committed.
	p := startTicker(t, dsn, "--parallel", "4", "--horizon-rows", "10000")
	if first := waitInstances(t, pool, 1, 10*time.Second); first.osPid != p.pid() {
		t.Fatalf("primary %+v, want the first ticker (pid %d)", first, p.pid())
	}
	s := startTicker(t, dsn, "--parallel", "4", "--horizon-rows", "10000")
	waitInstances(t, pool, 2, 10*time.Second)
	anchor := anchorFanout(t, pool, "f", 5*time.Second)
	watch := watchPrimaries(t, pool)
	instant := []time.Time{anchor}
	jobs := func(extra string, args ...any) int64 {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'f%' AND scheduled_at = $1`+extra,
			append([]any{anchor}, args...)...)
	}

	// The fan-out in flight.
	var inFlight []backend
	for deadline := time.Now().Add(time.Until(anchor) + 30*time.Second); ; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw three of the primary's connections writing the fan-out at once, with part of it committed")
		}
		if done := jobs(""); done == 0 || done == n {
			continue
		}
		inFlight = inFlight[:0]
		helpers := 0
		for _, b := range mustBackends(t, pool, p) {
			if b.active && b.tick {
				inFlight = append(inFlight, b)
				if b.helper {
					helpers++
				}
			}
		}
		if len(inFlight) >= 3 && helpers >= 2 {
			break
		}
	}
	var stopped []int32
	for _, b := range inFlight {
		if b.helper {
			stopped = append(stopped, b.pid)
		}
	}
	var resumeOnce sync.Once
	resume := func() {
		resumeOnce.Do(func() {
			for _, pid := range stopped {
				_ = syscall.Kill(int(pid), syscall.SIGCONT)
			}
		})
	}
	t.Cleanup(resume) // registered after the cluster's removal, so run before it
	for _, pid := range stopped {
		if err := syscall.Kill(int(pid), syscall.SIGSTOP); err != nil {
			resume()
			t.Fatalf("stop the server process %d: %v", pid, err)
		}
	}
	// Whatever happens below, they are let go within seconds: a stopped process may hold
	// a lock of the server's own that a query of this test (pg_locks) waits for.
	watchdog := time.AfterFunc(8*time.Second, resume)
	defer watchdog.Stop()
	var leaderBackend int32
	for _, b := range mustBackends(t, pool, p) {
		if b.leader {
			leaderBackend = b.pid
		}
	}
	p.signal(syscall.SIGKILL)
	killed := time.Now()
	p.wait(t, 5*time.Second)
	before := jobs("")
	t.Logf("primary killed with %d of its connections in the tick statement (%d fan-out connections' server processes stopped); "+
		"%d of the instant's %d jobs committed by then", len(inFlight), len(stopped), before, n)

	// The standby takes over once the old leader's session ends.
	tookOver := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var oldGone, newLeads bool
		if err := pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1),
				EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name ~ $2 AND application_name LIKE '% leader@%')`,
			leaderBackend, appOf(s)).Scan(&oldGone, &newLeads); err != nil {
			t.Fatal(err)
		}
		if oldGone && newLeads {
			tookOver = true
			break
		}
	}
	if tookOver {
		took := time.Since(killed)
		// The stopped statements are still there, mid-statement, while the standby leads.
		alive := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY ($1) AND state = 'active'`, stopped)
		if alive == 0 {
			t.Fatalf("the standby took over, but none of the old primary's stopped statements was still there")
		}
		// The standby writes the instant: until it waits on their row locks, or has
		// committed part of it, for a second or two.
		blocked := false
		var byNew int64
		for until := time.Now().Add(2 * time.Second); !blocked && byNew == 0 && time.Now().Before(until); time.Sleep(5 * time.Millisecond) {
			blocked = pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE application_name ~ $1 AND pg_blocking_pids(pid) && $2::integer[])`, appOf(s), stopped)
			byNew = jobs(" AND enqueued_at > $2", killed)
		}
		t.Logf("the standby took over %s after the kill, while %d of the old primary's statements were still in flight "+
			"(it waited on their row locks: %v; it had committed %d jobs of the instant)", ms(took), alive, blocked, byNew)
	} else {
		// A stopped process may hold a lock of the server's own that the old session
		// needs to end; then the takeover comes once they are let go.
		t.Logf("no takeover within 5s of the kill while the old primary's statements were stopped; letting them go")
	}
	resume()

	waitJobs(t, pool, "f", n, instant, 60*time.Second)
	byOld := jobs(" AND enqueued_at <= $2", killed)
	t.Logf("the instant's jobs: %d by the old primary (%d of them committed after the kill), %d by the new one",
		byOld, byOld-before, int64(n)-byOld)
	checkFanout(t, pool, "f", n, instant)

	// The next tick follows for every schedule, once.
	both := ticksFrom(anchor, every, 2)
	waitJobs(t, pool, "f", n, both, time.Until(both[1])+60*time.Second)
	watch()
	checkFanout(t, pool, "f", n, both)
	if in := waitInstances(t, pool, 1, 5*time.Second); in.osPid != s.pid() {
		t.Errorf("primary %+v, want the standby (pid %d)", in, s.pid())
	}
}

// slowJobInserts makes one job insert in five sleep a millisecond (a trigger on werk_jobs,
// a superuser's, which the ticker trusts), so that a tick statement of 10,000 ticks runs
// for about two seconds: long enough, on a loaded machine too, to freeze its client and
// hand the lock over while it is still in flight.
func slowJobInserts(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	pgtest.Exec(t, pool, `CREATE FUNCTION slow_job_insert() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF pg_catalog.hashtext(NEW.key) % 5 = 0 THEN
				PERFORM pg_catalog.pg_sleep(0.001);
			END IF;
			RETURN NEW;
		END $$`)
	pgtest.Exec(t, pool, `CREATE TRIGGER slow_job_insert BEFORE INSERT ON werk_jobs FOR EACH ROW EXECUTE FUNCTION slow_job_insert()`)
}

func mustBackends(t testing.TB, pool *pgxpool.Pool, p *proc) []backend {
	t.Helper()
	bs, err := backendsOf(pool, p)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// 2. SIGSTOP of a primary writing a fan-out over two connections, whose leader session is
// then terminated (pg_terminate_backend): the leader lock passes to the standby's session
// while the frozen primary's fan-out connection stays open, its statement in flight and
// more of the fan-out still to write. Then the old primary is let go (SIGCONT).
//
// The fan-out comes in more parts than the primary has connections, so that its fan-out
// connection, once let go, goes on to a part it begins after the lock was lost: 6,000
// schedules with six ticks a second apart, the first four due at once when the fan-out
// is written (the primary is frozen across them, then let go): 24,000 ticks, written as
// three statements of at most 10,000 by two connections. The primary is frozen again,
// and its session terminated, once both its connections are in the write phase of their
// first statements (each has a transaction id: the fence, checked before anything is
// written, let them through): the fan-out connection's statement is in flight, begun
// under the lock, and commits after the lock is lost.
//
//   - standby-frozen: the standby's process is frozen while its session waits for the
//     lock inside the server (the session takes the lock all the same), and let go only
//     once the old primary has given up and stands by again. Whatever begins after the
//     loss and writes can then only be the old primary's: the statement its fan-out
//     connection begins after the loss must write nothing (the fence).
//   - standby-running: the standby takes over at once and decides the ticks of the
//     statement still in flight before that commits (writing them, it runs into the
//     statement's row locks and sets those schedules aside); its decisions on them, in
//     that statement or when it tries them again, the compare-and-set must turn down.
//
// In both, job inserts are slowed (slowJobInserts) once the backlog is due, so that the
// statements in flight outlast the freezing, the takeover and the checks in between,
// however busy the machine is.
//
// In both, every tick must end enqueued exactly once.
func TestFanoutSigstopPrimary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("fan-outs of 24,000 ticks and several freezes")
	}
	t.Run("standby-frozen", func(t *testing.T) { t.Parallel(); sigstopMidFanout(t, true) })
	t.Run("standby-running", func(t *testing.T) { t.Parallel(); sigstopMidFanout(t, false) })
}

func sigstopMidFanout(t *testing.T, standbyFrozen bool) {
	dsn, pool := migratedDB(t)
	// Six ticks, the first four due at once when the fan-out is written: the schedules
	// still have a tick to come afterwards (an ended schedule has no next_run_at, which
	// alone would turn a stale decision down).
	const n, ticks, backlog = 6000, 6, 4
	addFanout(t, pool, "g", n, 1, ticks)
	// No heartbeat during the freezes: it would end the frozen primary's session on its
	// own deadline, which is not the fault under test.
	p := startTicker(t, dsn, "--parallel", "2", "--heartbeat", "1m")
	t.Cleanup(func() { p.signal(syscall.SIGCONT) })
	if first := waitInstances(t, pool, 1, 10*time.Second); first.osPid != p.pid() {
		t.Fatalf("primary %+v, want the first ticker (pid %d)", first, p.pid())
	}
	standbyArgs := []string{}
	if standbyFrozen {
		// It waits for the lock inside the server a minute at a time, so that it is still
		// waiting there when it is frozen.
		standbyArgs = append(standbyArgs, "--standby-retry", "1m")
	}
	s := startTicker(t, dsn, standbyArgs...)
	t.Cleanup(func() { s.signal(syscall.SIGCONT) })
	waitInstances(t, pool, 2, 10*time.Second)
	anchor := anchorFanout(t, pool, "g", 5*time.Second)
	all := ticksFrom(anchor, 1, ticks)
	watch := watchPrimaries(t, pool)

	// The backlog: the primary is frozen across the first four ticks.
	sleepUntil(t, pool, anchor.Add(-700*time.Millisecond))
	p.signal(syscall.SIGSTOP)
	if got := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'g%'`); got != 0 {
		t.Fatalf("%d jobs before the primary was frozen ahead of the first tick: the machine is too slow for this test's timing", got)
	}
	sleepUntil(t, pool, all[backlog-1].Add(300*time.Millisecond))

	var standby int32 // the standby's session
	pgtest.Eventually(t, 70*time.Second, "the standby's session waiting for the leader lock", func() bool {
		var fresh bool
		err := pool.QueryRow(ctx, `SELECT pid, clock_timestamp() - query_start < interval '40 s' FROM pg_stat_activity
			WHERE application_name ~ $1 AND state = 'active' AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
			appOf(s)).Scan(&standby, &fresh)
		return err == nil && (fresh || !standbyFrozen)
	})
	if standbyFrozen {
		s.signal(syscall.SIGSTOP)
	}
	slowJobInserts(t, pool)

	// The primary, let go, writes the fan-out; frozen again once both its connections
	// write their first statements, before either has committed.
	p.signal(syscall.SIGCONT)
	var leaderStmt, helperStmt int32
	for deadline := time.Now().Add(30 * time.Second); leaderStmt == 0 || helperStmt == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw the primary's two connections writing the fan-out at once")
		}
		rows, err := pool.Query(ctx, `SELECT pid, application_name LIKE '% fan-out' FROM pg_stat_activity
			WHERE application_name ~ $1 AND state = 'active' AND query LIKE $2 AND backend_xid IS NOT NULL`, appOf(p), tickStatement)
		if err != nil {
			t.Fatal(err)
		}
		leaderStmt, helperStmt = 0, 0
		for rows.Next() {
			var pid int32
			var helper bool
			if err := rows.Scan(&pid, &helper); err != nil {
				t.Fatal(err)
			}
			if helper {
				helperStmt = pid
			} else {
				leaderStmt = pid
			}
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	p.signal(syscall.SIGSTOP)
	if got := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'g%'`); got != 0 {
		t.Fatalf("%d jobs committed before the primary was frozen: its connections may have begun the third part already", got)
	}

	// Its session terminated, the lock passes to the standby's session.
	pgtest.Exec(t, pool, `SELECT pg_terminate_backend($1)`, leaderStmt)
	var lost time.Time
	pgtest.Eventually(t, 10*time.Second, "the standby's session holding the leader lock", func() bool {
		var holder *int32
		if err := pool.QueryRow(ctx, `SELECT werk_cron_leader_pid(), clock_timestamp()`).Scan(&holder, &lost); err != nil {
			t.Fatal(err)
		}
		return holder != nil && *holder == standby
	})
	if !pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')`, helperStmt) {
		t.Fatalf("the frozen primary's fan-out statement was no longer running when the lock passed")
	}

	if !standbyFrozen {
		// The new primary decides the ticks of the statement in flight before that commits:
		// it reads the plan before its first tick statement, which begins while the old
		// one still runs. (Writing them, it waits on that statement's row locks, and sets
		// those schedules aside when lock_timeout ends a wait.)
		pgtest.Eventually(t, 20*time.Second, "a tick statement of the new primary", func() bool {
			var newRuns, oldRuns bool
			if err := pool.QueryRow(ctx, `SELECT
					EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name ~ $1 AND state = 'active' AND query LIKE $3),
					EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $2 AND state = 'active')`,
				appOf(s), helperStmt, tickStatement).Scan(&newRuns, &oldRuns); err != nil {
				t.Fatal(err)
			}
			if !oldRuns {
				t.Fatalf("the old primary's statement in flight ended before the new primary began writing the fan-out: the case under test did not happen")
			}
			return newRuns
		})
		if pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'g%' AND enqueued_at < $1`, lost) != 0 {
			t.Fatalf("the old primary's statement committed before the new primary began writing the fan-out: the case under test did not happen")
		}
	}

	// The old primary, let go, goes on until it has given up and closed its fan-out
	// connections; its log then tells which tick statements those began after the loss.
	p.signal(syscall.SIGCONT)
	rejoined := func() bool {
		ins, err := instances(pool)
		if err != nil {
			return false
		}
		back := false
		for _, in := range ins {
			back = back || in.osPid == p.pid() && in.role == "standby" && in.backend != leaderStmt
		}
		bs, err := backendsOf(pool, p)
		if err != nil {
			return false
		}
		for _, b := range bs {
			if b.helper {
				return false
			}
		}
		return back
	}
	for deadline := time.Now().Add(60 * time.Second); !rejoined(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the old primary was not back as a standby, its fan-out connections closed, within 60s of SIGCONT")
			break
		}
	}
	after := fanoutStatementsAfter(t, p, lost)
	// The statement in flight at the loss, begun under the lock, committed all the same.
	byOld := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'g%' AND enqueued_at < $1`, lost)
	if standbyFrozen {
		if after == 0 {
			t.Fatalf("the old primary's fan-out connection began no tick statement after the lock was lost: the case under test did not happen")
		}
		// Only the old primary ran meanwhile: whatever began after the loss and wrote is its.
		if wrote := pgtest.QueryOne[string](t, pool, `SELECT format('%s jobs, %s ledger rows',
				(SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'g%' AND enqueued_at > $1),
				(SELECT count(*) FROM werk_cron_ledger WHERE name LIKE 'g%' AND decided_at > $1))`, lost); wrote != "0 jobs, 0 ledger rows" {
			t.Errorf("the old primary wrote %s in the %d tick statements its fan-out connection began after its session lost the leader lock",
				wrote, after)
		} else {
			t.Logf("the old primary's fan-out connection finished its statement in flight (%d jobs, committed after the loss) "+
				"and began %d tick statements after the loss, which wrote nothing", byOld, after)
		}
		s.signal(syscall.SIGCONT) // the standby, let go, leads and enqueues the rest
	} else {
		t.Logf("the old primary's statement in flight committed %d jobs after the new primary had decided those ticks; "+
			"its fan-out connection began %d tick statements after the loss", byOld, after)
	}
	if byOld == 0 {
		t.Errorf("the old primary's statement in flight at the loss committed nothing: the case under test did not happen")
	}

	waitJobs(t, pool, "g", n, all, 60*time.Second)
	pgtest.Eventually(t, 30*time.Second, "every schedule done with its last tick", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE name LIKE 'g%'
			AND (last_tick_at IS DISTINCT FROM $1 OR next_run_at IS NOT NULL)`, all[ticks-1]) == 0
	})
	watch()
	checkFanout(t, pool, "g", n, all)
	if in := waitInstances(t, pool, 2, 5*time.Second); in.osPid != s.pid() {
		t.Errorf("primary %+v, want the standby (pid %d)", in, s.pid())
	}
	if !standbyFrozen {
		t.Logf("the new primary set aside %d schedules held by the old primary's statement, and tried them again",
			strings.Count(s.out.String(), "schedule blocked by another session; set aside"))
	}
}

// fanoutStatementsAfter counts the tick statements p's fan-out connections began after
// since, from p's log ("tick statement on a fan-out connection", at debug level): one
// its leader fence stops ends within a millisecond, too soon for a poll of
// pg_stat_activity to see it every time on a busy machine.
func fanoutStatementsAfter(t *testing.T, p *proc, since time.Time) int {
	t.Helper()
	count := func() int {
		n := 0
		// Whole lines only: the log is copied from the ticker's pipe as it comes.
		out := p.out.String()
		for _, l := range strings.Split(out[:strings.LastIndex(out, "\n")+1], "\n") {
			if !strings.Contains(l, `msg="tick statement on a fan-out connection"`) {
				continue
			}
			_, rest, _ := strings.Cut(l, " began=")
			began, err := time.Parse(time.RFC3339Nano, strings.Split(rest, " ")[0])
			if err != nil {
				t.Fatalf("a fan-out statement's log line: %v: %s", err, l)
			}
			if began.After(since) {
				n++
			}
		}
		return n
	}
	// The lines of its last statements may still be on their way from its pipe.
	n := count()
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		if again := count(); again != n {
			n = again
		} else {
			break
		}
	}
	return n
}
