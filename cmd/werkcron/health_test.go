package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// failRun makes a manual run of name and fails it as pgwerk does, deleting its row:
// werkcron's delete trigger records the outcome, no ticker needed.
func failRun(t *testing.T, dsn, name string, fail bool) {
	t.Helper()
	id := strings.TrimSpace(mustCLI(t, dsn, "trigger", name).stdout)
	execSQL(t, dsn, fmt.Sprintf(`UPDATE werk_jobs SET status = 'active', started_at = now(), attempts = 1 WHERE id = '%s'`, id))
	status := "complete"
	if fail {
		status = "failed"
	}
	execSQL(t, dsn, fmt.Sprintf(`UPDATE werk_jobs SET status = '%s', completed_at = now(), error = 'boom' WHERE id = '%s'`, status, id))
	execSQL(t, dsn, fmt.Sprintf(`DELETE FROM werk_jobs WHERE id = '%s'`, id))
}

// status --check exits 0 while no schedule is failing, late or overdue, and 1 listing
// those that are, for monitoring and CI; --json says the same.
func TestCLIStatusCheck(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "nightly", "--func", "app.nightly", "--cron", "@daily")
	mustCLI(t, dsn, "add", "fine", "--func", "app.fine", "--cron", "@daily")
	mustCLI(t, dsn, "add", "stopped", "--func", "app.stopped", "--cron", "@daily", "--paused")
	r := mustCLI(t, dsn, "status", "--check")
	if !strings.Contains(r.stdout, "ok: no schedule is failing, late or overdue") {
		t.Errorf("status --check, all ok:\n%s", r)
	}

	failRun(t, dsn, "nightly", true)
	r = wantCode(t, dsn, 1, []string{"1 schedule is failing, late or overdue"}, "status", "--check")
	if !regexp.MustCompile(`(?m)^nightly +failing +since \S+ \(.*\) +the last run failed$`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "fine") || strings.Contains(r.stdout, "stopped") {
		t.Errorf("status --check lists:\n%s\nwant nightly failing alone (a paused schedule is not failing)", r.stdout)
	}
	j := decode[map[string]any](t, wantCode(t, dsn, 1, nil, "status", "--check", "--json"))
	if j["ok"] != false || fmt.Sprint(j["schedules"]) == "[]" || !strings.Contains(fmt.Sprint(j["schedules"]), "health:failing") {
		t.Errorf("status --check --json: %v", j)
	}
	// status and ls show it too.
	r = mustCLI(t, dsn, "status")
	if !strings.Contains(r.stdout, "health") || !strings.Contains(r.stdout, "1 failing") ||
		!regexp.MustCompile(`(?m)^failing, late or overdue:\n  nightly +failing`).MatchString(r.stdout) {
		t.Errorf("status:\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "ls")
	if !regexp.MustCompile(`(?m)^NAME +STATE +HEALTH `).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^nightly +unplanned +failing `).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^stopped +paused +paused `).MatchString(r.stdout) {
		t.Errorf("ls:\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "show", "nightly")
	if !regexp.MustCompile(`(?m)^health +failing since 20`).MatchString(r.stdout) {
		t.Errorf("show:\n%s", r.stdout)
	}

	failRun(t, dsn, "nightly", false)
	r = mustCLI(t, dsn, "status", "--check")
	if !strings.Contains(r.stdout, "ok: no schedule") {
		t.Errorf("status --check after a good run:\n%s", r)
	}
	j = decode[map[string]any](t, mustCLI(t, dsn, "status", "--check", "--json"))
	if j["ok"] != true {
		t.Errorf("status --check --json: %v", j)
	}
}

// The calendar verbs keep a calendar's days; a schedule that names it skips them in
// next NAME (in its zone); add and edit set the deadline, the run-time limit and the
// calendar, which show, ls and --json print.
func TestCLICalendar(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	r := mustCLI(t, dsn, "calendar", "add", "us", "2037-12-24..2037-12-26", "2038-01-01", "--note", "holidays")
	if !strings.Contains(r.stdout, "calendar us: 4 days added or changed") {
		t.Errorf("calendar add:\n%s", r.stdout)
	}
	if r = mustCLI(t, dsn, "calendar", "add", "us", "2038-01-01", "--note", "holidays"); !strings.Contains(r.stdout, ": 0 days") {
		t.Errorf("calendar add, the same again:\n%s", r.stdout)
	}
	mustCLI(t, dsn, "add", "report", "--func", "app.report", "--cron", "0 9 * * *", "--tz", "America/New_York",
		"--exclude-calendar", "us", "--start-deadline", "30m", "--max-runtime", "1h", "--jitter", "10m")
	r = mustCLI(t, dsn, "next", "report", "--from", "2037-12-23T12:00:00Z", "-n", "3")
	if r.stdout != "2037-12-23T09:00:00-05:00\n2037-12-27T09:00:00-05:00\n2037-12-28T09:00:00-05:00\n" {
		t.Errorf("next NAME skips the calendar's days:\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "calendar", "ls")
	if !regexp.MustCompile(`(?m)^us +4 +2037-12-24 +2038-01-01 +1$`).MatchString(r.stdout) {
		t.Errorf("calendar ls:\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "calendar", "ls", "us")
	if !regexp.MustCompile(`(?m)^2037-12-25 +Fri +holidays$`).MatchString(r.stdout) {
		t.Errorf("calendar ls us:\n%s", r.stdout)
	}
	days := decode[[]map[string]any](t, mustCLI(t, dsn, "calendar", "ls", "us", "--json"))
	if len(days) != 4 || days[0]["day"] != "2037-12-24" || days[0]["note"] != "holidays" {
		t.Errorf("calendar ls us --json: %v", days)
	}
	if r = mustCLI(t, dsn, "calendar", "rm", "us", "2037-12-24..2037-12-25"); !strings.Contains(r.stdout, "2 days removed") {
		t.Errorf("calendar rm:\n%s", r.stdout)
	}
	r = mustCLI(t, dsn, "next", "report", "--from", "2037-12-23T12:00:00Z", "-n", "2")
	if r.stdout != "2037-12-23T09:00:00-05:00\n2037-12-24T09:00:00-05:00\n" {
		t.Errorf("next NAME after rm:\n%s", r.stdout)
	}
	if r = mustCLI(t, dsn, "calendar", "rm", "us", "--all"); !strings.Contains(r.stdout, "2 days removed") {
		t.Errorf("calendar rm --all:\n%s", r.stdout)
	}

	j := decode[map[string]any](t, mustCLI(t, dsn, "show", "report", "--json"))
	if j["start_deadline_secs"] != 1800.0 || j["max_runtime_secs"] != 3600.0 || j["exclude_calendar"] != "us" || j["health"] != "ok" {
		t.Errorf("show --json: %v", j)
	}
	r = mustCLI(t, dsn, "show", "report")
	for _, re := range []string{`(?m)^start deadline +30m$`, `(?m)^max runtime +1h$`, `(?m)^exclude calendar +us$`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("show does not match %s:\n%s", re, r.stdout)
		}
	}
	if r = mustCLI(t, dsn, "ls"); !strings.Contains(r.stdout, "jitter 10m, deadline 30m, max runtime 1h, skips us") {
		t.Errorf("ls POLICY:\n%s", r.stdout)
	}
	mustCLI(t, dsn, "edit", "report", "--clear", "start-deadline,exclude-calendar,jitter")
	j = decode[map[string]any](t, mustCLI(t, dsn, "show", "report", "--json"))
	if j["start_deadline_secs"] != nil || j["exclude_calendar"] != nil || j["max_runtime_secs"] != 3600.0 {
		t.Errorf("after --clear: %v", j)
	}

	wantCode(t, dsn, 2, []string{"want CALENDAR and at least one DAY"}, "calendar", "add", "us")
	wantCode(t, dsn, 2, []string{"YYYY-MM-DD"}, "calendar", "add", "us", "24.12.2037")
	wantCode(t, dsn, 2, []string{"at most 366 days"}, "calendar", "add", "us", "2037-01-01..2039-01-01")
	wantCode(t, dsn, 2, []string{"--all"}, "calendar", "rm", "us")
	wantCode(t, dsn, 2, []string{"want add, rm or ls"}, "calendar", "frob")
	wantCode(t, dsn, 1, []string{"--jitter", "start deadline"}, "add", "j", "--func", "app.j", "--every", "1h",
		"--jitter", "1h", "--start-deadline", "30m")
	wantCode(t, dsn, 1, []string{"--start-deadline", "whole"}, "add", "j", "--func", "app.j", "--every", "1h",
		"--start-deadline", "1.5s")
}

// history shows the ticks a calendar excluded and the jobs that expired.
func TestCLIHistoryShowsExcludedAndExpired(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "h", "--func", "app.h", "--cron", "@yearly", "--start-deadline", "1s")
	id := strings.TrimSpace(mustCLI(t, dsn, "trigger", "h").stdout)
	// The job waits past its expires_at; pgwerk's clean-up deletes it.
	execSQL(t, dsn, fmt.Sprintf(`UPDATE werk_jobs SET expires_at = now() - interval '1 s' WHERE id = '%s'`, id))
	execSQL(t, dsn, fmt.Sprintf(`DELETE FROM werk_jobs WHERE id = '%s'`, id))
	execSQL(t, dsn, `INSERT INTO werk_cron_ledger (name, tick_at, outcome, ticks) VALUES ('h', '2026-12-25T00:00:00Z', 'excluded', 1)`)
	r := mustCLI(t, dsn, "history", "h")
	for _, re := range []string{
		`(?m) triggered .* expired +- +- +not started by its start deadline`,
		`(?m)^2026-12-25T00:00:00Z +excluded +`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("history does not match %s:\n%s", re, r.stdout)
		}
	}
}
