package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
	"github.com/pgwerk/werkcron/scheduler/cron"
)

// newScheduler returns a Scheduler on a fresh migrated database, with its pool.
func newScheduler(t *testing.T) (*scheduler.Scheduler, *pgxpool.Pool, string) {
	t.Helper()
	dsn, pool := migratedDB(t)
	return scheduler.New(pool, scheduler.Options{Ticker: scheduler.TickerOptions{Logger: testLogger(t)}}), pool, dsn
}

func TestAPIRegisterStoresEveryField(t *testing.T) {
	t.Parallel()
	s, _, _ := newScheduler(t)
	ctx := context.Background()
	starts := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	in := scheduler.CronJob{
		Name: "report", Func: "myapp.tasks.report", Queue: "reports",
		Args: json.RawMessage(`["sales", 3]`), Kwargs: json.RawMessage(`{"format": "pdf"}`),
		Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin",
		Timeout: time.Minute, ResultTTL: time.Hour, FailureTTL: 2 * time.Hour,
		Meta: json.RawMessage(`{"team": "bi"}`), Priority: 7, MaxAttempts: 3, Paused: true,
		Catchup: scheduler.CatchupAll, CatchupWindow: 10 * time.Minute, Overlap: scheduler.OverlapSkip,
		StartsAt: starts, EndsAt: starts.AddDate(1, 0, 0),
	}
	out, err := s.Register(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "report")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []scheduler.CronJob{out, got} {
		if j.Name != in.Name || j.Func != in.Func || j.Queue != in.Queue || j.Cron != in.Cron ||
			j.Interval != 0 || j.Timezone != in.Timezone || j.Timeout != in.Timeout ||
			j.ResultTTL != in.ResultTTL || j.FailureTTL != in.FailureTTL || j.Priority != 7 ||
			j.MaxAttempts != 3 || !j.Paused || j.Catchup != "all" || j.CatchupWindow != 10*time.Minute ||
			j.Overlap != "skip" || !j.StartsAt.Equal(in.StartsAt) || !j.EndsAt.Equal(in.EndsAt) {
			t.Errorf("stored schedule differs:\n got %+v\nwant %+v", j, in)
		}
		if string(j.Args) != `["sales", 3]` || string(j.Kwargs) != `{"format": "pdf"}` || string(j.Meta) != `{"team": "bi"}` {
			t.Errorf("JSON fields: args %s kwargs %s meta %s", j.Args, j.Kwargs, j.Meta)
		}
		if j.CreatedAt.IsZero() || j.UpdatedAt.IsZero() {
			t.Errorf("created_at/updated_at not read back: %+v", j)
		}
	}
}

