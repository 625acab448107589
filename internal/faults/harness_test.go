// Package faults is werkcron's fault-injection suite: real `werkcron run` processes,
// real signals, throwaway PostgreSQL clusters, and SQL over werk_jobs and
// werk_cron_ticks to prove that no fault enqueues a tick twice or loses one that must
// run. The soak test (random faults for a while) runs only with WERK_SOAK=<duration>.
package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// werkcronBin is the binary under test, built once by TestMain with the test hooks of
// cmd/werkcron/testhooks.go (run --clock-skew), which a production build lacks.
var werkcronBin string

// netnsBinEnv hands werkcronBin to the test binary that partition_test.go re-executes
// inside a network namespace of its own.
const netnsBinEnv = "WERKCRON_FAULTS_BIN"

func TestMain(m *testing.M) {
	if bin := os.Getenv(netnsBinEnv); bin != "" {
		// Re-executed in a network namespace of its own (partition_test.go): the parent
		// process built the binary and keeps it until this one ends.
		werkcronBin = bin
		os.Exit(pgtest.Main(m))
	}
	os.Exit(pgtest.MainWithWerkcron(m, &werkcronBin, "-tags", "werkcron_testhooks"))
}

// ---- processes ----

// proc is one `werkcron run` process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *pgtest.SyncBuffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startTicker starts `werkcron run --dsn dsn args...`; it is killed when t ends.
func startTicker(t testing.TB, dsn string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &pgtest.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(werkcronBin, append([]string{"run", "--dsn", dsn, "--log-level", "debug"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "DATABASE_URL=")
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start werkcron: %v", err)
	}
	p.name = fmt.Sprintf("ticker pid %d %v", p.cmd.Process.Pid, args)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not die", p.name)
		}
		if t.Failed() {
			// The ticker logs at debug level; its loop's sleeps would fill the tail.
			var keep []string
			for _, l := range strings.Split(p.out.String(), "\n") {
				if !strings.Contains(l, "level=DEBUG msg=sleep") {
					keep = append(keep, l)
				}
			}
			t.Logf("--- %s log:\n%s", p.name, tail(strings.Join(keep, "\n"), 200))
		}
	})
	return p
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// signal sends sig unless the process has exited.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %s", p.name, within)
	}
	return p.cmd.ProcessState.ExitCode()
}

// kill SIGKILLs the process and waits for it.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	p.signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
}

// ---- databases ----

var ctx = context.Background()

// newCluster boots a cluster of the test's own (to stop, restart or fail over), under
// pgtest.ClusterDir (tmpfs when there is room); it is removed when t ends.
func newCluster(t testing.TB) *pgtest.Cluster {
	t.Helper()
	return pgtest.NewCluster(t)
}

// createDB creates database name on the server at admin and returns its URL.
func createDB(t testing.TB, admin, name string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return pgtest.WithDatabase(admin, name)
}

// migratedDB returns a fresh migrated database on the package's shared cluster (a copy
// of pgtest's migrated template), for tests that need no server of their own, and a
// pool on it.
func migratedDB(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	dsn := pgtest.MigratedDB(t)
	return dsn, openPool(t, dsn)
}

// migrate migrates the database at dsn and returns a small pool on it for the test's
// own queries (closed when t ends).
func migrate(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	if err := scheduler.Migrate(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	return openPool(t, dsn)
}

// openPool returns a small pool on dsn for the test's own queries (closed when t ends).
func openPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["application_name"] = "faults-test"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ---- schedules ----

// addSchedules inserts n schedules s00, s01, ... every second, their catch-up policy
// cycling through all, latest and none, plus c2, a six-field cron every two seconds
// with catchup = 'all'. All share one changed_at.
func addSchedules(t testing.TB, pool *pgxpool.Pool, n int) {
	t.Helper()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup)
		SELECT format('s%s', lpad(i::text, 2, '0')), 'app.tick', 1,
		       (ARRAY['all', 'latest', 'none'])[i % 3 + 1]
		FROM generate_series(0, $1 - 1) i`, n)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup)
		VALUES ('c2', 'app.cron', '*/2 * * * * *', 'all')`)
}

// waitProgress waits until every schedule has enqueued a tick after the database's now
// at the time of the call: schedules run (again).
func waitProgress(t testing.TB, pool *pgxpool.Pool, within time.Duration) {
	t.Helper()
	since := pgtest.QueryOne[time.Time](t, pool, `SELECT now()`)
	pgtest.Eventually(t, within, "every schedule enqueues a tick after "+since.Format(time.RFC3339Nano), func() bool {
		var behind int64
		err := pool.QueryRow(ctx, `SELECT count(*) FROM werk_cron_jobs j
			WHERE NOT EXISTS (SELECT 1 FROM werk_jobs w WHERE w.cron_name = j.name AND w.scheduled_at > $1)`,
			since).Scan(&behind)
		return err == nil && behind == 0
	})
}

