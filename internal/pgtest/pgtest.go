package pgtest

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// EnvURL names a server to use instead of booting one. Tests create (and drop) their
// own databases on it, so the role needs CREATEDB.
const EnvURL = "WERK_TEST_DATABASE_URL"

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
	dbSeq      atomic.Int64
)

// Parallel is how many parallel tests (t.Parallel) of a package Main lets run at once
// when -parallel is not given; a TestMain may change it before calling Main. Go's
// default is GOMAXPROCS, 2 on a small machine, but these tests spend most of their time
// waiting for ticks to come due and for the server. On 2 cores with -race, 8 at once
// took the scheduler package from 95 s to about 25 s; 16 or 32 gained a few seconds
// more, but with `go test ./...` running two packages together they made tickers more
// than a second late, which tests that check enqueue times rightly report. Each test
// holds a handful of sessions, far below the cluster's max_connections.
var Parallel = 8

// Main runs a test package, then drops the migrated template database MigratedDB made
// (it would outlive the process on a WERK_TEST_DATABASE_URL server) and stops the
// cluster it booted, if any:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Unless the command line says -parallel, up to Parallel parallel tests run at once.
func Main(m *testing.M) int {
	defaultParallel()
	code := m.Run()
	dropTemplate()
	closeAdminPools()
	if shared != nil {
		_ = shared.Remove(context.Background())
	}
	return code
}

// defaultParallel sets -test.parallel to Parallel unless it was given.
func defaultParallel() {
	if !flag.Parsed() {
		flag.Parse() // testing registered its flags before TestMain
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && flag.Lookup("test.parallel") != nil {
		_ = flag.Set("test.parallel", strconv.Itoa(Parallel))
	}
}

// serverURL returns the admin URL of the server tests use: WERK_TEST_DATABASE_URL, or
// the package's shared throwaway cluster, booted on first use.
func serverURL() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir, err := ClusterDir()
		if err != nil {
			sharedErr = err
			return
		}
		c, err := Init(ctx, dir)
		if err == nil {
			err = c.Start(ctx)
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			sharedErr = fmt.Errorf("boot a throwaway PostgreSQL: %w", err)
			return
		}
		shared = c
	})
	if sharedErr != nil {
		return "", sharedErr
	}
	return shared.DSN("postgres"), nil
}

// NewDB creates an empty database for t and returns its URL; it is dropped when t ends.
func NewDB(t testing.TB) string {
	t.Helper()
	admin, err := serverURL()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("werktest_%d_%d", os.Getpid(), dbSeq.Add(1))
	execSQL(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		// FORCE: tickers a test started may still hold sessions.
		execSQL(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return WithDatabase(admin, name)
}

// NewCluster boots a cluster of t's own (for tests that stop or restart the server),
// removed when t ends.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Not t.TempDir(): its parent is private to the user running the tests, and as root
	// the server runs as postgres, which must reach the directory.
	dir, err := ClusterDir()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Init(ctx, dir)
	if err == nil {
		err = c.Start(ctx)
	}
	t.Cleanup(func() {
		if c != nil {
			_ = c.Remove(context.Background())
		}
		_ = os.RemoveAll(dir)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WithDatabase returns dsn (a URL) pointing at database db instead.
func WithDatabase(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// key=value form
		return strings.TrimSpace(dsn) + " dbname=" + db
	}
	u.Path = "/" + db
	return u.String()
}

func execSQL(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, dsn, sql); err != nil {
		t.Fatal(err)
	}
}
