package migrate_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/migrate"
	"github.com/pgwerk/werkcron/internal/pgtest"
	werksql "github.com/pgwerk/werkcron/sql"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// describe lists what werkcron installed in the public schema, one line per fact, in an
// order that does not depend on how it got there: columns, constraints, indexes,
// table options, comments, functions with their definitions, settings and grants,
// views, triggers.
func describe(t *testing.T, dsn string) []string {
	t.Helper()
	conn := connect(t, dsn)
	rows, err := conn.Query(context.Background(), `
		SELECT 'column ' || c.relname || '.' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
		       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
		       || ' at ' || a.attnum
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
		  AND c.relname <> 'werk_cron_migrations' AND c.relname NOT LIKE 'werk_cron_migrations_%'
		UNION ALL
		SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname || ' ' || pg_catalog.pg_get_constraintdef(c.oid)
		       || ' valid=' || c.convalidated
		FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = 'public' AND c.conrelid <> 'werk_cron_migrations'::regclass
		UNION ALL
		SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
		FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname <> 'werk_cron_migrations'
		UNION ALL
		SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
		       || ' options=' || coalesce(c.reloptions::text, '') || ' acl=' || coalesce(c.relacl::text, '')
		       || ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S', 'p') AND c.relname <> 'werk_cron_migrations'
		UNION ALL
		SELECT 'column comment ' || c.relname || '.' || a.attname || ' ' || pg_catalog.col_description(c.oid, a.attnum)
		FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND pg_catalog.col_description(c.oid, a.attnum) IS NOT NULL
		UNION ALL
		SELECT 'function ' || pg_catalog.pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, '')
		       || ' comment=' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '')
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public'
		UNION ALL
		SELECT 'view ' || c.relname || ' ' || pg_catalog.pg_get_viewdef(c.oid)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'v'
		UNION ALL
		SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(g.oid)
		FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND NOT g.tgisinternal`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// requireSame fails t with the lines that differ between two descriptions.
func requireSame(t *testing.T, what string, want, got []string) {
	t.Helper()
	var only []string
	for _, l := range want {
		if !slices.Contains(got, l) {
			only = append(only, "  missing: "+l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			only = append(only, "  extra:   "+l)
		}
	}
	if len(only) > 0 {
		t.Fatalf("%s differs from a fresh install:\n%s", what, strings.Join(only, "\n"))
	}
}

// beforeBaseline is the nine migrations that the baseline sums up, as an installation
// made before it ran them.
func beforeBaseline(t *testing.T) fs.FS {
	t.Helper()
	sub, err := fs.Sub(os.DirFS("testdata"), "before-baseline")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// An installation made by the migrations before the baseline upgrades to exactly what a
// fresh install is, and upgrading again changes nothing.
func TestUpgradeFromBeforeTheBaselineIsAFreshInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := pgtest.NewDB(t)
	if err := migrate.Up(ctx, fresh, nil); err != nil {
		t.Fatal(err)
	}
	old := pgtest.NewDB(t)
	if err := migrate.UpFS(ctx, old, beforeBaseline(t), false); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Up(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	want := describe(t, fresh)
	if len(want) < 100 {
		t.Fatalf("a fresh install describes itself in %d lines; the description reads nothing", len(want))
	}
	requireSame(t, "the upgraded installation", want, describe(t, old))
	if err := migrate.Up(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	requireSame(t, "the installation upgraded twice", want, describe(t, old))
}

// What roles were granted survives an upgrade that moves columns out from under views
// (00012 drops every view and creates it anew): a reader of the status view and of the
// tick ledger reads both afterwards, the ledger now through the werk_cron_ticks view,
// and the schedules' state where it moved.
func TestUpgradeKeepsWhatRolesWereGranted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := migrate.UpFS(ctx, dsn, beforeBaseline(t), false); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	viewer := pgtest.NewRole(t, dsn, "viewer", "")
	pgtest.Exec(t, conn, `GRANT SELECT ON werk_cron_status, werk_cron_ticks, werk_cron_jobs TO `+viewer)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('s', 'app.s', 60)`)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	as := pgtest.ConnAs(t, dsn, viewer)
	for _, q := range []string{
		`SELECT count(*) FROM werk_cron_status`,
		`SELECT count(*) FROM werk_cron_ticks`,
		`SELECT count(*) FROM werk_cron_state`,
		`SELECT count(*) FROM werk_cron_health`,
	} {
		var n int64
		if err := as.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Errorf("%s as a reader granted before the upgrade: %v", q, err)
		}
	}
	if n := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_cron_objects WHERE grants IS NOT NULL`); n != 0 {
		t.Errorf("%d object files still hold grants to give back", n)
	}
}

// An installation with schedules, a plan and a history keeps them across the upgrade
// that moves the ticker's state to werk_cron_state: each schedule's plan, newest tick
// and job, runs left and error, and every ledger row (now werk_cron_ledger, read through
// werk_cron_ticks).
func TestUpgradeKeepsTheState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := migrate.UpFS(ctx, dsn, beforeBaseline(t), false); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_jobs (name, func, interval_secs, remaining_runs)
		VALUES ('a', 'app.a', 60, 5), ('b', 'app.b', 60, NULL)`)
	pgtest.Exec(t, conn, `UPDATE werk_cron_jobs SET next_run_at = '2030-01-01T00:01:00Z', last_tick_at = '2030-01-01T00:00:00Z',
		last_job_id = '00000000-0000-0000-0000-00000000000a', remaining_runs = 4, planned_at = now() WHERE name = 'a'`)
	pgtest.Exec(t, conn, `UPDATE werk_cron_jobs SET last_error = 'broken' WHERE name = 'b'`)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_ticks (name, tick_at, outcome, job_id)
		VALUES ('a', '2030-01-01T00:00:00Z', 'enqueued', '00000000-0000-0000-0000-00000000000a'),
		       ('a', '2029-12-31T23:59:00Z', 'missed', NULL)`)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := conn.QueryRow(ctx, `SELECT string_agg(concat_ws(' ', name, next_run_at AT TIME ZONE 'UTC', last_tick_at AT TIME ZONE 'UTC',
			last_job_id, remaining_runs, last_error, planned_at IS NOT NULL), '; ' ORDER BY name) FROM werk_cron_state`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "a 2030-01-01 00:01:00 2030-01-01 00:00:00 00000000-0000-0000-0000-00000000000a 4 t; b broken f"; got != want {
		t.Errorf("werk_cron_state after the upgrade:\n got %s\nwant %s", got, want)
	}
	if n := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'a'`); n != 2 {
		t.Errorf("werk_cron_ticks shows %d of the 2 ledger rows", n)
	}
}

// An installation that stopped part way through the older migrations is refused, with
// what to do.
func TestUpgradeRefusesAPartOfTheOlderMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	partial := fstest.MapFS{}
	for _, name := range []string{"00001_werkcron.sql", "00002_functions.sql"} {
		b, err := fs.ReadFile(beforeBaseline(t), name)
		if err != nil {
			t.Fatal(err)
		}
		partial[name] = &fstest.MapFile{Data: b}
	}
	if err := migrate.UpFS(ctx, dsn, partial, false); err != nil {
		t.Fatal(err)
	}
	err := migrate.Up(ctx, dsn, nil)
	if err == nil || !strings.Contains(err.Error(), "stopped at migration 2") {
		t.Fatalf("Up on an installation at migration 2: %v, want a refusal that says so", err)
	}
}

// changed returns the embedded files with the object file at path replaced by edit of
// its text (or removed, when edit returns "").
func changed(t *testing.T, path string, edit func(string) string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(werksql.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(werksql.Files, p)
		if err != nil {
			return err
		}
		if p == path {
			s := edit(string(b))
			if s == string(b) {
				t.Fatalf("the edit of %s changed nothing", path)
			}
			if s == "" {
				return nil
			}
			b = []byte(s)
		}
		m[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func appliedAt(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT path, applied_at::text FROM werk_cron_objects`)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for rows.Next() {
		var p, at string
		if err := rows.Scan(&p, &at); err != nil {
			t.Fatal(err)
		}
		m[p] = at
	}
	return m
}

// A changed file is applied again, and only that file; a function whose arguments
// changed leaves no older overload behind, and who could execute it still can.
func TestChangedObjectFileIsAppliedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	role := "werktest_pauser_" + fmt.Sprint(os.Getpid())
	pgtest.Exec(t, conn, `CREATE ROLE `+role)
	t.Cleanup(func() {
		c := connect(t, dsn)
		_, _ = c.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = c.Exec(context.Background(), `DROP ROLE `+role)
	})
	pgtest.Exec(t, conn, `GRANT EXECUTE ON FUNCTION werk_cron_pause(text, text) TO `+role)
	before := appliedAt(t, conn)

	files := changed(t, "functions/werk_cron_pause.sql", func(s string) string {
		return strings.Replace(s, "reason text DEFAULT NULL)", "reason text DEFAULT NULL, really boolean DEFAULT true)", 1)
	})
	if err := migrate.UpFS(ctx, dsn, files, true); err != nil {
		t.Fatal(err)
	}
	sigs := pgtest.QueryOne[[]string](t, conn,
		`SELECT array_agg(oid::regprocedure::text ORDER BY oid) FROM pg_proc WHERE proname = 'werk_cron_pause'`)
	if want := []string{"werk_cron_pause(text,text,boolean)"}; !slices.Equal(sigs, want) {
		t.Errorf("werk_cron_pause overloads %v, want %v", sigs, want)
	}
	if !pgtest.QueryOne[bool](t, conn, `SELECT has_function_privilege($1, 'werk_cron_pause(text,text,boolean)', 'EXECUTE')`, role) {
		t.Errorf("%s lost EXECUTE on werk_cron_pause with its new signature", role)
	}
	after := appliedAt(t, conn)
	for p, at := range after {
		if moved := at != before[p]; moved != (p == "functions/werk_cron_pause.sql") {
			t.Errorf("%s applied at %s, before %s", p, at, before[p])
		}
	}
}