// ---- instances ----

type instance struct {
	backend int32  // backend pid
	role    string // primary or standby
	osPid   int    // the werkcron process, from its application_name
	app     string
}

var appPid = regexp.MustCompile(`/(\d+)$`)

func instances(pool *pgxpool.Pool) ([]instance, error) {
	rows, err := pool.Query(ctx, `SELECT pid, role, application_name FROM werk_cron_instances`)
	if err != nil {
		return nil, err
	}
	var out []instance
	for rows.Next() {
		var in instance
		if err := rows.Scan(&in.backend, &in.role, &in.app); err != nil {
			return nil, err
		}
		if m := appPid.FindStringSubmatch(in.app); m != nil {
			in.osPid, _ = strconv.Atoi(m[1])
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// waitInstances waits until werk_cron_instances lists n tickers, exactly one of them
// primary, and returns the primary.
func waitInstances(t testing.TB, pool *pgxpool.Pool, n int, within time.Duration) instance {
	t.Helper()
	var primary instance
	var last []instance
	pgtest.Eventually(t, within, fmt.Sprintf("%d tickers, one primary (last seen %+v)", n, &last), func() bool {
		ins, err := instances(pool)
		if err != nil {
			return false
		}
		last = ins
		primaries := 0
		for _, in := range ins {
			if in.role == "primary" {
				primaries++
				primary = in
			}
		}
		return len(ins) == n && primaries == 1
	})
	return primary
}

// waitGone waits until no instance of the ticker process osPid is listed: a killed
// ticker's session lingers until its backend notices, and is listed (as primary, if it
// was) until then.
func waitGone(t testing.TB, pool *pgxpool.Pool, osPid int, within time.Duration) {
	t.Helper()
	pgtest.Eventually(t, within, fmt.Sprintf("the session of ticker %d gone", osPid), func() bool {
		ins, err := instances(pool)
		if err != nil {
			return false
		}
		for _, in := range ins {
			if in.osPid == osPid {
				return false
			}
		}
		return true
	})
}

// watchPrimaries samples werk_cron_instances until the returned stop is called, and
// fails t if a sample ever shows more than one primary. stop returns the number of
// samples taken.
func watchPrimaries(t testing.TB, pool *pgxpool.Pool) (stop func() int) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var samples, worst int
	var bad []instance
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(25 * time.Millisecond):
			}
			ins, err := instances(pool)
			if err != nil {
				continue // a restart in progress
			}
			samples++
			n := 0
			for _, in := range ins {
				if in.role == "primary" {
					n++
				}
			}
			if n > worst {
				worst, bad = n, ins
			}
		}
	})
	var once sync.Once
	stop = func() int {
		once.Do(func() {
			close(done)
			wg.Wait()
			if worst > 1 {
				t.Errorf("werk_cron_instances showed %d primaries at once: %+v", worst, bad)
			}
		})
		return samples
	}
	t.Cleanup(func() { stop() })
	return stop
}

// ---- the ledger ----

type ledgerRow struct {
	tick    time.Time
	outcome string
	jobID   *string
}

type jobRow struct {
	id, key             string
	scheduled, enqueued time.Time
}

// ledgerStats summarise checkLedger's findings.
type ledgerStats struct {
	Schedules, Jobs, Missed int
}

