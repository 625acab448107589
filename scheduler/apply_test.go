package scheduler_test

// Schedules as code: Apply against real PostgreSQL. What an unchanged schedule is
// checked by: its row version (xmin, ctid) and updated_at, which any write would move.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/schedfile"
	"github.com/pgwerk/werkcron/scheduler"
)

// versions is every schedule's row version and updated_at: any write moves them.
func versions(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT name, xmin::text || ctid::text || updated_at::text FROM werk_cron_jobs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		out[n] = v
	}
	return out
}

func mustApply(t *testing.T, pool *pgxpool.Pool, owner string, jobs []scheduler.CronJob, opts scheduler.ApplyOptions) scheduler.Plan {
	t.Helper()
	plan, err := scheduler.Apply(context.Background(), pool, owner, jobs, opts)
	if err != nil {
		t.Fatalf("apply as %s: %v", owner, err)
	}
	return plan
}

// summary is a plan in one line: "+a +b ~c(queue,labels) -d =e ?f".
func summary(p scheduler.Plan) string {
	var parts []string
	for _, n := range p.Created {
		parts = append(parts, "+"+n)
	}
	for _, c := range p.Changed {
		var fs []string
		for _, f := range c.Fields {
			fs = append(fs, f.Field)
		}
		parts = append(parts, "~"+c.Name+"("+strings.Join(fs, ",")+")")
	}
	for _, n := range p.Removed {
		parts = append(parts, "-"+n)
	}
	for _, n := range p.Unchanged {
		parts = append(parts, "="+n)
	}
	for _, n := range p.Unlisted {
		parts = append(parts, "?"+n)
	}
	return strings.Join(parts, " ")
}

