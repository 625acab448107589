package faults

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// SIGTERM while other sessions hold what the primary's statements would wait on — a
// schedule's row (FOR UPDATE), a job key (an uncommitted INSERT) and werk_jobs itself
// (LOCK TABLE) — stops it within 5 s, exit code 0, with the leader lock released: a
// standby leads at once, and ticks once the locks are gone.
func TestSigtermWhileOthersHoldLocks(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	pool := migrate(t, dsn)
	addSchedules(t, pool, 5)
	procs := tickers(t, dsn, 2)
	primary := waitInstances(t, pool, 2, 10*time.Second)
	waitProgress(t, pool, 5*time.Second)

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `SELECT 1 FROM werk_cron_jobs WHERE name = 's00' FOR UPDATE`)
	pgtest.Exec(t, tx, `INSERT INTO werk_jobs (key, function, cron_name)
		SELECT 'cron:s01:' || to_char((date_trunc('second', clock_timestamp()) + interval '1 s') AT TIME ZONE 'UTC',
		                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'app.tick', 's01'`)
	time.Sleep(1500 * time.Millisecond) // the row and the key held across a tick or two
	pgtest.Exec(t, tx, `LOCK TABLE werk_jobs IN ACCESS EXCLUSIVE MODE`)
	time.Sleep(500 * time.Millisecond) // a tick statement now waits on the table

	old := procs[primary.osPid]
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
