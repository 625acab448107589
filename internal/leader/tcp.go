package leader

import (
	"context"
	"net"
	"syscall"
	"time"
)

// TCP settings of the ticker's one connection. The same numbers are set at both ends:
// here by the ticker's dialer, and on the server's socket by SetSessionSettings
// (queries/leader.sql), which must agree with them (TestSessionSettingsMatchDialer).
//
// What they are for: when the primary's host is cut off without anything closing the
// connection (a partition, a dead host, a pulled cable), the server must end its session,
// and so release the leader lock to the standby already waiting for it inside the server,
// within seconds; and the cut-off ticker must notice within seconds that its session is
// gone (it can write nothing meanwhile: every write is on that session). Measured with
// internal/faults' partition tests: the new primary's first job came 3.6 to 4.2 s after
// the partition, against a goal of 5 s (11 s with the former keepalives alone, and about
// 15 minutes of retransmissions when the server had a reply in flight).
//
// What cannot trip them: only the peer's kernel has to answer, and it answers for a
// process that is stopped (SIGSTOP, a long pause), busy with a long statement, or on a
// loaded host. Probes are TCP segments, not queries: an idle session costs the server no
// work. The one exception is a peer that stays stopped for longer than UserTimeout while
// the other end has more to send than its receive buffer holds (Linux then aborts on the
// zero window too): a primary stopped mid-read of a large result for over 3.5 s.
//
// Margin on a real network: a segment that is lost is sent again after the retransmission
// timeout (at least 200 ms on Linux, doubling), at 0, 0.2, 0.6, 1.4 and 3 s: the segment
// or its acknowledgment must be lost five times in a row before UserTimeout gives up
// (four times at round trips over about 100 ms, whose timeouts are longer). An idle
// connection gives up after three unanswered probes in a row: at 1% loss each way that
// happens about once in a day and a half per idle connection, at 0.1% once in years. A
// false give-up costs one failover (ticks about 4 s late, none twice, none lost with
// catchup = 'all'), not correctness.
//
// Through a proxy (PgBouncer in session pooling) the server's end is the proxy's
// connection: how soon a cut-off ticker's session, and its lock, end is then up to the
// proxy's own settings (PgBouncer: tcp_keepalive, tcp_keepidle, tcp_keepintvl,
// tcp_keepcnt, tcp_user_timeout), which should be these.
const (
	// KeepaliveIdle: the first probe after 1 s without a segment from the peer. An
	// idle primary's session (it sleeps up to --heartbeat between statements) thus
	// keeps proving its peer is there, and the clock of UserTimeout starts at most
	// about a second before the peer vanished.
	KeepaliveIdle = time.Second
	// KeepaliveInterval: a probe every second after that, so that three probes are
	// tried before UserTimeout gives up on an idle connection.
	KeepaliveInterval = time.Second
	// KeepaliveCount only applies where TCP_USER_TIMEOUT does not (it replaces the
	// count on Linux): 1 s + 3 x 1 s gives up at 4 s, as UserTimeout does on an idle
	// connection.
	KeepaliveCount = 3
	// UserTimeout: the connection is dropped when what was sent (data, or a keepalive
	// probe) is not acknowledged for this long. An idle connection gives up at the first
	// probe at or after it, 4 s after the last segment received; one with data in flight
	// at its first retransmission (~0.2 s) plus 3.5 s. Then the standby has the lock at
	// once and its first job follows within tens of milliseconds: under 5 s in all. Not
	// 4 s: an idle connection would give up no sooner (its probes come each second), but
	// one with a reply in flight would, with the rest of a long statement and the
	// promotion, come close to 5 s; and not 3 s, which would leave an idle connection
	// only two probes.
	UserTimeout = 3500 * time.Millisecond
)

// Dialer returns the dialer of the ticker's connection: TCP keepalives and
// TCP_USER_TIMEOUT as above (cfg.DialFunc = leader.Dialer().DialContext). A Unix socket
// is dialled as usual, without them.
func Dialer() *net.Dialer {
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: KeepaliveIdle, Interval: KeepaliveInterval, Count: KeepaliveCount},
		// Before connect, so that the first statement is covered too.
		ControlContext: func(_ context.Context, network, _ string, c syscall.RawConn) error {
			switch network {
			case "tcp", "tcp4", "tcp6":
				return setUserTimeout(c, UserTimeout)
			}
			return nil
		},
	}
}