// A view whose columns change in a way CREATE OR REPLACE cannot make is dropped and
// created again, with its grants.
func TestViewWithNewColumnsKeepsItsGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	role := "werktest_viewer_" + fmt.Sprint(os.Getpid())
	pgtest.Exec(t, conn, `CREATE ROLE `+role)
	t.Cleanup(func() {
		c := connect(t, dsn)
		_, _ = c.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = c.Exec(context.Background(), `DROP ROLE `+role)
	})
	pgtest.Exec(t, conn, `GRANT SELECT ON werk_cron_instances TO `+role)
	files := changed(t, "views/werk_cron_instances.sql", func(s string) string {
		return strings.Replace(s, "SELECT * FROM werk_cron_list_instances()", "SELECT pid, role, since FROM werk_cron_list_instances()", 1)
	})
	if err := migrate.UpFS(ctx, dsn, files, true); err != nil {
		t.Fatal(err)
	}
	if n := pgtest.QueryOne[int](t, conn, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'werk_cron_instances'`); n != 3 {
		t.Errorf("werk_cron_instances has %d columns, want the 3 of its new definition", n)
	}
	if !pgtest.QueryOne[bool](t, conn, `SELECT has_table_privilege($1, 'werk_cron_instances', 'SELECT')`, role) {
		t.Errorf("%s lost SELECT on werk_cron_instances", role)
	}
}

// An object whose file is gone is dropped.
func TestObjectWithoutAFileIsDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	files := changed(t, "functions/werk_cron_resume.sql", func(string) string { return "" })
	if err := migrate.UpFS(ctx, dsn, files, true); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	if n := pgtest.QueryOne[int](t, conn, `SELECT count(*) FROM pg_proc WHERE proname = 'werk_cron_resume'`); n != 0 {
		t.Errorf("werk_cron_resume is still there without its file")
	}
}

// inlined are the functions PostgreSQL inlines into the statements that call them,
// which it does only for a function without a SET clause: they alone are not pinned.
var inlined = []string{"werk_cron_job", "werk_cron_run_at", "werk_cron_jitter"}

// Every werkcron function runs with search_path pg_catalog first, then werkcron's
// schema, then pg_temp: a temporary table named like one of werkcron's is never read.
// The inlined ones run with their callers' search_path instead; none of them is
// SECURITY DEFINER.
func TestEveryFunctionIsPinned(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.MigratedDB(t))
	rows, err := conn.Query(context.Background(), `
		SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public' AND p.proname LIKE 'werk\_cron\_%'
		  AND (NOT coalesce('search_path=pg_catalog, public, pg_temp' = ANY (p.proconfig), false)
		       AND NOT p.proname = ANY ($1) OR p.proname = ANY ($1) AND p.prosecdef)`, inlined)
	if err != nil {
		t.Fatal(err)
	}
	unpinned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(unpinned) > 0 {
		t.Errorf("functions without werkcron's search_path: %v", unpinned)
	}
}

// Each function, view and trigger is defined in one file, named after it, and nowhere
// else under sql/: whoever wants to know what it is reads one file, and
// `grep -r 'FUNCTION <name>' sql/` finds it there alone.
func TestEachObjectIsDefinedOnce(t *testing.T) {
	t.Parallel()
	var all []string
	texts := map[string]string{}
	err := fs.WalkDir(werksql.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(werksql.Files, p)
		texts[p] = string(b)
		all = append(all, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defined := 0
	for _, p := range all {
		kind, file, ok := strings.Cut(p, "/")
		if !ok {
			continue
		}
		name := strings.TrimSuffix(file, ".sql")
		word := map[string]string{"functions": "FUNCTION", "views": "VIEW", "triggers": "TRIGGER"}[kind]
		def := regexp.MustCompile(word + ` ` + name + `\b`)
		for _, q := range all {
			n := len(def.FindAllStringIndex(texts[q], -1))
			if q == p && n != 1 {
				t.Errorf("%s mentions %s %s on %d lines, want its definition alone", p, word, name, n)
			}
			if q != p && n > 0 {
				t.Errorf("%s mentions %s %s, which %s defines", q, word, name, p)
			}
		}
		defined++
	}
	if defined < 30 {
		t.Errorf("found %d object files; the walk reads nothing", defined)
	}
}

// The tick statement, a backfill and a manual run make a schedule's job with one
// function, werk_cron_job, which PostgreSQL inlines, so that it costs the tick nothing:
// the plan of a statement that calls it shows no call of it, nor of the functions it
// takes its run time from. Their arguments come from rows, as in the tick: a call with
// constants only is folded into a constant whether it can be inlined or not. And each
// insert into werk_jobs (the two tick statements', a backfill's, a manual run's) lists
// its columns in the order the function returns them (an insert takes them by
// position, and function and queue are both text).
func TestOneDefinitionOfAScheduleJob(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.MigratedDB(t))
	rows, err := conn.Query(context.Background(), `EXPLAIN (VERBOSE, COSTS OFF)
		SELECT w.* FROM generate_series(0, 2) g,
		     LATERAL (SELECT gen_random_uuid() AS id, 'k' || g AS key, now() + g * interval '1 s' AS at) v,
		     werk_cron_job(v.id, v.key, werk_cron_run_at(v.key, v.at, g), v.at, 'n', 'f', 'q', '[]', '{}',
		                   0::smallint, 1, NULL, NULL, NULL, NULL, 'buffer_one', 60) w
		UNION ALL -- with enqueued_at given, as the tick statement that waits for its instant calls it
		SELECT w.* FROM generate_series(0, 2) g,
		     LATERAL (SELECT gen_random_uuid() AS id, 'k' || g AS key, now() + g * interval '1 s' AS at) v,
		     werk_cron_job(v.id, v.key, werk_cron_run_at(v.key, v.at, g), v.at, 'n', 'f', 'q', '[]', '{}',
		                   0::smallint, 1, NULL, NULL, NULL, NULL, 'buffer_one', 60, v.at) w`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n") // the calls are on the Output line, not the first
	for _, f := range inlined {
		if strings.Contains(plan, f) {
			t.Errorf("the plan calls %s; want it inlined:\n%s", f, plan)
		}
	}
	var outs []string
	err = conn.QueryRow(context.Background(), `
		SELECT array_agg(a.n ORDER BY a.i)
		FROM pg_proc p, unnest(p.proargnames, p.proargmodes) WITH ORDINALITY a(n, m, i)
		WHERE p.proname = 'werk_cron_job' AND a.m = 't'`).Scan(&outs)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(outs, ", ")
	insert := regexp.MustCompile(`INSERT INTO werk_jobs \(([^)]*)\)`)
	for _, c := range []struct {
		path    string
		inserts int
	}{{"../../queries/tick.sql", 2}, {"../../queries/backfill.sql", 1}, {"../../sql/functions/werk_cron_trigger.sql", 1}} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		m := insert.FindAllStringSubmatch(string(b), -1)
		if len(m) != c.inserts {
			t.Errorf("%s: %d inserts into werk_jobs, want %d", c.path, len(m), c.inserts)
		}
		for _, m := range m {
			got := strings.Join(strings.Fields(m[1]), " ")
			if !strings.HasPrefix(got, want) {
				t.Errorf("%s inserts into werk_jobs (%s); want werk_cron_job's columns first: (%s)", c.path, got, want)
			}
		}
	}
}

// A ticker role granted before an upgrade that adds a function the ticker calls gets
// it with the upgrade: werk_cron_grant's list is given again to every ticker role.
// (The function is dropped here, as if the version before had none.)
func TestUpgradeGivesTickerRolesNewFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.MigratedDB(t)
	conn := connect(t, dsn)
	ticker := pgtest.NewRole(t, dsn, "ticker", "")
	pgtest.Exec(t, conn, `SELECT count(*) FROM werk_cron_grant($1, true)`, ticker)
	const fn = `werk_cron_note_runs(text[], timestamptz[], text[], timestamptz[])`
	pgtest.Exec(t, conn, `DROP FUNCTION `+fn)
	if err := migrate.Up(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	if !pgtest.QueryOne[bool](t, conn, `SELECT has_function_privilege($1, $2, 'EXECUTE')`, ticker, fn) {
		t.Errorf("the ticker role granted before the upgrade may not execute %s, which the upgrade created", fn)
	}
	if pgtest.QueryOne[bool](t, conn, `SELECT has_function_privilege('public', $1, 'EXECUTE')`, fn) {
		t.Errorf("PUBLIC may execute %s", fn)
	}
}
