package faults

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// A transaction that notifies takes, at commit, a lock that every other notifying
// commit of the cluster waits for until that commit is flushed or, with a synchronous
// standby, confirmed. A session elsewhere whose notifying commit stalls (here: waiting
// for a standby that never answers) must not hold up the ticks: their jobs commit, and
// only the notification of pgwerk's workers waits, at most lock_timeout.
func TestStalledNotifierDoesNotHoldUpTicks(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	dsn := createDB(t, c.DSN("postgres"), "notify")
	pool := migrate(t, dsn)
	// This database's sessions commit without waiting for a standby; the stalling
	// session asks for one.
	pgtest.Exec(t, pool, `ALTER DATABASE notify SET synchronous_commit = local`)
	pool.Reset()
	setStandby := func(name string) {
		t.Helper()
		pgtest.Exec(t, pool, `SELECT set_config('synchronous_commit', 'local', false)`)
		pgtest.Exec(t, pool, `ALTER SYSTEM SET synchronous_standby_names = '`+name+`'`)
		pgtest.Exec(t, pool, `SELECT pg_reload_conf()`)
	}
	setStandby("nobody")
	t.Cleanup(func() { setStandby("") })

	tk := startTicker(t, dsn)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, queue, interval_secs) VALUES ('every-second', 'app.tick', 'q', 1)`)
	jobs := func() int64 {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'every-second'`)
	}
	pgtest.Eventually(t, 10*time.Second, "the schedule's first job", func() bool { return jobs() > 0 })

	// The stalling session: it wrote, notified, and waits at commit for the standby,
	// holding the lock.
	stall, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`SET synchronous_commit = on`, `BEGIN`, `CREATE TABLE scratch (a int)`, `SELECT pg_notify('elsewhere', '')`} {
		if _, err := stall.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	committed := make(chan error, 1)
	go func() {
		_, err := stall.Exec(ctx, `COMMIT`)
		committed <- err
	}()
	// The lock of notifying commits, on the object 0 of pg_database.
	lockHeld := func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'object' AND classid = 'pg_database'::regclass AND objid = 0 AND granted)`)
	}
	pgtest.Eventually(t, 5*time.Second, "the stalled commit holding the lock of notifying commits", lockHeld)

	before := jobs()
	pgtest.Eventually(t, 10*time.Second, "three more ticks enqueued while the commit stalls", func() bool {
		return jobs() >= before+3
	})
	if !lockHeld() {
		t.Fatal("the stalled commit let go of the lock before the ticks were counted")
	}
	if out := tk.out.String(); !strings.Contains(out, "could not notify pgwerk's workers") {
		t.Errorf("the ticker did not say it could not notify the workers:\n%s", tail(out, 20))
	}

	setStandby("")
	select {
	case err := <-committed:
		if err != nil {
			t.Errorf("the stalled commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stalled commit did not end once the standby was no longer asked for")
	}
	_ = stall.Close(ctx)
}