func TestApplyCreatesChangesAndPrunes(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	jobs := []scheduler.CronJob{
		{Name: "report", Func: "app.report", Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin", Labels: map[string]string{"team": "bi"}},
		{Name: "ping", Func: "app.ping", Interval: 30 * time.Second},
		{Name: "old", Func: "app.old", Interval: time.Hour},
	}
	if got := summary(mustApply(t, pool, "team-bi", jobs, scheduler.ApplyOptions{})); got != "+old +ping +report" {
		t.Fatalf("first apply: %s", got)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_jobs WHERE managed_by = 'team-bi'`); n != 3 {
		t.Fatalf("%d schedules managed by team-bi, want 3", n)
	}

	// A change, a new one, one left out: kept without prune, and said so.
	jobs[0].Queue, jobs[0].Labels = "reports", map[string]string{"team": "bi", "tier": "gold"}
	jobs[2] = scheduler.CronJob{Name: "new", Func: "app.new", Cron: "@hourly"}
	plan := mustApply(t, pool, "team-bi", jobs, scheduler.ApplyOptions{})
	if got := summary(plan); got != "+new ~report(queue,labels) =ping ?old" {
		t.Fatalf("second apply: %s", got)
	}
	f := plan.Changed[0].Fields
	if string(f[0].Old) != `"default"` || string(f[0].New) != `"reports"` || string(f[1].Old) != `{"team": "bi"}` ||
		string(f[1].New) != `{"team": "bi", "tier": "gold"}` {
		t.Errorf("field changes: %+v", f)
	}
	if q := pgtest.QueryOne[string](t, pool, `SELECT queue FROM werk_cron_jobs WHERE name = 'report'`); q != "reports" {
		t.Errorf("queue %q", q)
	}

	// A field the file leaves out goes back to the table's default.
	jobs[0].Queue = ""
	if got := summary(mustApply(t, pool, "team-bi", jobs, scheduler.ApplyOptions{Prune: true})); got != "~report(queue) -old =new =ping" {
		t.Fatalf("prune: %s", got)
	}
	names := queryList[string](t, pool, `SELECT name FROM werk_cron_jobs ORDER BY name`)
	if !slices.Equal(names, []string{"new", "ping", "report"}) {
		t.Errorf("after prune: %v", names)
	}
	// Changing a timing goes through the same trigger as every write: it starts afresh.
	jobs[1].Interval = time.Minute
	if got := summary(mustApply(t, pool, "team-bi", jobs, scheduler.ApplyOptions{})); got != "~ping(interval_secs) =new =report" {
		t.Fatalf("interval: %s", got)
	}
}

// Applying the same schedules again writes nothing: no row version moves.
func TestApplyTwiceWritesNothing(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	seven := 7
	jobs := []scheduler.CronJob{
		{Name: "everything", Func: "app.report", Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin", Queue: "reports",
			Args: json.RawMessage(`["sales", 1.50, {"b": 1, "a": [null]}]`), Kwargs: json.RawMessage(`{"format": "pdf"}`),
			Timeout: 10 * time.Minute, ResultTTL: time.Hour, FailureTTL: 24 * time.Hour, Meta: json.RawMessage(`{}`),
			Priority: 5, MaxAttempts: 3, Paused: true, ApplyPaused: true, Catchup: "all", CatchupWindow: time.Hour,
			Overlap: "buffer_one", StartsAt: time.Date(2030, 1, 1, 0, 0, 0, 123456789, time.FixedZone("x", 3600)),
			EndsAt: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC), Jitter: 30 * time.Second, RemainingRuns: &seven,
			PauseAfterFailures: 4, Labels: map[string]string{"tenant": "42", "team": "billing"}},
		{Name: "zeros", Func: "app.z", Interval: time.Minute, Zero: []string{"ResultTTL", "FailureTTL", "Jitter"}},
		{Func: "app.minimal", Interval: 30 * time.Second},
	}
	mustApply(t, pool, "ops", jobs, scheduler.ApplyOptions{})
	before := versions(t, pool)
	plan := mustApply(t, pool, "ops", jobs, scheduler.ApplyOptions{Prune: true})
	if !plan.Empty() || len(plan.Unchanged) != 3 {
		t.Fatalf("second apply: %s", summary(plan))
	}
	if after := versions(t, pool); !reflect.DeepEqual(before, after) {
		t.Errorf("second apply wrote rows:\nbefore %v\nafter  %v", before, after)
	}
	if z := pgtest.QueryOne[string](t, pool, `SELECT concat_ws(',', result_ttl, failure_ttl, jitter_secs) FROM werk_cron_jobs WHERE name = 'zeros'`); z != "0,0,0" {
		t.Errorf("zeros stored as %q", z)
	}
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	jobs := []scheduler.CronJob{{Name: "a", Func: "app.a", Interval: time.Minute}, {Name: "b", Func: "app.b", Interval: time.Minute}}
	mustApply(t, pool, "ops", jobs[:1], scheduler.ApplyOptions{})
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, managed_by) VALUES ('c', 'app.c', 60, 'ops')`)
	before := versions(t, pool)
	jobs[0].Queue = "q"
	plan := mustApply(t, pool, "ops", jobs, scheduler.ApplyOptions{DryRun: true, Prune: true})
	if got := summary(plan); got != "+b ~a(queue) -c" || !plan.DryRun {
		t.Fatalf("dry run: %s", got)
	}
	if after := versions(t, pool); !reflect.DeepEqual(before, after) {
		t.Errorf("dry run wrote:\nbefore %v\nafter  %v", before, after)
	}
	// The same plan, carried out.
	if got := summary(mustApply(t, pool, "ops", jobs, scheduler.ApplyOptions{Prune: true})); got != "+b ~a(queue) -c" {
		t.Fatalf("apply: %s", got)
	}
}

// A listed schedule of another owner is refused, one written by hand too unless
// adopted; prune never touches either.
func TestApplyOwnership(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	mustApply(t, pool, "team-a", []scheduler.CronJob{{Name: "theirs", Func: "app.a", Interval: time.Minute}}, scheduler.ApplyOptions{})
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('by-hand', 'app.h', '1 minute')`)
	before := versions(t, pool)

	mine := []scheduler.CronJob{{Name: "mine", Func: "app.m", Interval: time.Minute},
		{Name: "theirs", Func: "app.b", Interval: time.Minute}, {Name: "by-hand", Func: "app.h", Interval: time.Minute}}
	_, err := scheduler.Apply(context.Background(), pool, "team-b", mine, scheduler.ApplyOptions{Adopt: true})
	var ce *scheduler.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, scheduler.ErrManagedByAnother) || errors.Is(err, scheduler.ErrWrittenByHand) ||
		len(ce.Conflicts) != 1 || ce.Conflicts[0] != (scheduler.Conflict{Name: "theirs", ManagedBy: "team-a"}) {
		t.Fatalf("another owner's schedule: %v", err)
	}
	if !strings.Contains(err.Error(), `"theirs" is managed by "team-a"`) {
		t.Errorf("message: %v", err)
	}
	_, err = scheduler.Apply(context.Background(), pool, "team-b", []scheduler.CronJob{mine[0], mine[2]}, scheduler.ApplyOptions{})
	if !errors.Is(err, scheduler.ErrWrittenByHand) || !strings.Contains(err.Error(), `"by-hand" is written by hand`) {
		t.Fatalf("a schedule written by hand, without adopt: %v", err)
	}
	if after := versions(t, pool); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused apply wrote:\nbefore %v\nafter  %v", before, after)
	}

	// Adopted: it becomes team-b's, with nothing else changed.
	plan := mustApply(t, pool, "team-b", []scheduler.CronJob{mine[0], mine[2]}, scheduler.ApplyOptions{Adopt: true, Prune: true})
	if got := summary(plan); got != "+mine ~by-hand(managed_by)" {
		t.Fatalf("adopt: %s", got)
	}
	if f := plan.Changed[0].Fields[0]; string(f.Old) != "null" || string(f.New) != `"team-b"` {
		t.Errorf("adopt: %+v", f)
	}
	// Prune with an empty list removes team-b's and nothing else.
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('by-hand-2', 'app.h', '1 minute')`)
	if got := summary(mustApply(t, pool, "team-b", nil, scheduler.ApplyOptions{Prune: true})); got != "-by-hand -mine" {
		t.Fatalf("prune all: %s", got)
	}
	if names := queryList[string](t, pool, `SELECT name FROM werk_cron_jobs ORDER BY name`); !slices.Equal(names, []string{"by-hand-2", "theirs"}) {
		t.Errorf("left: %v", names)
	}
	// An owner must be given.
	if _, err := scheduler.Apply(context.Background(), pool, " ", nil, scheduler.ApplyOptions{}); !errors.Is(err, scheduler.ErrOwner) {
		t.Errorf("blank owner: %v", err)
	}
}

