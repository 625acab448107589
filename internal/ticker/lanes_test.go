package ticker

import (
	"context"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// The lanes of a round sent whole: a statement waits for its lane's turn, which the
// statement writing in that lane holds until it commits, and for nothing else. A
// statement in another lane goes ahead, and one whose lane stays taken past its limit
// goes ahead without its turn rather than wait on.
func TestLaneTurns(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	holder := connect(t, dsn)

	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(werk_cron_lane_class(), 1)`); err != nil {
		t.Fatal(err)
	}

	type turn struct {
		at      time.Time
		timeout string // lock_timeout after the wait, in its transaction
		err     error
	}
	// wait waits for lane's turn at most limit, in a transaction whose lock_timeout is
	// 100ms, as the ticker's are.
	wait := func(lane int, limit string) <-chan turn {
		done := make(chan turn, 1)
		conn := connect(t, dsn)
		go func() {
			var tr turn
			defer func() { done <- tr }()
			tx, err := conn.Begin(ctx)
			if tr.err = err; err != nil {
				return
			}
			defer tx.Rollback(ctx)
			if _, tr.err = tx.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`); tr.err != nil {
				return
			}
			if tr.err = tx.QueryRow(ctx, `SELECT werk_cron_wait_turn(1, now(), $1, clock_timestamp() + $2::interval)`,
				lane, limit).Scan(&tr.at); tr.err != nil {
				return
			}
			tr.err = tx.QueryRow(ctx, `SELECT current_setting('lock_timeout')`).Scan(&tr.timeout)
		}()
		return done
	}
	inLane := wait(1, "1 hour")
	otherLane := wait(2, "1 hour")
	pastLimit := wait(1, "300 milliseconds")

	for name, ch := range map[string]<-chan turn{"another lane": otherLane, "a lane taken past its limit": pastLimit} {
		select {
		case tr := <-ch:
			if tr.err != nil {
				t.Fatalf("%s: %v", name, tr.err)
			}
			if tr.timeout != "100ms" {
				t.Errorf("%s: lock_timeout %q after the wait, want the session's 100ms back", name, tr.timeout)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still waits while lane 1 is taken", name)
		}
	}
	select {
	case tr := <-inLane:
		t.Fatalf("a statement went ahead in lane 1 while it was taken (at %s, err %v)", tr.at, tr.err)
	default:
	}
	var released time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&released); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case tr := <-inLane:
		if tr.err != nil {
			t.Fatal(tr.err)
		}
		if tr.timeout != "100ms" {
			t.Errorf("lock_timeout %q after the wait for lane 1, want the session's 100ms back", tr.timeout)
		}
		if tr.at.Before(released) {
			t.Errorf("lane 1's turn came at %s, before its holder committed (after %s)", tr.at, released)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lane 1's turn did not come once its holder committed")
	}
}
