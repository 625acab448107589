package main

// What other database users can do, as the CLI and the ticker's HTTP endpoint see it.

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// ls and status read werk_cron_instances, whose pg_stat_activity columns are NULL for a
// ticker on a Unix socket (no client address) and for sessions of other roles (a viewer
// without pg_read_all_stats): they still work, for a viewer granted only the views.
func TestCLILsAndStatusWithSocketTickerAndAnotherViewer(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	socketDir := query[string](t, dsn, `SELECT split_part(current_setting('unix_socket_directories'), ',', 1)`)
	u, _ := url.Parse(dsn)
	socketDSN := fmt.Sprintf("host=%s port=%s dbname=%s user=postgres sslmode=disable", socketDir, u.Port(), strings.TrimPrefix(u.Path, "/"))
	startRun(t, socketDSN, "--no-migrate")
	pgtest.Eventually(t, 10*time.Second, "the socket ticker primary", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_cron_instances WHERE role = 'primary' AND client_addr IS NULL`) == 1
	})
	mustCLI(t, dsn, "add", "s", "--func", "app.s", "--every", "1h")
	viewer := pgtest.NewRole(t, dsn, "viewer", "")
	execSQL(t, dsn, `GRANT SELECT ON werk_cron_status, werk_cron_instances, werk_cron_ticks, werk_cron_jobs TO `+viewer)
	as := pgtest.AsRole(t, dsn, viewer)
	r := mustCLI(t, as, "status")
	if !strings.Contains(r.stdout, "primary") || !strings.Contains(r.stdout, "pid ") {
		t.Errorf("status as %s:\n%s", viewer, r.stdout)
	}
	if r := mustCLI(t, as, "ls"); !strings.Contains(r.stdout, "\ns ") {
		t.Errorf("ls as %s:\n%s", viewer, r.stdout)
	}
	st := decode[map[string]any](t, mustCLI(t, as, "status", "--json"))
	if p, _ := st["primary"].(map[string]any); p == nil || p["client_addr"] != nil {
		t.Errorf("status --json: primary %v, want one without a client address", st["primary"])
	}
}

// Whatever a schedule's name or error holds, a table printed to a terminal carries no
// control character of it (ESC would drive the terminal); --json escapes them itself.
func TestCLIEscapesWhatItPrints(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	evil := "evil\x1b[2J\x1b]0;owned\x07\u202e"
	execSQL(t, dsn, `INSERT INTO werk_cron_jobs (name, func, interval_secs, paused, paused_reason)
		VALUES (E'evil\x1b[2J\x1b]0;owned\x07\u202e', E'app.\x1b[31mred', 60, true, E'why\x1b[0m')`)
	execSQL(t, dsn, `UPDATE werk_cron_state SET last_error = E'bad\x1b[5m' WHERE name LIKE 'evil%'`)
	// One in error too: status lists those (not paused ones) by name.
	execSQL(t, dsn, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES (E'evil2\x1b[2J', 'app.x', 60)`)
	execSQL(t, dsn, `UPDATE werk_cron_state SET last_error = E'bad\x1b[5m' WHERE name LIKE 'evil2%'`)
	for _, args := range [][]string{{"ls"}, {"show", evil}, {"status"}, {"history", evil}} {
		r := mustCLI(t, dsn, args...)
		if strings.ContainsAny(r.stdout, "\x1b\x07\u202e") {
			t.Errorf("werkcron %s printed control characters: %q", args[0], r.stdout)
		}
		if args[0] != "history" && !strings.Contains(r.stdout, `\x1b`) {
			t.Errorf("werkcron %s: the escaped name is not shown: %q", args[0], r.stdout)
		}
	}
	// Errors too: a name given on the command line comes back in the message.
	r := wantCode(t, dsn, 1, []string{"no such schedule"}, "show", "nope\x1b[2J\u202e")
	if strings.ContainsAny(r.stderr, "\x1b\u202e") || !strings.Contains(r.stderr, `\x1b`) {
		t.Errorf("show of an unknown name printed control characters in its error: %q", r.stderr)
	}
	rows := decode[[]map[string]any](t, mustCLI(t, dsn, "ls", "--json"))
	if len(rows) != 2 || rows[0]["name"] != evil {
		t.Errorf("ls --json: %v", rows)
	}
}

// A ticker that keeps becoming primary and failing before it schedules anything (here:
// its role may not read the schedules) looks alive, reconnecting; /healthz says it is
// failing, and why.
func TestHealthzReportsAPrimaryThatKeepsFailing(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	blind := pgtest.NewRole(t, dsn, "blind", "")
	execSQL(t, dsn, `GRANT USAGE ON SCHEMA public TO `+blind)
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tk := startRun(t, pgtest.AsRole(t, dsn, blind), "--no-migrate", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port))
	pgtest.Eventually(t, 30*time.Second, "/healthz: failing", func() bool {
		code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		return err == nil && code == 503 && strings.Contains(body, "failing") && strings.Contains(body, "permission denied")
	})
	_ = tk
}

// Connections to the HTTP endpoint that never send a request are closed by the server
// (read deadlines), instead of staying open for as long as the client likes.
func TestHTTPClosesIdleConnections(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startRun(t, dsn, "--no-migrate", "--http-addr", addr)
	pgtest.Eventually(t, 10*time.Second, "/healthz up", func() bool {
		code, _, err := httpGet("http://" + addr + "/healthz")
		return err == nil && code == 200
	})
	var conns []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Each is closed by the server after its read-header deadline (5 s).
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("connection %d still open after 10 s without a request: %v", i, err)
		}
	}
}
