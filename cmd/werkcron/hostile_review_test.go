package main

// The second hostile-input review, as the CLI sees it: an application role set up with
// `werkcron grant ROLE --app --apply` manages schedules with every verb an application
// uses, next to a ticker role's `werkcron run --no-migrate`, and cannot do what only
// the ticker may.

import (
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

func TestCLIApplicationRoleFromGrantApp(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	app := pgtest.NewRole(t, dsn, "werkcron_app", "")
	ticker := pgtest.NewRole(t, dsn, "werkcron_tick", "")
	wantCode(t, dsn, 1, []string{"PUBLIC"}, "grant", "--app", "--apply", "public")
	r := mustCLI(t, dsn, "grant", "--app", app)
	if !strings.Contains(r.stdout, "werk_cron_jobs") {
		t.Errorf("grant --app:\n%s", r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "werk_cron_ledger") || strings.Contains(line, "werk_cron_ticks") && !strings.HasPrefix(line, "GRANT SELECT ON ") {
			t.Errorf("grant --app gives more than reads of the ticks: %s", line)
		}
	}
	if query[bool](t, dsn, `SELECT has_function_privilege($1, 'werk_cron_trigger(text)', 'EXECUTE')`, app) {
		t.Fatal("grant --app without --apply granted")
	}
	mustCLI(t, dsn, "grant", "--app", "--apply", app)
	mustCLI(t, dsn, "grant", "--apply", ticker)
	startRun(t, pgtest.AsRole(t, dsn, ticker), "--no-migrate")
	pgtest.Eventually(t, 10*time.Second, "the ticker role's ticker primary", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_cron_instances WHERE role = 'primary'`) == 1
	})

	as := pgtest.AsRole(t, dsn, app)
	mustCLI(t, as, "add", "report", "--func", "myapp.report", "--cron", "* * * * * *")
	mustCLI(t, as, "edit", "report", "--queue", "reports")
	pgtest.Eventually(t, 10*time.Second, "the application's schedule ticking", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'report' AND queue = 'reports'`) >= 1
	})
	mustCLI(t, as, "pause", "report", "--reason", "deploy")
	if r := mustCLI(t, as, "show", "report"); !strings.Contains(r.stdout, "deploy") {
		t.Errorf("show after pause:\n%s", r.stdout)
	}
	mustCLI(t, as, "trigger", "report")
	now := query[time.Time](t, dsn, `SELECT clock_timestamp()`).Truncate(time.Second)
	b := decode[map[string]any](t, mustCLI(t, as, "backfill", "report", "--json", "--wait", "10s",
		"--from", now.Add(-10*time.Second).Format(time.RFC3339), "--to", now.Format(time.RFC3339)))
	if b["enqueued"].(float64)+b["already"].(float64) != 11 || b["requested_by"] != app || b["error"] != nil {
		t.Errorf("backfill as the application: %v; want its 11 ticks, asked by %s", b, app)
	}
	mustCLI(t, as, "resume", "report")
	for _, verb := range [][]string{{"ls"}, {"status"}, {"history", "report"}} {
		mustCLI(t, as, verb...)
	}
	if r := mustCLI(t, as, "history", "report"); !strings.Contains(r.stdout, "triggered") {
		t.Errorf("history as the application shows no manual run:\n%s", r.stdout)
	}
	mustCLI(t, as, "rm", "report")

	// What only the owner and the ticker may: no migration, no grants, no ticker that leads.
	wantCode(t, as, 1, nil, "migrate")
	cli(t, as, "grant", "--apply", app) // a role that owns nothing grants nothing
	for _, p := range []string{"werk_cron_ledger, INSERT", "werk_cron_backfills, UPDATE", "werk_cron_jobs, TRUNCATE"} {
		tbl, priv, _ := strings.Cut(p, ", ")
		if query[bool](t, dsn, `SELECT has_table_privilege($1, $2, $3)`, app, tbl, priv) {
			t.Errorf("the application role may %s %s", priv, tbl)
		}
	}
}
