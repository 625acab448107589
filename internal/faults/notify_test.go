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
// only the notification of pgwerk's workers waits, at most lock_timeout. Nor must it hold
// up a backfill, whose jobs commit with the request's progress.
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
	// A paused schedule, whose past ticks a backfill may enqueue.
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, paused) VALUES ('paused', 'app.tick', 'b', 60, true)`)
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

	// A backfill request, made without notifying (werk_cron_backfill's own notification
	// would wait on the stalled commit): a primary looks for requests when it starts, so
	// a second ticker takes over from the first.
	standby := startTicker(t, dsn)
	waitInstances(t, pool, 2, 10*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_backfills (name, from_at, to_at) VALUES ('paused', now() - interval '5 minutes', now() - interval '1 second')`)
	tk.kill(t)
	pgtest.Eventually(t, 15*time.Second, "the backfill done by the new primary while the commit stalls", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT done_at IS NOT NULL FROM werk_cron_backfills`)
	})
	var enqueued, had int64
	var failure *string
	if err := pool.QueryRow(ctx, `SELECT b.enqueued, (SELECT count(*) FROM werk_jobs WHERE cron_name = 'paused'), b.error
		FROM werk_cron_backfills b`).Scan(&enqueued, &had, &failure); err != nil {
		t.Fatal(err)
	}
	if failure != nil || enqueued < 4 || enqueued != had {
		t.Errorf("backfill of five minutes of a schedule every minute: enqueued %d, jobs %d, error %q", enqueued, had, deref(failure))
	}
	if !lockHeld() {
		t.Fatal("the stalled commit let go of the lock before the backfill was done")
	}
	// It notifies once the backfill's chunk has committed, and waits at most lock_timeout.
	pgtest.Eventually(t, 5*time.Second, "the new primary saying it could not notify the backfill's queue", func() bool {
		return strings.Contains(standby.out.String(), "could not notify pgwerk's workers of new jobs; they find them at their next poll\" queues=[b]")
	})

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
