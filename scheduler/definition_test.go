package scheduler_test

// One write path for definitions: werk_cron_schedule replaces, werk_cron_alter changes
// only what it names, werk_cron_pause keeps a reason; Register keeps an operator's pause.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// rowJSON is a schedule's definition and state as JSON, without what always differs
// between two schedules (the name and the moments they were written).
func rowJSON(t *testing.T, q pgtest.Querier, name string) map[string]any {
	t.Helper()
	var b []byte
	if err := q.QueryRow(context.Background(), `SELECT (to_jsonb(j) || coalesce(to_jsonb(s), '{}')) - '{name,created_at,updated_at,changed_at,defined_at}'::text[]
		FROM werk_cron_jobs j LEFT JOIN werk_cron_state s USING (name) WHERE j.name = $1`, name).Scan(&b); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// An application that registers its schedules at every start must not undo what an
// operator did: a pause (with its reason) and the runs left survive Register, unless
// the application asks with ApplyState.
func TestRegisterKeepsAnOperatorsPause(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	three := 3
	job := scheduler.CronJob{Name: "report", Func: "app.report", Cron: "0 9 * * *", RemainingRuns: &three}
	if _, err := s.Register(ctx, job); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `SELECT werk_cron_pause('report', 'the reports database is being moved')`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET remaining_runs = 1 WHERE name = 'report'`)

	again, err := s.Register(ctx, job) // the application restarts
	if err != nil {
		t.Fatal(err)
	}
	if !again.Paused || again.PausedReason != "the reports database is being moved" || again.RemainingRuns == nil || *again.RemainingRuns != 1 {
		t.Fatalf("after Register: paused %v (%q), remaining %v; want the operator's pause and 1 run left kept",
			again.Paused, again.PausedReason, deref(again.RemainingRuns))
	}
	// A new field in the definition still lands.
	job.Queue = "reports"
	if got, _ := s.Register(ctx, job); got.Queue != "reports" || !got.Paused {
		t.Fatalf("changed definition: queue %q paused %v", got.Queue, got.Paused)
	}

	applied, err := s.Register(ctx, job, scheduler.ApplyState())
	if err != nil {
		t.Fatal(err)
	}
	if applied.Paused || applied.PausedReason != "" || applied.RemainingRuns == nil || *applied.RemainingRuns != 3 {
		t.Fatalf("with ApplyState: paused %v (%q), remaining %v; want resumed and 3 runs",
			applied.Paused, applied.PausedReason, deref(applied.RemainingRuns))
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// werk_cron_alter (and Update, which calls it) change only what they are given; clear
// puts a field back to its default.
func TestAlterChangesOnlyWhatItNames(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('full', 'app.full', '0 9 * * 1-5', queue => 'reports',
		args => '["a", null]', kwargs => '{"k": null}', timezone => 'Europe/Berlin', timeout_secs => 60,
		result_ttl => 3600, failure_ttl => 7200, meta => '{"team": "bi"}', priority => 3, max_attempts => 4,
		catchup => 'all', catchup_window_secs => 600, overlap => 'skip', starts_at => '2030-01-01T00:00:00Z',
		ends_at => '2031-01-01T00:00:00Z', jitter_secs => 30, remaining_runs => 10, pause_after_failures => 5)`)
	before := rowJSON(t, pool, "full")
	if before["kwargs"].(map[string]any)["k"] != nil || len(before["args"].([]any)) != 2 {
		t.Fatalf("JSON nulls inside args and kwargs were not kept: %v %v", before["args"], before["kwargs"])
	}

	pgtest.Exec(t, pool, `SELECT werk_cron_alter('full', queue => 'other')`)
	after := rowJSON(t, pool, "full")
	for k, v := range before {
		want := v
		if k == "queue" {
			want = "other"
		}
		if k == "planned_at" || k == "next_run_at" {
			continue // a changed definition is planned afresh
		}
		if b1, _ := json.Marshal(after[k]); string(b1) != mustJSON(want) {
			t.Errorf("after altering only queue: %s = %s, was %s", k, b1, mustJSON(v))
		}
	}

	// Through Go: a new timing replaces the other kind, and clear resets.
	every := 90 * time.Second
	got, err := s.Update(ctx, "full", scheduler.Changes{Interval: &every, Clear: []string{"Timeout", "EndsAt", "RemainingRuns"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cron != "" || got.Interval != every || got.Timeout != 0 || !got.EndsAt.IsZero() || got.RemainingRuns != nil ||
		got.Queue != "other" || got.Priority != 3 || got.Jitter != 30*time.Second {
		t.Errorf("Update: %+v", got)
	}

	// What cannot be done says so.
	var pgErr *pgconn.PgError
	if _, err := pool.Exec(ctx, `SELECT werk_cron_alter('nope', queue => 'x')`); !errors.As(err, &pgErr) || pgErr.Code != "P0002" {
		t.Errorf("unknown name: %v, want no_data_found", err)
	}
	if _, err := pool.Exec(ctx, `SELECT werk_cron_alter('full', clear => '{func}')`); err == nil || !strings.Contains(err.Error(), "func is not a column that can go back to its default") {
		t.Errorf("clear func: %v", err)
	}
	if _, err := s.Update(ctx, "nope", scheduler.Changes{Queue: ptr("x")}); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("Update of an unknown name: %v, want ErrNotFound", err)
	}
	var ve *scheduler.ValidationError
	if _, err := s.Update(ctx, "full", scheduler.Changes{Overlap: ptr("sometimes")}); !errors.As(err, &ve) || ve.Field != "Overlap" {
		t.Errorf("Update with a bad overlap: %v, want a ValidationError on Overlap", err)
	}
	if _, err := s.Update(ctx, "full", scheduler.Changes{Clear: []string{"Func"}}); !errors.As(err, &ve) || ve.Field != "Clear" {
		t.Errorf("Update clearing Func: %v, want a ValidationError on Clear", err)
	}
}

func ptr[T any](v T) *T { return &v }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// werk_cron_schedule replaces: an argument left out goes back to the column's default
// (defaults live only in the table's DDL, which this test reads), and what the ticker
// recorded stays.
func TestScheduleReplacesWithTheTablesDefaults(t *testing.T) {
	t.Parallel()
	_, pool, _ := newScheduler(t)
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('r', 'app.r', '*/5 * * * *', queue => 'q', priority => 9, jitter_secs => 5, meta => '{"a": 1}')`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET last_tick_at = '2026-01-01T00:00:00Z'`)
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('r', 'app.r', '*/5 * * * *')`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('plain', 'app.r', '*/5 * * * *')`)
	replaced, plain := rowJSON(t, pool, "r"), rowJSON(t, pool, "plain")
	for _, k := range []string{"queue", "priority", "jitter_secs", "meta", "args", "kwargs", "timezone", "max_attempts", "catchup", "overlap"} {
		if mustJSON(replaced[k]) != mustJSON(plain[k]) {
			t.Errorf("%s after replace: %s, want the column default %s", k, mustJSON(replaced[k]), mustJSON(plain[k]))
		}
	}
	if replaced["last_tick_at"] == nil {
		t.Errorf("replace lost last_tick_at")
	}
}

// A pause keeps its reason where operators look (the row, the status view) until the
// resume, however the resume comes.
func TestPauseReason(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "p", Func: "app.p", Cron: "@hourly"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PauseBecause(ctx, "p", "waiting for the vendor"); err != nil {
		t.Fatal(err)
	}
	if r := pgtest.QueryOne[string](t, pool, `SELECT paused_reason FROM werk_cron_status WHERE name = 'p'`); r != "waiting for the vendor" {
		t.Errorf("status view paused_reason %q", r)
	}
	// Paused again with another reason: the new one.
	pgtest.Exec(t, pool, `SELECT werk_cron_pause('p', 'still waiting')`)
	if j, _ := s.Get(ctx, "p"); j.PausedReason != "still waiting" {
		t.Errorf("reason after a second pause: %q", j.PausedReason)
	}
	// A resume by plain UPDATE clears it too.
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET paused = false WHERE name = 'p'`)
	if r := pgtest.QueryOne[*string](t, pool, `SELECT paused_reason FROM werk_cron_jobs WHERE name = 'p'`); r != nil {
		t.Errorf("paused_reason %q after resume", *r)
	}
	if err := s.PauseBecause(ctx, "nope", "x"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("pause of an unknown schedule: %v", err)
	}
}
