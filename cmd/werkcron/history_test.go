package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// history shows each run's outcome, how long it took and the first line of its error
// (--json: everything); ls shows the last run's outcome; /metrics counts outcomes and
// the schedules whose last run failed.
func TestCLIHistoryShowsOutcomes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "nightly", "--func", "app.nightly", "--cron", "@daily")
	// Two manual runs, finished as pgwerk finishes jobs, their rows deleted at once.
	for i, finish := range []string{
		`UPDATE werk_jobs SET status = 'complete', completed_at = started_at + interval '1.5 s' WHERE id = $1`,
		`UPDATE werk_jobs SET status = 'failed', attempts = 2, completed_at = started_at + interval '3 s',
			error = E'ZeroDivisionError: division by zero\nTraceback (most recent call last):' WHERE id = $1`,
	} {
		id := strings.TrimSpace(mustCLI(t, dsn, "trigger", "nightly").stdout)
		execSQL(t, dsn, fmt.Sprintf(`UPDATE werk_jobs SET status = 'active', started_at = now(), attempts = 1 WHERE id = '%s'`, id))
		execSQL(t, dsn, strings.ReplaceAll(finish, "$1", "'"+id+"'"))
		execSQL(t, dsn, fmt.Sprintf(`DELETE FROM werk_jobs WHERE id = '%s'`, id))
		time.Sleep(time.Duration(i) * 10 * time.Millisecond) // two distinct trigger instants
	}
	r := mustCLI(t, dsn, "history", "nightly")
	for _, re := range []string{
		`(?m)^TICK +DECIDED +LATE +RESULT +TOOK +ATTEMPTS +ERROR$`,
		`(?m) triggered .* failed +3s +2 +ZeroDivisionError: division by zero$`,
		`(?m) triggered .* complete +1.5s +1 +-$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("history does not match %s:\n%s", re, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Traceback") {
		t.Errorf("history shows more than the error's first line:\n%s", r.stdout)
	}
	runs := decode[[]map[string]any](t, mustCLI(t, dsn, "history", "nightly", "--json"))
	if len(runs) != 2 || runs[0]["job_status"] != "failed" || !strings.Contains(fmt.Sprint(runs[0]["job_error"]), "Traceback") ||
		runs[0]["job_attempts"] != 2.0 {
		t.Errorf("history --json: %v", runs)
	}
	if r := mustCLI(t, dsn, "ls"); !regexp.MustCompile(`(?m)^nightly .* failed +- +-$`).MatchString(r.stdout) { // POLICY, NOTE: none
		t.Errorf("ls does not show the last run's outcome:\n%s", r.stdout)
	}

	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	startRun(t, dsn, "--no-migrate", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port), "--metrics-cache", "0s")
	var body string
	pgtest.Eventually(t, 10*time.Second, "/metrics", func() bool {
		var code int
		code, body, err = httpGet(base + "/metrics")
		return err == nil && code == 200
	})
	if metric(t, body, `werkcron_job_outcomes_total{outcome="failed"}`) != 1 || metric(t, body, `werkcron_job_outcomes_total{outcome="complete"}`) != 1 ||
		metric(t, body, "werkcron_schedules_last_run_failed") != 1 {
		t.Errorf("/metrics:\n%s", body)
	}
}
