package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// definition is a stored schedule without what differs between two schedules made at
// different moments under different names.
func definition(t *testing.T, dsn, name string) string {
	t.Helper()
	return query[string](t, dsn, `SELECT (to_jsonb(j) - '{name,created_at,updated_at,changed_at}'::text[])::text
		FROM werk_cron_jobs j WHERE name = $1`, name)
}

// The same schedule made through SQL (the function and a plain INSERT), the CLI and Go
// is stored identically: one write path, each default written once (the table's DDL).
func TestSameScheduleThroughSQLCLIAndGo(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := scheduler.New(pool, scheduler.Options{})
	ctx := context.Background()

	// Everything set.
	execSQL(t, dsn, `SELECT werk_cron_schedule('full-sql', 'app.report', '0 9 * * 1-5', queue => 'reports',
		args => '["sales", 3]', kwargs => '{"format": "pdf"}', timezone => 'Europe/Berlin', timeout_secs => 600,
		result_ttl => 3600, failure_ttl => 86400, meta => '{"team": "bi"}', priority => 5, max_attempts => 3,
		paused => true, catchup => 'all', catchup_window_secs => 3600, overlap => 'buffer_one',
		starts_at => '2030-01-01T00:00:00Z', ends_at => '2036-01-01T00:00:00Z', jitter_secs => 30,
		remaining_runs => 7, pause_after_failures => 4)`)
	mustCLI(t, dsn, "add", "full-cli", "--func", "app.report", "--cron", "0 9 * * 1-5", "--queue", "reports",
		"--args", `["sales", 3]`, "--kwargs", `{"format": "pdf"}`, "--tz", "Europe/Berlin", "--timeout", "10m",
		"--result-ttl", "1h", "--failure-ttl", "24h", "--meta", `{"team": "bi"}`, "--priority", "5",
		"--max-attempts", "3", "--paused", "--catchup", "all", "--catchup-window", "1h", "--overlap", "buffer_one",
		"--starts-at", "2030-01-01T00:00:00Z", "--ends-at", "2036-01-01T00:00:00Z", "--jitter", "30s",
		"--remaining-runs", "7", "--pause-after-failures", "4")
	seven := 7
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "full-go", Func: "app.report", Cron: "0 9 * * 1-5", Queue: "reports",
		Args: json.RawMessage(`["sales", 3]`), Kwargs: json.RawMessage(`{"format": "pdf"}`), Timezone: "Europe/Berlin",
		Timeout: 10 * time.Minute, ResultTTL: time.Hour, FailureTTL: 24 * time.Hour, Meta: json.RawMessage(`{"team": "bi"}`),
		Priority: 5, MaxAttempts: 3, Paused: true, Catchup: "all", CatchupWindow: time.Hour, Overlap: "buffer_one",
		StartsAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		Jitter: 30 * time.Second, RemainingRuns: &seven, PauseAfterFailures: 4}); err != nil {
		t.Fatal(err)
	}
	// Nothing but what is required: every default is the table's.
	execSQL(t, dsn, `SELECT werk_cron_schedule('min-sql', 'app.ping', '30 seconds')`)
	execSQL(t, dsn, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('min-insert', 'app.ping', 30)`)
	mustCLI(t, dsn, "add", "min-cli", "--func", "app.ping", "--every", "30s")
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "min-go", Func: "app.ping", Interval: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}

	for _, set := range [][]string{{"full-sql", "full-cli", "full-go"}, {"min-insert", "min-sql", "min-cli", "min-go"}} {
		want := definition(t, dsn, set[0])
		for _, name := range set[1:] {
			if got := definition(t, dsn, name); got != want {
				t.Errorf("%s is stored differently from %s:\n got %s\nwant %s", name, set[0], got, want)
			}
		}
	}
}

// edit changes only the flags given; --clear puts fields back to their default.
func TestCLIEdit(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "e", "--func", "app.e", "--cron", "0 9 * * *", "--queue", "q1", "--timeout", "1m",
		"--priority", "4", "--ends-at", "2040-01-01T00:00:00Z", "--jitter", "10s")
	before := decode[map[string]any](t, mustCLI(t, dsn, "show", "e", "--json"))
	after := decode[map[string]any](t, mustCLI(t, dsn, "edit", "e", "--queue", "q2", "--clear", "timeout,ends-at", "--json"))
	for k, v := range before {
		want := v
		switch k {
		case "queue":
			want = "q2"
		case "timeout_secs", "ends_at":
			want = nil
		case "updated_at", "planned_at", "next_run_at", "health", "health_since": // show's alone
			continue
		}
		if mustJSONString(after[k]) != mustJSONString(want) {
			t.Errorf("edit: %s = %v, want %v", k, after[k], want)
		}
	}
	// A new timing of the other kind.
	r := decode[map[string]any](t, mustCLI(t, dsn, "edit", "--every", "90s", "e", "--json"))
	if r["cron"] != nil || r["interval_secs"] != 90.0 || r["priority"] != 4.0 {
		t.Errorf("edit --every: %v", r)
	}
	wantCode(t, dsn, 1, []string{`"nope"`, "no such schedule"}, "edit", "nope", "--queue", "x")
	wantCode(t, dsn, 1, []string{`"e"`, "--overlap"}, "edit", "e", "--overlap", "sometimes")
	wantCode(t, dsn, 2, []string{"--clear", "frob"}, "edit", "e", "--clear", "frob")
	wantCode(t, dsn, 1, []string{`"e"`, "--cron", "minute"}, "edit", "e", "--cron", "61 * * * *")
}

// A field cleared twice, or both given and cleared, is a usage error naming it, found
// before anything is asked of the database (here: none at all) and changing nothing.
func TestCLIEditClearConflicts(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "e", "--func", "app.e", "--every", "1h", "--priority", "4", "--timeout", "1m")
	before := definition(t, dsn, "e")
	noDB := "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=1"
	for _, tc := range []struct {
		want []string
		args []string
	}{
		{[]string{`"e"`, "--clear", "priority", "twice"}, []string{"--clear", "priority,priority"}},
		{[]string{`"e"`, "--clear", "timeout", "twice"}, []string{"--clear", "timeout, --timeout"}},
		{[]string{`"e"`, "--priority", "given and cleared"}, []string{"--priority", "3", "--clear", "priority"}},
		{[]string{`"e"`, "--timeout", "given and cleared"}, []string{"--clear", "ends-at,timeout", "--timeout", "5m"}},
	} {
		for _, db := range []string{dsn, noDB} {
			r := wantCode(t, db, 2, tc.want, append([]string{"edit", "e"}, tc.args...)...)
			if strings.Contains(r.stderr, "SQLSTATE") {
				t.Errorf("edit e %s: a database error, want a usage error: %s", strings.Join(tc.args, " "), r.stderr)
			}
		}
	}
	if after := definition(t, dsn, "e"); after != before {
		t.Errorf("refused edits changed the schedule:\n got %s\nwant %s", after, before)
	}
	// --clear given twice clears what both name, as one list would; not only the last.
	j := decode[map[string]any](t, mustCLI(t, dsn, "edit", "e", "--clear", "timeout", "--clear", "priority", "--json"))
	if j["timeout_secs"] != nil || j["priority"] != 0.0 {
		t.Errorf("edit --clear timeout --clear priority: timeout_secs %v, priority %v; want both cleared", j["timeout_secs"], j["priority"])
	}
	wantCode(t, dsn, 2, []string{"--clear", "timeout", "twice"}, "edit", "e", "--clear", "timeout", "--clear", "timeout")
}

// --args, --kwargs and --meta that are JSON but not jsonb (a number beyond numeric's
// range, a NUL, half a surrogate pair) are refused as a usage error naming the flag,
// before anything is asked of the database; numbers jsonb holds that float64 does not
// are taken as they are.
func TestCLIJSONFlagsBeyondJsonb(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	mustCLI(t, dsn, "add", "e", "--func", "app.e", "--every", "1h")
	before := definition(t, dsn, "e")
	noDB := "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=1"
	for _, tc := range []struct{ flag, value, want string }{
		{"--args", `[1e999999]`, "1e999999"},
		{"--args", `[1, 2.5e-20000]`, "2.5e-20000"},
		{"--kwargs", `{"n": -1e131072}`, "-1e131072"},
		{"--kwargs", `{"s": "\u0000"}`, `\u0000`},
		{"--meta", `{"s": "\ud800"}`, `\ud800`},
		{"--meta", `{"n": 1e999999}`, "1e999999"},
	} {
		for _, db := range []string{dsn, noDB} {
			for _, args := range [][]string{
				{"add", "x", "--func", "f", "--every", "1m", tc.flag, tc.value},
				{"edit", "e", tc.flag, tc.value},
			} {
				r := wantCode(t, db, 2, []string{tc.flag, tc.want, "jsonb"}, args...)
				if strings.Contains(r.stderr, "SQLSTATE") {
					t.Errorf("werkcron %s: a database error, want a usage error: %s", strings.Join(args, " "), r.stderr)
				}
			}
		}
	}
	if n := query[int64](t, dsn, `SELECT count(*) FROM werk_cron_jobs WHERE name = 'x'`); n != 0 {
		t.Errorf("a refused add made schedule x")
	}
	if after := definition(t, dsn, "e"); after != before {
		t.Errorf("refused edits changed the schedule:\n got %s\nwant %s", after, before)
	}
	// Beyond float64, within numeric: stored as it is.
	mustCLI(t, dsn, "edit", "e", "--args", `[1e400]`)
	if got := query[string](t, dsn, `SELECT args::text FROM werk_cron_jobs WHERE name = 'e'`); got != "[1"+strings.Repeat("0", 400)+"]" {
		t.Errorf("edit --args [1e400] stored %.40s..., want 1e400 exactly", got)
	}
}

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
