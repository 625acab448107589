//go:build linux

package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// Partitions: the primary ticker's connection is blackholed (its packets vanish, nothing
// closes), in both directions or in one. The server must end the cut-off primary's session
// on its TCP settings alone (keepalives and tcp_user_timeout, set by the ticker's session:
// internal/leader/tcp.go), which hands the leader lock to the standby already waiting for
// it inside the server; the cut-off primary notices, writes nothing more, and rejoins as
// a standby once the link is back.
//
// It all happens in a network namespace of the test's own: TestPartition re-executes its
// test binary under `unshare --net`, where the only interface is a loopback of its own, so
// that no rule it adds can touch the host's network, and the namespace (rules included)
// is gone when that process ends. In there the server listens on the whole loopback range
// and each ticker dials a server address of its own (127.0.0.10, .11, ...), while the
// test's own queries go to 127.0.0.1. The kernel gives every one of these connections
// the source address 127.0.0.1 (the loopback route's), so a cut matches a ticker's
// server address and the server's port: `ip daddr A tcp dport P` is what the ticker
// sends, `ip saddr A tcp sport P` what the server sends it, reconnection attempts
// included. Packets are dropped as they arrive (the input hook), as on a real network:
// dropped as they leave, a send would fail at once with EPERM, which a partition never
// says.

const (
	// netnsEnv marks the test binary re-executed inside its private network namespace.
	netnsEnv = "WERKCRON_FAULTS_NETNS"
	// nftTable holds the rules that cut tickers off, in the private namespace only.
	nftTable = "werkcron_faults"
	// takeoverGoal is the goal for partition -> the new primary's first job. It
	// is reported, not asserted: a speed goal, on a shared machine.
	takeoverGoal = 5 * time.Second
	// takeoverBound is asserted: a bound that a working failover never comes near.
	takeoverBound = 15 * time.Second
	// fanout is how many schedules of the mid-fan-out case are due at one instant: a tick
	// statement long enough (~0.1-0.3 s) to be cut off while the server runs it.
	fanout = 3000
)

// TestPartition: each case cuts the primary off while a standby waits, measures the time
// from the cut to the new primary's first job, heals the link, and checks that exactly
// one ticker led at any time, that the cut-off primary wrote nothing once cut off (but
// what reached the server) and came back as a standby, and that the ledger has every
// tick of the catchup = 'all' schedules once.
//
// Not parallel with the package's other tests, so that the times it reports are the
// failover's rather than a busy machine's; its cases run in parallel with each other
// (about 20 s in all).
func TestPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts tickers off for seconds")
	}
	if os.Getenv(netnsEnv) == "" {
		runInNetns(t, "^TestPartition$")
		return
	}
	ns := newNetns(t)
	t.Run("idle/both-ways", func(t *testing.T) { t.Parallel(); cutIdle(t, ns, "idle_both", both, 500) })
	t.Run("idle/to-server", func(t *testing.T) { t.Parallel(); cutIdle(t, ns, "idle_to_server", toServer, 250) })
	t.Run("idle/from-server", func(t *testing.T) { t.Parallel(); cutIdle(t, ns, "idle_from_server", fromServer, 750) })
	t.Run("mid-fan-out", func(t *testing.T) { t.Parallel(); cutMidFanout(t, ns) })
	t.Run("flapping", func(t *testing.T) { t.Parallel(); flapping(t, ns) })
}

