package scheduler_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler"
)

// keyOf is a tick's job key: cron:<schedule>:<tick in UTC, to the second>, the same for
// every ticker, so that a tick can never get two jobs.
func keyOf(name string, tick time.Time) string {
	return "cron:" + name + ":" + tick.UTC().Format("2006-01-02T15:04:05Z")
}

func TestIntervalScheduleInsertedWhileRunning(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)

	// Early in a second, so that the first tick (the anchor, this very second) is still
	// the newest pending one when the ticker decides: a row added at .99 would have its
	// anchor missed in favour of the next second, as catchup = 'latest' says.
	startOfSecond(t, pool)
	inserted := time.Now()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (func, interval_secs) VALUES ('app.tasks.ping', 1)`)
	pgtest.Eventually(t, time.Second, "first job within 1s of the INSERT", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 1
	})
	t.Logf("first job after %s", time.Since(inserted).Round(time.Millisecond))
	pgtest.Eventually(t, 6*time.Second, "four jobs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 4
	})
	anchor := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', changed_at) FROM werk_cron_jobs`)
	// Everything due up to half a second past the fourth tick is decided: from the
	// anchor on, every tick up to then has its job, and no other job is there.
	until := tk.decidedThrough(t, pool, anchor.Add(3500*time.Millisecond))

	type job struct {
		Key         string
		ScheduledAt time.Time
	}
	rows, _ := pool.Query(context.Background(), `SELECT key, scheduled_at FROM werk_jobs ORDER BY scheduled_at`)
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[job])
	if err != nil {
		t.Fatal(err)
	}
	decided := 0
	for _, j := range jobs {
		if !j.ScheduledAt.After(until) {
			decided++
		}
	}
	if want := int(until.Sub(anchor)/time.Second) + 1; decided != want {
		t.Fatalf("want %d jobs, one per tick from the anchor %s through %s, got %d: %v", want, anchor, until, decided, jobs)
	}
	for i, j := range jobs {
		want := anchor.Add(time.Duration(i) * time.Second)
		if !j.ScheduledAt.Equal(want) {
			t.Errorf("job %d: scheduled_at %s, want %s (anchor + %ds)", i, j.ScheduledAt, want, i)
		}
		if j.Key != keyOf("app.tasks.ping", want) {
			t.Errorf("job %d: key %q, want %q", i, j.Key, keyOf("app.tasks.ping", want))
		}
	}
	checkJobs(t, pool)
}

