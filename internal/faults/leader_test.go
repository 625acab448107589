package faults

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/leader"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// tickers starts n tickers on dsn and returns them by OS pid.
func tickers(t *testing.T, dsn string, n int, args ...string) map[int]*proc {
	t.Helper()
	m := map[int]*proc{}
	for range n {
		p := startTicker(t, dsn, args...)
		m[p.pid()] = p
	}
	return m
}

// 1. Three tickers, 20 schedules at 1 s: exactly one primary at any time.
func TestOnePrimaryAmongThree(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 20)
	procs := tickers(t, dsn, 3)
	first := waitInstances(t, pool, 3, 10*time.Second)

	samples := 0
	// Sampled every 20 ms for 4 s: a window of time is what is under test.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		ins, err := instances(pool)
		if err != nil {
			t.Fatal(err)
		}
		var primaries []instance
		for _, in := range ins {
			if in.role == "primary" {
				primaries = append(primaries, in)
			}
			if procs[in.osPid] == nil {
				t.Fatalf("werk_cron_instances lists %+v, not one of our tickers", in)
			}
		}
		if len(ins) != 3 || len(primaries) != 1 || primaries[0].backend != first.backend {
			t.Fatalf("sample %d: want our 3 tickers with the one primary %d, got %+v", samples, first.backend, ins)
		}
		samples++
	}
	st := checkLedger(t, pool)
	t.Logf("%d samples of werk_cron_instances: always 3 tickers, 1 primary; %d jobs", samples, st.Jobs)
	if st.Jobs < 20*3 {
		t.Errorf("only %d jobs in ~4s from 20 one-second schedules", st.Jobs)
	}
}

// promotion is what one failover took, from the test's point of view (host clock,
// sampled every ~5 ms).
type promotion struct {
	gone     time.Duration // signal -> old backend gone from pg_stat_activity
	promoted time.Duration // backend gone -> a new primary in werk_cron_instances
	leading  time.Duration // backend gone -> the new primary's " leader@" stamp (it leads)
}

