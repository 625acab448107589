// Package pgtest boots throwaway PostgreSQL clusters from the system's binaries, for
// werkcron's tests and for `make run`. A cluster listens on a free loopback port and a
// private socket directory, runs with durability off (it is thrown away), and as root it
// runs as the postgres user, since the server refuses to run as root.
//
// Tests get a database of their own from MigratedDB (a copy of a template that has
// every migration, made once per test process) or NewDB (empty), on one cluster per
// test package or on WERK_TEST_DATABASE_URL.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is one running (or stopped) throwaway PostgreSQL server.
type Cluster struct {
	Dir  string // holds data/, the socket and the log
	Port int
	bin  string
	cred *syscall.Credential // non-nil when we run the server as another user
}

// BinDir finds the directory of the server binaries: $WERK_PG_BINDIR, pg_config --bindir,
// or the newest /usr/lib/postgresql/*/bin.
func BinDir() (string, error) {
	if dir := os.Getenv("WERK_PG_BINDIR"); dir != "" {
		return dir, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries found (initdb): install Debian's postgresql package, or set WERK_PG_BINDIR")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Init creates a new cluster in dir (which must not hold one yet) on a free port. It
// does not start it.
func Init(ctx context.Context, dir string) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	c := &Cluster{Dir: dir, Port: port, bin: bin}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if out, err := c.command(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// Durability off (the cluster is thrown away); enough connections for several tickers
	// and a test's own pool.
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
log_statement = 'none'
wal_level = replica
max_wal_senders = 5
`, port, dir)
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(conf); err != nil {
		return nil, err
	}
	return c, nil
}

// Open returns the cluster already initialised in dir (for `make run`, which keeps it
// between runs).
func Open(dir string) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	conf, err := os.ReadFile(filepath.Join(dir, "data", "postgresql.conf"))
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin}
	for _, line := range strings.Split(string(conf), "\n") {
		if v, ok := strings.CutPrefix(line, "port = "); ok {
			c.Port, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if c.Port == 0 {
		return nil, fmt.Errorf("no port in %s/data/postgresql.conf", dir)
	}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	out, err := c.command(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.dataDir(),
		"-l", c.LogFile()).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(c.LogFile())
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server; mode is pg_ctl's: "fast" or "immediate" (a crash).
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	out, err := c.command(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", c.dataDir()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Running reports whether the server's postmaster is alive.
func (c *Cluster) Running(ctx context.Context) bool {
	return c.command(ctx, "pg_ctl", "status", "-D", c.dataDir()).Run() == nil
}

// Remove stops the server (if running) and deletes its directory.
func (c *Cluster) Remove(ctx context.Context) error {
	if c.Running(ctx) {
		_ = c.Stop(ctx, "immediate")
	}
	return os.RemoveAll(c.Dir)
}

// DSN is a URL for database db as the superuser postgres, over TCP on loopback.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// LogFile is the server's log.
func (c *Cluster) LogFile() string { return filepath.Join(c.Dir, "server.log") }

// Bin returns the path of a PostgreSQL program (pg_basebackup, psql, ...).
func (c *Cluster) Bin(name string) string { return filepath.Join(c.bin, name) }

// Command runs a PostgreSQL program as the cluster's owner.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return c.command(ctx, name, args...)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Bin(name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl's server must outlive a cancelled context; kill only pg_ctl itself.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the server must run as the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
