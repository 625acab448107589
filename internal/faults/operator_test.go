package faults

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// SIGTERM while other sessions hold what the primary's statements would wait on — a
// schedule's state row (FOR UPDATE), a job key (an uncommitted INSERT) and werk_jobs itself
// (LOCK TABLE) — stops it within 5 s, exit code 0, with the leader lock released: a
// standby leads at once, and ticks once the locks are gone.
func TestSigtermWhileOthersHoldLocks(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 5)
	// Each serves /metrics, read afresh on every scrape: a scrape in flight (waiting on
	// the table lock below) must not hold up the exit either.
	procs, addrs := map[int]*proc{}, map[int]string{}
	for range 2 {
		addr := httpAddr(t)
		p := startTicker(t, dsn, "--http-addr", addr, "--metrics-cache", "0s")
		procs[p.pid()], addrs[p.pid()] = p, addr
	}
	primary := waitInstances(t, pool, 2, 10*time.Second)
	waitProgress(t, pool, 5*time.Second)
	old := procs[primary.osPid]
	// The primary's log, from here on.
	logged := func(what string) func() bool {
		from := len(old.out.String())
		return func() bool { return strings.Contains(old.out.String()[from:], what) }
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	blockedS00 := logged(`blocked by another session; set aside and retried" schedule=s00`)
	blockedS01 := logged(`blocked by another session; set aside and retried" schedule=s01`)
	pgtest.Exec(t, tx, `SELECT 1 FROM werk_cron_state WHERE name = 's00' FOR UPDATE`)
	pgtest.Exec(t, tx, `INSERT INTO werk_jobs (key, function, cron_name)
		SELECT 'cron:s01:' || to_char((date_trunc('second', clock_timestamp()) + interval '1 s') AT TIME ZONE 'UTC',
		                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'app.tick', 's01'`)
	// The row and the key held across a tick: the primary ran into both.
	pgtest.Eventually(t, 5*time.Second, "the primary set s00 (row held) and s01 (key held) aside", func() bool {
		return blockedS00() && blockedS01()
	})
	tableLocked := logged("a table is locked by another session")
	pgtest.Exec(t, tx, `LOCK TABLE werk_jobs IN ACCESS EXCLUSIVE MODE`)
	pgtest.Eventually(t, 5*time.Second, "a tick statement of the primary meets the table lock", tableLocked)
	scraping, stopScraping := context.WithCancel(ctx)
	defer stopScraping()
	go func() {
		for scraping.Err() == nil {
			req, _ := http.NewRequestWithContext(scraping, http.MethodGet, "http://"+addrs[old.pid()]+"/metrics", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	pgtest.Eventually(t, 5*time.Second, "a scrape of the primary's /metrics waiting on the table lock", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'werkcron metrics' AND wait_event_type = 'Lock')`)
	})

	sent := time.Now()
	old.signal(syscall.SIGTERM)
	if code := old.wait(t, 5*time.Second); code != 0 {
		t.Errorf("SIGTERM with locks held: exit code %d, want 0", code)
	}
	t.Logf("exited %s after SIGTERM", ms(time.Since(sent)))
	if !strings.Contains(old.out.String(), "released the leader lock") {
		t.Errorf("the primary did not release the leader lock:\n%s", tail(old.out.String(), 20))
	}
	// The standby leads while the table is still locked, then ticks once it is free.
	next := waitInstances(t, pool, 1, 3*time.Second)
	if next.osPid == old.pid() {
		t.Fatalf("the stopped ticker is still listed as primary")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitProgress(t, pool, 5*time.Second)
	checkLedger(t, pool)
}