// measurePromotion signals the primary old (backend pid oldBackend) with sig, then
// samples until its backend is gone and another ticker leads.
func measurePromotion(t *testing.T, pool *pgxpool.Pool, old *proc, oldBackend int32, fault func()) promotion {
	t.Helper()
	start := time.Now()
	fault()
	var gone, promoted, leading time.Time
	for deadline := start.Add(10 * time.Second); gone.IsZero() || promoted.IsZero() || leading.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatalf("no promotion within 10s of the fault on %s (gone %v, promoted %v, leading %v)",
				old.name, !gone.IsZero(), !promoted.IsZero(), !leading.IsZero())
		}
		var alive bool
		var primary, stamped *int32
		err := pool.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1),
			(SELECT pid FROM werk_cron_instances WHERE role = 'primary' AND pid <> $1 LIMIT 1),
			(SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			   AND application_name LIKE '% leader@%' AND pid <> $1 LIMIT 1)`, oldBackend).
			Scan(&alive, &primary, &stamped)
		now := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if !alive && gone.IsZero() {
			gone = now
		}
		if primary != nil && promoted.IsZero() {
			promoted = now
		}
		if stamped != nil && leading.IsZero() {
			leading = now
		}
		time.Sleep(5 * time.Millisecond) // the sampling interval of what is measured
	}
	// The lock passes when the backend ends; a sample may see the new primary first.
	since := func(at time.Time) time.Duration { return max(0, at.Sub(gone)) }
	return promotion{gone: gone.Sub(start), promoted: since(promoted), leading: since(leading)}
}

// 2. SIGKILL of the primary: a standby promotes within 1 s of the primary's backend
// ending, and the schedules continue. Repeated; the numbers are logged as PROMOTION.
func TestSigkillPrimaryPromotesStandby(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 20)
	procs := tickers(t, dsn, 3)
	watch := watchPrimaries(t, pool)

	const runs = 6
	var promoted, leading, total []time.Duration
	for run := range runs {
		primary := waitInstances(t, pool, 3, 10*time.Second)
		old := procs[primary.osPid]
		if old == nil {
			t.Fatalf("primary %+v is not one of ours", primary)
		}
		atPhase(t, pool, []int{300, 437, 574, 711, 848, 985}[run]) // at various phases of the 1s ticks
		p := measurePromotion(t, pool, old, primary.backend, func() { old.signal(syscall.SIGKILL) })
		old.wait(t, 5*time.Second)
		delete(procs, old.pid())
		t.Logf("run %d: SIGKILL -> backend gone %s; gone -> new primary %s, -> leading %s",
			run, ms(p.gone), ms(p.promoted), ms(p.leading))
		promoted = append(promoted, p.promoted)
		leading = append(leading, p.leading)
		total = append(total, p.gone+p.leading)
		if p.leading > 1500*time.Millisecond {
			t.Errorf("run %d: promotion took %s after the old backend ended (want < 1s, 1.5s with slack)", run, p.leading)
		}
		waitProgress(t, pool, 3*time.Second)
		np := startTicker(t, dsn)
		procs[np.pid()] = np
	}
	t.Logf("PROMOTION after SIGKILL over %d runs (sampled every ~5-10ms): old backend gone -> new primary median %s worst %s, "+
		"-> leading median %s worst %s; SIGKILL -> leading median %s worst %s",
		runs, ms(median(promoted)), ms(worst(promoted)), ms(median(leading)), ms(worst(leading)), ms(median(total)), ms(worst(total)))
	if m := median(leading); m > time.Second {
		t.Errorf("median promotion %s, want < 1s", m)
	}
	watch()
	st := checkLedger(t, pool)
	t.Logf("ledger: %d jobs, %d missed rows, no duplicate", st.Jobs, st.Missed)
}

// SIGTERM: the primary finishes, unlocks and exits 0; a standby takes over at once.
func TestSigtermHandsOverAtOnce(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 5)
	procs := tickers(t, dsn, 2)
	watch := watchPrimaries(t, pool)
	var handovers []time.Duration
	for run := range 3 {
		primary := waitInstances(t, pool, 2, 10*time.Second)
		old := procs[primary.osPid]
		atPhase(t, pool, []int{400, 650, 900}[run])
		var sent time.Time
		p := measurePromotion(t, pool, old, primary.backend, func() {
			sent = time.Now()
			old.signal(syscall.SIGTERM)
		})
		if code := old.wait(t, 5*time.Second); code != 0 {
			t.Errorf("SIGTERM: exit code %d, want 0", code)
		}
		exited := time.Since(sent)
		delete(procs, old.pid())
		handover := p.gone + p.leading
		handovers = append(handovers, handover)
		t.Logf("run %d: SIGTERM -> backend gone %s -> standby leading %s (handover %s); process exited 0 within %s",
			run, ms(p.gone), ms(p.leading), ms(handover), ms(exited))
		if !strings.Contains(old.out.String(), "released the leader lock") {
			t.Errorf("the primary did not log that it released the lock:\n%s", tail(old.out.String(), 20))
		}
		if handover > time.Second {
			t.Errorf("handover after SIGTERM took %s, want < 1s", handover)
		}
		waitProgress(t, pool, 3*time.Second)
		np := startTicker(t, dsn)
		procs[np.pid()] = np
	}
	t.Logf("SIGTERM HANDOVER over %d runs: median %s worst %s", len(handovers), ms(median(handovers)), ms(worst(handovers)))
	// A standby, waiting for the lock inside the server, stops at once too.
	waitInstances(t, pool, 2, 10*time.Second)
	ins, err := instances(pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if p := procs[in.osPid]; in.role == "standby" && p != nil {
			sent := time.Now()
			p.signal(syscall.SIGTERM)
			if code := p.wait(t, 5*time.Second); code != 0 {
				t.Errorf("standby: exit code %d after SIGTERM", code)
			}
			t.Logf("standby exited 0 %s after SIGTERM", ms(time.Since(sent)))
			if d := time.Since(sent); d > 2*time.Second {
				t.Errorf("standby took %s to stop", d)
			}
		}
	}
	watch()
	checkLedger(t, pool)
}

// 3. SIGSTOP of the primary, then SIGCONT. A frozen process's socket stays open: its
// kernel still acknowledges what arrives, keepalive probes included, so the TCP settings
// that end a cut-off primary's session within seconds (internal/leader/tcp.go; the
// partition tests) never fire, and its session and the leader lock live on. The standby
// must not lead meanwhile, and nothing is enqueued. Two freezes:
//   - 3 s, shorter than any deadline of the ticker's own (the heartbeat's is 5 s): the
//     frozen primary keeps its lead across it, the same backend leading after SIGCONT;
//   - 10 s, longer than the heartbeat (6 s) and the misfire grace (5 s): after SIGCONT
//     exactly one ticker leads (a statement whose deadline passed during the freeze may
//     end the thawed primary's session, handing over then), ticking resumes, and no tick
//     is enqueued twice (catchup = 'all' schedules get every tick of the freeze, once).
func TestSigstopPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("13s of freezes")
	}
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 20)
	procs := tickers(t, dsn, 2)
	watch := watchPrimaries(t, pool)
	for _, freeze := range []time.Duration{3 * time.Second, 10 * time.Second} {
		primary := waitInstances(t, pool, 2, 10*time.Second)
		waitProgress(t, pool, 3*time.Second)
		old := procs[primary.osPid]
		old.signal(syscall.SIGSTOP)
		frozen := pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`)
		time.Sleep(freeze) // the freeze is the fault under test
		mid := waitInstances(t, pool, 2, time.Second)
		if mid.backend != primary.backend {
			t.Errorf("%s freeze: while the primary (backend %d) was frozen, %+v became primary: its session and lock should have lived on",
				freeze, primary.backend, mid)
		}
		// A tick statement sent just before SIGSTOP may still commit; nothing after.
		if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE enqueued_at > $1::timestamptz + interval '1 s'`, frozen); n != 0 {
			t.Errorf("%s freeze: %d jobs enqueued while the only primary was frozen", freeze, n)
		}
		old.signal(syscall.SIGCONT)
		waitProgress(t, pool, 3*time.Second)
		after := waitInstances(t, pool, 2, 3*time.Second)
		if old.exited() {
			t.Fatalf("the thawed ticker exited: %v", old.err)
		}
		switch {
		case after.backend == primary.backend:
			t.Logf("%s freeze: the frozen primary kept its session and lock, and leads again after SIGCONT", freeze)
		case freeze < 5*time.Second:
			t.Errorf("%s freeze: %+v leads after SIGCONT, not the frozen primary (backend %d): a freeze this short must not move the lead",
				freeze, after, primary.backend)
		default:
			t.Logf("%s freeze: after SIGCONT %+v leads (the frozen primary was backend %d)", freeze, after, primary.backend)
		}
	}
	watch()
	st := checkLedger(t, pool)
	t.Logf("ledger: %d jobs, %d missed rows (catchup latest/none while frozen), no duplicate", st.Jobs, st.Missed)
}

// A long statement on a loaded server is not a partition: the server's kernel still
// acknowledges the ticker's packets while the backend answers nothing, so the ticker's TCP
// settings (internal/leader/tcp.go) must not end its session. The primary's backend is
// stopped (SIGSTOP: as loaded as a server gets) for twice the TCP user timeout, while the
// primary's tick statements wait on it: the primary keeps its session and its lead, the
// standby never leads, and the ticks of the pause are enqueued once when it ends.
func TestSigstopPrimaryBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("7s pause")
	}
	t.Parallel()
	c := newCluster(t) // of its own: a stopped backend may hold what other sessions wait for
	dsn := createDB(t, c.DSN("postgres"), "werk")
	pool := migrate(t, dsn)
	addSchedules(t, pool, 3)
	// No heartbeat during the pause: its 5 s deadline is the ticker's own, by design, and
	// would end the session whatever TCP does.
	procs := tickers(t, dsn, 2, "--heartbeat", "1m")
	watch := watchPrimaries(t, pool)
	primary := waitInstances(t, pool, 2, 10*time.Second)
	waitProgress(t, pool, 3*time.Second)
	old := procs[primary.osPid]
	pause := 2 * leader.UserTimeout
	if err := syscall.Kill(int(primary.backend), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// Registered after the cluster's removal, so run before it.
	t.Cleanup(func() { _ = syscall.Kill(int(primary.backend), syscall.SIGCONT) })
	time.Sleep(pause) // the pause is the fault under test
	if err := syscall.Kill(int(primary.backend), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitProgress(t, pool, 5*time.Second)
	after := waitInstances(t, pool, 2, 3*time.Second)
	if after.backend != primary.backend {
		t.Errorf("%+v leads after the primary's backend was paused for %s, not that backend (%d)", after, pause, primary.backend)
	}
	if out := old.out.String(); strings.Contains(out, "ticker session ended") {
		t.Errorf("the primary's session ended while its backend was paused:\n%s", tail(out, 20))
	}
	for pid, p := range procs {
		if pid != old.pid() && strings.Contains(p.out.String(), "primary: this ticker now schedules") {
			t.Errorf("the standby led while the primary's backend was paused:\n%s", tail(p.out.String(), 20))
		}
	}
	late := pgtest.QueryOne[float64](t, pool, `SELECT coalesce(max(extract(epoch FROM enqueued_at - scheduled_at)), 0)::float8
		FROM werk_jobs WHERE cron_name = 's00' AND scheduled_at >= $1`, stopped)
	t.Logf("the primary's backend paused for %s: the primary kept its session and lead; its one-second schedule's ticks came up to %.1fs late, then caught up",
		pause, late)
	watch()
	st := checkLedger(t, pool)
	t.Logf("ledger: %d jobs, %d missed rows (catchup latest/none), catchup all gap-free, none twice", st.Jobs, st.Missed)
}

// 4. pg_terminate_backend of the primary's session: it stops writing, a standby
// promotes, and the old primary rejoins as a standby.
func TestTerminatePrimarySession(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 20)
	procs := tickers(t, dsn, 3)
	watch := watchPrimaries(t, pool)
	var promos, rejoins []time.Duration
	for run := range 3 {
		primary := waitInstances(t, pool, 3, 10*time.Second)
		old := procs[primary.osPid]
		before := strings.Count(old.out.String(), "ticker session ended")
		atPhase(t, pool, []int{300, 600, 900}[run])
		start := time.Now()
		p := measurePromotion(t, pool, old, primary.backend, func() {
			pgtest.Exec(t, pool, `SELECT pg_terminate_backend($1)`, primary.backend)
		})
		// The old primary notices, reconnects and stands by: back in the view as a standby.
		pgtest.Eventually(t, 5*time.Second, "the old primary rejoins as a standby", func() bool {
			ins, err := instances(pool)
			if err != nil {
				return false
			}
			for _, in := range ins {
				if in.osPid == old.pid() && in.role == "standby" && in.backend != primary.backend {
					return true
				}
			}
			return false
		})
		rejoin := time.Since(start)
		promos = append(promos, p.leading)
		rejoins = append(rejoins, rejoin)
		t.Logf("run %d: terminate -> backend gone %s -> new primary leading %s; old primary back as standby after %s",
			run, ms(p.gone), ms(p.leading), ms(rejoin))
		if old.exited() {
			t.Fatalf("the old primary exited: %v", old.err)
		}
		if n := strings.Count(old.out.String(), "ticker session ended"); n != before+1 {
			t.Errorf("the old primary should have seen its session end once, saw %d", n-before)
		}
		if p.leading > 1500*time.Millisecond {
			t.Errorf("promotion took %s", p.leading)
		}
		waitProgress(t, pool, 3*time.Second)
	}
	t.Logf("PROMOTION after pg_terminate_backend: median %s worst %s; rejoin as standby median %s worst %s",
		ms(median(promos)), ms(worst(promos)), ms(median(rejoins)), ms(worst(rejoins)))
	watch()
	checkLedger(t, pool)
}

// 5. Restart of the PostgreSQL server (fast, then immediate) with tickers running: all
// reconnect, one leads, schedules resume and catch up per policy.
func TestServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server twice")
	}
	t.Parallel()
	c := newCluster(t)
	dsn := createDB(t, c.DSN("postgres"), "werk")
	pool := migrate(t, dsn)
	addSchedules(t, pool, 20)
	tickers(t, dsn, 3)
	watch := watchPrimaries(t, pool)
	waitInstances(t, pool, 3, 10*time.Second)
	for _, mode := range []string{"fast", "immediate"} {
		waitProgress(t, pool, 3*time.Second)
		if err := c.Stop(ctx, mode); err != nil {
			t.Fatal(err)
		}
		down := time.Now()
		time.Sleep(3 * time.Second) // the outage is the fault under test: ticks fall due while the server is down
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		up := time.Now()
		waitInstances(t, pool, 3, 10*time.Second)
		back := time.Since(up)
		waitProgress(t, pool, 5*time.Second)
		t.Logf("stop -m %s, down %s: all 3 tickers back %s after the start, one leads, schedules run again after %s",
			mode, ms(up.Sub(down)), ms(back), ms(time.Since(up)))
	}
	watch()
	st := checkLedger(t, pool)
	t.Logf("ledger: %d jobs, %d missed rows, no duplicate, catchup all gap-free across both restarts", st.Jobs, st.Missed)
}

// 6. Two tickers with host clocks 90 s apart: the same ticks as with equal clocks, none
// twice, none extra, none early. Leadership moves between a skewed and a true clock.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 6)
	skews := map[int]string{}
	procs := map[int]*proc{}
	start := func(skew string) {
		p := startTicker(t, dsn, "--clock-skew="+skew)
		skews[p.pid()] = skew
		procs[p.pid()] = p
	}
	// Always two tickers, 90 s apart; each kill hands the lead to the other clock.
	start("0s") // leads first
	waitInstances(t, pool, 1, 10*time.Second)
	start("90s")
	watch := watchPrimaries(t, pool)
	var led []string
	for _, next := range []string{"0s", "-90s", "0s"} {
		primary := waitInstances(t, pool, 2, 10*time.Second)
		// Every schedule ticks under this primary's clock, twice.
		waitProgress(t, pool, 3*time.Second)
		waitProgress(t, pool, 3*time.Second)
		led = append(led, skews[primary.osPid])
		if procs[primary.osPid] == nil {
			t.Fatalf("primary %+v is not one of ours", primary)
		}
		requireSkewed(t, procs[primary.osPid], skews[primary.osPid])
		procs[primary.osPid].kill(t)
		delete(procs, primary.osPid)
		waitGone(t, pool, primary.osPid, 5*time.Second)
		start(next)
	}
	primary := waitInstances(t, pool, 2, 10*time.Second)
	led = append(led, skews[primary.osPid])
	requireSkewed(t, procs[primary.osPid], skews[primary.osPid])
	if want := "[0s 90s 0s -90s]"; fmt.Sprint(led) != want {
		t.Errorf("successive primaries had clocks %v, want %s", led, want)
	}
	t.Logf("host clocks of the successive primaries: %v", led)
	waitProgress(t, pool, 3*time.Second)
	watch()
	st := checkLedger(t, pool)
	t.Logf("%d jobs, all on the grid, gap-free, none early or twice", st.Jobs)
}

// requireSkewed fails unless the primary p measured the database's clock as off from
// its own by -skew (it logs the offset when it becomes primary): the skew is real.
func requireSkewed(t *testing.T, p *proc, skew string) {
	t.Helper()
	want, err := time.ParseDuration(skew)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`now schedules.* clock_offset=(\S+)`).FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("%s logged no clock_offset when it became primary:\n%s", p.name, tail(p.out.String(), 20))
	}
	got, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("clock_offset=%s: %v", m[1], err)
	}
	if d := got + want; d < -time.Second || d > time.Second {
		t.Errorf("%s runs with --clock-skew=%s but measured the database clock off by %s, want about %s", p.name, skew, got, -want)
	}
}

// atPhase returns when the database's clock is ms milliseconds into a second: a fault
// injected then hits the 1 s ticks at that phase.
func atPhase(t *testing.T, pool *pgxpool.Pool, ms int) {
	t.Helper()
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`)
	at := now.Truncate(time.Second).Add(time.Duration(ms) * time.Millisecond)
	if !at.After(now) {
		at = at.Add(time.Second)
	}
	time.Sleep(at.Sub(now)) // the place within the second is what is chosen
}