func TestAPIRegisterDefaults(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	j, err := s.Register(ctx, scheduler.CronJob{Func: "app.ping", Interval: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "app.ping" || j.Queue != "default" || j.Timezone != "UTC" || string(j.Args) != "[]" ||
		string(j.Kwargs) != "{}" || j.Meta != nil || j.MaxAttempts != 1 || j.Catchup != "latest" ||
		j.Overlap != "allow" || j.Interval != 30*time.Second || j.Paused {
		t.Errorf("defaults: %+v", j)
	}
	if secs := pgtest.QueryOne[int32](t, pool, `SELECT interval_secs FROM werk_cron_jobs WHERE name = 'app.ping'`); secs != 30 {
		t.Errorf("interval_secs = %d, want 30", secs)
	}
}

func TestAPIRegisterReplaces(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "r", Func: "app.a", Cron: "0 * * * *", Queue: "q1", Priority: 5}); err != nil {
		t.Fatal(err)
	}
	// What the ticker recorded must survive a replace.
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET last_tick_at = '2026-01-01T00:00:00Z' WHERE name = 'r'`)
	before, _ := s.Get(ctx, "r")

	// The same definition again changes nothing (an app registering at every start).
	again, err := s.Register(ctx, scheduler.CronJob{Name: "r", Func: "app.a", Cron: "0 * * * *", Queue: "q1", Priority: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !again.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("re-registering the same definition moved updated_at: %s -> %s", before.UpdatedAt, again.UpdatedAt)
	}

	got, err := s.Register(ctx, scheduler.CronJob{Name: "r", Func: "app.b", Interval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got.Func != "app.b" || got.Cron != "" || got.Interval != 5*time.Second || got.Queue != "default" || got.Priority != 0 {
		t.Errorf("replace kept old definition fields: %+v", got)
	}
	if !got.LastTickAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("replace lost last_tick_at: %s", got.LastTickAt)
	}
	if n, _ := s.Len(ctx); n != 1 {
		t.Errorf("Len after replace = %d, want 1", n)
	}
}

func TestAPIUnregisterHasLen(t *testing.T) {
	t.Parallel()
	s, _, _ := newScheduler(t)
	ctx := context.Background()
	for _, name := range []string{"a", "b"} {
		if _, err := s.Register(ctx, scheduler.CronJob{Name: name, Func: "app." + name, Interval: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Len(ctx); err != nil || n != 2 {
		t.Fatalf("Len = %d, %v; want 2", n, err)
	}
	if ok, err := s.Has(ctx, "a"); err != nil || !ok {
		t.Fatalf("Has(a) = %v, %v", ok, err)
	}
	if err := s.Unregister(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Has(ctx, "a"); err != nil || ok {
		t.Errorf("Has(a) after Unregister = %v, %v", ok, err)
	}
	if n, err := s.Len(ctx); err != nil || n != 1 {
		t.Errorf("Len after Unregister = %d, %v; want 1", n, err)
	}
	jobs, err := s.Jobs(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].Name != "b" {
		t.Errorf("Jobs after Unregister = %+v, %v", jobs, err)
	}
	if err := s.Unregister(ctx, "a"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("Unregister of a missing schedule: %v, want ErrNotFound", err)
	}
}

func TestAPIPauseResume(t *testing.T) {
	t.Parallel()
	s, _, _ := newScheduler(t)
	ctx := context.Background()
	j, err := s.Register(ctx, scheduler.CronJob{Name: "p", Func: "app.p", Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(ctx, "p"); err != nil {
		t.Errorf("pausing twice: %v", err)
	}
	if got, _ := s.Get(ctx, "p"); !got.Paused {
		t.Errorf("not paused after Pause")
	}
	if err := s.Resume(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "p")
	if got.Paused {
		t.Errorf("paused after Resume")
	}
	if !got.UpdatedAt.After(j.UpdatedAt) {
		t.Errorf("Resume did not record a change")
	}
	for _, op := range []func(context.Context, string) error{s.Pause, s.Resume} {
		if err := op(ctx, "missing"); !errors.Is(err, scheduler.ErrNotFound) || !strings.Contains(err.Error(), `"missing"`) {
			t.Errorf("pause/resume of a missing schedule: %v", err)
		}
	}
}

func TestAPIGetMissing(t *testing.T) {
	t.Parallel()
	s, _, _ := newScheduler(t)
	if _, err := s.Get(context.Background(), "nope"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("Get of a missing schedule: %v, want ErrNotFound", err)
	}
}

func TestAPITrigger(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "t", Func: "app.t", Cron: "0 0 1 1 *", Queue: "q",
		Args: json.RawMessage(`[1]`), Kwargs: json.RawMessage(`{"k":"v"}`), Priority: 2, MaxAttempts: 4, Paused: true}); err != nil {
		t.Fatal(err)
	}
	id, err := s.Trigger(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var key, fn, queue, status string
	var payload map[string]any
	var prio int16
	var attempts int32
	var cronName string
	err = pool.QueryRow(ctx, `SELECT key, function, queue, status, payload, priority, max_attempts, cron_name
		FROM werk_jobs WHERE id = $1`, id).Scan(&key, &fn, &queue, &status, &payload, &prio, &attempts, &cronName)
	if err != nil {
		t.Fatal(err)
	}
	if key != "cron:t:manual:"+id.String() || fn != "app.t" || queue != "q" || status != "queued" ||
		prio != 2 || attempts != 4 || cronName != "t" {
		t.Errorf("triggered job: key %q func %q queue %q status %q prio %d attempts %d cron_name %q",
			key, fn, queue, status, prio, attempts, cronName)
	}
	if b, _ := json.Marshal(payload); string(b) != `{"args":[1],"kwargs":{"k":"v"}}` {
		t.Errorf("payload %s", b)
	}
	// A manual run is no tick: the schedule's state stays as it was; the ledger records
	// the run ('triggered'), so that its outcome shows in the history.
	got, _ := s.Get(ctx, "t")
	if !got.LastTickAt.IsZero() || got.LastJobID != (uuid.UUID{}) {
		t.Errorf("Trigger touched the schedule's tick state: %+v", got)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE outcome = 'triggered' AND job_id = $1`, id); n != 1 {
		t.Errorf("Trigger wrote %d ledger rows 'triggered' for its job; want 1", n)
	}
	id2, err := s.Trigger(ctx, "t")
	if err != nil || id2 == id {
		t.Errorf("second Trigger: %v, %v (must be a new job)", id2, err)
	}
	if _, err := s.Trigger(ctx, "missing"); !errors.Is(err, scheduler.ErrNotFound) {
		t.Errorf("Trigger of a missing schedule: %v, want ErrNotFound", err)
	}
}