// A file leaves an operator's pause (and the runs left) alone unless it says paused:.
func TestApplyKeepsAnOperatorsPause(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	three := 3
	job := scheduler.CronJob{Name: "report", Func: "app.report", Cron: "0 9 * * *", RemainingRuns: &three}
	mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{})
	pgtest.Exec(t, pool, `SELECT werk_cron_pause('report', 'the reports database is being moved')`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET remaining_runs = 1 WHERE name = 'report'`)

	state := func() string {
		return pgtest.QueryOne[string](t, pool, `SELECT concat_ws(' ', paused, paused_reason, remaining_runs, func) FROM werk_cron_jobs WHERE name = 'report'`)
	}
	if p := mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{}); !p.Empty() {
		t.Fatalf("unchanged file: %s", summary(p))
	}
	job.Func = "app.report2"
	mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{})
	if s := state(); s != "t the reports database is being moved 1 app.report2" {
		t.Fatalf("after a change: %s", s)
	}
	// paused: false in the file resumes it; paused: true pauses it.
	job.ApplyPaused = true
	if got := summary(mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{})); got != "~report(paused)" {
		t.Fatalf("paused: false: %s", got)
	}
	if s := state(); s != "f 1 app.report2" {
		t.Fatalf("after paused: false: %s", s)
	}
	job.Paused = true
	mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{})
	if s := state(); s != "t 1 app.report2" {
		t.Fatalf("after paused: true: %s", s)
	}
}

// Nothing is written when one schedule is bad; every problem is reported.
func TestApplyChecksEverythingFirst(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	jobs := []scheduler.CronJob{
		{Name: "good", Func: "app.good", Interval: time.Minute},
		{Name: "bad-cron", Func: "app.x", Cron: "61 * * * *"},
		{Name: "bad-catchup", Func: "app.x", Interval: time.Minute, Catchup: "sometimes"},
		{Name: "good", Func: "app.again", Interval: time.Minute},
		{Name: "big", Func: "app.x", Interval: time.Minute, Labels: map[string]string{"k": strings.Repeat("x", 70000)}},
		{Name: "blank-queue", Func: "app.x", Interval: time.Minute, Queue: "  "},
	}
	_, err := scheduler.Apply(context.Background(), pool, "ops", jobs, scheduler.ApplyOptions{})
	for _, want := range []string{`"bad-cron": Cron:`, `"bad-catchup": Catchup: "sometimes"`, `"good": Name: listed more than once`,
		`"big": Labels:`, `"blank-queue": Queue: must not be blank`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if !errors.Is(err, scheduler.ErrDuplicate) || !errors.Is(err, scheduler.ErrInvalid) {
		t.Errorf("errors.Is: %v", err)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_jobs`); n != 0 {
		t.Errorf("%d schedules written", n)
	}
}