// 8. Two schemas in one database, each with its own tickers, schedule independently:
// the lock keys are derived from the schema name (werk_cron_lock_key()).
func TestTwoSchemas(t *testing.T) {
	t.Parallel()
	base := pgtest.NewDB(t) // migrated into two schemas below, not public
	admin := migrateNothing(t, base)
	pgtest.Exec(t, admin, `CREATE SCHEMA app_a; CREATE SCHEMA app_b`)
	withPath := func(schema string) string {
		if strings.Contains(base, "?") {
			return base + "&search_path=" + schema
		}
		return base + "?search_path=" + schema
	}
	pools := map[string]*pgxpool.Pool{}
	for _, s := range []string{"app_a", "app_b"} {
		dsn := withPath(s)
		pools[s] = migrate(t, dsn)
		addSchedules(t, pools[s], 3)
		tickers(t, dsn, 2)
	}
	for s, pool := range pools {
		waitInstances(t, pool, 2, 10*time.Second)
		waitProgress(t, pool, 3*time.Second)
		t.Logf("schema %s: 2 tickers, its own primary, schedules running", s)
	}
	// Terminating app_a's tickers' sessions leaves app_b alone. (werk_cron_instances,
	// like werk_cron_lock_key(), reads the schema from search_path: query it there.)
	before, err := instances(pools["app_b"])
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pools["app_a"], `SELECT pg_terminate_backend(pid) FROM werk_cron_instances`)
	after, err := instances(pools["app_b"])
	if err != nil || fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("app_b's tickers changed when app_a's sessions ended: %v -> %v (%v)", before, after, err)
	}
	waitInstances(t, pools["app_a"], 2, 10*time.Second)
	for s, pool := range pools {
		waitProgress(t, pool, 3*time.Second)
		st := checkLedger(t, pool)
		if st.Jobs == 0 {
			t.Errorf("schema %s: no jobs", s)
		}
	}
	if n := pgtest.QueryOne[int64](t, admin, `SELECT count(*) FROM app_a.werk_jobs j JOIN app_b.werk_jobs k ON j.id = k.id`); n != 0 {
		t.Errorf("%d jobs in both schemas", n)
	}
}