func TestAPIValidationErrors(t *testing.T) {
	t.Parallel()
	s, _, _ := newScheduler(t)
	ctx := context.Background()
	ok := scheduler.CronJob{Name: "v", Func: "app.v", Interval: time.Minute}
	with := func(f func(*scheduler.CronJob)) scheduler.CronJob { j := ok; f(&j); return j }
	// byDB: a rule the table enforces (a constraint or trigger), which psql users meet
	// too; Validate leaves it to the database and Register reports it the same way.
	for _, tc := range []struct {
		name  string
		job   scheduler.CronJob
		is    error
		field string
		byDB  bool
	}{
		{"both cron and interval", with(func(j *scheduler.CronJob) { j.Cron = "* * * * *" }), scheduler.ErrCronOrInterval, "Cron", false},
		{"neither cron nor interval", with(func(j *scheduler.CronJob) { j.Interval = 0 }), scheduler.ErrCronOrInterval, "Cron", false},
		{"bad cron", with(func(j *scheduler.CronJob) { j.Interval = 0; j.Cron = "61 * * * *" }), cron.ErrInvalid, "Cron", false},
		{"never-firing cron", with(func(j *scheduler.CronJob) { j.Interval = 0; j.Cron = "0 0 30 2 *" }), cron.ErrNeverFires, "Cron", false},
		{"unknown zone", with(func(j *scheduler.CronJob) { j.Timezone = "Mars/Olympus" }), scheduler.ErrUnknownZone, "Timezone", false},
		{"Local zone", with(func(j *scheduler.CronJob) { j.Timezone = "Local" }), scheduler.ErrUnknownZone, "Timezone", false},
		{"args not JSON", with(func(j *scheduler.CronJob) { j.Args = json.RawMessage(`[1,`) }), scheduler.ErrBadJSON, "Args", false},
		{"args an object", with(func(j *scheduler.CronJob) { j.Args = json.RawMessage(`{"a":1}`) }), scheduler.ErrBadJSON, "Args", true},
		{"kwargs an array", with(func(j *scheduler.CronJob) { j.Kwargs = json.RawMessage(`[]`) }), scheduler.ErrBadJSON, "Kwargs", true},
		{"meta not JSON", with(func(j *scheduler.CronJob) { j.Meta = json.RawMessage(`{x}`) }), scheduler.ErrBadJSON, "Meta", false},
		{"fractional interval", with(func(j *scheduler.CronJob) { j.Interval = 1500 * time.Millisecond }), scheduler.ErrWholeSeconds, "Interval", false},
		{"negative interval", with(func(j *scheduler.CronJob) { j.Interval = -time.Second }), scheduler.ErrWholeSeconds, "Interval", false},
		{"fractional timeout", with(func(j *scheduler.CronJob) { j.Timeout = time.Millisecond }), scheduler.ErrWholeSeconds, "Timeout", false},
		{"negative result ttl", with(func(j *scheduler.CronJob) { j.ResultTTL = -time.Second }), scheduler.ErrWholeSeconds, "ResultTTL", false},
		{"fractional catchup window", with(func(j *scheduler.CronJob) { j.CatchupWindow = time.Second / 2 }), scheduler.ErrWholeSeconds, "CatchupWindow", false},
		{"blank func", with(func(j *scheduler.CronJob) { j.Func = " " }), scheduler.ErrInvalid, "Func", true},
		{"unknown catchup", with(func(j *scheduler.CronJob) { j.Catchup = "some" }), scheduler.ErrInvalid, "Catchup", true},
		{"unknown overlap", with(func(j *scheduler.CronJob) { j.Overlap = "queue" }), scheduler.ErrInvalid, "Overlap", true},
		{"priority out of range", with(func(j *scheduler.CronJob) { j.Priority = 40000 }), scheduler.ErrInvalid, "Priority", false},
		{"negative max attempts", with(func(j *scheduler.CronJob) { j.MaxAttempts = -1 }), scheduler.ErrInvalid, "MaxAttempts", true},
		{"negative remaining runs", with(func(j *scheduler.CronJob) { j.RemainingRuns = new(int); *j.RemainingRuns = -1 }), scheduler.ErrInvalid, "RemainingRuns", true},
		{"negative pause after failures", with(func(j *scheduler.CronJob) { j.PauseAfterFailures = -2 }), scheduler.ErrInvalid, "PauseAfterFailures", true},
		{"negative jitter", with(func(j *scheduler.CronJob) { j.Jitter = -time.Second }), scheduler.ErrWholeSeconds, "Jitter", false},
		{"ends before starts", with(func(j *scheduler.CronJob) {
			j.StartsAt = time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
			j.EndsAt = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		}), scheduler.ErrInvalid, "EndsAt", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Register(ctx, tc.job)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Register: %v; want errors.Is %v", err, tc.is)
			}
			var ve *scheduler.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || ve.Name != "v" {
				t.Fatalf("Register: %#v; want a *ValidationError for schedule v, field %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), `"v"`) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q does not name the schedule and the field", err)
			}
			err = tc.job.Validate()
			switch {
			case tc.byDB && err != nil:
				t.Errorf("Validate: %v; the database's rule should be the only one", err)
			case !tc.byDB && !errors.Is(err, tc.is):
				t.Errorf("Validate: %v", err)
			}
		})
	}
	var ce *cron.Error
	_, err := s.Register(ctx, with(func(j *scheduler.CronJob) { j.Interval = 0; j.Cron = "61 * * * *" }))
	if !errors.As(err, &ce) || ce.Field != "minute" {
		t.Errorf("bad cron: want a *CronError for the minute field, got %#v", err)
	}
	if n, _ := s.Len(ctx); n != 0 {
		t.Errorf("invalid schedules were written: Len = %d", n)
	}
}