func TestSixFieldCronEveryEvenSecond(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('even', 'app.tasks.even', '*/2 * * * * *')`)
	changed := pgtest.QueryOne[time.Time](t, pool, `SELECT changed_at FROM werk_cron_jobs`)
	pgtest.Eventually(t, 6*time.Second, "two jobs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 2
	})
	// Ticks up to until must have landed.
	until := tk.decidedThrough(t, pool, pgtest.QueryOne[time.Time](t, pool, `SELECT max(scheduled_at) FROM werk_jobs`).Add(500*time.Millisecond))

	got := queryList[time.Time](t, pool, `SELECT scheduled_at FROM werk_jobs ORDER BY 1`)
	var want []time.Time
	for s := changed.Truncate(time.Second).Add(time.Second); !s.After(until); s = s.Add(time.Second) {
		if s.Second()%2 == 0 {
			want = append(want, s)
		}
	}
	var gotUntil []time.Time
	for _, g := range got {
		if g.Second()%2 != 0 {
			t.Errorf("job at odd second %s", g)
		}
		if !g.After(until) {
			gotUntil = append(gotUntil, g)
		}
	}
	if len(gotUntil) != len(want) {
		t.Fatalf("want one job per even second %v, got %v", want, got)
	}
	for i := range want {
		if !gotUntil[i].Equal(want[i]) {
			t.Errorf("job %d at %s, want %s", i, gotUntil[i], want[i])
		}
	}
	checkJobs(t, pool)
}

// The job row carries every field of the schedule, the tick and its key, and the queue
// hears of it.
func TestJobRowCarriesTheScheduleAndNotifiesQueue(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, `LISTEN "werk:reports"`); err != nil {
		t.Fatal(err)
	}

	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, queue, args, kwargs, interval_secs,
		timeout_secs, result_ttl, failure_ttl, meta, priority, max_attempts)
		VALUES ('nightly', 'app.tasks.report', 'reports', '[1, "two"]', '{"k": true}', 60,
		        30, 3600, 86400, '{"team": "ops"}', 7, 3)`)

	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n, err := listener.WaitForNotification(wctx)
	if err != nil {
		t.Fatalf("no notification on werk:reports: %v", err)
	}
	if n.Channel != "werk:reports" {
		t.Fatalf("notified %q", n.Channel)
	}

	var (
		key, function, queue, status string
		payload, meta                []byte
		priority                     int16
		maxAttempts, attempts        int32
		timeout, resultTTL, failTTL  int32
		scheduledAt, enqueuedAt      time.Time
		cronName                     string
		failureMode                  string
	)
	err = pool.QueryRow(ctx, `SELECT key, function, queue, status, payload, meta, priority, max_attempts,
		attempts, timeout_secs, result_ttl, failure_ttl, scheduled_at, enqueued_at, cron_name, failure_mode
		FROM werk_jobs`).Scan(&key, &function, &queue, &status, &payload, &meta, &priority, &maxAttempts,
		&attempts, &timeout, &resultTTL, &failTTL, &scheduledAt, &enqueuedAt, &cronName, &failureMode)
	if err != nil {
		t.Fatal(err)
	}
	anchor := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', changed_at) FROM werk_cron_jobs`)
	var p struct {
		Args   []any          `json:"args"`
		Kwargs map[string]any `json:"kwargs"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"key", key, keyOf("nightly", anchor)},
		{"function", function, "app.tasks.report"},
		{"queue", queue, "reports"},
		{"status", status, "queued"},
		{"payload.args", len(p.Args) == 2 && p.Args[0] == float64(1) && p.Args[1] == "two", true},
		{"payload.kwargs", p.Kwargs["k"], true},
		{"meta", string(meta), `{"team": "ops"}`},
		{"priority", priority, int16(7)},
		{"max_attempts", maxAttempts, int32(3)},
		{"attempts", attempts, int32(0)},
		{"timeout_secs", timeout, int32(30)},
		{"result_ttl", resultTTL, int32(3600)},
		{"failure_ttl", failTTL, int32(86400)},
		{"scheduled_at", scheduledAt.Equal(anchor), true},
		{"enqueued_at not before scheduled_at", !enqueuedAt.Before(scheduledAt), true},
		{"cron_name", cronName, "nightly"},
		{"failure_mode (pgwerk default)", failureMode, "hold"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	var lastJob, jobID string
	if err := pool.QueryRow(ctx, `SELECT c.last_job_id::text, j.id::text FROM werk_cron_state c, werk_jobs j`).Scan(&lastJob, &jobID); err != nil {
		t.Fatal(err)
	}
	if lastJob != jobID {
		t.Errorf("last_job_id %s, want the job %s", lastJob, jobID)
	}
	outcome := pgtest.QueryOne[string](t, pool, `SELECT outcome FROM werk_cron_ticks WHERE name = 'nightly'`)
	if outcome != "enqueued" {
		t.Errorf("ledger outcome %q", outcome)
	}
}

// Job ids are UUIDv7, so that werk_jobs' primary key grows at its right edge: later
// ticks get greater ids.
func TestJobIDsAreTimeOrdered(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('a', 'app.a', '* * * * * *'), ('b', 'app.b', '* * * * * *')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 5*time.Second, "three ticks of both", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 6
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE substr(id::text, 15, 1) <> '7'`); n != 0 {
		t.Errorf("%d job ids are not version 7", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs a JOIN werk_jobs b ON a.scheduled_at < b.scheduled_at AND a.id > b.id`); n != 0 {
		t.Errorf("%d pairs of jobs whose ids sort against their ticks", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs j JOIN werk_cron_ticks k ON k.job_id = j.id`); n < 6 {
		t.Errorf("only %d ledger rows name their job's id", n)
	}
}