// cutIdle cuts off a primary between statements (at ms milliseconds into a second of
// the database's clock; its one-second schedules tick at the start of each), heals the
// link a second after the new primary's first job, and checks the old primary's return.
func cutIdle(t *testing.T, ns *netns, db string, dir direction, ms int) {
	p := ns.newPair(t, db, "")
	watch := watchPrimaries(t, p.pool)
	waitProgress(t, p.pool, 5*time.Second)
	atPhase(t, p.pool, ms)
	k := p.measureTakeover(t, func() { ns.cut(t, p.addr, dir) })
	t.Logf("TAKEOVER %s, cut %s: %s", db, dir, k)
	// What the old primary could still write: nothing when its packets to the server
	// vanish (a statement in flight at the cut has its transaction's start before it);
	// when only the server's replies vanish, the one statement that reached the server
	// and whose reply never came back (it held the lock then).
	wrote := p.transactionsBetween(t, k.cut, k.lastAlive)
	if limit := map[direction]int64{both: 0, toServer: 0, fromServer: 1}[dir]; wrote > limit {
		t.Errorf("the cut-off primary committed %d transactions after the cut, want at most %d", wrote, limit)
	}
	time.Sleep(time.Second) // the new primary runs on while the old one is still cut off
	p.healAndRejoin(t, ns, k)
	waitProgress(t, p.pool, 5*time.Second)
	watch()
	st := checkLedger(t, p.pool)
	t.Logf("ledger: %d jobs, %d missed rows (catchup latest/none), catchup all gap-free, none twice", st.Jobs, st.Missed)
}