// TestAPIRunJobsShowTickerState runs the ticker through Scheduler.Run and reads what
// it wrote back through Jobs: NextRunAt, LastTickAt, LastJobID, and LastError for a row
// (inserted with SQL, past the API's validation) that it cannot schedule.
func TestAPIRunJobsShowTickerState(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	tk, err := s.Ticker()
	if err != nil {
		t.Fatal(err)
	}
	scheduler.TickerSignals(tk).Ticked.Init(t) // before Run starts it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "every", Func: "app.every", Interval: time.Second}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('broken', 'app.x', '61 * * * *')`)
	var jobs []scheduler.CronJob
	pgtest.Eventually(t, 5*time.Second, "ticker state in Jobs", func() bool {
		jobs, err = s.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs) == 2 && jobs[0].LastError != "" && !jobs[1].LastTickAt.IsZero() && !jobs[1].NextRunAt.IsZero()
	})
	if jobs[0].Name != "broken" || !strings.Contains(jobs[0].LastError, "minute") {
		t.Errorf("broken schedule: %+v", jobs[0])
	}
	if j := jobs[1]; j.LastJobID == (uuid.UUID{}) || !j.NextRunAt.After(j.LastTickAt) {
		t.Errorf("running schedule: %+v", j)
	}
	// The job is committed before the ticker counts it: wait for the tick statement that
	// won (Ticked, signalled once its counts are in).
	for scheduler.TickerSignals(tk).Ticked.WaitOrTimeout() == 0 {
	}
	if tk.Stats().Enqueued < 1 || !tk.Stats().Primary {
		t.Errorf("ticker stats: enqueued %d primary %v", tk.Stats().Enqueued, tk.Stats().Primary)
	}
}

