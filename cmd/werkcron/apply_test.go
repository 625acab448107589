package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// writeFile writes a schedules file into the test's directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cliStdin is cli with stdin.
func cliStdin(t *testing.T, dsn, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ werkcron %s <<<%q\n%s", strings.Join(args, " "), stdin, r)
	return r
}

// rowVersions is every schedule's row version and updated_at, which any write moves.
func rowVersions(t *testing.T, dsn string) string {
	return query[string](t, dsn, `SELECT coalesce(string_agg(name || ':' || xmin::text || ctid::text || updated_at::text, ' ' ORDER BY name), '') FROM werk_cron_jobs`)
}

const teamFile = `# the billing team's schedules
schedules:
  - name: daily-report
    func: myapp.tasks.report
    cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
    kwargs: {format: pdf}
    labels: {team: billing, tenant: "42"}
  - name: ping
    func: myapp.tasks.ping
    interval_secs: 30
`

func TestCLIApply(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	file := writeFile(t, "billing.yaml", teamFile)

	// The plan, then nothing written with --dry-run; flags after the file too.
	r := mustCLI(t, dsn, "apply", file, "--owner", "billing", "--dry-run")
	if r.stdout != "+ daily-report\n+ ping\n2 to create, 0 to change, 0 to remove, 0 unchanged (owner billing; dry run, nothing applied)\n" {
		t.Errorf("dry run plan:\n%s", r.stdout)
	}
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_cron_jobs`); n != 0 {
		t.Fatalf("dry run wrote %d schedules", n)
	}
	r = mustCLI(t, dsn, "apply", "--owner", "billing", file)
	if !strings.HasPrefix(r.stdout, "+ daily-report\n+ ping\n2 to create") || !strings.Contains(r.stderr, "msg=applied") {
		t.Errorf("apply:\n%s", r)
	}
	if got := query[string](t, dsn, `SELECT string_agg(name || ' ' || managed_by || ' ' || labels::text, '; ' ORDER BY name) FROM werk_cron_jobs`); got != `daily-report billing {"team": "billing", "tenant": "42"}; ping billing {}` {
		t.Errorf("stored: %s", got)
	}

	// Again: nothing written.
	before := rowVersions(t, dsn)
	r = mustCLI(t, dsn, "apply", "--owner", "billing", file)
	if r.stdout != "0 to create, 0 to change, 0 to remove, 2 unchanged (owner billing; applied)\n" {
		t.Errorf("second apply:\n%s", r.stdout)
	}
	if after := rowVersions(t, dsn); after != before {
		t.Errorf("second apply wrote:\n%s\n%s", before, after)
	}

	// A change, from standard input, with prune.
	changed := strings.Replace(teamFile, `cron: "0 9 * * 1-5"`, `cron: "0 8 * * 1-5"`, 1)
	changed = changed[:strings.Index(changed, "  - name: ping")] + "  - name: pong\n    func: myapp.tasks.pong\n    interval_secs: 60\n"
	r = cliStdin(t, dsn, changed, "apply", "--owner", "billing", "--prune", "-")
	want := "+ pong\n~ daily-report\n    cron: \"0 9 * * 1-5\" -> \"0 8 * * 1-5\"\n- ping\n1 to create, 1 to change, 1 to remove, 0 unchanged (owner billing; applied)\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("change and prune:\n%s\nwant\n%s", r, want)
	}
	// Without --prune, one left out is kept and said so.
	r = cliStdin(t, dsn, "schedules:\n  - {name: pong, func: myapp.tasks.pong, interval_secs: 60}\n", "apply", "--owner", "billing", "-", "--json")
	if p := decode[map[string]any](t, r); len(p["unlisted"].([]any)) != 1 || len(p["unchanged"].([]any)) != 1 {
		t.Errorf("--json plan: %v", p)
	}
}

func TestCLIApplyRefusesAndAdopts(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	mustCLI(t, dsn, "add", "ping", "--func", "myapp.tasks.ping", "--every", "30s")
	mustCLI(t, dsn, "apply", "--owner", "ops", writeFile(t, "ops.yaml", "schedules:\n  - {name: daily-report, func: app.r, cron: '@daily'}\n"))
	file := writeFile(t, "billing.yaml", teamFile)
	before := rowVersions(t, dsn)

	r := wantCode(t, dsn, 1, []string{"2 listed schedule(s) are not owner \"billing\"'s to write; nothing applied",
		"daily-report: managed by ops", "ping: written by hand (not managed by any owner): --adopt takes it over"},
		"apply", "--owner", "billing", file)
	if r.stdout != "" {
		t.Errorf("a refused apply printed a plan:\n%s", r.stdout)
	}
	// --adopt takes over the one written by hand, never another owner's.
	wantCode(t, dsn, 1, []string{"daily-report: managed by ops"}, "apply", "--owner", "billing", "--adopt", file)
	if after := rowVersions(t, dsn); after != before {
		t.Fatalf("a refused apply wrote:\n%s\n%s", before, after)
	}
	pingOnly := writeFile(t, "ping.yaml", "schedules:\n  - {name: ping, func: myapp.tasks.ping, interval_secs: 30}\n")
	r = mustCLI(t, dsn, "apply", "--owner", "billing", "--adopt", "--prune", pingOnly)
	if r.stdout != "~ ping\n    managed_by: null -> \"billing\"\n0 to create, 1 to change, 0 to remove, 0 unchanged (owner billing; applied)\n" {
		t.Errorf("adopt:\n%s", r.stdout)
	}
	// ops's schedule is untouched by billing's prune.
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_cron_jobs WHERE managed_by = 'ops'`); n != 1 {
		t.Errorf("ops has %d schedules", n)
	}
}

