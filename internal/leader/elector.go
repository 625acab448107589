package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Options configure Elect.
type Options struct {
	// Retry is how long a standby waits for the lock inside the server before asking
	// again (its only query while idle).
	Retry time.Duration
	// Waiting is called once when the lock is found taken: this session stands by.
	Waiting func()
	// Progress is called at every round of the wait (liveness of a standby).
	Progress func()
	// Log receives what a standby finds worth saying: a session that holds the leader
	// lock without being a ticker, a member key it cannot join.
	Log *slog.Logger
	// Intruder, when set, is told at every round of the wait who holds the leader lock
	// without being a ticker (a session whose role lacks a ticker's rights; see
	// werk_cron_list_instances), or "" when nobody such does.
	Intruder func(who string)
}

// Elect returns once this session holds the leader lock. The lock is session-level on
// the ticker's one connection, so the lock and every write share fate: when the session
// ends, PostgreSQL releases the lock and the writes stop with it.
//
// A standby first tries the lock; when it is taken, it waits for it inside the server
// for at most opts.Retry (lock_timeout) and then asks again. Waiting in the server
// rather than polling means the lock passes to a standby the moment the primary's
// session ends, while an idle standby still sends only one query per retry interval and
// finds out within that interval when its own connection is gone.
//
// Before it touches any lock, Elect makes sure the connection is a session of its own
// (checkSession): a lock taken through a transaction-pooling proxy would stay behind on
// a pooled server session, held by nobody, and keep every ticker from leading.
func Elect(ctx context.Context, conn *pgx.Conn, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := checkSession(ctx, conn); err != nil {
		return err
	}
	if err := Prepare(ctx, conn); err != nil {
		return err
	}
	q := db.New(conn)
	joined, err := q.JoinTickers(ctx)
	if err != nil {
		return fmt.Errorf("join werk_cron_instances: %w", err)
	}
	if !joined {
		opts.Log.Warn("another session holds the ticker membership key exclusively: this ticker is not listed in werk_cron_instances")
	}
	res, err := q.TryLeaderLock(ctx)
	if err != nil {
		return fmt.Errorf("try the leader lock: %w", err)
	}
	if !res.Locked {
		if opts.Waiting != nil {
			opts.Waiting()
		}
		if err := q.SetLockTimeout(ctx, fmt.Sprintf("%dms", opts.Retry.Milliseconds())); err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
		reported := map[int32]bool{}
		for !res.Locked {
			if opts.Progress != nil {
				opts.Progress()
			}
			// lock_timeout ends the wait in the server; the client's own deadline only
			// catches a connection that died without a word.
			wctx, cancel := context.WithTimeout(ctx, opts.Retry+5*time.Second)
			w, err := q.AwaitLeadership(wctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("wait for the leader lock: %w", err)
			}
			if w.Granted {
				res.Locked, res.BackendPid = true, w.BackendPid
				break
			}
			reportIntruder(w, opts, reported)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if opts.Intruder != nil {
			opts.Intruder("")
		}
		if err := q.SetLockTimeout(ctx, "0"); err != nil {
			return fmt.Errorf("reset lock_timeout: %w", err)
		}
	}
	return checkLeader(ctx, q, res.BackendPid)
}

// Prepare sets up a session of the ticker's before it calls any werkcron function: its
// search_path (pg_catalog, then werkcron's schema, never "$user" or public) and the
// server's end of its TCP settings (see tcp.go). Elect prepares the ticker's own
// session; the primary's other connections (a fan-out's) are prepared the same way.
func Prepare(ctx context.Context, conn *pgx.Conn) error {
	q := db.New(conn)
	if err := q.LeaveOutUserSchema(ctx); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	if err := q.SetSessionSettings(ctx); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42883" { // undefined_function
			return fmt.Errorf("werkcron's functions are not on this session's search_path: either they are not migrated to this "+
				"version here (run werkcron migrate as their owner), or this role cannot see them, or werkcron lives in a schema named "+
				"after this role that is not the role's own, which a ticker leaves out of \"$user\" (name it in search_path "+
				"explicitly, e.g. ALTER ROLE ... SET search_path = <schema>, public): %w", err)
		}
		return fmt.Errorf("set session settings: %w", err)
	}
	return nil
}

