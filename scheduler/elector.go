package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
)

// ErrLockNotSession means the leader lock was granted but not to this session: a
// transaction-pooling proxy (PgBouncer with pool_mode = transaction) runs each statement
// on whichever server session is free, which silently breaks session advisory locks. A
// ticker behind one must not lead, or two could enqueue at once.
var ErrLockNotSession = errors.New("the leader lock is not held by this session: " +
	"werkcron needs a session of its own (connect directly to PostgreSQL, or through a proxy in session pooling mode, not transaction pooling)")

// elect returns once this session holds the leader lock. The lock is session-level on
// the ticker's one connection, so the lock and every write share fate: when the session
// ends, PostgreSQL releases the lock and the writes stop with it.
//
// A standby first tries the lock; when it is taken, it waits for it inside the server
// for at most retry (lock_timeout) and then asks again. Waiting in the server rather
// than polling means the lock passes to a standby the moment the primary's session
// ends, while an idle standby still sends only one query per retry interval and finds
// out within that interval when its own connection is gone.
func elect(ctx context.Context, conn *pgx.Conn, retry time.Duration, waiting func()) error {
	q := db.New(conn)
	if err := q.JoinTickers(ctx); err != nil {
		return fmt.Errorf("join werk_cron_instances: %w", err)
	}
	res, err := q.TryLeaderLock(ctx)
	if err != nil {
		return fmt.Errorf("try the leader lock: %w", err)
	}
	if !res.Locked {
		waiting()
		if err := q.SetLockTimeout(ctx, fmt.Sprintf("%dms", retry.Milliseconds())); err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
		for !res.Locked {
			pid, err := q.WaitLeaderLock(ctx)
			var pgErr *pgconn.PgError
			switch {
			case err == nil:
				res.Locked, res.BackendPid = true, pid
			case errors.As(err, &pgErr) && pgErr.Code == "55P03": // lock_not_available
				if ctx.Err() != nil {
					return ctx.Err()
				}
			default:
				return fmt.Errorf("wait for the leader lock: %w", err)
			}
		}
		if err := q.SetLockTimeout(ctx, "0"); err != nil {
			return fmt.Errorf("reset lock_timeout: %w", err)
		}
	}
	return checkLeader(ctx, q, res.BackendPid)
}

// checkLeader verifies that the backend that was granted the lock (pid) is this
// session's and still holds it.
func checkLeader(ctx context.Context, q *db.Queries, pid int32) error {
	hb, err := q.LeaderHeartbeat(ctx)
	if err != nil {
		return fmt.Errorf("check the leader lock: %w", err)
	}
	if !hb.Held || hb.BackendPid != pid {
		return ErrLockNotSession
	}
	return nil
}

// resign releases the leader lock so that a standby takes over at once. It runs on a
// context of its own: shutdown must still get this statement through.
func resign(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := db.New(conn).ReleaseLeaderLock(ctx)
	return err
}