// checkLedger asserts what must hold after any fault, over werk_jobs and
// werk_cron_ticks:
//   - at most one job per (schedule, tick), with the key cron:<schedule>:<tick in UTC,
//     to the second>, never enqueued before its tick; the ledger and the jobs agree row for row; no 'duplicate' outcome
//     (a tick decided twice);
//   - every tick on the schedule's grid and not in the future;
//   - catchup = 'all': no missed tick, and the ticks form one gap-free sequence from the
//     schedule's first tick on;
//   - last_tick_at is the newest decided tick.
//
// Tickers may still be running: everything is read from one snapshot, taken before the
// database's clock is read, so that what is read is consistent and not newer than dbNow.
func checkLedger(t testing.TB, pool *pgxpool.Pool) ledgerStats {
	t.Helper()
	var st ledgerStats
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	dbNow := pgtest.QueryOne[time.Time](t, tx, `SELECT clock_timestamp()`) // the snapshot is taken first
	if n := pgtest.QueryOne[int64](t, tx, `SELECT count(*) FROM (SELECT cron_name, scheduled_at FROM werk_jobs
		WHERE cron_name IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d (schedule, tick) pairs have more than one job", n)
	}
	type sched struct {
		name, cron, catchup string
		interval            int
		changed             time.Time
		lastTick            *time.Time
	}
	rows, err := tx.Query(ctx, `SELECT name, coalesce(cron, ''), catchup, coalesce(interval_secs, 0),
		greatest(starts_at, date_trunc('second', changed_at)), (SELECT s.last_tick_at FROM werk_cron_state s WHERE s.name = j.name)
		FROM werk_cron_jobs j ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var scheds []sched
	for rows.Next() {
		var s sched
		if err := rows.Scan(&s.name, &s.cron, &s.catchup, &s.interval, &s.changed, &s.lastTick); err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, s := range scheds {
		st.Schedules++
		var ledger []ledgerRow
		lrows, err := tx.Query(ctx, `SELECT tick_at, outcome, job_id::text FROM werk_cron_ticks WHERE name = $1 ORDER BY tick_at`, s.name)
		if err != nil {
			t.Fatal(err)
		}
		for lrows.Next() {
			var r ledgerRow
			if err := lrows.Scan(&r.tick, &r.outcome, &r.jobID); err != nil {
				t.Fatal(err)
			}
			ledger = append(ledger, r)
		}
		jobs := map[string]jobRow{}
		jrows, err := tx.Query(ctx, `SELECT id::text, key, scheduled_at, enqueued_at FROM werk_jobs WHERE cron_name = $1`, s.name)
		if err != nil {
			t.Fatal(err)
		}
		for jrows.Next() {
			var j jobRow
			if err := jrows.Scan(&j.id, &j.key, &j.scheduled, &j.enqueued); err != nil {
				t.Fatal(err)
			}
			jobs[j.id] = j
			st.Jobs++
			if want := "cron:" + s.name + ":" + j.scheduled.UTC().Format("2006-01-02T15:04:05Z"); j.key != want {
				t.Errorf("%s: job key %q, want %q", s.name, j.key, want)
			}
			if j.enqueued.Before(j.scheduled) {
				t.Errorf("%s: tick %s enqueued early, at %s", s.name, j.scheduled, j.enqueued)
			}
		}
		// Grid: interval schedules at their anchor (changed_at to the second, or
		// starts_at if later) + k * interval; the tests' crons are "*/N * * * * *": every
		// N seconds, strictly after that.
		step, first := time.Duration(s.interval)*time.Second, s.changed
		if s.cron != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(strings.Fields(s.cron)[0], "*/"))
			if err != nil {
				t.Fatalf("checkLedger knows only */N seconds crons, not %q", s.cron)
			}
			step = time.Duration(n) * time.Second
			first = s.changed.Truncate(step).Add(step)
		}
		var enq []time.Time
		matched := 0
		for _, r := range ledger {
			if r.tick.After(dbNow) {
				t.Errorf("%s: tick %s is in the future (now %s)", s.name, r.tick, dbNow)
			}
			if r.tick.Before(first) || r.tick.Sub(first)%step != 0 {
				t.Errorf("%s: tick %s is off the grid (first %s, every %s)", s.name, r.tick, first, step)
			}
			switch r.outcome {
			case "enqueued":
				enq = append(enq, r.tick)
				j, ok := jobs[deref(r.jobID)]
				if !ok || !j.scheduled.Equal(r.tick) {
					t.Errorf("%s: ledger says tick %s enqueued job %s, which is not its job", s.name, r.tick, deref(r.jobID))
				} else {
					matched++
				}
			case "missed":
				st.Missed++
				if s.catchup == "all" {
					t.Errorf("%s (catchup all): tick %s missed", s.name, r.tick)
				}
			default:
				t.Errorf("%s: tick %s has outcome %q", s.name, r.tick, r.outcome)
			}
		}
		if matched != len(jobs) {
			t.Errorf("%s: %d jobs but %d ledger rows point at one", s.name, len(jobs), matched)
		}
		if s.catchup == "all" && len(enq) > 0 {
			if !enq[0].Equal(first) {
				t.Errorf("%s (catchup all): first tick %s, want %s", s.name, enq[0], first)
			}
			for i := 1; i < len(enq); i++ {
				if d := enq[i].Sub(enq[i-1]); d != step {
					t.Errorf("%s (catchup all): %s between ticks %s and %s (want %s): lost ticks",
						s.name, d, enq[i-1], enq[i], step)
				}
			}
		}
		if len(ledger) > 0 {
			newest := ledger[len(ledger)-1].tick
			if s.lastTick == nil || !s.lastTick.Equal(newest) {
				t.Errorf("%s: last_tick_at %v, but the newest decided tick is %s", s.name, s.lastTick, newest)
			}
		}
	}
	return st
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ---- numbers ----

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func worst(ds []time.Duration) time.Duration {
	var w time.Duration
	for _, d := range ds {
		w = max(w, d)
	}
	return w
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