// Two applies of one owner take turns: the second waits for the first to commit and
// then plans against what it wrote. Shown two ways: an apply waits while another
// session holds the owner's lock; and two applies, each pruning what the other lists,
// end with exactly one file's schedules, never both.
func TestApplyOfOneOwnerSerializes(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	ctx := context.Background()

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // before the pool closes, should the test fail
	pgtest.Exec(t, tx, `SELECT pg_advisory_xact_lock(hashtextextended('werkcron-apply:' || werk_cron_schema() || ':ops', 0))`)
	done := make(chan error, 1)
	go func() {
		_, err := scheduler.Apply(ctx, pool, "ops", []scheduler.CronJob{{Name: "a", Func: "app.a", Interval: time.Minute}}, scheduler.ApplyOptions{})
		done <- err
	}()
	pgtest.Eventually(t, 5*time.Second, "the apply waits for the owner's lock", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`) == 1
	})
	// Another owner is not held up.
	mustApply(t, pool, "other", []scheduler.CronJob{{Name: "o", Func: "app.o", Interval: time.Minute}}, scheduler.ApplyOptions{})
	select {
	case err := <-done:
		t.Fatalf("apply returned (%v) while another session held its owner's lock", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Racing applies: each changes the same 300 schedules to its own func. Taking
	// turns, the one that commits second plans against what the first wrote, so its
	// plan's old values are the first's new ones; planning at once, both would see
	// the state before either.
	set := func(fn string) []scheduler.CronJob {
		var jobs []scheduler.CronJob
		for i := range 300 {
			jobs = append(jobs, scheduler.CronJob{Name: fmt.Sprintf("racer-%03d", i), Func: fn, Interval: time.Minute})
		}
		return jobs
	}
	for round := range 5 {
		mustApply(t, pool, "racer", set("app.start"), scheduler.ApplyOptions{})
		var wg sync.WaitGroup
		fns := []string{"app.x", "app.y"}
		plans := make([]scheduler.Plan, 2)
		errs := make([]error, 2)
		for i, fn := range fns {
			wg.Go(func() { plans[i], errs[i] = scheduler.Apply(ctx, pool, "racer", set(fn), scheduler.ApplyOptions{}) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		final := queryList[string](t, pool, `SELECT DISTINCT func FROM werk_cron_jobs WHERE managed_by = 'racer'`)
		if len(final) != 1 {
			t.Fatalf("round %d: funcs %v after two racing applies", round, final)
		}
		second := slices.Index(fns, final[0])
		first := 1 - second
		olds := func(p scheduler.Plan) map[string]int {
			m := map[string]int{}
			for _, c := range p.Changed {
				m[string(c.Fields[0].Old)]++
			}
			return m
		}
		if got := olds(plans[second]); got[`"`+fns[first]+`"`] != 300 {
			t.Fatalf("round %d: the apply that committed second planned against %v, not the first's %s", round, got, fns[first])
		}
		if got := olds(plans[first]); got[`"app.start"`] != 300 {
			t.Fatalf("round %d: the first apply planned against %v", round, got)
		}
	}
}

// Export gives what Apply turns into the same schedules: adopting them changes only
// their owner, through a file too, and applying again nothing at all.
func TestExportApplyRoundTrip(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('full', 'app.report', '0 9 * * 1-5', queue => 'reports',
		args => '["sales", 3, 1.50, 12345678901234567890]', kwargs => '{"format": "pdf", "n": null}', timezone => 'Europe/Berlin',
		timeout_secs => 600, result_ttl => 0, failure_ttl => 86400, meta => '{}', priority => -5, max_attempts => 3,
		paused => true, catchup => 'all', catchup_window_secs => 3600, overlap => 'buffer_one',
		starts_at => '2030-01-01T00:00:00.123456Z', ends_at => '2036-01-01T00:00:00Z', jitter_secs => 0,
		remaining_runs => 7, pause_after_failures => 4, labels => '{"team": "billing", "tenant": "42"}')`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('minimal', 'app.ping', 30)`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, queue, max_attempts) VALUES (E'odd\u001b: "x"', 'true', 30, 'default', 1)`)
	before := versions(t, pool)

	jobs, err := scheduler.Export(ctx, pool, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || jobs[1].Queue != "" || jobs[1].MaxAttempts != 0 || jobs[0].Paused || jobs[0].RemainingRuns != nil ||
		!slices.Equal(jobs[0].Zero, []string{"ResultTTL", "Jitter"}) {
		t.Fatalf("export: %+v", jobs)
	}
	var file bytes.Buffer
	if err := schedfile.Write(&file, jobs); err != nil {
		t.Fatal(err)
	}
	t.Logf("exported:\n%s", file.String())
	back, err := schedfile.Parse("exported.yaml", file.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	dry := mustApply(t, pool, "ops", back, scheduler.ApplyOptions{Adopt: true, DryRun: true})
	if got := summary(dry); got != "~full(managed_by) ~minimal(managed_by) ~odd\x1b: \"x\"(managed_by)" {
		t.Fatalf("adopting what export wrote: %s", got)
	}
	mustApply(t, pool, "ops", back, scheduler.ApplyOptions{Adopt: true})
	after := versions(t, pool)
	again := mustApply(t, pool, "ops", back, scheduler.ApplyOptions{Prune: true})
	if !again.Empty() || !reflect.DeepEqual(after, versions(t, pool)) {
		t.Fatalf("applying the export again: %s", summary(again))
	}
	// The owner's export is the same file, and adopting changed only the owner (the
	// row was written, so its version moved, but not updated_at: not a new definition).
	mine, err := scheduler.Export(ctx, pool, "ops", "full")
	if err != nil || len(mine) != 1 || mine[0].ManagedBy != "ops" {
		t.Fatalf("export of ops's full: %v %+v", err, mine)
	}
	for name, v := range before {
		if !strings.HasSuffix(after[name], v[strings.Index(v, ")")+1:]) {
			t.Errorf("%s: updated_at moved on adopt: %s -> %s", name, v, after[name])
		}
	}
	if _, err := scheduler.Export(ctx, pool, "nobody", "full"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("export of a name the owner does not have: %v", err)
	}
}

// Start deadlines, run-time limits and calendars are part of what a file defines:
// applied, exported back to the same file, changed one at a time (each shown in the
// plan with its old and new value), dropped back to none, and checked before anything
// is written.
func TestApplyDeadlinesRuntimesCalendars(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	ctx := context.Background()
	job := scheduler.CronJob{Name: "report", Func: "app.report", Cron: "0 9 * * 1-5", Jitter: time.Minute,
		StartDeadline: 30 * time.Minute, MaxRuntime: 5 * time.Minute, ExcludeCalendar: "de-holidays"}
	if got := summary(mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{})); got != "+report" {
		t.Fatalf("create: %s", got)
	}
	stored := func() string {
		return pgtest.QueryOne[string](t, pool, `SELECT concat_ws(' ', coalesce(start_deadline_secs::text, '-'),
			coalesce(max_runtime_secs::text, '-'), coalesce(exclude_calendar, '-')) FROM werk_cron_jobs WHERE name = 'report'`)
	}
	if s := stored(); s != "1800 300 de-holidays" {
		t.Fatalf("stored: %s", s)
	}

	// Export, through a file, and back: nothing changes, nothing is written.
	exported, err := scheduler.Export(ctx, pool, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) != 1 || exported[0].StartDeadline != job.StartDeadline || exported[0].MaxRuntime != job.MaxRuntime ||
		exported[0].ExcludeCalendar != job.ExcludeCalendar {
		t.Fatalf("export: %+v", exported)
	}
	var file bytes.Buffer
	if err := schedfile.Write(&file, exported); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\n    start_deadline_secs: 1800\n", "\n    max_runtime_secs: 300\n", "\n    exclude_calendar: de-holidays\n"} {
		if !strings.Contains(file.String(), want) {
			t.Errorf("exported file lacks %q:\n%s", want, file.String())
		}
	}
	back, err := schedfile.Parse("exported.yaml", file.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	before := versions(t, pool)
	if p := mustApply(t, pool, "ops", back, scheduler.ApplyOptions{Prune: true}); !p.Empty() || len(p.Unchanged) != 1 {
		t.Fatalf("applying the export: %s", summary(p))
	}
	if after := versions(t, pool); !reflect.DeepEqual(before, after) {
		t.Errorf("applying the export wrote:\nbefore %v\nafter  %v", before, after)
	}

	// Each change is planned with its old and new value, and written.
	for _, c := range []struct {
		change         func(*scheduler.CronJob)
		field, old, to string
		stored         string
	}{
		{func(j *scheduler.CronJob) { j.StartDeadline = time.Hour }, "start_deadline_secs", "1800", "3600", "3600 300 de-holidays"},
		{func(j *scheduler.CronJob) { j.MaxRuntime = 10 * time.Minute }, "max_runtime_secs", "300", "600", "3600 600 de-holidays"},
		{func(j *scheduler.CronJob) { j.ExcludeCalendar = "us-holidays" }, "exclude_calendar", `"de-holidays"`, `"us-holidays"`, "3600 600 us-holidays"},
		{func(j *scheduler.CronJob) { j.StartDeadline = 0 }, "start_deadline_secs", "3600", "null", "- 600 us-holidays"},
		{func(j *scheduler.CronJob) { j.MaxRuntime = 0 }, "max_runtime_secs", "600", "null", "- - us-holidays"},
		{func(j *scheduler.CronJob) { j.ExcludeCalendar = "" }, "exclude_calendar", `"us-holidays"`, "null", "- - -"},
	} {
		c.change(&job)
		plan := mustApply(t, pool, "ops", []scheduler.CronJob{job}, scheduler.ApplyOptions{})
		if got := summary(plan); got != "~report("+c.field+")" {
			t.Fatalf("%s: %s", c.field, got)
		}
		if f := plan.Changed[0].Fields[0]; string(f.Old) != c.old || string(f.New) != c.to {
			t.Errorf("%s: %s -> %s, want %s -> %s", c.field, f.Old, f.New, c.old, c.to)
		}
		if s := stored(); s != c.stored {
			t.Errorf("after changing %s: stored %s, want %s", c.field, s, c.stored)
		}
	}

	// Bad values are refused before anything is written, every one of them.
	before = versions(t, pool)
	bad := []scheduler.CronJob{
		{Name: "report", Func: "app.report", Cron: "@daily", Jitter: time.Minute, StartDeadline: time.Minute},
		{Name: "shorter", Func: "app.x", Cron: "@daily", Jitter: time.Hour, StartDeadline: time.Minute},
		{Name: "negative", Func: "app.x", Cron: "@daily", StartDeadline: -time.Minute},
		{Name: "fraction", Func: "app.x", Cron: "@daily", MaxRuntime: 1500 * time.Millisecond},
		{Name: "blank", Func: "app.x", Cron: "@daily", ExcludeCalendar: " "},
		{Name: "long", Func: "app.x", Cron: "@daily", ExcludeCalendar: strings.Repeat("c", 201)},
	}
	_, err = scheduler.Apply(ctx, pool, "ops", bad, scheduler.ApplyOptions{})
	for _, want := range []string{
		`"report": StartDeadline: 60 seconds: must be longer than the jitter (60 seconds)`,
		`"shorter": StartDeadline: 60 seconds: must be longer than the jitter (3600 seconds)`,
		`"negative": StartDeadline: -1m0s: must not be negative`,
		`"fraction": MaxRuntime: 1.5s: want a whole number of seconds`,
		`"blank": ExcludeCalendar: must not be blank`,
		`"long": ExcludeCalendar: 201 bytes: at most 200`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if !errors.Is(err, scheduler.ErrInvalid) || !errors.Is(err, scheduler.ErrWholeSeconds) {
		t.Errorf("errors.Is: %v", err)
	}
	var ve *scheduler.ValidationError
	if !errors.As(err, &ve) || ve.Name != "report" || ve.Field != "StartDeadline" {
		t.Errorf("errors.As: %#v", ve)
	}
	if after := versions(t, pool); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused apply wrote:\nbefore %v\nafter  %v", before, after)
	}
}