// A bad file applies nothing and names every problem with its line; usage errors exit 2.
func TestCLIApplyBadFileAndUsage(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	bad := writeFile(t, "bad.yaml", `schedules:
  - name: ok
    func: app.ok
    interval_secs: 60
  - name: typo
    func: app.t
    cron: "0 25 * * *"
    queeu: x
  - name: ok
    func: app.again
    interval_secs: 60
`)
	r := wantCode(t, dsn, 1, []string{"3 problem(s), nothing applied", bad + `:8: schedule "typo" (entry 2): unknown key "queeu": did you mean queue?`,
		bad + `:9: schedule "ok" (entry 3): name: listed twice: first at line 2`}, "apply", "--owner", "x", bad)
	if !strings.Contains(r.stderr, bad+`:7: schedule "typo" (entry 2): cron: cron "0 25 * * *": hour`) {
		t.Errorf("the cron problem is not named: %s", r.stderr)
	}
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_cron_jobs`); n != 0 {
		t.Fatalf("a bad file wrote %d schedules", n)
	}
	// Checked before connecting: no database needed to find the mistakes.
	wantCode(t, "", 1, []string{bad + ":8:"}, "apply", "--owner", "x", bad)
	wantCode(t, dsn, 2, []string{"--owner is required"}, "apply", bad)
	wantCode(t, dsn, 2, []string{"want one FILE"}, "apply", "--owner", "x")
	wantCode(t, dsn, 2, []string{"want one FILE"}, "apply", "--owner", "x", bad, bad)
	wantCode(t, dsn, 1, []string{"no such file"}, "apply", "--owner", "x", filepath.Join(t.TempDir(), "missing.yaml"))
	wantCode(t, dsn, 1, []string{"<stdin>: empty"}, "apply", "--owner", "x", "-")
	// What is printed from the file or the database is escaped.
	r = cliStdin(t, dsn, "schedules:\n  - {name: \"a\\e[31m\", func: f, interval_secs: 1, queu: x}\n", "apply", "--owner", "x", "-")
	if r.code != 1 || strings.ContainsRune(r.stderr, 0x1b) || !strings.Contains(r.stderr, `a\x1b[31m`) {
		t.Errorf("escape:\n%s", r)
	}
	r = cliStdin(t, dsn, "schedules:\n  - {name: \"b\\e[31m\", func: \"f\\u202e\", interval_secs: 1}\n", "apply", "--owner", "x", "-")
	r2 := cliStdin(t, dsn, "schedules:\n  - {name: \"b\\e[31m\", func: \"g\\u202e\", interval_secs: 1}\n", "apply", "--owner", "x", "-")
	for _, out := range []string{r.stdout, r2.stdout} {
		if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x202e) {
			t.Errorf("unescaped output:\n%q", out)
		}
	}
	if !strings.Contains(r2.stdout, `func: "f\u202e" -> "g\u202e"`) {
		t.Errorf("changed func:\n%s", r2.stdout)
	}
}

// export prints what apply reads back to the same schedules: adopting an export
// changes only the owner, and applying it again nothing.
func TestCLIExportApply(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	execSQL(t, dsn, `SELECT werk_cron_schedule('full', 'app.report', '0 9 * * 1-5', queue => 'reports',
		args => '["sales", 3]', kwargs => '{"format": "pdf"}', timezone => 'Europe/Berlin', timeout_secs => 600,
		result_ttl => 0, meta => '{"a": "\u202e"}', priority => 5, max_attempts => 3, paused => true,
		catchup => 'all', overlap => 'skip', ends_at => '2036-01-01T00:00:00Z', jitter_secs => 30,
		remaining_runs => 7, pause_after_failures => 4, start_deadline_secs => 3600, max_runtime_secs => 900,
		exclude_calendar => 'de-holidays', labels => '{"team": "billing"}')`)
	mustCLI(t, dsn, "add", "ping", "--func", "app.ping", "--every", "30s", "--label", "team=ops")
	r := mustCLI(t, dsn, "export")
	want := `schedules:
  - name: full
    func: app.report
    cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
    queue: reports
    args: ["sales", 3]
    kwargs: {"format": "pdf"}
    timeout_secs: 600
    result_ttl: 0
    meta: {"a": "\u202e"}
    priority: 5
    max_attempts: 3
    catchup: all
    overlap: skip
    ends_at: "2036-01-01T00:00:00Z"
    jitter_secs: 30
    pause_after_failures: 4
    start_deadline_secs: 3600
    max_runtime_secs: 900
    exclude_calendar: de-holidays
    labels:
      team: billing
  - name: ping
    func: app.ping
    interval_secs: 30
    labels:
      team: ops
`
	if r.stdout != want {
		t.Errorf("export:\n%s\nwant\n%s", r.stdout, want)
	}
	file := writeFile(t, "all.yaml", r.stdout)
	before := query[string](t, dsn, `SELECT string_agg(updated_at::text, ' ' ORDER BY name) FROM werk_cron_jobs`)
	r = mustCLI(t, dsn, "apply", "--owner", "ops", "--adopt", file)
	if !strings.Contains(r.stdout, "~ full\n    managed_by: null -> \"ops\"\n~ ping\n    managed_by: null -> \"ops\"\n0 to create, 2 to change") {
		t.Errorf("adopting the export:\n%s", r.stdout)
	}
	if after := query[string](t, dsn, `SELECT string_agg(updated_at::text, ' ' ORDER BY name) FROM werk_cron_jobs`); after != before {
		t.Errorf("adopting moved updated_at: %s -> %s", before, after)
	}
	if paused := query[bool](t, dsn, `SELECT paused FROM werk_cron_jobs WHERE name = 'full'`); !paused {
		t.Error("adopting resumed a paused schedule")
	}
	versions := rowVersions(t, dsn)
	if r := mustCLI(t, dsn, "apply", "--owner", "ops", file); !strings.HasPrefix(r.stdout, "0 to create, 0 to change, 0 to remove, 2 unchanged") {
		t.Errorf("again:\n%s", r.stdout)
	}
	if rowVersions(t, dsn) != versions {
		t.Error("applying the export again wrote")
	}
	if r := mustCLI(t, dsn, "export", "--owner", "ops", "ping"); r.stdout != "schedules:\n  - name: ping\n    func: app.ping\n    interval_secs: 30\n    labels:\n      team: ops\n" {
		t.Errorf("export --owner ops ping:\n%s", r.stdout)
	}
	if r := mustCLI(t, dsn, "export", "--owner", "nobody"); r.stdout != "schedules: []\n" {
		t.Errorf("export of nobody's:\n%s", r.stdout)
	}
	wantCode(t, dsn, 1, []string{`"nope"`, "no such schedule"}, "export", "nope")
}

// start_deadline_secs, max_runtime_secs and exclude_calendar in a file: applied, their
// changes planned with old and new values, bad values refused with their line.
func TestCLIApplyDeadlinesRuntimesCalendars(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	file := teamFile + "    jitter_secs: 10\n    start_deadline_secs: 120\n    max_runtime_secs: 600\n    exclude_calendar: de-holidays\n"
	mustCLI(t, dsn, "apply", "--owner", "billing", writeFile(t, "a.yaml", file))
	if got := query[string](t, dsn, `SELECT concat_ws(' ', start_deadline_secs, max_runtime_secs, exclude_calendar) FROM werk_cron_jobs WHERE name = 'ping'`); got != "120 600 de-holidays" {
		t.Fatalf("stored: %s", got)
	}
	r := mustCLI(t, dsn, "export", "--owner", "billing")
	if !strings.HasSuffix(r.stdout, "    jitter_secs: 10\n    start_deadline_secs: 120\n    max_runtime_secs: 600\n    exclude_calendar: de-holidays\n") {
		t.Errorf("export:\n%s", r.stdout)
	}
	before := rowVersions(t, dsn)
	if r := mustCLI(t, dsn, "apply", "--owner", "billing", writeFile(t, "e.yaml", r.stdout)); r.stdout != "0 to create, 0 to change, 0 to remove, 2 unchanged (owner billing; applied)\n" {
		t.Errorf("applying the export:\n%s", r.stdout)
	}
	if rowVersions(t, dsn) != before {
		t.Error("applying the export wrote")
	}

	changed := strings.NewReplacer("start_deadline_secs: 120", "start_deadline_secs: 300", "max_runtime_secs: 600", "max_runtime_secs: 900",
		"exclude_calendar: de-holidays", "exclude_calendar: us-holidays").Replace(file)
	r = mustCLI(t, dsn, "apply", "--owner", "billing", "--dry-run", writeFile(t, "b.yaml", changed))
	want := "~ ping\n    start_deadline_secs: 120 -> 300\n    max_runtime_secs: 600 -> 900\n" +
		"    exclude_calendar: \"de-holidays\" -> \"us-holidays\"\n0 to create, 1 to change, 0 to remove, 1 unchanged (owner billing; dry run, nothing applied)\n"
	if r.stdout != want {
		t.Errorf("plan:\n%s\nwant\n%s", r.stdout, want)
	}
	// Left out: back to none.
	r = mustCLI(t, dsn, "apply", "--owner", "billing", writeFile(t, "c.yaml", teamFile))
	if !strings.Contains(r.stdout, "    start_deadline_secs: 120 -> null\n    max_runtime_secs: 600 -> null\n    exclude_calendar: \"de-holidays\" -> null\n") {
		t.Errorf("left out:\n%s", r.stdout)
	}
	if got := query[string](t, dsn, `SELECT concat_ws(' ', start_deadline_secs, max_runtime_secs, exclude_calendar) FROM werk_cron_jobs WHERE name = 'ping'`); got != "" {
		t.Errorf("after leaving them out: %q", got)
	}

	// Bad values: each reported with its line (teamFile has 11), nothing applied.
	before = rowVersions(t, dsn)
	for _, c := range []struct{ add, want string }{
		{"    start_deadline_secs: 0\n", `:12: schedule "ping" (entry 2): start_deadline_secs: 0: must be positive`},
		{"    start_deadline_secs: -30\n", `:12: schedule "ping" (entry 2): start_deadline_secs: -30: must be positive`},
		{"    max_runtime_secs: 0\n", `:12: schedule "ping" (entry 2): max_runtime_secs: 0: must be positive`},
		{"    max_runtime_secs: 1.5\n", `:12: schedule "ping" (entry 2): max_runtime_secs: want a whole number, not the float "1.5"`},
		{"    jitter_secs: 30\n    start_deadline_secs: 30\n", `:13: schedule "ping" (entry 2): start_deadline_secs: 30 seconds: must be longer than the jitter (30 seconds)`},
		{"    jitter_secs: 60\n    start_deadline_secs: 30\n", `:13: schedule "ping" (entry 2): start_deadline_secs: 30 seconds: must be longer than the jitter (60 seconds)`},
		{"    exclude_calendar: \"\"\n", `:12: schedule "ping" (entry 2): exclude_calendar: must not be blank: leave the key out for none`},
		{"    exclude_calendar: \" \"\n", `:12: schedule "ping" (entry 2): exclude_calendar: must not be blank`},
		{"    exclude_calendar: [a]\n", `:12: schedule "ping" (entry 2): exclude_calendar: want text, not a list`},
	} {
		bad := writeFile(t, "bad.yaml", teamFile+c.add)
		wantCode(t, dsn, 1, []string{"1 problem(s), nothing applied", bad + c.want}, "apply", "--owner", "billing", bad)
	}
	if rowVersions(t, dsn) != before {
		t.Error("a bad file wrote")
	}
}

// Labels from add and edit, shown by show and ls, and ls --label filtering.
func TestCLILabels(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	mustCLI(t, dsn, "add", "a", "--func", "app.a", "--every", "1m", "--label", "tenant=42", "--label", "team=billing")
	mustCLI(t, dsn, "add", "b", "--func", "app.b", "--every", "1m", "--label", "tenant=42")
	mustCLI(t, dsn, "add", "c", "--func", "app.c", "--every", "1m", "--label", "tenant=7", "--label", "note=a=b")
	if got := query[string](t, dsn, `SELECT labels::text FROM werk_cron_jobs WHERE name = 'c'`); got != `{"note": "a=b", "tenant": "7"}` {
		t.Errorf("c's labels: %s", got)
	}
	ls := func(args ...string) string {
		r := mustCLI(t, dsn, append([]string{"ls"}, args...)...)
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			names = append(names, strings.Fields(l)[0])
		}
		return strings.Join(names, " ")
	}
	if got := ls("--label", "tenant=42"); got != "a b" {
		t.Errorf("ls --label tenant=42: %s", got)
	}
	if got := ls("--label", "tenant=42", "--label", "team=billing"); got != "a" {
		t.Errorf("ls with two labels: %s", got)
	}
	if got := ls("--label", "tenant=nope"); got != "" {
		t.Errorf("no match: %s", got)
	}
	rows := decode[[]statusJSON](t, mustCLI(t, dsn, "ls", "--json", "--label", "tenant=7"))
	if len(rows) != 1 || rows[0].Labels["note"] != "a=b" || rows[0].ManagedBy != nil {
		t.Errorf("ls --json: %+v", rows)
	}

	// edit: the labels given replace all; --clear label removes them.
	mustCLI(t, dsn, "edit", "a", "--label", "tenant=43")
	if got := query[string](t, dsn, `SELECT labels::text FROM werk_cron_jobs WHERE name = 'a'`); got != `{"tenant": "43"}` {
		t.Errorf("after edit: %s", got)
	}
	if r := mustCLI(t, dsn, "show", "a"); !regexp.MustCompile(`(?m)^labels +tenant=43$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^managed by +- \(written by hand\)$`).MatchString(r.stdout) {
		t.Errorf("show:\n%s", r.stdout)
	}
	mustCLI(t, dsn, "edit", "a", "--clear", "label")
	if j := decode[jobJSON](t, mustCLI(t, dsn, "show", "a", "--json")); len(j.Labels) != 0 || j.Labels == nil {
		t.Errorf("after --clear label: %v", j.Labels)
	}
	// add replaces: no --label, no labels.
	mustCLI(t, dsn, "add", "b", "--func", "app.b", "--every", "1m")
	if got := query[string](t, dsn, `SELECT labels::text FROM werk_cron_jobs WHERE name = 'b'`); got != `{}` {
		t.Errorf("b after add without labels: %s", got)
	}
	wantCode(t, dsn, 2, []string{`"tenant": want KEY=VALUE`}, "add", "x", "--func", "f", "--every", "1m", "--label", "tenant")
	wantCode(t, dsn, 2, []string{`"=v": want KEY=VALUE`}, "ls", "--label", "=v")
	wantCode(t, dsn, 2, []string{`the label "k" is given twice`}, "ls", "--label", "k=1", "--label", "k=2")
	wantCode(t, dsn, 2, []string{"--label is both given and cleared"}, "edit", "a", "--label", "k=1", "--clear", "label")
}

func TestCLIApplyHelp(t *testing.T) {
	t.Parallel()
	r := mustCLI(t, "", "apply", "--help")
	for _, want := range []string{"Usage: werkcron apply --owner NAME", "schedules:", "--dry-run", "--prune", "--adopt", "keeps the pause", "Examples:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// An application role (werkcron grant --app) may apply and export: the owner column is
// among what it may write. A role that may only read schedules may plan (--dry-run);
// a ticker role may not apply.
func TestCLIApplyAsAnApplicationRole(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	app := pgtest.NewRole(t, dsn, "werkcron_app", "")
	ticker := pgtest.NewRole(t, dsn, "werkcron_tick", "")
	mustCLI(t, dsn, "grant", "--app", "--apply", app)
	mustCLI(t, dsn, "grant", "--apply", ticker)
	mustCLI(t, dsn, "add", "by-hand", "--func", "app.h", "--every", "1m")
	appDSN := pgtest.AsRole(t, dsn, app)
	file := writeFile(t, "app.yaml", teamFile+"  - {name: by-hand, func: app.h, interval_secs: 60}\n")
	if r := mustCLI(t, appDSN, "apply", "--owner", "app", "--adopt", file); !strings.Contains(r.stdout, "2 to create, 1 to change") {
		t.Errorf("apply as the app role:\n%s", r.stdout)
	}
	changed := strings.Replace(teamFile, "interval_secs: 30", "interval_secs: 45", 1)
	if r := mustCLI(t, appDSN, "apply", "--owner", "app", "--prune", writeFile(t, "app2.yaml", changed)); !strings.Contains(r.stdout, "0 to create, 1 to change, 1 to remove") {
		t.Errorf("change and prune as the app role:\n%s", r.stdout)
	}
	mustCLI(t, appDSN, "export", "--owner", "app")
	mustCLI(t, appDSN, "ls", "--label", "team=billing")
	// A reviewer's role that may only read the schedules can plan.
	reviewer := pgtest.NewRole(t, dsn, "werkcron_review", "")
	execSQL(t, dsn, `GRANT USAGE ON SCHEMA public TO `+reviewer+`; GRANT SELECT ON werk_cron_jobs TO `+reviewer)
	reviewDSN := pgtest.AsRole(t, dsn, reviewer)
	if r := mustCLI(t, reviewDSN, "apply", "--owner", "app", "--dry-run", file); !strings.Contains(r.stdout, "(owner app; dry run") {
		t.Errorf("dry run as a reviewer:\n%s", r.stdout)
	}
	wantCode(t, reviewDSN, 1, []string{"permission denied"}, "apply", "--owner", "app", file)
	wantCode(t, pgtest.AsRole(t, dsn, ticker), 1, []string{"permission denied"}, "apply", "--owner", "tick",
		writeFile(t, "tick.yaml", "schedules: [{name: evil, func: f, interval_secs: 1}]"))
}
