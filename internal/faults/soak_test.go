package faults

import (
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// TestSoak injects random faults into four tickers running 20 one-second schedules and
// a cron, for as long as WERK_SOAK says (e.g. WERK_SOAK=5m go test -run Soak -v
// ./internal/faults), with one server restart halfway; then it checks the ledger.
// WERK_SOAK_SEED repeats a run.
func TestSoak(t *testing.T) {
	env := os.Getenv("WERK_SOAK")
	if env == "" {
		t.Skip("set WERK_SOAK=<duration> to soak")
	}
	length, err := time.ParseDuration(env)
	if err != nil {
		t.Fatalf("WERK_SOAK=%q: %v", env, err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WERK_SOAK_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("soak for %s, seed %d", length, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	c := newCluster(t)
	dsn := createDB(t, c.DSN("postgres"), "werk")
	pool := migrate(t, dsn)
	addSchedules(t, pool, 20)
	const n = 4
	procs := tickers(t, dsn, n)
	waitInstances(t, pool, n, 10*time.Second)
	watch := watchPrimaries(t, pool)

	counts := map[string]int{}
	replace := func(p *proc) {
		delete(procs, p.pid())
		np := startTicker(t, dsn)
		procs[np.pid()] = np
	}
	pick := func(role string) *proc {
		ins, err := instances(pool)
		if err != nil {
			return nil
		}
		var cand []*proc
		for _, in := range ins {
			if p := procs[in.osPid]; p != nil && in.role == role {
				cand = append(cand, p)
			}
		}
		if len(cand) == 0 {
			return nil
		}
		return cand[rng.IntN(len(cand))]
	}
	backendOf := func(p *proc) int32 {
		ins, _ := instances(pool)
		for _, in := range ins {
			if in.osPid == p.pid() {
				return in.backend
			}
		}
		return 0
	}

	start := time.Now()
	restarted := false
	for time.Since(start) < length {
		time.Sleep(time.Duration(300+rng.IntN(2200)) * time.Millisecond) // random gaps between faults are the soak
		for pid, p := range procs {
			if p.exited() {
				t.Errorf("ticker %d exited by itself: %v\n%s", pid, p.err, tail(p.out.String(), 20))
				replace(p)
			}
		}
		if !restarted && time.Since(start) > length/2 {
			restarted = true
			mode := []string{"fast", "immediate"}[rng.IntN(2)]
			if err := c.Stop(ctx, mode); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(1000+rng.IntN(4000)) * time.Millisecond) // the outage is the fault
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			counts["server restart ("+mode+")"]++
			continue
		}
		switch f := rng.IntN(8); f {
		case 0, 1:
			if p := pick("primary"); p != nil {
				p.kill(t)
				replace(p)
				counts["SIGKILL primary"]++
			}
		case 2:
			if p := pick("standby"); p != nil {
				p.kill(t)
				replace(p)
				counts["SIGKILL standby"]++
			}
		case 3:
			role := []string{"primary", "standby"}[rng.IntN(2)]
			if p := pick(role); p != nil {
				p.signal(syscall.SIGSTOP)
				time.Sleep(time.Duration(500+rng.IntN(7500)) * time.Millisecond) // the freeze is the fault
				p.signal(syscall.SIGCONT)
				counts["SIGSTOP/SIGCONT "+role]++
			}
		case 4:
			if p := pick("primary"); p != nil {
				p.signal(syscall.SIGTERM)
				if code := p.wait(t, 10*time.Second); code != 0 {
					t.Errorf("SIGTERM: exit code %d\n%s", code, tail(p.out.String(), 20))
				}
				replace(p)
				counts["SIGTERM primary"]++
			}
		case 5, 6:
			role := []string{"primary", "standby"}[f-5]
			if p := pick(role); p != nil {
				if b := backendOf(p); b != 0 {
					if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, b); err == nil {
						counts["pg_terminate_backend "+role]++
					}
				}
			}
		case 7:
			counts["quiet"]++
		}
	}
	waitInstances(t, pool, n, 15*time.Second)
	waitProgress(t, pool, 10*time.Second)
	samples := watch()
	st := checkLedger(t, pool)
	gap := pgtest.QueryOne[time.Duration](t, pool, `SELECT coalesce(max(g), '0') FROM (
		SELECT enqueued_at - lag(enqueued_at) OVER (ORDER BY enqueued_at) AS g FROM werk_jobs) x`)
	var names []string
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	total := 0
	for _, k := range names {
		t.Logf("SOAK fault %-30s %d", k, counts[k])
		if k != "quiet" {
			total += counts[k]
		}
	}
	t.Logf("SOAK %s (seed %d): %d faults; %d jobs from %d schedules, %d missed-tick rows (catchup latest/none), "+
		"0 duplicates, catchup all gap-free; longest pause between enqueues %s; %d samples of werk_cron_instances, never 2 primaries",
		time.Since(start).Round(time.Second), seed, total, st.Jobs, st.Schedules, st.Missed, ms(gap), samples)
}
