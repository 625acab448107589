package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/migrate"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// requireMigrated fails unless dsn's database has werkcron's schema and goose's record of
// every migration.
func requireMigrated(t testing.TB, dsn string) {
	t.Helper()
	conn := connect(t, dsn)
	if reg := QueryOne[*string](t, conn, "SELECT to_regclass('werk_cron_jobs')::text"); reg == nil {
		t.Fatal("no table werk_cron_jobs")
	}
	if n := QueryOne[int](t, conn, "SELECT count(*) FROM "+migrate.MigrationsTable+" WHERE version_id > 0 AND is_applied"); n < 2 {
		t.Fatalf("%s records %d migrations, want every one (at least 2)", migrate.MigrationsTable, n)
	}
}

// A WERK_TEST_DATABASE_URL run must create its databases on that server.
func requireOnEnvServer(t testing.TB, dsn string) {
	t.Helper()
	env := os.Getenv(EnvURL)
	if env == "" {
		return
	}
	want, err1 := url.Parse(env)
	got, err2 := url.Parse(dsn)
	if err1 != nil || err2 != nil || want.Host != got.Host || want.User.Username() != got.User.Username() {
		t.Fatalf("database %s is not on %s=%s", dsn, EnvURL, env)
	}
	if shared != nil {
		t.Fatalf("booted a cluster although %s is set", EnvURL)
	}
}

func TestMigratedDB(t *testing.T) {
	t.Parallel()
	a, b := MigratedDB(t), MigratedDB(t)
	if a == b {
		t.Fatalf("both databases are %s", a)
	}
	requireMigrated(t, a)
	requireMigrated(t, b)
	requireOnEnvServer(t, a)

	// Copies share nothing: a schedule and a table made in a are not in b.
	ca, cb := connect(t, a), connect(t, b)
	Exec(t, ca, "INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('only-in-a', 'f', 60)")
	Exec(t, ca, "CREATE TABLE only_in_a (x int)")
	if n := QueryOne[int](t, ca, "SELECT count(*) FROM werk_cron_jobs"); n != 1 {
		t.Fatalf("a has %d schedules, want 1", n)
	}
	if n := QueryOne[int](t, cb, "SELECT count(*) FROM werk_cron_jobs"); n != 0 {
		t.Fatalf("b has %d schedules, want 0", n)
	}
	if reg := QueryOne[*string](t, cb, "SELECT to_regclass('only_in_a')::text"); reg != nil {
		t.Fatal("b has a's table only_in_a")
	}
	// The template is untouched by either.
	c := MigratedDB(t)
	if n := QueryOne[int](t, connect(t, c), "SELECT count(*) FROM werk_cron_jobs"); n != 0 {
		t.Fatalf("a third copy has %d schedules, want 0", n)
	}
}

func TestMigratedDBParallel(t *testing.T) {
	t.Parallel()
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			dsn := MigratedDB(t)
			requireMigrated(t, dsn)
			conn := connect(t, dsn)
			Exec(t, conn, "INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ($1, 'f', 60)", fmt.Sprint("job-", i))
			if n := QueryOne[int](t, conn, "SELECT count(*) FROM werk_cron_jobs"); n != 1 {
				t.Fatalf("%d schedules, want only this subtest's 1", n)
			}
		})
	}
}

// The template must refuse sessions and have none, or copying it fails.
func TestMigratedTemplateHasNoSessions(t *testing.T) {
	t.Parallel()
	MigratedDB(t)
	admin, tmpl, err := migratedTemplate()
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, admin)
	if QueryOne[bool](t, conn, "SELECT datallowconn FROM pg_database WHERE datname = $1", tmpl) {
		t.Errorf("template %s allows connections", tmpl)
	}
	if n := QueryOne[int](t, conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", tmpl); n != 0 {
		t.Errorf("template %s has %d sessions", tmpl, n)
	}
}

func TestMigratedTempDB(t *testing.T) {
	t.Parallel()
	dsn, drop, err := MigratedTempDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	requireMigrated(t, dsn)
	requireOnEnvServer(t, dsn)
	admin, _, _ := migratedTemplate()
	name := strings.TrimPrefix(mustURL(t, dsn).Path, "/")
	drop()
	if n := QueryOne[int](t, connect(t, admin), "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
		t.Fatalf("%s is still there after drop", name)
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestMigratedDBOnEnvServer runs the tests above in a child process against a server
// given by WERK_TEST_DATABASE_URL (this process's cluster, as a role with CREATEDB and no
// more), and checks that the child left no database behind, its template included.
func TestMigratedDBOnEnvServer(t *testing.T) {
	t.Parallel()
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s is set: the other tests already run on it", EnvURL)
	}
	admin, err := serverURL()
	if err != nil {
		t.Fatal(err)
	}
	super := connect(t, admin)
	role := NewRole(t, admin, "werk_createdb", "CREATEDB")
	env := AsRole(t, admin, role)

	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v",
		"-test.run=^(TestMigratedDB|TestMigratedDBParallel|TestMigratedTemplateHasNoSessions|TestMigratedTempDB)$")
	cmd.Env = append(os.Environ(), EnvURL+"="+env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child tests on %s: %v\n%s", env, err, out)
	}
	for _, name := range []string{"TestMigratedDB", "TestMigratedDBParallel/7", "TestMigratedTemplateHasNoSessions", "TestMigratedTempDB"} {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Fatalf("child did not pass %s:\n%s", name, out)
		}
	}
	var left []string
	rows, err := super.Query(context.Background(),
		"SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = $1", role)
	if err == nil {
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("the child left databases behind: %v", left)
	}
}

// Copying the template against creating an empty database and migrating it: the
// difference is what each test saves.
func BenchmarkMigratedDB(b *testing.B) {
	ctx := context.Background()
	if _, _, err := migratedTemplate(); err != nil {
		b.Fatal(err)
	}
	b.Run("template", func(b *testing.B) {
		for b.Loop() {
			_, drop, err := MigratedTempDB(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			drop()
			b.StartTimer()
		}
	})
	b.Run("create+migrate", func(b *testing.B) {
		for b.Loop() {
			dsn, drop, err := TempDB(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := migrate.Up(ctx, dsn, nil); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			drop()
			b.StartTimer()
		}
	})
	b.Run("create-empty", func(b *testing.B) {
		for b.Loop() {
			_, drop, err := TempDB(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			drop()
			b.StartTimer()
		}
	})
}
