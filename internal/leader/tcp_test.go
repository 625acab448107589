package leader_test

import (
	"context"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/leader"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The dialer's socket carries what leader.Dialer promises: keepalives and, on Linux,
// TCP_USER_TIMEOUT, read back from the kernel.
func TestDialerSetsSocketOptions(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1)) // until the client closes
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := leader.Dialer().DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	get := func(level, opt int) int {
		var v int
		var gerr error
		if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, opt) }); err != nil {
			t.Fatal(err)
		}
		if gerr != nil {
			t.Fatalf("getsockopt(%d, %d): %v", level, opt, gerr)
		}
		return v
	}
	if runtime.GOOS != "linux" {
		t.Skip("TCP_USER_TIMEOUT and the keepalive options are read back on Linux only")
	}
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(leader.KeepaliveIdle / time.Second)},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(leader.KeepaliveInterval / time.Second)},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, leader.KeepaliveCount},
		{"TCP_USER_TIMEOUT", syscall.IPPROTO_TCP, 0x12, int(leader.UserTimeout / time.Millisecond)},
	} {
		if got := get(o.level, o.opt); got != o.want {
			t.Errorf("%s = %d, want %d", o.name, got, o.want)
		}
	}
}

// A Unix socket (a DSN with host=/var/run/postgresql) is dialled as usual: the TCP
// options are not tried on it.
func TestDialerUnixSocket(t *testing.T) {
	path := t.TempDir() + "/s"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := leader.Dialer().DialContext(context.Background(), "unix", path)
	if err != nil {
		t.Fatalf("dial a Unix socket: %v", err)
	}
	c.Close()
}

// The server's end of the ticker's session gets the same numbers from SetSessionSettings
// (queries/leader.sql) as the ticker's end from Dialer: the two are kept in step by hand.
func TestSessionSettingsMatchDialer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(pgtest.MigratedDB(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = leader.Dialer().DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := leader.Elect(ctx, conn, leader.Options{Retry: time.Second}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{
		"tcp_keepalives_idle":     int(leader.KeepaliveIdle / time.Second),
		"tcp_keepalives_interval": int(leader.KeepaliveInterval / time.Second),
		"tcp_keepalives_count":    leader.KeepaliveCount,
		"tcp_user_timeout":        int(leader.UserTimeout / time.Millisecond),
	} {
		// In the setting's base unit: seconds for the keepalives, milliseconds for
		// tcp_user_timeout. Over TCP the server reads them back from its socket.
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != strconv.Itoa(want) {
			t.Errorf("%s = %s on the ticker's session, want %d (as leader.Dialer sets at the ticker's end)", name, got, want)
		}
	}
}
