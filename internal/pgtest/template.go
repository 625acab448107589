package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/internal/migrate"
)

// Running every goose migration costs each test a few hundred milliseconds; copying a
// database that is already migrated costs about as much as creating an empty one. So
// each test process migrates one template database, once, and MigratedDB copies it
// with CREATE DATABASE ... TEMPLATE.

var (
	// tmplOnce builds the template on first use; every later caller, from any test
	// goroutine, gets the same result, error included, so that a broken migration fails
	// each test quickly instead of migrating again.
	tmplOnce sync.Once
	tmplErr  error

	// tmplMu guards tmplAdmin and tmplName, which Main reads to drop the template. The
	// name is recorded as soon as the database exists, so that a failed migration still
	// leaves nothing behind on a shared server.
	tmplMu    sync.Mutex
	tmplAdmin string
	tmplName  string

	// copyMu serialises this process's copies of the template. PostgreSQL refuses to
	// copy a database that has sessions on it, but copies in flight are not sessions
	// (each only share-locks the source), so this is for speed, not correctness: 8
	// goroutines making and dropping 40 copies took 1.5 s at once and 0.6 s one copy
	// at a time (2 cores, tmpfs), since concurrent copies fight over the same buffers
	// and checkpoints.
	copyMu sync.Mutex
)

// errObjectInUse is SQLSTATE 55006, object_in_use: "source database ... is being
// accessed by other users".
const errObjectInUse = "55006"

// MigratedDB creates a database for t that already has werkcron's schema (every goose
// migration, as migrate.Up leaves it) and returns its URL; it is dropped when t ends.
// Tests that need an empty database, or migrations into another schema, use NewDB.
// Safe to call from parallel tests. The package's TestMain must use Main (or
// MainWithWerkcron), which drops the template at the end.
func MigratedDB(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, name, err := copyMigrated(ctx, "werktest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// FORCE: tickers a test started may still hold sessions.
		execSQL(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return WithDatabase(admin, name)
}

// MigratedTempDB is MigratedDB for code without a testing.TB (runnable examples): it
// creates a migrated database and returns its URL and a function that drops it.
func MigratedTempDB(ctx context.Context) (dsn string, drop func(), err error) {
	admin, name, err := copyMigrated(ctx, "werkexample")
	if err != nil {
		return "", nil, err
	}
	drop = func() { _ = adminExec(context.Background(), admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }
	return WithDatabase(admin, name), drop, nil
}

// copyMigrated creates a new database named prefix_<pid>_<n> as a copy of the
// process's migrated template and returns the admin URL and the new database's name.
func copyMigrated(ctx context.Context, prefix string) (admin, name string, err error) {
	admin, tmpl, err := migratedTemplate()
	if err != nil {
		return "", "", err
	}
	name = fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), dbSeq.Add(1))
	copyMu.Lock()
	defer copyMu.Unlock()
	// Nothing connects to the template once it is built (it refuses connections), and
	// other processes on a shared WERK_TEST_DATABASE_URL server copy templates of their
	// own, so 55006 should not happen; if a session on it is slow to go away anyway
	// (PostgreSQL itself waits 5 s for one before it gives up), retry rather than fail
	// a test.
	for attempt := 1; ; attempt++ {
		err = adminExec(ctx, admin, "CREATE DATABASE "+name+" TEMPLATE "+tmpl)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 3 || !errors.As(err, &pgErr) || pgErr.Code != errObjectInUse {
			break
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("%w (and then %w)", err, ctx.Err())
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("copy the migrated template: %w", err)
	}
	return admin, name, nil
}

// migratedTemplate returns the admin URL and the name of this process's migrated
// template database, creating it on first use.
func migratedTemplate() (admin, name string, err error) {
	tmplOnce.Do(func() { tmplErr = createTemplate() })
	tmplMu.Lock()
	defer tmplMu.Unlock()
	return tmplAdmin, tmplName, tmplErr
}

func createTemplate() error {
	admin, err := serverURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Unique per process: packages that `go test` runs at once share a
	// WERK_TEST_DATABASE_URL server, maybe from several machines (so the pid alone
	// could clash), and a process killed before Main's cleanup leaves its template.
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := fmt.Sprintf("werktmpl_%d_%s", os.Getpid(), hex.EncodeToString(suffix[:]))
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		return err
	}
	tmplMu.Lock()
	tmplAdmin, tmplName = admin, name
	tmplMu.Unlock()

	if err := migrate.Up(ctx, WithDatabase(admin, name), nil); err != nil {
		return fmt.Errorf("migrate the template database %s: %w", name, err)
	}
	// A database with sessions on it cannot be copied. migrate.Up closes its
	// database/sql pool, goose's lock session included, before it returns; refusing
	// new connections keeps everyone else out too: a stray test, psql, and autovacuum
	// workers (which PostgreSQL would otherwise have to cancel on each copy). The owner
	// (a role with CREATEDB is enough) may copy a database not marked IS_TEMPLATE, and
	// leaving it unmarked lets a plain DROP DATABASE remove it.
	if err := adminExec(ctx, admin, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return err
	}
	return waitNoSessions(ctx, admin, name)
}

// waitNoSessions waits until no backend is connected to db. A closed client connection's
// backend exits asynchronously, so migrate.Up's sessions may linger a few milliseconds;
// one still there after seconds is a leak worth a clear error rather than a failed copy.
func waitNoSessions(ctx context.Context, admin, db string) error {
	pool, err := adminPool(ctx, admin)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		var apps []string
		err := pool.QueryRow(ctx, `SELECT count(*), coalesce(array_agg(pid || ' ' || coalesce(application_name, '') || ' ' || coalesce(state, '')), '{}')
			FROM pg_stat_activity WHERE datname = $1`, db).Scan(&n, &apps)
		if err != nil {
			return fmt.Errorf("sessions on %s: %w", db, err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("template database %s still has %d session(s) after migrating, so it cannot be copied: %v", db, n, apps)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dropTemplate drops this process's template, if it made one. Main calls it after the
// tests: on a WERK_TEST_DATABASE_URL server it would otherwise stay for good.
func dropTemplate() {
	tmplMu.Lock()
	admin, name := tmplAdmin, tmplName
	tmplAdmin, tmplName = "", ""
	tmplMu.Unlock()
	if name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: drop the template database:", err)
	}
}
