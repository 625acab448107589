package leader_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/leader"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// session is a connection of its own to dsn, closed when t ends.
func session(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// elect runs leader.Elect on conn in the background; the channel gets its result.
func elect(t *testing.T, conn *pgx.Conn, opts leader.Options) (<-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- leader.Elect(ctx, conn, opts) }()
	return done, cancel
}

// One session leads; a second stands by (saying so once, and showing progress at every
// round of its wait) until the first resigns, and then leads at once, without waiting
// out its retry interval.
func TestOneLeadsTheOtherTakesOverOnResign(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	a, b := session(t, dsn), session(t, dsn)
	if err := leader.Elect(context.Background(), a, leader.Options{Retry: time.Second}); err != nil {
		t.Fatalf("the first session: %v", err)
	}
	var waiting, rounds atomic.Int32
	done, _ := elect(t, b, leader.Options{
		Retry:    5 * time.Second, // longer than the test waits: the hand-over must not need it
		Waiting:  func() { waiting.Add(1) },
		Progress: func() { rounds.Add(1) },
	})
	pgtest.Eventually(t, 3*time.Second, "the second session standing by", func() bool { return waiting.Load() == 1 })
	select {
	case err := <-done:
		t.Fatalf("the second session led while the first held the lock: %v", err)
	default:
	}
	resigned := time.Now()
	if err := leader.Resign(a); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the second session: %v", err)
		}
		if took := time.Since(resigned); took > 2*time.Second {
			t.Errorf("the hand-over took %s", took)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the second session did not lead after the first resigned")
	}
	if waiting.Load() != 1 || rounds.Load() < 1 {
		t.Errorf("Waiting called %d times, Progress %d; want once and at least once", waiting.Load(), rounds.Load())
	}
}

// The lock goes with the session: when the leader's connection is gone (a crash), a
// standby leads without anyone resigning.
func TestLeaderSessionEndingFreesTheLock(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	a, b := session(t, dsn), session(t, dsn)
	if err := leader.Elect(context.Background(), a, leader.Options{Retry: time.Second}); err != nil {
		t.Fatal(err)
	}
	done, _ := elect(t, b, leader.Options{Retry: 200 * time.Millisecond})
	pid := a.PgConn().PID()
	pgtest.Exec(t, session(t, dsn), `SELECT pg_terminate_backend($1)`, pid)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the standby: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the standby did not lead after the leader's session ended")
	}
}

// A session that holds the leader lock without a ticker's rights is named to every
// standby (Intruder), and no longer once it lets go.
func TestStandbyNamesASessionThatIsNoTicker(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	stranger := pgtest.ConnAs(t, dsn, pgtest.NewRole(t, dsn, "stranger", ""))
	key := pgtest.QueryOne[int64](t, session(t, dsn), `SELECT werk_cron_lock_key()`)
	pgtest.Exec(t, stranger, `SELECT pg_advisory_lock($1)`, key)
	var who atomic.Value
	who.Store("")
	done, cancel := elect(t, session(t, dsn), leader.Options{
		Retry:    200 * time.Millisecond,
		Intruder: func(w string) { who.Store(w) },
	})
	pgtest.Eventually(t, 3*time.Second, "the standby naming the stranger", func() bool {
		return strings.Contains(who.Load().(string), "stranger")
	})
	pgtest.Exec(t, stranger, `SELECT pg_advisory_unlock($1)`, key)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the standby once the stranger let go: %v", err)
		}
	case <-time.After(3 * time.Second):
		cancel()
		t.Fatal("the standby did not lead once the stranger let go")
	}
}

// A DBA's plan_cache_mode = force_generic_plan (here set on the database, as it would be
// in postgresql.conf or on the role) does not reach the ticker's session: its tick
// statements are planned for their arrays.
func TestSessionPlansForItsParameters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := pgtest.MigratedDB(t)
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `DO $$ BEGIN
		EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_generic_plan', current_database());
		END $$`); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mode := func() string {
		var m string
		if err := conn.QueryRow(ctx, "SELECT current_setting('plan_cache_mode')").Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := mode(); m != "force_generic_plan" {
		t.Fatalf("plan_cache_mode = %s on a new session, want the database's force_generic_plan", m)
	}
	if err := leader.Prepare(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if m := mode(); m != "force_custom_plan" {
		t.Errorf("plan_cache_mode = %s on the ticker's session, want force_custom_plan", m)
	}
}