// cutMidFanout cuts off a primary while the server runs its statement that enqueues
// fanout schedules due at one instant: the server's reply is then what goes unanswered,
// and only tcp_user_timeout (not the keepalives, which wait while data is in flight)
// ends the session before the kernel's ~15 minutes of retransmissions.
func cutMidFanout(t *testing.T, ns *netns) {
	// One anchor for all: changed_at is each row's own clock_timestamp(), and an insert
	// of thousands that straddles a second would give the later rows the next second.
	p := ns.newPair(t, "mid_fanout", fmt.Sprintf(`INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, starts_at)
		SELECT format('f%%s', lpad(i::text, 4, '0')), 'app.fan', 10, 'all', date_trunc('second', now()) + interval '3 seconds'
		FROM generate_series(1, %d) i`, fanout))
	watch := watchPrimaries(t, p.pool)
	anchor := pgtest.QueryOne[time.Time](t, p.pool, `SELECT greatest(starts_at, date_trunc('second', changed_at)) FROM werk_cron_jobs WHERE name = 'f0001'`)
	if n := pgtest.QueryOne[int64](t, p.pool, `SELECT count(DISTINCT greatest(starts_at, date_trunc('second', changed_at))) FROM werk_cron_jobs WHERE name LIKE 'f%'`); n != 1 {
		t.Fatalf("the fan-out's schedules have %d anchors, want one", n)
	}
	pgtest.Eventually(t, 20*time.Second, "the first fan-out enqueued", func() bool {
		return pgtest.QueryOne[int64](t, p.pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE 'f%'`) >= fanout
	})
	next := anchor // the next instant of the fan-out at least a second away
	for time.Until(next) < time.Second {
		next = next.Add(10 * time.Second)
	}
	time.Sleep(time.Until(next) - 100*time.Millisecond) // to just before the fan-out falls due
	// Catch the primary's statement that enqueues it while the server runs it: one that
	// has run for 20 ms (the one-second schedules, due at the same instant, may come in a
	// statement of their own, which takes a few).
	var started time.Time
	for deadline := next.Add(5 * time.Second); ; {
		err := p.pool.QueryRow(ctx, `SELECT query_start FROM pg_stat_activity
			WHERE pid = $1 AND state = 'active' AND query ILIKE '%insert into werk_jobs%'
			  AND query_start >= $2 AND clock_timestamp() - query_start >= interval '20 ms'`, p.backend, next).Scan(&started)
		if err == nil {
			break
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not see the primary's statement enqueueing the fan-out of %s", next.Format(time.RFC3339))
		}
	}
	var inFlight bool
	k := p.measureTakeover(t, func() {
		ns.cut(t, p.addr, both)
		inFlight = pgtest.QueryOne[bool](t, p.pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE pid = $1 AND state = 'active' AND query_start = $2)`, p.backend, started)
	})
	t.Logf("TAKEOVER mid-fan-out of %d, cut both ways %s into the statement (still running when the rules were in: %v): %s",
		fanout, k.cut.Sub(started).Round(100*time.Microsecond), inFlight, k)
	// A fan-out this large is written by two connections; the second one's statement may
	// have been on its way (its connection just opened) while the rules went in, and
	// begins on the server a moment after: it is fenced by the leader's session, which
	// still holds the lock. Nothing may begin once the rules are surely in.
	if wrote := p.transactionsBetween(t, k.cut.Add(rulesIn), k.lastAlive); wrote != 0 {
		t.Errorf("the cut-off primary committed %d transactions that began after the cut", wrote)
	}
	// The statement in flight had all it needed: it commits (under the lock, before the
	// session ends) or it rolls back, and the new primary enqueues what it did not.
	var byOld, byNew int64
	t.Cleanup(func() { // on failure, what each schedule without its job has
		if !t.Failed() {
			return
		}
		rows, err := p.pool.Query(context.Background(), `SELECT s.name || ' last_tick=' || coalesce(s.last_tick_at::text, '-') || ' next=' || coalesce(s.next_run_at::text, '-') ||
			' last_job=' || coalesce(s.last_job_id::text, '-') || ' last_job_at=' || coalesce(s.last_job_at::text, '-') ||
			' job=' || coalesce((SELECT j.id::text || '/' || j.enqueued_at::text FROM werk_jobs j WHERE j.cron_name = s.name AND j.scheduled_at = $1), '-') ||
			' ledger=' || coalesce((SELECT l.outcome || '/' || coalesce(l.job_id::text, '-') FROM werk_cron_ledger l WHERE l.name = s.name AND l.tick_at = $1), '-')
			FROM werk_cron_state s WHERE s.name LIKE 'f%' AND NOT EXISTS (SELECT 1 FROM werk_jobs j WHERE j.cron_name = s.name AND j.scheduled_at = $1)
			ORDER BY s.name LIMIT 20`, next)
		if err != nil {
			t.Logf("diag: %v", err)
			return
		}
		lines, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		t.Logf("schedules without a job of the instant %s (first 20):\n%s", next.Format(time.RFC3339Nano), strings.Join(lines, "\n"))
	})
	pgtest.Eventually(t, 10*time.Second, "every fan-out job of the cut-off instant enqueued", func() bool {
		err := p.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE enqueued_at <= $2), count(*) FILTER (WHERE enqueued_at > $2)
			FROM werk_jobs WHERE cron_name LIKE 'f%' AND scheduled_at = $1`, next, k.lastAlive).Scan(&byOld, &byNew)
		return err == nil && byOld+byNew == fanout
	})
	t.Logf("the fan-out of the cut-off instant: %d jobs committed by the cut-off primary's statement, %d by the new primary", byOld, byNew)
	time.Sleep(time.Second)
	p.healAndRejoin(t, ns, k)
	watch()
	st := checkLedger(t, p.pool)
	t.Logf("ledger: %d schedules, %d jobs, %d missed rows (catchup latest/none), catchup all gap-free, none twice", st.Schedules, st.Jobs, st.Missed)
}

// flapping cuts the primary's link both ways for a second, four times, a second apart:
// shorter than the TCP settings give up after, and with retransmissions getting through
// in between. The ledger must hold whether or not the lead moves; whether it did, and
// how late the one-second schedule's ticks came, is reported.
func flapping(t *testing.T, ns *netns) {
	p := ns.newPair(t, "flapping", "")
	watch := watchPrimaries(t, p.pool)
	waitProgress(t, p.pool, 5*time.Second)
	atPhase(t, p.pool, 300)
	start := time.Now()
	const flaps = 4
	for range flaps {
		ns.cut(t, p.addr, both)
		time.Sleep(time.Second) // the flap is the fault under test
		ns.heal(t, p.addr)
		time.Sleep(time.Second)
	}
	waitProgress(t, p.pool, takeoverBound)
	now := waitInstances(t, p.pool, 2, takeoverBound)
	late := pgtest.QueryOne[float64](t, p.pool, `SELECT coalesce(max(extract(epoch FROM enqueued_at - scheduled_at)), 0)::float8
		FROM werk_jobs WHERE cron_name = 's00' AND scheduled_at >= $1`, start)
	if now.backend == p.backend {
		t.Logf("FLAPPING: the primary kept its session and lead through %d one-second cuts; the one-second schedule's worst tick came %.3fs late", flaps, late)
	} else {
		ended := strings.Count(p.primary.out.String(), "ticker session ended")
		t.Logf("FLAPPING: the lead moved during %d one-second cuts (the old primary's session ended %d times); the one-second schedule's worst tick came %.3fs late", flaps, ended, late)
	}
	watch()
	st := checkLedger(t, p.pool)
	t.Logf("ledger: %d jobs, %d missed rows (catchup latest/none), catchup all gap-free, none twice", st.Jobs, st.Missed)
}

// ---- the namespace ----

// runInNetns runs the tests matching pattern in a new network namespace: this test
// binary again, under `unshare --net`, with its output logged line by line as it comes.
// It skips where no namespace can be made.
func runInNetns(t *testing.T, pattern string) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("cannot make a network namespace: no unshare (util-linux)")
	}
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace (unshare --net: %v: %s): the partition tests need root", err, bytes.TrimSpace(out))
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (apt-get install nftables; .ci/run installs it)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("ip is not installed: the partition tests bring their namespace's loopback up with it (apt-get install iproute2)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	args := []string{"--net", "--", os.Args[0], "-test.run", pattern, "-test.count", "1", "-test.v", "-test.timeout", "5m"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), netnsEnv+"=1", netnsBinEnv+"="+werkcronBin)
	// unshare execs the test binary in its own place: it dies with this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	name := strings.Trim(pattern, "^$")
	var passed, skipped bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		passed = passed || strings.HasPrefix(line, "--- PASS: "+name+" ")
		skipped = skipped || strings.HasPrefix(line, "--- SKIP: "+name+" ")
	}
	r.Close()
	err = cmd.Wait()
	switch {
	case err != nil:
		t.Fatalf("the tests in their network namespace failed (%v): see their output above", err)
	case skipped:
		t.Skip("skipped in the network namespace: see above")
	case !passed:
		t.Fatalf("the tests in their network namespace did not report %s as passed", name)
	}
}

// netns is the inside of the private network namespace: a cluster listening on the whole
// loopback range, and the rules that cut its tickers off.
type netns struct {
	c     *pgtest.Cluster
	host  atomic.Int32 // the last 127.0.0.x handed out
	nftMu sync.Mutex
}

func newNetns(t *testing.T) *netns {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	ns := &netns{}
	ns.host.Store(9)
	ns.nft(t, "add table inet "+nftTable+"\n")
	dir, err := pgtest.ClusterDir()
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgtest.Init(ctx, dir)
	t.Cleanup(func() {
		if c != nil {
			_ = c.Remove(context.Background())
		}
		_ = os.RemoveAll(dir)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The whole loopback range (the only interface here), whatever source address the
	// kernel picks for a connection; and statements shown whole in pg_stat_activity, to
	// tell the fan-out's from the others.
	appendFile(t, filepath.Join(dir, "data", "postgresql.conf"), "\nlisten_addresses = '*'\ntrack_activity_query_size = '64kB'\n")
	appendFile(t, filepath.Join(dir, "data", "pg_hba.conf"), "\nhost all all 127.0.0.0/8 trust\n")
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ns.c = c
	return ns
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// addr hands out a server address no ticker dials yet.
func (ns *netns) addr() string { return fmt.Sprintf("127.0.0.%d", ns.host.Add(1)) }

func (ns *netns) dsnAt(db, addr string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", addr, ns.c.Port, db)
}

// direction says which packets a cut drops.
type direction int

const (
	both       direction = iota
	toServer             // the ticker's packets to the server vanish; the server's arrive
	fromServer           // the server's packets to the ticker vanish; the ticker's arrive
)

func (d direction) String() string {
	return [...]string{"both ways", "ticker to server", "server to ticker"}[d]
}

// cut drops the packets between the server and the tickers that dial it at addr.
func (ns *netns) cut(t testing.TB, addr string, dir direction) {
	chain := "cut_" + strings.ReplaceAll(addr, ".", "_")
	var b strings.Builder
	fmt.Fprintf(&b, "add chain inet %s %s { type filter hook input priority 0; policy accept; }\n", nftTable, chain)
	if dir != fromServer {
		fmt.Fprintf(&b, "add rule inet %s %s ip daddr %s tcp dport %d drop\n", nftTable, chain, addr, ns.c.Port)
	}
	if dir != toServer {
		fmt.Fprintf(&b, "add rule inet %s %s ip saddr %s tcp sport %d drop\n", nftTable, chain, addr, ns.c.Port)
	}
	ns.nft(t, b.String())
}

// heal lets the packets of addr through again.
func (ns *netns) heal(t testing.TB, addr string) {
	chain := "cut_" + strings.ReplaceAll(addr, ".", "_")
	ns.nft(t, fmt.Sprintf("flush chain inet %s %s\ndelete chain inet %s %s\n", nftTable, chain, nftTable, chain))
}

// nft applies script in one transaction.
func (ns *netns) nft(t testing.TB, script string) {
	t.Helper()
	ns.nftMu.Lock()
	defer ns.nftMu.Unlock()
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s\n%s", err, out, script)
	}
}

// ---- two tickers ----

// pair is one database with two tickers, each dialling a server address of its own: the
// primary (started first) and a standby.
type pair struct {
	pool             *pgxpool.Pool // the test's own, at 127.0.0.1
	primary, standby *proc
	addr             string // the primary's server address: what a cut names
	backend          int32  // the primary's backend pid
}

// newPair migrates database db, adds addSchedules' four schedules and then extra (SQL),
// and starts the two tickers.
func (ns *netns) newPair(t *testing.T, db, extra string) *pair {
	t.Helper()
	dsn := createDB(t, ns.c.DSN("postgres"), db)
	p := &pair{pool: migrate(t, dsn), addr: ns.addr()}
	addSchedules(t, p.pool, 3)
	if extra != "" {
		pgtest.Exec(t, p.pool, extra)
	}
	p.primary = startTicker(t, ns.dsnAt(db, p.addr))
	first := waitInstances(t, p.pool, 1, 20*time.Second)
	p.standby = startTicker(t, ns.dsnAt(db, ns.addr()))
	if now := waitInstances(t, p.pool, 2, 20*time.Second); now.backend != first.backend || first.osPid != p.primary.pid() {
		t.Fatalf("the first ticker (pid %d) should lead, got %+v then %+v", p.primary.pid(), first, now)
	}
	p.backend = first.backend
	// As the comment at the top says: the server sees 127.0.0.1 whatever address was dialled.
	if src := pgtest.QueryOne[string](t, p.pool, `SELECT host(client_addr) FROM pg_stat_activity WHERE pid = $1`, p.backend); src != "127.0.0.1" {
		t.Logf("note: the server sees the primary's connection (to %s) from %s", p.addr, src)
	}
	return p
}

// takeover is what one cut took. Times are the host's clock, which the database shares.
// rulesIn bounds how long after the cut instant (taken just before nft runs) a request
// already sent may still begin on the server.
const rulesIn = 200 * time.Millisecond

type takeover struct {
	cut       time.Time // the rules went in (taken just before nft ran)
	lastAlive time.Time // the last sample (database clock) that saw the old backend hold the leader lock
	gone      time.Time // the first that did not: the leader lock was free by then
	firstJob  time.Time // the new primary's first job: its enqueued_at (its transaction's start)
	seen      time.Time // when the test first saw that job committed
}

func (k takeover) String() string {
	s := fmt.Sprintf("leader lock free %s, new primary's first job %s (seen committed %s; goal %s) after the cut",
		ms(k.gone.Sub(k.cut)), ms(k.firstJob.Sub(k.cut)), ms(k.seen.Sub(k.cut)), takeoverGoal)
	if k.firstJob.Sub(k.cut) > takeoverGoal {
		s += ": OVER THE GOAL"
	}
	return s
}

// measureTakeover runs cut and samples until the old primary's backend no longer holds
// the leader lock (its session ended) and the new primary has enqueued a job. Every job
// enqueued after the last sample that saw the old backend hold it is the new primary's:
// the lock passes only once that backend lets it go. (Not the backend's row in
// pg_stat_activity: an ending backend lets its locks go before that row, and a new
// primary can commit its first tick in between.) The clock is read before the locks,
// so the sample's time is before the lock was let go.
func (p *pair) measureTakeover(t *testing.T, cut func()) takeover {
	t.Helper()
	k := takeover{cut: time.Now()}
	cut()
	for {
		var now time.Time
		var alive bool
		if err := p.pool.QueryRow(ctx, `SELECT clock_timestamp(),
				EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND granted)`,
			p.backend).Scan(&now, &alive); err != nil {
			t.Fatal(err)
		}
		if !alive {
			k.gone = now
			break
		}
		k.lastAlive = now
		if now.Sub(k.cut) > takeoverBound {
			t.Fatalf("the cut-off primary's session still held the leader lock %s after the cut", takeoverBound)
		}
		time.Sleep(5 * time.Millisecond) // the sampling interval of what is measured
	}
	for {
		var first *time.Time
		if err := p.pool.QueryRow(ctx, `SELECT min(enqueued_at) FROM werk_jobs WHERE enqueued_at > $1`, k.lastAlive).Scan(&first); err != nil {
			t.Fatal(err)
		}
		if first != nil {
			k.firstJob, k.seen = *first, time.Now()
			break
		}
		if time.Since(k.cut) > takeoverBound {
			t.Fatalf("no job from a new primary within %s of the cut (the old session ended %s after it)", takeoverBound, ms(k.gone.Sub(k.cut)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := k.firstJob.Sub(k.cut); d > takeoverBound {
		t.Errorf("the new primary's first job came %s after the cut, want well within %s (goal %s)", ms(d), takeoverBound, takeoverGoal)
	}
	return k
}

// transactionsBetween counts the transactions that enqueued jobs with an enqueued_at
// (their start) in (from, to].
func (p *pair) transactionsBetween(t *testing.T, from, to time.Time) int64 {
	return pgtest.QueryOne[int64](t, p.pool, `SELECT count(DISTINCT xmin::text) FROM werk_jobs WHERE enqueued_at > $1 AND enqueued_at <= $2`, from, to)
}

// healAndRejoin heals the old primary's link and checks what it did: it noticed that its
// session ended, never led again, and is back as a standby.
func (p *pair) healAndRejoin(t *testing.T, ns *netns, k takeover) {
	t.Helper()
	ns.heal(t, p.addr)
	healed := time.Now()
	pgtest.Eventually(t, 30*time.Second, "the old primary back as a standby", func() bool {
		ins, err := instances(p.pool)
		if err != nil {
			return false
		}
		for _, in := range ins {
			if in.osPid == p.primary.pid() && in.role == "standby" {
				return true
			}
		}
		return false
	})
	out := p.primary.out.String()
	noticed, ok := loggedAt(out, "ticker session ended", k.cut)
	switch {
	case !ok:
		t.Errorf("the cut-off primary never logged that its session ended:\n%s", tail(out, 20))
	default:
		t.Logf("the cut-off primary noticed %s after the cut, and was back as a standby %s after the heal: %s",
			ms(noticed.Sub(k.cut)), ms(time.Since(healed)), strings.TrimSpace(lineWith(out, "ticker session ended", k.cut)))
	}
	if n := strings.Count(out, "primary: this ticker now schedules"); n != 1 {
		t.Errorf("the cut-off primary became primary %d times, want once (before the cut)", n)
	}
	if p.primary.exited() {
		t.Errorf("the cut-off primary exited: %v", p.primary.err)
	}
}

var logTime = regexp.MustCompile(`^time=(\S+) `)

// lineWith returns the first line of a ticker's log containing msg and logged at or
// after since.
func lineWith(out, msg string, since time.Time) string {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		if m := logTime.FindStringSubmatch(line); m != nil {
			if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && !at.Before(since.Truncate(time.Millisecond)) {
				return line
			}
		}
	}
	return ""
}

// loggedAt returns the time of lineWith's line.
func loggedAt(out, msg string, since time.Time) (time.Time, bool) {
	m := logTime.FindStringSubmatch(lineWith(out, msg, since))
	if m == nil {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	return at, err == nil
}