func TestPauseAndResumeNeverBackfill(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{}, func(s *ticker.TestSignals) {
		s.Promoted.Init(t)
		s.Planned.Init(t)
	})
	signals := scheduler.TickerSignals(tk.Ticker)
	signals.Promoted.WaitOrTimeout()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('p', 'app.p', 1)`)
	pgtest.Eventually(t, 2*time.Second, "first job", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 1
	})

	pausedAt := pgtest.QueryOne[time.Time](t, pool, `UPDATE werk_cron_jobs SET paused = true RETURNING clock_timestamp()`)
	// The pause is planned (the primary knows of it), then two ticks' time passes.
	waitPlanned(t, pool, signals, "p")
	tk.decidedThrough(t, pool, pausedAt.Add(2500*time.Millisecond))
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at > $1`, pausedAt); n != 0 {
		t.Fatalf("%d jobs for ticks after the pause committed", n)
	}
	if next := pgtest.QueryOne[*time.Time](t, pool, `SELECT next_run_at FROM werk_cron_state`); next != nil {
		t.Errorf("paused schedule has next_run_at %s", next)
	}

	resumedAt := pgtest.QueryOne[time.Time](t, pool, `UPDATE werk_cron_jobs SET paused = false RETURNING now()`)
	pgtest.Eventually(t, 2*time.Second, "a job after resume", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at >= date_trunc('second', $1::timestamptz)`, resumedAt) >= 1
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at > $1 AND scheduled_at < date_trunc('second', $2::timestamptz)`, pausedAt, resumedAt); n != 0 {
		t.Fatalf("%d jobs backfilled for the paused time", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE tick_at > $1 AND tick_at < date_trunc('second', $2::timestamptz)`, pausedAt, resumedAt); n != 0 {
		t.Fatalf("%d ledger rows for the paused time", n)
	}
	checkJobs(t, pool)
}

func TestDeleteStopsScheduleAndKeepsJobs(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('d', 'app.d', 1)`)
	pgtest.Eventually(t, 3*time.Second, "two jobs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 2
	})
	deletedAt := pgtest.QueryOne[time.Time](t, pool, `DELETE FROM werk_cron_jobs WHERE name = 'd' RETURNING clock_timestamp()`)
	before := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`)
	// Two ticks' time after the DELETE, all decided.
	tk.decidedThrough(t, pool, deletedAt.Add(2500*time.Millisecond))
	after := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`)
	if after != before {
		t.Fatalf("jobs went from %d to %d after DELETE", before, after)
	}
	if before < 2 {
		t.Fatalf("enqueued jobs were removed: %d left", before)
	}
}

func TestRestartEnqueuesNewestMissedTickOnce(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('r', 'app.r', 1)`)
	pgtest.Eventually(t, 2*time.Second, "first job", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 1
	})
	tk.stop()
	lastBefore := pgtest.QueryOne[time.Time](t, pool, `SELECT last_tick_at FROM werk_cron_state`)
	// Down while three ticks fall due.
	untilDBClock(t, pool, lastBefore.Add(3500*time.Millisecond))

	tk2 := startTicker(t, dsn, scheduler.TickerOptions{})
	tk2.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	// The first decision after the restart settles every tick missed while down.
	pgtest.Eventually(t, 2*time.Second, "the catch-up decision", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE outcome = 'missed' AND tick_at > $1`, lastBefore) > 0
	})
	tk2.stop()

	// Ticks that fell due while no ticker ran: after lastBefore, before the restart.
	var catchup time.Time
	if err := pool.QueryRow(context.Background(), `SELECT min(tick_at) FROM werk_cron_ticks
		WHERE outcome = 'enqueued' AND tick_at > $1`, lastBefore).Scan(&catchup); err != nil {
		t.Fatal(err)
	}
	missed := queryList[time.Time](t, pool, `SELECT tick_at FROM werk_cron_ticks WHERE outcome = 'missed' AND tick_at > $1 ORDER BY 1`, lastBefore)
	if len(missed) < 2 {
		t.Fatalf("want the older missed ticks recorded as missed, got %v", missed)
	}
	// Missed: every tick strictly between lastBefore and the catch-up tick, one row each.
	for i, m := range missed {
		if want := lastBefore.Add(time.Duration(i+1) * time.Second); !m.Equal(want) {
			t.Errorf("missed[%d] = %s, want %s", i, m, want)
		}
	}
	if want := missed[len(missed)-1].Add(time.Second); !catchup.Equal(want) {
		t.Errorf("catch-up job for %s, want the newest missed tick %s", catchup, want)
	}
	// One decision, the restarted ticker's first: the newest pending tick enqueued and
	// every older one missed. (The newest is one that fell due while the ticker was
	// down, unless the restart took until the next tick.)
	decided := pgtest.QueryOne[time.Time](t, pool, `SELECT decided_at FROM werk_cron_ticks WHERE tick_at = $1`, catchup)
	if catchup.After(decided) {
		t.Errorf("catch-up tick %s decided before it was due, at %s", catchup, decided)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE outcome = 'missed' AND tick_at > $1 AND decided_at <> $2`,
		lastBefore, decided); n != 0 {
		t.Errorf("%d missed ticks were decided apart from the catch-up tick %s (decided at %s)", n, catchup, decided)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at > $1 AND scheduled_at < $2`, lastBefore, catchup); n != 0 {
		t.Errorf("%d jobs for missed ticks", n)
	}
	checkJobs(t, pool)
}