// reportIntruder tells opts.Intruder who holds the leader lock without being a ticker
// ("" when a ticker, or nobody, does), and logs each such session once: anyone who can
// connect can take an advisory lock, and while one holds it no ticker leads.
func reportIntruder(w db.AwaitLeadershipRow, opts Options, reported map[int32]bool) {
	who := ""
	if w.IntruderPid != 0 {
		who = fmt.Sprintf("pid %d, user %q, application %q, from %q", w.IntruderPid, w.IntruderUser, w.IntruderApplication, w.IntruderAddr)
		if !reported[w.IntruderPid] {
			reported[w.IntruderPid] = true
			opts.Log.Error("the leader lock is held by a session that is not a werkcron ticker: no ticker can schedule until it lets go",
				"pid", w.IntruderPid, "user", w.IntruderUser, "application_name", w.IntruderApplication, "client_addr", w.IntruderAddr)
		}
	}
	if opts.Intruder != nil {
		opts.Intruder(who)
	}
}

// sessionProbeRounds is how often checkSession has another client open a transaction
// through the proxy while it watches its own backend pid.
const sessionProbeRounds = 3

// checkSession returns ErrLockNotSession when conn's statements do not all run in one
// server session, as behind PgBouncer with pool_mode = transaction.
//
// Connected directly, the backend pid the server announced at startup (BackendKeyData)
// is pg_backend_pid(), and nothing else is needed. A proxy announces a pid of its own,
// and then only behaviour tells session pooling from transaction pooling: with nothing
// else going on, a transaction pooler hands the same idle server session back to every
// statement, exactly like a session. So a second, short-lived probe connection opens a
// transaction through the proxy (pinning a server session) while this connection asks
// for its backend pid, a few rounds: a transaction pooler either gives the probe the
// server session this connection just used or moves this connection to another one;
// a session pooler never does either. Statements run with the simple protocol here, so
// that a prepared statement lost between server sessions cannot hide the answer.
func checkSession(ctx context.Context, conn *pgx.Conn) error {
	q := db.New(simpleProtocol{conn})
	own, err := q.BackendPid(ctx)
	if err != nil {
		return fmt.Errorf("check the session: %w", err)
	}
	if uint32(own) == conn.PgConn().PID() {
		return nil // connected straight to PostgreSQL
	}
	cfg := conn.Config().Copy()
	cfg.RuntimeParams["application_name"] = truncateName(cfg.RuntimeParams["application_name"]+" session-probe", 63)
	probe, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("check the session (connect a probe): %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		_ = probe.Close(cctx)
	}()
	for range sessionProbeRounds {
		tx, err := probe.Begin(ctx)
		if err != nil {
			return fmt.Errorf("check the session (probe): %w", err)
		}
		other, err := db.New(simpleProtocol{tx}).BackendPid(ctx)
		if err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("check the session (probe): %w", err)
		}
		now, err := q.BackendPid(ctx)
		_ = tx.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("check the session: %w", err)
		}
		if other == own || now != own {
			return fmt.Errorf("%w (another client's transaction ran in this connection's server session, "+
				"or this connection moved from backend %d to %d)", ErrLockNotSession, own, now)
		}
	}
	return nil
}

// simpleProtocol runs statements with the simple query protocol: no prepared statement
// that a transaction-pooling proxy could lose between server sessions.
type simpleProtocol struct{ db.DBTX }

func (s simpleProtocol) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return s.DBTX.Exec(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
}

func (s simpleProtocol) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return s.DBTX.Query(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
}

func (s simpleProtocol) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return s.DBTX.QueryRow(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
}

func truncateName(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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

// Resign releases the leader lock so that a standby takes over at once. It runs on a
// context of its own: shutdown must still get this statement through.
func Resign(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := db.New(conn).ReleaseLeaderLock(ctx)
	return err
}