// TestSQLFunctions exercises the psql helpers of 00002_functions.sql directly.
func TestSQLFunctions(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('ping', 'app.ping', '5 minutes')`)
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('report', 'app.report', '0 9 * * 1-5', timezone => 'Europe/Berlin',
		args => '["sales"]', priority => 3, queue => 'reports')`)
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule(NULL, 'app.daily', '@daily')`)
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('numeric', 'app.n', '0 9 1 1 1')`)
	type row struct {
		Name     string
		Cron     *string
		Secs     *int32
		Timezone string
		Queue    string
		Priority int16
	}
	rows, _ := pool.Query(ctx, `SELECT name, cron, interval_secs, timezone, queue, priority FROM werk_cron_jobs ORDER BY name`)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Name != "app.daily" || *got[0].Cron != "@daily" ||
		*got[1].Cron != "0 9 1 1 1" || got[2].Secs == nil || *got[2].Secs != 300 ||
		*got[3].Cron != "0 9 * * 1-5" || got[3].Timezone != "Europe/Berlin" || got[3].Queue != "reports" || got[3].Priority != 3 {
		t.Fatalf("schedules: %+v", got)
	}

	// Replace: the interval becomes a cron expression, the queue goes back to its default.
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('report', 'app.report', '90 seconds')`)
	if s := pgtest.QueryOne[int32](t, pool, `SELECT interval_secs FROM werk_cron_jobs WHERE name = 'report' AND cron IS NULL AND queue = 'default'`); s != 90 {
		t.Errorf("replaced interval_secs = %d", s)
	}
	for _, bad := range []string{`'1.5 seconds'`, `'1 month'`, `'-5 minutes'`, `''`} {
		_, err := pool.Exec(ctx, `SELECT werk_cron_schedule('bad', 'app.bad', `+bad+`)`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || !strings.Contains(pgErr.Message, "bad") {
			t.Errorf("schedule %s: %v, want a check_violation naming the schedule", bad, err)
		}
	}

	if !pgtest.QueryOne[bool](t, pool, `SELECT werk_cron_pause('ping')`) || pgtest.QueryOne[bool](t, pool, `SELECT werk_cron_pause('ping')`) {
		t.Error("werk_cron_pause: want true, then false")
	}
	if !pgtest.QueryOne[bool](t, pool, `SELECT werk_cron_resume('ping')`) || pgtest.QueryOne[bool](t, pool, `SELECT werk_cron_resume('ping')`) {
		t.Error("werk_cron_resume: want true, then false")
	}
	id := pgtest.QueryOne[uuid.UUID](t, pool, `SELECT werk_cron_trigger('ping')`)
	if k := pgtest.QueryOne[string](t, pool, `SELECT key FROM werk_jobs WHERE id = $1`, id); k != "cron:ping:manual:"+id.String() {
		t.Errorf("triggered key %q", k)
	}
	if !pgtest.QueryOne[bool](t, pool, `SELECT werk_cron_unschedule('ping')`) {
		t.Error("werk_cron_unschedule: want true")
	}
	for _, f := range []string{"werk_cron_unschedule", "werk_cron_pause", "werk_cron_resume", "werk_cron_trigger"} {
		_, err := pool.Exec(ctx, `SELECT `+f+`('ping')`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "P0002" {
			t.Errorf("%s of a missing schedule: %v, want no_data_found", f, err)
		}
	}
}

// TestViewsStatusAndInstances reads werk_cron_status and werk_cron_instances (and the
// API's Status over them) with a primary and a standby ticker running.
func TestViewsStatusAndInstances(t *testing.T) {
	t.Parallel()
	s, pool, dsn := newScheduler(t)
	ctx := context.Background()
	primary := startTicker(t, dsn, scheduler.TickerOptions{ApplicationName: "werkcron test-a"})
	primary.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	standby := startTicker(t, dsn, scheduler.TickerOptions{ApplicationName: "werkcron test-b"})
	standby.waitRole(t, scheduler.RoleStandby, 5*time.Second)

	if _, err := s.Register(ctx, scheduler.CronJob{Name: "fast", Func: "app.fast", Interval: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "later", Func: "app.later", Cron: "0 0 1 1 *", Timezone: "Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "off", Func: "app.off", Interval: time.Minute, Paused: true}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('broken', 'app.x', '61 * * * *')`)
	pgtest.Eventually(t, 5*time.Second, "status settled", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_status WHERE
			(name = 'fast' AND last_job_status = 'queued') OR (name = 'later' AND next_run_at IS NOT NULL)
			OR (name = 'broken' AND state = 'error')`) == 3
	})

	type status struct {
		Name, State, Schedule, Timezone, Func, Queue string
		Paused                                       bool
		NextRunAt                                    *time.Time
		NextIn                                       *time.Duration
		LastTickAt                                   *time.Time
		LastJobStatus                                *string
		LastJobID                                    *uuid.UUID
		LastError                                    *string
	}
	rows, _ := pool.Query(ctx, `SELECT name, state, schedule, timezone, func, queue, paused, next_run_at, next_in,
		last_tick_at, last_job_status, last_job_id, last_error FROM werk_cron_status`)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[status])
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]status{}
	for _, r := range got {
		byName[r.Name] = r
	}
	if b := byName["broken"]; b.State != "error" || b.LastError == nil || !strings.Contains(*b.LastError, "minute") {
		t.Errorf("broken: %+v", b)
	}
	if f := byName["fast"]; f.State != "active" || f.Schedule != "every 1s" || f.LastTickAt == nil ||
		f.LastJobID == nil || f.NextIn == nil || *f.NextIn > time.Second {
		t.Errorf("fast: %+v", f)
	}
	if l := byName["later"]; l.State != "active" || l.Schedule != "0 0 1 1 *" || l.Timezone != "Europe/Berlin" ||
		l.NextIn == nil || *l.NextIn < time.Hour || l.LastJobStatus != nil {
		t.Errorf("later: %+v", l)
	}
	if o := byName["off"]; o.State != "paused" || !o.Paused || o.NextRunAt != nil {
		t.Errorf("off: %+v", o)
	}

	type instance struct {
		PID             int32
		Role            string
		Since           time.Time
		ApplicationName string
		ClientAddr      any
		BackendStart    time.Time
	}
	// A standby says so as it begins to wait for the lock, a moment before the view lists it.
	pgtest.Eventually(t, 5*time.Second, "both tickers listed", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_instances`) == 2
	})
	rows, _ = pool.Query(ctx, `SELECT pid, role, since, application_name, client_addr, backend_start FROM werk_cron_instances`)
	inst, err := pgx.CollectRows(rows, pgx.RowToStructByPos[instance])
	if err != nil {
		t.Fatal(err)
	}
	if len(inst) != 2 || inst[0].Role != "primary" || inst[0].ApplicationName != "werkcron test-a" ||
		inst[1].Role != "standby" || inst[1].ApplicationName != "werkcron test-b" ||
		inst[0].Since.Before(inst[0].BackendStart.Truncate(time.Second)) || inst[0].PID == inst[1].PID {
		t.Errorf("werk_cron_instances: %+v", inst)
	}

	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 2 || st.Instances[0].Role != scheduler.RolePrimary || len(st.Schedules) != 4 ||
		st.NewestTick == nil || st.NewestTick.Name != "fast" || st.Lag < 0 || st.Lag > 2*time.Second {
		t.Errorf("Status: %+v", st)
	}
	counts, _, err := s.CountByState(ctx)
	if err != nil || counts["active"] != 2 || counts["paused"] != 1 || counts["error"] != 1 {
		t.Errorf("CountByState = %v, %v", counts, err)
	}
}

