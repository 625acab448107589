package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Creating and dropping databases goes through a small pool of admin sessions kept for
// the whole test process: a new session costs 10-40 ms on a small machine (a backend
// fork and its catalog caches), as much as copying a template database on tmpfs, and
// every test creates one database and drops it.
var (
	adminMu    sync.Mutex
	adminPools = map[string]*pgxpool.Pool{}
)

func adminPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	adminMu.Lock()
	defer adminMu.Unlock()
	if p := adminPools[dsn]; p != nil {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse the test server's URL: %w", err)
	}
	// Parallel tests drop their databases at once; more sessions than that would only
	// sit idle on the server.
	cfg.MaxConns = 4
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to test server: %w", err)
	}
	adminPools[dsn] = p
	return p, nil
}

// adminExec runs sql (CREATE or DROP DATABASE, ...) on the server at dsn.
func adminExec(ctx context.Context, dsn, sql string) error {
	p, err := adminPool(ctx, dsn)
	if err != nil {
		return err
	}
	if _, err := p.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func closeAdminPools() {
	adminMu.Lock()
	defer adminMu.Unlock()
	for dsn, p := range adminPools {
		p.Close()
		delete(adminPools, dsn)
	}
}

// EnvClusterParent names a directory to create throwaway clusters in, instead of the
// one ClusterDir picks.
const EnvClusterParent = "WERK_TEST_PG_TMPDIR"

// shmMinFree is how much room /dev/shm needs for ClusterDir to use it: a cluster takes
// about 40 MB, each live test database 8 MB, and the WAL stays near min_wal_size
// (80 MB) since every DROP DATABASE forces a checkpoint; so the clusters of the
// packages `go test` runs at once fit with a wide margin. Docker's default 64 MB
// /dev/shm does not qualify, and clusters go to disk there.
const shmMinFree = 2 << 30

// ClusterDir makes a new directory for a throwaway cluster: under $WERK_TEST_PG_TMPDIR
// if set, else under /dev/shm if it is there with room to spare, else under the system
// temp dir. On tmpfs, CREATE DATABASE takes about 10 ms instead of 100-150 ms on ext4,
// where creating the database's ~300 files right after dropping another's is slow; each
// test creates a database. The directory is reachable by the postgres user (it is not
// under a private parent like t.TempDir's), which Init makes its owner when running as
// root.
func ClusterDir() (string, error) {
	parent := os.Getenv(EnvClusterParent)
	if parent == "" && shmHasRoom() {
		parent = "/dev/shm"
	}
	return os.MkdirTemp(parent, "werkcron-pg-")
}

func shmHasRoom() bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil {
		return false
	}
	if uint64(st.Bavail)*uint64(st.Bsize) < shmMinFree {
		return false
	}
	// Writable for us (and not, say, a read-only bind mount).
	f, err := os.CreateTemp("/dev/shm", "werkcron-probe-")
	if err != nil {
		return false
	}
	f.Close()
	_ = os.Remove(filepath.Clean(f.Name()))
	return true
}
