package faults

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// startPgBouncer runs Debian's pgbouncer in front of the database at dsn on a free
// loopback port, with two entries: "tx" (pool_mode = transaction) and "sess" (session).
// It returns the URL of each. As root it runs as the postgres user (pgbouncer refuses
// root). The test is skipped when pgbouncer is not installed (.ci/run installs it).
func startPgBouncer(t *testing.T, dsn string, roundRobin bool) (tx, sess string) {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Skip("pgbouncer is not installed (apt-get install pgbouncer)")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "werkcron-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("pgbouncer refuses to run as root, and there is no postgres user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// server_round_robin = 1: hand out server connections in turn rather than the most
	// recently used one (the default), so that consecutive statements of one client land
	// on different server sessions as soon as there are several.
	ini := fmt.Sprintf(`[databases]
tx = host=%[1]s port=%[2]d dbname=%[3]s user=postgres pool_mode=transaction
sess = host=%[1]s port=%[2]d dbname=%[3]s user=postgres pool_mode=session

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[4]d
unix_socket_dir =
auth_type = any
pool_mode = session
server_round_robin = %[6]d
default_pool_size = 10
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
logfile = %[5]s/pgbouncer.log
`, cfg.Host, cfg.Port, cfg.Database, port, dir, map[bool]int{false: 0, true: 1}[roundRobin])
	path := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, path)
	out := &pgtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Logf("--- pgbouncer:\n%s%s", out, tail(string(log), 40))
		}
	})
	pgtest.Eventually(t, 10*time.Second, "pgbouncer listens", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	url := func(db string) string {
		return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
	}
	return url("tx"), url("sess")
}

// Behind PgBouncer in transaction mode a session advisory lock means nothing: werkcron
// must refuse to lead, say why, and exit non-zero, without enqueuing anything. In
// session mode it works as if connected directly.
func TestPgBouncer(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	addSchedules(t, pool, 3)
	tx, sess := startPgBouncer(t, dsn, true)
	txLIFO, _ := startPgBouncer(t, dsn, false)

	t.Run("transaction pooling refuses to lead", func(t *testing.T) {
		for i := range 4 {
			p := startTicker(t, []string{tx, txLIFO}[i%2], "--no-migrate")
			if code := p.wait(t, 20*time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1; log:\n%s", code, tail(p.out.String(), 20))
			}
			log := p.out.String()
			if !strings.Contains(log, "transaction pooling") || !strings.Contains(log, "not held by this session") {
				t.Fatalf("the error does not say the lock is not the session's (transaction pooling):\n%s", tail(log, 20))
			}
			if strings.Contains(log, "now schedules") {
				t.Fatalf("it led:\n%s", log)
			}
			t.Logf("refused: %s", lastLine(log))
		}
		if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`); n != 0 {
			t.Fatalf("%d jobs enqueued through a transaction-pooling proxy", n)
		}
	})

	t.Run("session pooling leads", func(t *testing.T) {
		a := startTicker(t, sess, "--no-migrate")
		b := startTicker(t, sess, "--no-migrate")
		primary := waitInstances(t, pool, 2, 10*time.Second)
		waitProgress(t, pool, 3*time.Second)
		old := map[int]*proc{a.pid(): a, b.pid(): b}[primary.osPid]
		if old == nil {
			t.Fatalf("primary %+v is not ours", primary)
		}
		// pgbouncer keeps the server session (DISCARD ALL releases the lock), so time
		// the handover from the kill to the other ticker's leader@ stamp.
		killed := time.Now()
		old.signal(syscall.SIGKILL)
		pgtest.Eventually(t, 5*time.Second, "the standby leads", func() bool {
			ins, err := instances(pool)
			return err == nil && len(ins) == 1 && ins[0].role == "primary" && ins[0].osPid != old.pid() &&
				pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE pid = $1 AND application_name LIKE '% leader@%')`, ins[0].backend)
		})
		t.Logf("through pgbouncer (session mode): SIGKILL -> standby leading after %s", ms(time.Since(killed)))
		waitProgress(t, pool, 3*time.Second)
		checkLedger(t, pool)
	})
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}
