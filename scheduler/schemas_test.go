package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// TestSchemaQualifiedAccessFromAnotherSearchPath: an installation in schema "tenant" is
// fully usable as tenant.<object> from a session whose search_path does not name it —
// the functions resolve names in the schema they were created in.
func TestSchemaQualifiedAccessFromAnotherSearchPath(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t) // also a default installation in public
	pgtest.Exec(t, pool, `CREATE SCHEMA tenant`)
	tenantDSN := dsn + "&options=-csearch_path%3Dtenant"
	if err := scheduler.Migrate(context.Background(), tenantDSN, nil); err != nil {
		t.Fatal(err)
	}
	tk := startTicker(t, tenantDSN, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

	// pool's search_path is the default ("$user", public).
	pgtest.Exec(t, pool, `INSERT INTO tenant.werk_cron_jobs (name, func, interval_secs) VALUES ('t', 'app.t', 1)`)
	pgtest.Eventually(t, 2*time.Second, "a job in tenant.werk_jobs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM tenant.werk_jobs`) >= 1
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM public.werk_jobs`); n != 0 {
		t.Fatalf("%d jobs leaked into public", n)
	}
	if role := pgtest.QueryOne[string](t, pool, `SELECT role FROM tenant.werk_cron_instances`); role != "primary" {
		t.Fatalf("tenant.werk_cron_instances shows %q", role)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM public.werk_cron_instances`); n != 0 {
		t.Fatalf("public.werk_cron_instances lists %d tickers of tenant", n)
	}
	if !pgtest.QueryOne[bool](t, pool, `SELECT tenant.werk_cron_pause('t')`) {
		t.Fatal("tenant.werk_cron_pause did not pause")
	}
	if !pgtest.QueryOne[bool](t, pool, `SELECT paused FROM tenant.werk_cron_jobs WHERE name = 't'`) {
		t.Fatal("schedule not paused")
	}
}