// migrateNothing opens a pool on dsn without migrating.
func migrateNothing(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// An idle standby sends at most one query per --standby-retry (1 s): counted from the
// server's statement log on a cluster of the test's own.
func TestIdleStandbyQueryRate(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	dsn := createDB(t, c.DSN("postgres"), "werk")
	pool := migrate(t, dsn)
	pgtest.Exec(t, pool, `ALTER SYSTEM SET log_line_prefix = '%p|'`)
	pgtest.Exec(t, pool, `ALTER SYSTEM SET log_statement = 'all'`)
	pgtest.Exec(t, pool, `ALTER SYSTEM SET log_min_messages = 'info'`)
	pgtest.Exec(t, pool, `SELECT pg_reload_conf()`)
	addSchedules(t, pool, 2)
	tickers(t, dsn, 2)
	waitInstances(t, pool, 2, 10*time.Second)
	var standby int32
	ins, _ := instances(pool)
	for _, in := range ins {
		if in.role == "standby" {
			standby = in.backend
		}
	}
	// Settled into waiting: its session waits inside the server for the leader lock.
	pgtest.Eventually(t, 5*time.Second, "the standby waiting for the leader lock", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE pid = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory')`, standby)
	})
	count := func() int {
		log := readFile(t, c.LogFile())
		n := 0
		for _, line := range strings.Split(log, "\n") {
			if strings.HasPrefix(line, fmt.Sprint(standby)+"|") &&
				(strings.Contains(line, "LOG:  statement:") || strings.Contains(line, "LOG:  execute")) {
				n++
			}
		}
		return n
	}
	const window = 10 * time.Second
	before := count()
	time.Sleep(window) // the rate over a window of time is what is measured
	n := count() - before
	t.Logf("IDLE STANDBY: %d statements in %s", n, window)
	if n > int(window/time.Second)+1 {
		t.Errorf("idle standby sent %d statements in %s, want at most one per second", n, window)
	}
	if n < int(window/time.Second)-2 {
		t.Errorf("idle standby sent only %d statements in %s: is it still waiting for the lock?", n, window)
	}
}

