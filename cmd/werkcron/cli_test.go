package main

// These tests run the built binary against real databases, the way an operator or a
// script does: output, exit codes, --json.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler/cron"
)

// bin is the werkcron binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) { os.Exit(pgtest.MainWithWerkcron(m, &bin)) }

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs the binary with DATABASE_URL=dsn ("" for none) and returns what it printed.
func cli(t *testing.T, dsn string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("werkcron %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ werkcron %s\n%s", strings.Join(args, " "), r)
	return r
}

// mustCLI runs the binary and fails the test unless it exits 0.
func mustCLI(t *testing.T, dsn string, args ...string) result {
	t.Helper()
	r := cli(t, dsn, args...)
	if r.code != 0 {
		t.Fatalf("werkcron %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// wantCode runs the binary and checks its exit code and that stderr mentions every
// one of want.
func wantCode(t *testing.T, dsn string, code int, want []string, args ...string) result {
	t.Helper()
	r := cli(t, dsn, args...)
	if r.code != code {
		t.Errorf("werkcron %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("werkcron %s: stderr does not mention %q: %q", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, r.stdout)
	}
	return v
}

// migrated returns a fresh migrated database: a copy of one that `werkcron migrate`'s
// code migrated (TestCLIMigrate runs the verb itself).
func migrated(t *testing.T) string {
	t.Helper()
	return pgtest.MigratedDB(t)
}

func query[T any](t *testing.T, dsn, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func execSQL(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestCLIMigrate(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDB(t)
	mustCLI(t, dsn, "migrate")
	mustCLI(t, dsn, "migrate", "--log-format", "json") // again: nothing to do
	if n := query[int64](t, dsn, `SELECT count(*) FROM pg_proc WHERE proname LIKE 'werk_cron_%'`); n < 10 {
		t.Errorf("only %d werk_cron_ functions after migrate", n)
	}
}

func TestCLIHelpAndUsage(t *testing.T) {
	t.Parallel()
	r := mustCLI(t, "", "help")
	for _, v := range verbs() {
		if !strings.Contains(r.stdout, "  "+v.name+" ") {
			t.Errorf("help does not list %s", v.name)
		}
		h := cli(t, "", v.name, "--help")
		if h.code != 0 || !strings.Contains(h.stdout, "Usage: werkcron "+v.name) || !strings.Contains(h.stdout, "Example") {
			t.Errorf("%s --help: %s", v.name, h)
		}
	}
	// Test hooks (cmd/werkcron/testhooks.go) exist only in a build with their tag.
	if h := mustCLI(t, "", "run", "--help"); strings.Contains(strings.ToLower(h.stdout+h.stderr), "skew") {
		t.Errorf("run --help of a production build mentions clock skew, a test hook:\n%s", h)
	}
	wantCode(t, "", 2, []string{"flag provided but not defined: -clock-skew"}, "run", "--clock-skew", "90s")
	wantCode(t, "", 2, []string{"unknown command"}, "frobnicate")
	wantCode(t, "", 2, nil)
	wantCode(t, "", 2, []string{"DATABASE_URL"}, "ls")
	wantCode(t, "", 2, []string{"one schedule NAME"}, "show", "--dsn", "postgres://x@127.0.0.1:1/x")
	wantCode(t, "", 2, []string{"flag provided but not defined"}, "ls", "--frob")
}

func TestCLIAddShowLs(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	// Flags before and after the positional NAME.
	r := mustCLI(t, dsn, "add", "--func", "myapp.tasks.report", "daily-report", "--cron", "0 9 * * 1-5",
		"--tz", "Europe/Berlin", "--queue", "reports", "--args", `["sales"]`, "--kwargs", `{"format": "pdf"}`,
		"--timeout", "10m", "--result-ttl", "1h", "--failure-ttl", "24h", "--meta", `{"team": "bi"}`,
		"--priority", "5", "--max-attempts", "3", "--catchup", "all", "--catchup-window", "1h",
		"--overlap", "skip", "--starts-at", "2026-01-01T00:00:00Z", "--ends-at", "2036-01-01T00:00:00Z")
	if !regexp.MustCompile(`(?m)^schedule +0 9 \* \* 1-5$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^timezone +Europe/Berlin$`).MatchString(r.stdout) {
		t.Errorf("add output:\n%s", r.stdout)
	}
	mustCLI(t, dsn, "add", "ping", "--func", "myapp.tasks.ping", "--every", "30s", "--paused")
	mustCLI(t, dsn, "add", "--func", "myapp.tasks.nameless", "--every", "1h") // NAME defaults to --func

	j := decode[map[string]any](t, mustCLI(t, dsn, "show", "daily-report", "--json"))
	want := map[string]any{
		"name": "daily-report", "func": "myapp.tasks.report", "queue": "reports", "cron": "0 9 * * 1-5",
		"interval_secs": nil, "timezone": "Europe/Berlin", "timeout_secs": 600.0, "result_ttl": 3600.0,
		"failure_ttl": 86400.0, "priority": 5.0, "max_attempts": 3.0, "paused": false, "catchup": "all",
		"catchup_window_secs": 3600.0, "overlap": "skip", "starts_at": "2026-01-01T00:00:00Z",
	}
	for k, v := range want {
		if j[k] != v {
			t.Errorf("show --json: %s = %#v, want %#v", k, j[k], v)
		}
	}
	if b, _ := json.Marshal(j["args"]); string(b) != `["sales"]` {
		t.Errorf("args %s", b)
	}
	if b, _ := json.Marshal(j["meta"]); string(b) != `{"team":"bi"}` {
		t.Errorf("meta %s", b)
	}
	p := decode[map[string]any](t, mustCLI(t, dsn, "show", "--json", "ping"))
	if p["interval_secs"] != 30.0 || p["paused"] != true || p["cron"] != nil {
		t.Errorf("ping: %v", p)
	}
	r = mustCLI(t, dsn, "show", "ping")
	if !regexp.MustCompile(`(?m)^paused +true$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "every 30s") {
		t.Errorf("show ping:\n%s", r.stdout)
	}

	// Replace by name.
	mustCLI(t, dsn, "add", "ping", "--func", "myapp.tasks.ping2", "--every", "1m")
	if f := query[string](t, dsn, `SELECT func FROM werk_cron_jobs WHERE name = 'ping'`); f != "myapp.tasks.ping2" {
		t.Errorf("replace: func %q", f)
	}

	r = mustCLI(t, dsn, "ls")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "daily-report") ||
		!strings.HasPrefix(lines[2], "myapp.tasks.nameless") || !strings.HasPrefix(lines[3], "ping") {
		t.Fatalf("ls:\n%s", r.stdout)
	}
	// Aligned: every row's SCHEDULE column starts where the header's does.
	col := strings.Index(lines[0], "SCHEDULE")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("ls columns not aligned:\n%s", r.stdout)
		}
	}
	rows := decode[[]map[string]any](t, mustCLI(t, dsn, "ls", "--json"))
	if len(rows) != 3 || rows[0]["name"] != "daily-report" || rows[0]["state"] != "unplanned" || rows[2]["schedule"] != "every 60s" ||
		rows[0]["next_run_at"] != nil {
		t.Errorf("ls --json: %v", rows)
	}
	wantCode(t, dsn, 1, []string{`"nope"`, "no such schedule"}, "show", "nope")
}

func TestCLIAddErrors(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	for _, tc := range []struct {
		code int
		want []string
		args []string
	}{
		{2, []string{`"x"`, "--func"}, []string{"add", "x", "--every", "1m"}},
		{2, []string{`"x"`, "--cron", "--every"}, []string{"add", "x", "--func", "f", "--every", "1m", "--cron", "* * * * *"}},
		{2, []string{`"x"`, "--cron", "--every"}, []string{"add", "x", "--func", "f"}},
		{1, []string{`"x"`, "--cron", "minute"}, []string{"add", "x", "--func", "f", "--cron", "61 * * * *"}},
		{1, []string{`"x"`, "--tz", "Mars/Base"}, []string{"add", "x", "--func", "f", "--cron", "@daily", "--tz", "Mars/Base"}},
		{1, []string{`"x"`, "--args", "JSON"}, []string{"add", "x", "--func", "f", "--every", "1m", "--args", `["a",`}},
		{1, []string{`"x"`, "--kwargs"}, []string{"add", "x", "--func", "f", "--every", "1m", "--kwargs", `[1]`}},
		{1, []string{`"x"`, "--meta"}, []string{"add", "x", "--func", "f", "--every", "1m", "--meta", `"s"`}},
		{1, []string{`"x"`, "--every", "whole"}, []string{"add", "x", "--func", "f", "--every", "1500ms"}},
		{1, []string{`"x"`, "--timeout"}, []string{"add", "x", "--func", "f", "--every", "1m", "--timeout", "-1s"}},
		{1, []string{`"x"`, "--catchup"}, []string{"add", "x", "--func", "f", "--every", "1m", "--catchup", "some"}},
		{1, []string{`"x"`, "--overlap"}, []string{"add", "x", "--func", "f", "--every", "1m", "--overlap", "maybe"}},
		{1, []string{`"x"`, "--ends-at"}, []string{"add", "x", "--func", "f", "--every", "1m", "--starts-at", "2030-01-02T00:00:00Z", "--ends-at", "2030-01-01T00:00:00Z"}},
		{2, []string{`"x"`, "--starts-at"}, []string{"add", "x", "--func", "f", "--every", "1m", "--starts-at", "tomorrow"}},
		{2, []string{"every", "often"}, []string{"add", "x", "--func", "f", "--every", "often"}},
		{1, []string{`"x"`, "--jitter", "must not be negative"}, []string{"add", "x", "--func", "f", "--every", "1m", "--jitter", "-5s"}},
		{1, []string{`"x"`, "--remaining-runs", "negative"}, []string{"add", "x", "--func", "f", "--every", "1m", "--remaining-runs", "-1"}},
	} {
		wantCode(t, dsn, tc.code, tc.want, tc.args...)
	}
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_cron_jobs`); n != 0 {
		t.Errorf("%d schedules written by failing adds", n)
	}
}

func TestCLIPauseResumeRmTrigger(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	mustCLI(t, dsn, "add", "job", "--func", "app.job", "--cron", "@daily")
	if r := mustCLI(t, dsn, "pause", "job"); r.stdout != "paused job\n" {
		t.Errorf("pause: %q", r.stdout)
	}
	if !query[bool](t, dsn, `SELECT paused FROM werk_cron_jobs WHERE name = 'job'`) {
		t.Error("not paused")
	}
	if v := decode[map[string]any](t, mustCLI(t, dsn, "pause", "--json", "job")); v["paused"] != true || v["name"] != "job" {
		t.Errorf("pause --json: %v", v)
	}
	// A reason is kept until the resume, and ls and show say it.
	mustCLI(t, dsn, "pause", "job", "--reason", "the reports database is being migrated")
	if ls := mustCLI(t, dsn, "ls").stdout; !regexp.MustCompile(`(?m)^job +paused .* paused: the reports database is being migrated$`).MatchString(ls) {
		t.Errorf("ls of a schedule paused with a reason:\n%s", ls)
	}
	if show := mustCLI(t, dsn, "show", "job").stdout; !regexp.MustCompile(`(?m)^paused because +the reports database is being migrated$`).MatchString(show) {
		t.Errorf("show of a schedule paused with a reason:\n%s", show)
	}
	if r := mustCLI(t, dsn, "resume", "job"); r.stdout != "resumed job\n" {
		t.Errorf("resume: %q", r.stdout)
	}
	if reason := query[*string](t, dsn, `SELECT paused_reason FROM werk_cron_jobs WHERE name = 'job'`); reason != nil {
		t.Errorf("paused_reason %q after the resume; want it cleared", *reason)
	}
	if query[bool](t, dsn, `SELECT paused FROM werk_cron_jobs WHERE name = 'job'`) {
		t.Error("still paused")
	}

	r := mustCLI(t, dsn, "trigger", "job")
	id := strings.TrimSpace(r.stdout)
	if key := query[string](t, dsn, `SELECT key FROM werk_jobs WHERE id = $1::uuid`, id); key != "cron:job:manual:"+id {
		t.Errorf("triggered job key %q", key)
	}
	v := decode[map[string]any](t, mustCLI(t, dsn, "trigger", "job", "--json"))
	if v["name"] != "job" || v["job_id"] == id || v["job_id"] == nil {
		t.Errorf("trigger --json: %v", v)
	}
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'job'`); n != 2 {
		t.Errorf("%d jobs after two triggers", n)
	}

	if r := mustCLI(t, dsn, "rm", "job"); r.stdout != "removed job\n" {
		t.Errorf("rm: %q", r.stdout)
	}
	for _, verb := range []string{"rm", "pause", "resume", "trigger"} {
		wantCode(t, dsn, 1, []string{`schedule "job"`, "no such schedule"}, verb, "job")
	}
	// Its history stays: the two manual runs.
	if r := mustCLI(t, dsn, "history", "job"); strings.Count(r.stdout, " triggered ") != 2 {
		t.Errorf("history of the removed schedule:\n%s", r.stdout)
	}
	wantCode(t, dsn, 1, []string{`schedule "never"`, "no such schedule"}, "history", "never")
	wantCode(t, dsn, 2, []string{"one schedule NAME"}, "pause")
}

func TestCLINext(t *testing.T) {
	t.Parallel()
	// Expression mode needs no database.
	r := mustCLI(t, "", "next", "30 2 * * *", "--tz", "America/New_York", "--from", "2026-03-07T00:00:00Z", "-n", "3")
	if r.stdout != "2026-03-07T02:30:00-05:00\n2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n" {
		t.Errorf("next expression:\n%s", r.stdout)
	}
	wantCode(t, "", 1, []string{"minute"}, "next", "61 * * * *")
	wantCode(t, "", 1, []string{"never fires"}, "next", "0 0 31 2 *")
	wantCode(t, "", 1, []string{"never fires after"}, "next", "0 0 0 1 1 * 2020") // only past years
	wantCode(t, "", 1, []string{"time zone"}, "next", "@daily", "--tz", "Nowhere/Land")
	wantCode(t, "", 1, []string{"not a cron expression", "DATABASE_URL"}, "next", "some-schedule")

	dsn := migrated(t)
	mustCLI(t, dsn, "add", "berlin", "--func", "app.b", "--cron", "0 9 * * *", "--tz", "Europe/Berlin")
	mustCLI(t, dsn, "add", "every", "--func", "app.e", "--every", "90s")
	// (From a day in the future: nothing before the schedule's creation ever fires.)
	r = mustCLI(t, dsn, "next", "-n", "2", "berlin", "--from", "2037-03-28T12:00:00Z")
	if r.stdout != "2037-03-29T09:00:00+02:00\n2037-03-30T09:00:00+02:00\n" {
		t.Errorf("next NAME (its zone):\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "next", "berlin", "--tz", "UTC", "-n", "1", "--from", "2037-01-10T00:00:00Z")
	if r.stdout != "2037-01-10T08:00:00Z\n" {
		t.Errorf("next NAME --tz UTC:\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "next", "every", "-n", "3")
	var times []time.Time
	for _, l := range strings.Fields(r.stdout) {
		tm, err := time.Parse(time.RFC3339, l)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, tm)
	}
	if len(times) != 3 || times[1].Sub(times[0]) != 90*time.Second || times[2].Sub(times[1]) != 90*time.Second {
		t.Errorf("next of an interval schedule:\n%s", r.stdout)
	}
	wantCode(t, dsn, 1, []string{`"nope"`, "no such schedule"}, "next", "nope")
}

// TestCLINextAcrossDST: `werkcron next` prints, across every 2026 transition of three
// zones (New York and Berlin, which shift by an hour on different dates, and Lord Howe,
// which shifts by half an hour), exactly the instants the Go API computes (whose own
// values scheduler/cron/cron_test.go pins as literal lists), with the zone's offset.
func TestCLINextAcrossDST(t *testing.T) {
	t.Parallel()
	transitions := map[string][]string{
		"America/New_York":    {"2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z"},
		"Europe/Berlin":       {"2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z"},
		"Australia/Lord_Howe": {"2026-04-04T00:00:00Z", "2026-10-03T00:00:00Z"},
	}
	for zone, froms := range transitions {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, from := range froms {
			for _, expr := range []string{"30 2 * * *", "0 * * * *", "*/15 * * * *", "30 1 * * *"} {
				c, err := cron.Parse(expr, loc)
				if err != nil {
					t.Fatal(err)
				}
				var want strings.Builder
				at, _ := time.Parse(time.RFC3339, from)
				for i := 0; i < 120; i++ {
					at, _ = c.Next(at)
					want.WriteString(at.In(loc).Format(time.RFC3339) + "\n")
				}
				r := mustCLI(t, "", "next", expr, "--tz", zone, "--from", from, "-n", "120")
				if r.stdout != want.String() {
					t.Errorf("next %q --tz %s --from %s:\ngot:\n%s\nwant:\n%s", expr, zone, from, r.stdout, want.String())
				}
			}
		}
	}
	// Spot checks of the rule itself, as a person reads them.
	r := mustCLI(t, "", "next", "0 * * * *", "--tz", "America/New_York", "--from", "2026-11-01T04:30:00Z", "-n", "3")
	if r.stdout != "2026-11-01T01:00:00-04:00\n2026-11-01T01:00:00-05:00\n2026-11-01T02:00:00-05:00\n" {
		t.Errorf("fall back, hourly: both 01:00s expected:\n%s", r.stdout)
	}
	r = mustCLI(t, "", "next", "30 2 * * *", "--tz", "Europe/Berlin", "--from", "2026-10-24T12:00:00Z", "-n", "2")
	if r.stdout != "2026-10-25T02:30:00+02:00\n2026-10-26T02:30:00+01:00\n" {
		t.Errorf("fall back, fixed time: first occurrence only:\n%s", r.stdout)
	}
}

// ticker is `werkcron run` running in the background.
type ticker struct {
	cmd    *exec.Cmd
	stderr *pgtest.SyncBuffer
	done   chan struct{}
	code   int
}

func startRun(t *testing.T, dsn string, args ...string) *ticker {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn)
	tk := &ticker{cmd: cmd, stderr: &pgtest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, tk.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		tk.code = cmd.ProcessState.ExitCode()
		close(tk.done)
	}()
	t.Cleanup(func() { tk.stop(t) })
	return tk
}

// stop sends SIGTERM and waits; it returns the exit code.
func (tk *ticker) stop(t *testing.T) int {
	select {
	case <-tk.done:
		return tk.code
	default:
	}
	_ = tk.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tk.done:
	case <-time.After(10 * time.Second):
		_ = tk.cmd.Process.Kill()
		<-tk.done
		t.Errorf("werkcron run did not stop within 10s of SIGTERM")
	}
	return tk.code
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metric returns the value of the sample line that starts with series.
func metric(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", series, body)
	return 0
}

// TestCLIRunStatusHistoryMetrics runs a primary and a standby binary, the primary
// serving /metrics and /healthz, and reads them with status, history and HTTP.
func TestCLIRunStatusHistoryMetrics(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	primary := startRun(t, dsn, "--no-migrate", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port), "--metrics-cache", "0s")
	pgtest.Eventually(t, 10*time.Second, "/healthz answers ok primary", func() bool {
		code, body, err := httpGet(base + "/healthz")
		return err == nil && code == 200 && body == "ok primary\n"
	})
	standby := startRun(t, dsn, "--no-migrate", "--log-format", "json")
	pgtest.Eventually(t, 10*time.Second, "the standby shows in werk_cron_instances", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_cron_instances`) == 2
	})

	_, body, err := httpGet(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	before := metric(t, body, `werkcron_ticks_total{outcome="enqueued"}`)
	if metric(t, body, "werkcron_is_primary") != 1 || metric(t, body, `werkcron_schedules{state="active"}`) != 0 {
		t.Errorf("/metrics before any schedule:\n%s", body)
	}

	mustCLI(t, dsn, "add", "fast", "--func", "app.fast", "--every", "1s")
	mustCLI(t, dsn, "add", "broken", "--func", "app.broken", "--cron", "0 0 1 1 *")
	// Break it past the API's validation, as a psql user might.
	execSQL(t, dsn, `UPDATE werk_cron_jobs SET cron = '61 * * * *' WHERE name = 'broken'`)
	pgtest.Eventually(t, 10*time.Second, "three ticks of fast", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'fast' AND outcome = 'enqueued'`) >= 3
	})
	pgtest.Eventually(t, 5*time.Second, "broken in error", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_cron_status WHERE state = 'error'`) == 1
	})

	// Missed ticks are counted as the ledger records them (none on a machine that keeps
	// up; a tick more than a second late on a starved one): read the ledger around the
	// scrape.
	missedRows := func() float64 {
		return float64(query[int64](t, dsn, `SELECT count(*) FROM werk_cron_ticks WHERE outcome = 'missed'`))
	}
	missedBefore := missedRows()
	_, body, _ = httpGet(base + "/metrics")
	missedAfter := missedRows()
	if m := metric(t, body, `werkcron_ticks_total{outcome="missed"}`); m < missedBefore || m > missedAfter {
		t.Errorf("missed counter %v, but the ledger has %v missed rows before the scrape and %v after", m, missedBefore, missedAfter)
	}
	if after := metric(t, body, `werkcron_ticks_total{outcome="enqueued"}`); after < before+3 {
		t.Errorf("enqueued counter moved from %v to %v after 3 ticks", before, after)
	}
	if metric(t, body, `werkcron_schedules{state="active"}`) != 1 || metric(t, body, `werkcron_schedules{state="error"}`) != 1 ||
		metric(t, body, "werkcron_tick_statements_total") < 3 || metric(t, body, "werkcron_promotions_total") != 1 {
		t.Errorf("/metrics:\n%s", body)
	}
	// Every enqueued tick is in the lateness histogram, and a healthy ticker commits
	// a tick well within a second of its instant.
	if n, enq := metric(t, body, "werkcron_enqueue_lateness_seconds_count"), metric(t, body, `werkcron_ticks_total{outcome="enqueued"}`); n != enq || n < 3 {
		t.Errorf("lateness histogram counts %v ticks, enqueued counter says %v", n, enq)
	}
	if within1s, n := metric(t, body, `werkcron_enqueue_lateness_seconds_bucket{le="1"}`), metric(t, body, "werkcron_enqueue_lateness_seconds_count"); within1s < n-1 {
		t.Errorf("only %v of %v ticks committed within 1s of their instant", within1s, n)
	}
	for _, want := range []string{"# TYPE werkcron_ticks_total counter", "# TYPE werkcron_is_primary gauge", "# TYPE werkcron_enqueue_lateness_seconds histogram"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	r := mustCLI(t, dsn, "history", "fast", "-n", "2")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TICK") || !strings.Contains(lines[1], " enqueued ") {
		t.Errorf("history:\n%s", r.stdout)
	}
	ticks := decode[[]map[string]any](t, mustCLI(t, dsn, "history", "--json", "fast"))
	if len(ticks) < 3 || ticks[0]["outcome"] != "enqueued" || ticks[0]["job_id"] == nil {
		t.Errorf("history --json: %v", ticks)
	}
	if r := mustCLI(t, dsn, "history", "broken"); strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("history of a schedule without ticks:\n%s", r.stdout)
	}

	r = mustCLI(t, dsn, "status")
	for _, re := range []string{`(?m)^primary +pid \d+, werkcron `, `(?m)^standby +pid \d+, `, `(?m)^newest tick +fast at \S+, enqueued, decided \S+ late$`,
		`(?m)^schedules +1 active, 1 error$`, `(?m)^in error:\n +broken +cron "61`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("status does not match %s:\n%s", re, r.stdout)
		}
	}
	st := decode[map[string]any](t, mustCLI(t, dsn, "status", "--json"))
	prim, _ := st["primary"].(map[string]any)
	if prim == nil || prim["role"] != "primary" || len(st["standbys"].([]any)) != 1 || st["schedule_count"] != 2.0 ||
		len(st["in_error"].([]any)) != 1 || st["newest_tick_lag_secs"] == nil {
		t.Errorf("status --json: %v", st)
	}

	if code := standby.stop(t); code != 0 {
		t.Errorf("standby exit %d:\n%s", code, standby.stderr)
	}
	if !strings.Contains(standby.stderr.String(), `"level":"INFO"`) {
		t.Errorf("--log-format json: stderr is not JSON:\n%s", standby.stderr)
	}
	if code := primary.stop(t); code != 0 {
		t.Errorf("primary exit %d:\n%s", code, primary.stderr)
	}
	if _, _, err := httpGet(base + "/healthz"); err == nil {
		t.Errorf("/healthz still answers after the ticker stopped")
	}
}

func TestCLIGrantLeastPrivilege(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	role := pgtest.NewRole(t, dsn, "werkcron_cli", "")
	// PUBLIC (every role) and a role that does not exist are refused, and nothing is granted.
	wantCode(t, dsn, 1, []string{"PUBLIC"}, "grant", "--apply", "public")
	wantCode(t, dsn, 1, []string{"no role named"}, "grant", "--apply", "nobody_at_all")
	if query[bool](t, dsn, `SELECT has_table_privilege('public', 'werk_jobs', 'INSERT')`) {
		t.Fatal("grant public --apply granted PUBLIC the right to insert jobs")
	}
	r := mustCLI(t, dsn, "grant", role)
	if !strings.HasPrefix(r.stdout, "GRANT USAGE ON SCHEMA public TO "+role+";\n") || !strings.Contains(r.stdout, "werk_cron_jobs") {
		t.Errorf("grant:\n%s", r.stdout)
	}
	if query[bool](t, dsn, `SELECT has_table_privilege($1, 'werk_jobs', 'INSERT')`, role) {
		t.Fatal("grant without --apply granted")
	}
	mustCLI(t, dsn, "grant", "--apply", role)
	mustCLI(t, dsn, "add", "lp", "--func", "app.lp", "--every", "1s")

	roleDSN := pgtest.AsRole(t, dsn, role)
	tk := startRun(t, roleDSN, "--no-migrate")
	pgtest.Eventually(t, 10*time.Second, "jobs enqueued by the least-privilege ticker", func() bool {
		return query[int64](t, dsn, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'lp'`) >= 2
	})
	// A backfill asked by the owner is carried out by the ticker role: its grants cover
	// the request table, the jobs it inserts and the queues it notifies.
	mustCLI(t, dsn, "add", "bf", "--func", "app.bf", "--every", "1s", "--paused")
	now := query[time.Time](t, dsn, `SELECT clock_timestamp()`).Truncate(time.Second)
	if r := mustCLI(t, dsn, "backfill", "bf", "--from", now.Add(-4*time.Second).Format(time.RFC3339),
		"--to", now.Add(-2*time.Second).Format(time.RFC3339)); !strings.Contains(r.stdout, "enqueued 3 ticks") {
		t.Errorf("backfill through the least-privilege ticker: %s", r.stdout)
	}
	// A management verb as the ticker role is refused: it may not define schedules.
	wantCode(t, roleDSN, 1, []string{"permission denied"}, "add", "evil", "--func", "f", "--every", "1s")
	if code := tk.stop(t); code != 0 {
		t.Errorf("ticker exit %d:\n%s", code, tk.stderr)
	}
	// Without --no-migrate the role cannot migrate.
	wantCode(t, roleDSN, 1, nil, "migrate")
}

// TestCLINoPasswordInOutput gives every verb that connects a password with characters
// URLs and key=value strings escape, in each form a connection string may carry it, and
// checks that no form of it appears in anything werkcron prints or logs (text and JSON):
// against a server that is not there (every verb fails), and against the test server,
// which trusts any password (the verbs work, and run logs as primary).
func TestCLINoPasswordInOutput(t *testing.T) {
	t.Parallel()
	// "Sekr3t" starts every form but the all-percent-encoded one.
	const pw = `Sekr3t@/:%41 #?&+=x'\y`
	allEncoded := func(s string) string {
		var b strings.Builder
		for _, c := range []byte(s) {
			fmt.Fprintf(&b, "%%%02x", c)
		}
		return b.String()
	}
	kvQuoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)
	userinfo := strings.TrimPrefix(url.UserPassword("u", pw).String(), "u:")
	// In a query string libpq (and pgx) decode "+" as itself, not as a space.
	query := strings.ReplaceAll(url.QueryEscape(pw), "+", "%20")
	forms := []string{pw, "Sekr3t", userinfo, query, allEncoded(pw), strings.ToUpper(allEncoded(pw)), url.QueryEscape(pw), url.PathEscape(pw), kvQuoted}
	leaked := func(out string) []string {
		var found []string
		for _, f := range forms {
			if strings.Contains(out, f) {
				found = append(found, f)
			}
		}
		return found
	}
	// dsns spells a connection to database db as user at host:port in every form.
	dsns := func(host string, port int, user, db string) map[string]string {
		hp := fmt.Sprintf("%s:%d", host, port)
		const opts = "sslmode=disable&connect_timeout=2"
		return map[string]string{
			"url":             (&url.URL{Scheme: "postgres", User: url.UserPassword(user, pw), Host: hp, Path: "/" + db, RawQuery: opts}).String(),
			"url-all-encoded": "postgres://" + user + ":" + allEncoded(pw) + "@" + hp + "/" + db + "?" + opts,
			"url-query":       "postgres://" + user + "@" + hp + "/" + db + "?password=" + query + "&" + opts,
			"key-value": fmt.Sprintf("host=%s port=%d user=%s password='%s' dbname=%s sslmode=disable connect_timeout=2",
				host, port, user, kvQuoted, db),
		}
	}
	// Every verb logs at debug level; those that log more than an error (migrate, run)
	// in JSON too.
	debug, jsonDebug := []string{"--log-level", "debug"}, []string{"--log-format", "json", "--log-level", "debug"}
	logFlags := [][]string{debug, jsonDebug}
	withLogFlags := func(verbs [][]string) [][]string {
		var out [][]string
		for _, v := range verbs {
			out = append(out, append(v, debug...))
			if v[0] == "migrate" || v[0] == "run" {
				out = append(out, append(v, jsonDebug...))
			}
		}
		return out
	}
	check := func(t *testing.T, what string, out string) {
		t.Helper()
		if f := leaked(out); len(f) > 0 {
			t.Errorf("%s printed the password as %q:\n%s", what, f, out)
		}
	}

	scheduleFile := writeFile(t, "s.yaml", "schedules: [{func: f, interval_secs: 60}]\n")
	t.Run("no server", func(t *testing.T) {
		t.Parallel()
		port, err := pgtest.FreePort() // nothing listens there
		if err != nil {
			t.Fatal(err)
		}
		for form, dsn := range dsns("127.0.0.1", port, "werk", "app") {
			t.Run(form, func(t *testing.T) {
				t.Parallel()
				if cfg, err := pgx.ParseConfig(dsn); err != nil || cfg.Password != pw {
					t.Fatalf("the %s connection string does not carry the password (%v): %s", form, err, dsn)
				}
				for _, args := range withLogFlags([][]string{
					{"migrate"}, {"ls"}, {"ls", "--json"}, {"show", "x"}, {"add", "x", "--func", "f", "--every", "1m"},
					{"edit", "x", "--queue", "q"}, {"pause", "x"}, {"resume", "x"}, {"rm", "x"}, {"trigger", "x"},
					{"history", "x"}, {"status"}, {"next", "x"}, {"grant", "postgres"}, {"run"},
					{"export"}, {"apply", "--owner", "o", scheduleFile},
				}) {
					r := cli(t, dsn, args...)
					if r.code != 1 {
						t.Errorf("werkcron %s with no server: want exit 1, got %s", strings.Join(args, " "), r)
					}
					check(t, "werkcron "+strings.Join(args, " "), r.stdout+r.stderr)
				}
				for _, lf := range logFlags {
					// The ticker reconnects forever; its logs must not leak it either.
					tk := startRun(t, dsn, append([]string{"--no-migrate"}, lf...)...)
					pgtest.Eventually(t, 10*time.Second, "run --no-migrate logs that it is reconnecting", func() bool {
						return strings.Contains(tk.stderr.String(), "reconnecting")
					})
					tk.stop(t)
					check(t, "run --no-migrate "+strings.Join(lf, " "), tk.stderr.String())
				}
			})
		}
	})

	t.Run("server", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(pgtest.MigratedDB(t))
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(u.Port())
		for form, dsn := range dsns(u.Hostname(), port, u.User.Username(), strings.TrimPrefix(u.Path, "/")) {
			t.Run(form, func(t *testing.T) {
				t.Parallel()
				if cfg, err := pgx.ParseConfig(dsn); err != nil || cfg.Password != pw {
					t.Fatalf("the %s connection string does not carry the password (%v): %s", form, err, dsn)
				}
				// What works prints schedules, not the connection: the verbs that log or
				// show sessions.
				for _, args := range withLogFlags([][]string{
					{"migrate"}, {"add", "x", "--func", "f", "--every", "1m"}, {"ls", "--json"}, {"status"}, {"status", "--json"},
				}) {
					r := cli(t, dsn, args...)
					if r.code != 0 {
						t.Errorf("werkcron %s: %s", strings.Join(args, " "), r)
					}
					check(t, "werkcron "+strings.Join(args, " "), r.stdout+r.stderr)
				}
				for _, lf := range logFlags {
					tk := startRun(t, dsn, append([]string{"--no-migrate"}, lf...)...)
					pgtest.Eventually(t, 10*time.Second, "run logs that it is primary or standby", func() bool {
						out := tk.stderr.String()
						return strings.Contains(out, "now schedules") || strings.Contains(out, "standing by")
					})
					if code := tk.stop(t); code != 0 {
						t.Errorf("run: exit %d:\n%s", code, tk.stderr)
					}
					check(t, "run "+strings.Join(lf, " "), tk.stderr.String())
				}
			})
		}
	})
}