func TestLedgerNotJobKeyMakesTickOnce(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('c', 'app.c', 1, 'all')`)
	pgtest.Eventually(t, 3*time.Second, "three jobs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 3
	})
	tk.stop()
	ticks := queryList[time.Time](t, pool, `SELECT scheduled_at FROM werk_jobs ORDER BY 1`)
	// pgwerk-style cleanup: finished jobs are deleted after result_ttl.
	pgtest.Exec(t, pool, `UPDATE werk_jobs SET status = 'complete', completed_at = now()`)
	pgtest.Exec(t, pool, `DELETE FROM werk_jobs WHERE status = 'complete'`)

	// Worse: last_tick_at comes back from an old backup (triggers off, as a restore
	// runs). With catchup = 'all' every tick since the anchor is pending again; the
	// ledger alone must keep them from a second job.
	changedAt := pgtest.QueryOne[time.Time](t, pool, `SELECT changed_at FROM werk_cron_jobs`)
	backdate(t, pool, "c", changedAt, nil)

	tk2 := startTicker(t, dsn, scheduler.TickerOptions{})
	tk2.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	// The whole backlog pending at the restart decided, and a tick newer than the first
	// ticker's last one.
	tk2.decidedThrough(t, pool, ticks[len(ticks)-1].Add(1500*time.Millisecond))
	tk2.stop()
	for _, tick := range ticks {
		if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at = $1`, tick); n != 0 {
			t.Errorf("tick %s enqueued again after its job row was deleted", tick)
		}
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`); n == 0 {
		t.Errorf("the restarted ticker enqueued nothing new")
	}
}

func TestBadCronReportedOthersKeepTicking(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('good', 'app.good', 1)`)
	bad := map[string]string{
		"range":     "61 * * * *",
		"reversed":  "5-1 * * * *",
		"garbage":   "every day at noon",
		"step0":     "*/0 * * * *",
		"never":     "0 0 31 2 *",
		"toolong":   "* * * * * * * *",
		"abbrev_tz": "0 * * * *", // with timezone PST, which Go does not know
	}
	for name, expr := range bad {
		tz := "UTC"
		if name == "abbrev_tz" {
			tz = "PST"
		}
		pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, timezone) VALUES ($1, 'app.bad', $2, $3)`, name, expr, tz)
	}
	pgtest.Eventually(t, time.Second, "last_error on every bad row", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE last_error IS NOT NULL`) == int64(len(bad))
	})
	for _, name := range []string{"range", "reversed", "abbrev_tz", "never"} {
		msg := pgtest.QueryOne[string](t, pool, `SELECT last_error FROM werk_cron_state WHERE name = $1`, name)
		t.Logf("%s: %s", name, msg)
		if msg == "" {
			t.Errorf("%s: empty last_error", name)
		}
	}
	if msg := pgtest.QueryOne[string](t, pool, `SELECT last_error FROM werk_cron_state WHERE name = 'abbrev_tz'`); !strings.Contains(msg, "PST") {
		t.Errorf("abbrev_tz: last_error %q does not name the zone", msg)
	}
	// The next two seconds' ticks, decided: the good schedule has a job among them.
	from := dbNow(t, pool)
	until := tk.decidedThrough(t, pool, from.Add(2*time.Second))
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'good' AND scheduled_at > $1 AND scheduled_at <= $2`, from, until); n < 1 {
		t.Fatalf("the good schedule stopped: no job for its ticks from %s to %s", from, until)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name <> 'good'`); n != 0 {
		t.Fatalf("%d jobs from bad schedules", n)
	}
	// Fixing the row clears the error.
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET cron = '0 0 * * *' WHERE name = 'range'`)
	pgtest.Eventually(t, time.Second, "last_error cleared after a fix", func() bool {
		return pgtest.QueryOne[*string](t, pool, `SELECT last_error FROM werk_cron_state WHERE name = 'range'`) == nil
	})
	if tk.Role() != scheduler.RolePrimary {
		t.Fatalf("ticker is %s", tk.Role())
	}
}

func TestDatabaseRefusesBadRows(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	cases := []struct {
		name, sql, wantInMessage string
	}{
		{"both", `INSERT INTO werk_cron_jobs (func, cron, interval_secs) VALUES ('f', '* * * * *', 5)`, "exactly_one_of_cron_or_interval"},
		{"neither", `INSERT INTO werk_cron_jobs (func) VALUES ('f')`, "exactly_one_of_cron_or_interval"},
		{"args not array", `INSERT INTO werk_cron_jobs (func, interval_secs, args) VALUES ('f', 5, '{"a":1}')`, "args_must_be_a_json_array"},
		{"kwargs not object", `INSERT INTO werk_cron_jobs (func, interval_secs, kwargs) VALUES ('f', 5, '[1]')`, "kwargs_must_be_a_json_object"},
		{"meta not object", `INSERT INTO werk_cron_jobs (func, interval_secs, meta) VALUES ('f', 5, '"x"')`, "meta_must_be_a_json_object"},
		{"unknown zone", `INSERT INTO werk_cron_jobs (func, cron, timezone) VALUES ('f', '* * * * *', 'Mars/Olympus')`, "unknown time zone Mars/Olympus"},
		{"zero interval", `INSERT INTO werk_cron_jobs (func, interval_secs) VALUES ('f', 0)`, "interval_secs_must_be_positive"},
		{"negative interval", `INSERT INTO werk_cron_jobs (func, interval_secs) VALUES ('f', -5)`, "interval_secs_must_be_positive"},
		{"catchup", `INSERT INTO werk_cron_jobs (func, interval_secs, catchup) VALUES ('f', 5, 'some')`, "catchup_must_be_none_latest_or_all"},
		{"overlap", `INSERT INTO werk_cron_jobs (func, interval_secs, overlap) VALUES ('f', 5, 'queue')`, "overlap_must_be_allow_skip_buffer_one_buffer_all"},
		{"window", `INSERT INTO werk_cron_jobs (func, interval_secs, starts_at, ends_at) VALUES ('f', 5, now(), now() - interval '1 day')`, "ends_at_must_be_after_starts_at"},
		{"blank cron", `INSERT INTO werk_cron_jobs (func, cron) VALUES ('f', '  ')`, "cron_must_not_be_blank"},
		{"queue too long for a channel", `INSERT INTO werk_cron_jobs (func, interval_secs, queue) VALUES ('f', 5, repeat('q', 59))`, "queue_must_be_at_most_58_bytes"},
		{"name too long for a key", `INSERT INTO werk_cron_jobs (func, interval_secs, name) VALUES ('f', 5, repeat('n', 201))`, "name_must_be_at_most_200_bytes"},
		{"zone change", `UPDATE werk_cron_jobs SET timezone = 'Nowhere/Land'`, "unknown time zone"},
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (func, cron) VALUES ('ok', '* * * * *')`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pool.Exec(context.Background(), c.sql)
			if err == nil {
				t.Fatalf("accepted: %s", c.sql)
			}
			if !strings.Contains(err.Error(), c.wantInMessage) {
				t.Fatalf("error %q does not say %q", err, c.wantInMessage)
			}
		})
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_jobs`); n != 1 {
		t.Fatalf("%d rows, want only the good one", n)
	}
	if name := pgtest.QueryOne[string](t, pool, `SELECT name FROM werk_cron_jobs`); name != "ok" {
		t.Fatalf("name defaulted to %q, want func", name)
	}
}

// Wake-ups are coalesced and only for what the planner must look at: one notification
// per INSERT statement however many rows, one per transaction for rows that become
// unplanned (a definition change of a planned row, or planned_at set to NULL by hand),
// and none for the ticker's own writes.
func TestWakeUpsAreCoalesced(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT werk_cron_listen()`); err != nil {
		t.Fatal(err)
	}
	channel := pgtest.QueryOne[string](t, conn, `SELECT 'werk_cron_jobs:' || current_schema()`)
	// count counts the wake-ups that the statements before it sent: it sends a marker on
	// the same channel and counts up to it (PostgreSQL delivers notifications in commit
	// order), so that none can still be on its way.
	count := func() int {
		pgtest.Exec(t, pool, `SELECT pg_notify($1, 'marker')`, channel)
		n := 0
		for {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			note, err := conn.WaitForNotification(wctx)
			cancel()
			if err != nil {
				t.Fatalf("waiting for the marker after %d wake-ups: %v", n, err)
			}
			if note.Channel == channel && note.Payload == "marker" {
				return n
			}
			n++
		}
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) SELECT 'f' || i, 'f', 5 FROM generate_series(1, 500) i`)
	if n := count(); n != 1 {
		t.Errorf("INSERT of 500 rows: %d notifications, want 1", n)
	}
	// What the ticker writes, planned_at included, wakes nobody.
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET next_run_at = now(), planned_at = now(), last_tick_at = now(), last_error = 'x', last_job_id = gen_random_uuid()`)
	if n := count(); n != 0 {
		t.Errorf("the ticker's own columns: %d notifications, want 0", n)
	}
	updatedAt := pgtest.QueryOne[time.Time](t, pool, `SELECT max(updated_at) FROM werk_cron_jobs`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET next_run_at = now() + interval '1 hour'`)
	if after := pgtest.QueryOne[time.Time](t, pool, `SELECT max(updated_at) FROM werk_cron_jobs`); !after.Equal(updatedAt) {
		t.Errorf("a ticker write moved updated_at from %s to %s", updatedAt, after)
	}
	// A definition change of planned rows: one wake-up, and the rows wait for the planner.
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET interval_secs = 6 WHERE name IN ('f1', 'f2', 'f3')`)
	if n := count(); n != 1 {
		t.Errorf("definition change of 3 rows: %d notifications, want 1", n)
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state
		WHERE planned_at IS NULL AND next_run_at IS NULL AND last_error IS NULL`); n != 3 {
		t.Errorf("%d rows await planning after the change, want the 3 changed", n)
	}
	// An operator hands a row back to the planner.
	pgtest.Exec(t, pool, `UPDATE werk_cron_state SET planned_at = NULL WHERE name = 'f10'`)
	if n := count(); n != 1 {
		t.Errorf("planned_at set to NULL: %d notifications, want 1", n)
	}
}

// A tick whose job key is already taken, even by a job that names the schedule and its
// function (one a restore brought back, say, or a producer forged), gets no second job:
// werkcron did not make that job for the tick (the ledger has no row for it), so the
// ledger records the tick 'foreign', naming that row, and its outcome is never the
// schedule's. (A key taken by another function's job is the same:
// TestHostileForeignJobKeyIsAnError.)
func TestTickWithTakenKeyIsForeign(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	// catchup = 'all': each tick is decided on its own even if the ticker runs late (with
	// 'latest' a late ticker rightly records a taken tick as missed instead).
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup) VALUES ('k', 'app.k', '* * * * * *', 'all')`)
	// The next few ticks' keys, taken before any ticker runs.
	pgtest.Exec(t, pool, `INSERT INTO werk_jobs (key, function, cron_name, scheduled_at)
		SELECT 'cron:k:' || to_char(g AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'app.k', 'k', g
		FROM generate_series(date_trunc('second', now()) + interval '2 s', date_trunc('second', now()) + interval '3 s', interval '1 s') g`)
	taken := queryList[time.Time](t, pool, `SELECT scheduled_at FROM werk_jobs ORDER BY 1`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 5*time.Second, "the ticks after the taken ones", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE tick_at > $1`, taken[1]) >= 1
	})
	for _, at := range taken {
		if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at = $1`, at); n != 1 {
			t.Errorf("tick %s: %d job rows, want only the one that was there", at, n)
		}
		outcome := pgtest.QueryOne[string](t, pool, `SELECT outcome FROM werk_cron_ticks WHERE tick_at = $1`, at)
		sameJob := pgtest.QueryOne[bool](t, pool, `SELECT coalesce(t.job_id = j.id, false) FROM werk_cron_ticks t JOIN werk_jobs j ON j.scheduled_at = t.tick_at WHERE t.tick_at = $1`, at)
		if outcome != "foreign" || !sameJob {
			t.Errorf("tick %s: ledger says %q (job_id of the existing row: %v), want foreign, naming it", at, outcome, sameJob)
		}
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE function = 'app.k' AND scheduled_at > $1`, taken[1]); n < 1 {
		t.Errorf("no job of the schedule's own after the taken ticks")
	}
	checkJobs(t, pool)
}

// A schedule whose jobs the database refuses (here a constraint a DBA or pgwerk put on
// werk_jobs) gets last_error naming the tick and the reason; the schedules that share
// its tick statement keep their jobs, and the ticker keeps leading.
func TestRefusedScheduleIsIsolated(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `ALTER TABLE werk_jobs ADD CONSTRAINT no_jobs_for_app_bad CHECK (function <> 'app.bad')`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES
		('good1', 'app.good', '* * * * * *'), ('bad', 'app.bad', '* * * * * *'), ('good2', 'app.good', '* * * * * *')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	// Read once: the new primary's look at the schedules in error may clear it a moment
	// later, and the next tick sets it again.
	var msg string
	pgtest.Eventually(t, 3*time.Second, "last_error on the refused schedule", func() bool {
		e := pgtest.QueryOne[*string](t, pool, `SELECT last_error FROM werk_cron_state WHERE name = 'bad'`)
		if e != nil {
			msg = *e
		}
		return e != nil
	})
	if !strings.Contains(msg, "no_jobs_for_app_bad") || !strings.Contains(msg, "tick at") {
		t.Errorf("last_error %q does not name the tick and the constraint", msg)
	}
	from := dbNow(t, pool)
	until := tk.decidedThrough(t, pool, from.Add(2*time.Second))
	for _, name := range []string{"good1", "good2"} {
		if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = $1`, name); n < 2 {
			t.Errorf("%s has %d jobs: a refused schedule held it back", name, n)
		}
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at > $1 AND scheduled_at <= $2`, from, until); n == 0 {
		t.Errorf("no jobs for the ticks from %s to %s", from, until)
	}
	if tk.Role() != scheduler.RolePrimary {
		t.Fatalf("ticker is %s", tk.Role())
	}
}

// A fan-out large enough to split finds the primary's other connections open, with the
// statement of ticks at their usual pace already described, before its instant: they
// are opened when the plan shows it coming (it is read a second ahead), not on the
// tick's critical path. A fresh primary has none open; it reads the plan of 2,500
// schedules due at once, a few seconds off.
func TestFanoutConnectionsReadyBeforeTheInstant(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	const n = 2500
	at := dbNow(t, pool).Truncate(time.Second).Add(6 * time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at)
		SELECT 'w' || i, 'app.w', 3600, $1 FROM generate_series(1, $2) i`, at, n)
	planner := startTicker(t, dsn, scheduler.TickerOptions{}, func(s *ticker.TestSignals) { s.Planned.Init(t) })
	planner.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	waitPlanned(t, pool, scheduler.TickerSignals(planner.Ticker), "")
	planner.stop()

	tk := startTicker(t, dsn, scheduler.TickerOptions{Parallel: 2})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	ready := func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND application_name LIKE '% fan-out'
			  AND state = 'idle' AND query LIKE '-- name: EnqueueUsualTicks %')`)
	}
	for !ready() {
		if !dbNow(t, pool).Before(at.Add(-50 * time.Millisecond)) {
			t.Fatalf("no fan-out connection ready, its statement described, 50 ms before the instant")
		}
		time.Sleep(10 * time.Millisecond) // polling what another process does
	}
	if jobs := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`); jobs != 0 {
		t.Fatalf("%d jobs before the instant", jobs)
	}
	untilDBClock(t, pool, at.Add(time.Second))
	pgtest.Eventually(t, 10*time.Second, "the fan-out's jobs", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at = $1`, at) == n
	})
}