// The ticker's session has TCP keepalives every second at both ends (with
// tcp_user_timeout: internal/leader/tcp.go), so that a primary whose host vanishes
// without closing the connection loses its session (and the lock) within seconds rather
// than the kernel's two hours, and a ticker whose database host vanishes notices and
// reconnects. Seen with ss(8); the partition tests show what they are for.
func TestKeepalivesOnTickerSession(t *testing.T) {
	ss, err := exec.LookPath("ss")
	if err != nil {
		t.Skip("no ss(8)")
	}
	t.Parallel()
	dsn, pool := migratedDB(t)
	startTicker(t, dsn)
	primary := waitInstances(t, pool, 1, 10*time.Second)
	port := pgtest.QueryOne[int32](t, pool, `SELECT client_port FROM pg_stat_activity WHERE pid = $1`, primary.backend)
	server := pgtest.QueryOne[int32](t, pool, `SELECT inet_server_port()`)
	// Both ends: the server's socket (keepalives the session asks for) and the ticker's
	// (its dialer), each named by both ports: the kernel may give the same source port to
	// connections to other servers (other tests' clusters). Sampled until the socket is
	// idle: with data in flight, ss shows the retransmit timer instead.
	filters := map[string]string{
		"dport": fmt.Sprintf("( dport = :%d and sport = :%d )", port, server),
		"sport": fmt.Sprintf("( sport = :%d and dport = :%d )", port, server),
	}
	for _, side := range []string{"dport", "sport"} {
		var out []byte
		var m []string
		pgtest.Eventually(t, 5*time.Second, "a keepalive timer on the "+side+" socket of the ticker's session", func() bool {
			out, err = exec.Command(ss, "-tnoH", "state", "established", filters[side]).CombinedOutput()
			if err != nil {
				t.Fatalf("ss: %v\n%s", err, out)
			}
			m = regexp.MustCompile(`timer:\(keepalive,([0-9.]+)(ms|sec|min)`).FindStringSubmatch(string(out))
			return m != nil
		})
		t.Logf("%s socket of the ticker's session: %s", map[string]string{"dport": "server", "sport": "ticker"}[side],
			strings.TrimSpace(string(out)))
		// ss prints the time left as 4.9ms, 4.9sec, 4900ms or 118min, depending on its version.
		v, _ := strconv.ParseFloat(m[1], 64)
		switch {
		case m[2] == "min":
			v *= 60
		case m[2] == "ms" && v >= 100:
			v /= 1000
		}
		if idle := leader.KeepaliveIdle.Seconds(); v > idle {
			t.Errorf("%s: keepalive timer %s%s, want at most %gs", side, m[1], m[2], idle)
		}
	}
}