// TestLeastPrivilegeTicker grants a fresh role only what werk_cron_grant gives, runs a
// ticker as that role, and checks that it enqueues while DDL is refused.
func TestLeastPrivilegeTicker(t *testing.T) {
	t.Parallel()
	s, pool, dsn := newScheduler(t)
	ctx := context.Background()
	role := pgtest.NewRole(t, dsn, "werkcron_ticker", "")
	stmts, err := s.Grant(ctx, role, false)
	if err != nil || len(stmts) < 4 || !strings.HasPrefix(stmts[0], "GRANT USAGE ON SCHEMA") {
		t.Fatalf("Grant (dry run) = %q, %v", stmts, err)
	}
	if _, err := s.Grant(ctx, role, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "lp", Func: "app.lp", Interval: time.Second}); err != nil {
		t.Fatal(err)
	}

	roleDSN := pgtest.AsRole(t, dsn, role)
	tk := startTicker(t, roleDSN, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 5*time.Second, "a job enqueued by the least-privilege ticker", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'lp'`) >= 2
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name = 'lp' AND outcome = 'enqueued'`); n < 2 {
		t.Errorf("ledger rows: %d", n)
	}
	checkJobs(t, pool)

	conn := pgtest.ConnAs(t, dsn, role)
	for _, ddl := range []string{`DROP TABLE werk_jobs`, `DELETE FROM werk_jobs`, `TRUNCATE werk_cron_jobs`,
		`UPDATE werk_cron_jobs SET func = 'evil'`} {
		var pgErr *pgconn.PgError
		if _, err := conn.Exec(ctx, ddl); !errors.As(err, &pgErr) || (pgErr.Code != "42501" && pgErr.Code != "42P01") {
			t.Errorf("%s as %s: %v, want insufficient_privilege", ddl, role, err)
		}
	}
	tk.stop()
}

// Run's ticker takes the pool's parsed settings: a pool made from a DSN with pool_*
// keys (which the server would reject as startup parameters), or configured in code
// with no connection string at all, still yields a working ticker on the same database.
func TestAPIRunWithPoolSettings(t *testing.T) {
	t.Parallel()
	dsn, _ := migratedDB(t)
	ctx := context.Background()
	withPoolKeys, err := pgxpool.New(ctx, dsn+"&pool_max_conns=3&pool_min_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer withPoolKeys.Close()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	inCode, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer inCode.Close()

	for name, pool := range map[string]*pgxpool.Pool{"pool_keys": withPoolKeys, "in_code": inCode} {
		t.Run(name, func(t *testing.T) {
			s := scheduler.New(pool, scheduler.Options{Ticker: scheduler.TickerOptions{Logger: testLogger(t)}})
			if _, err := s.Register(ctx, scheduler.CronJob{Name: name, Func: "app.f", Interval: time.Second}); err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(rctx) }()
			pgtest.Eventually(t, 5*time.Second, "a job from Run's ticker", func() bool {
				return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = $1`, name) >= 1
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}
