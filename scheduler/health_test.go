package scheduler_test

// Start deadlines, run-time limits, health and its notifications, holiday calendars.

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// healthListener is a session of its own listening on werk_cron_health.
type healthListener struct {
	t       *testing.T
	conn    *pgx.Conn
	pool    *pgxpool.Pool
	got     chan string
	markers atomic.Int64
}

func listenHealth(t *testing.T, dsn string, pool *pgxpool.Pool) *healthListener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `LISTEN werk_cron_health`); err != nil {
		t.Fatal(err)
	}
	l := &healthListener{t: t, conn: conn, pool: pool, got: make(chan string, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			l.got <- n.Payload
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close(context.Background())
	})
	return l
}

// next waits for the next change announced.
func (l *healthListener) next(within time.Duration) scheduler.HealthChange {
	l.t.Helper()
	select {
	case p := <-l.got:
		c, err := scheduler.ParseHealthChange(p)
		if err != nil {
			l.t.Fatalf("a notification that is not a change: %q: %v", p, err)
		}
		return c
	case <-time.After(within):
		l.t.Fatalf("no health change announced within %s", within)
	}
	panic("unreachable")
}

// drain returns every change announced by transactions that committed before it was
// called: it sends a marker of its own on the channel and reads up to it (PostgreSQL
// delivers notifications in the order their transactions committed).
func (l *healthListener) drain() []scheduler.HealthChange {
	l.t.Helper()
	marker := fmt.Sprintf("marker %d", l.markers.Add(1))
	pgtest.Exec(l.t, l.pool, `SELECT pg_notify('werk_cron_health', $1)`, marker)
	var out []scheduler.HealthChange
	for {
		select {
		case p := <-l.got:
			if p == marker {
				return out
			}
			c, err := scheduler.ParseHealthChange(p)
			if err != nil {
				l.t.Fatalf("a notification that is not a change: %q: %v", p, err)
			}
			out = append(out, c)
		case <-time.After(10 * time.Second):
			l.t.Fatalf("the marker %q did not arrive", marker)
		}
	}
}

// changes sums up changes as "name: previous->health" lines.
func changes(cs []scheduler.HealthChange) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%s: %s->%s", c.Name, c.Previous, c.Health))
	}
	return strings.Join(s, "; ")
}

// healthOf is the schedule's health in werk_cron_status.
func healthOf(t *testing.T, pool *pgxpool.Pool, name string) string {
	t.Helper()
	return pgtest.QueryOne[string](t, pool, `SELECT health FROM werk_cron_status WHERE name = $1`, name)
}

// awaitHealth waits until the schedule's health is want.
func awaitHealth(t *testing.T, pool *pgxpool.Pool, name, want string) {
	t.Helper()
	got := ""
	pgtest.Eventually(t, 10*time.Second, fmt.Sprintf("%s's health %s (is %s)", name, want, got), func() bool {
		got = healthOf(t, pool, name)
		return got == want
	})
}

// dequeue is pgwerk's dequeue (repos.py), as one of its workers runs it: it takes the
// jobs of queue a worker may start now, marks them active, and returns them.
func (w *worker) dequeue(queue string) []uuid.UUID {
	w.t.Helper()
	rows, err := w.conn.Query(context.Background(), `
		WITH locked AS (
		    SELECT id AS _id, status IN ('queued', 'scheduled') AS _is_new
		    FROM werk_jobs
		    WHERE queue = ANY($1)
		      AND ((status IN ('queued', 'scheduled')
		            AND scheduled_at <= NOW()
		            AND (expires_at IS NULL OR expires_at > NOW())
		            AND (group_key IS NULL OR group_key NOT IN (
		                SELECT DISTINCT group_key FROM werk_jobs
		                WHERE queue = ANY($1) AND status = 'active' AND group_key IS NOT NULL)))
		           OR (status = 'active' AND worker_id IS DISTINCT FROM $2::uuid AND heartbeat_secs IS NOT NULL
		               AND COALESCE(touched_at, started_at) + heartbeat_secs * INTERVAL '1 second' < NOW()))
		    ORDER BY CASE WHEN status IN ('queued', 'scheduled') THEN 0 ELSE 1 END, priority DESC, scheduled_at ASC
		    LIMIT 10
		    FOR UPDATE SKIP LOCKED
		)
		UPDATE werk_jobs
		SET status = 'active', started_at = NOW(),
		    attempts = attempts + CASE WHEN locked._is_new THEN 1 ELSE 0 END, worker_id = $2
		FROM locked
		WHERE werk_jobs.id = locked._id
		RETURNING id`, []string{queue}, w.id)
	if err != nil {
		w.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// A tick's job not started within start_deadline_secs never starts: it carries pgwerk's
// expires_at, which pgwerk's dequeue honours, so that a worker that comes late takes
// nothing; the ledger records its run expired, the schedule turns late once (one
// notification, naming the tick and the job, since the deadline passed), and the
// expired job no longer counts as waiting.
func TestStartDeadlineExpiresTheJob(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	l := listenHealth(t, dsn, pool)
	start := dbNow(t, pool).Truncate(time.Second).Add(2 * time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, start_deadline_secs)
		VALUES ('d', 'app.d', 3600, $1, 2)`, start)
	primary(t, dsn)
	w := newWorker(t, dsn, pool)
	before, err := s.JobOutcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}

	job := nextJob(t, pool, "d")
	expires := pgtest.QueryOne[time.Time](t, pool, `SELECT expires_at FROM werk_jobs WHERE id = $1`, job)
	if !expires.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("expires_at %s, want the tick %s plus 2 s", expires, start)
	}
	c := l.next(10 * time.Second)
	if c.Name != "d" || c.Health != scheduler.HealthLate || c.Previous != scheduler.HealthOK || !c.Since.Equal(expires) ||
		c.Tick == nil || !c.Tick.Equal(start) || c.Job == nil || *c.Job != job || c.Schema == "" {
		t.Errorf("announced %+v; want d late since its expires_at %s, the tick %s and its job %s", c, expires, start, job)
	}
	if ids := w.dequeue("default"); len(ids) != 0 {
		t.Fatalf("pgwerk's dequeue took %v after the deadline", ids)
	}
	if l := recorded(t, pool, job, "expired"); !l.JobFinishedAt.Equal(expires) || l.Outcome != "enqueued" ||
		!strings.Contains(l.JobError, "start deadline") {
		t.Errorf("recorded %+v; want expired at its expires_at", l)
	}
	if st := pgtest.QueryOne[string](t, pool, `SELECT status FROM werk_jobs WHERE id = $1`, job); st != "queued" {
		t.Errorf("the job is %s, want still queued (pgwerk's clean-up deletes it)", st)
	}
	if h := healthOf(t, pool, "d"); h != scheduler.HealthLate {
		t.Errorf("health %s, want late", h)
	}
	after, err := s.JobOutcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Expired-before.Expired != 1 {
		t.Errorf("counted %d expired jobs, want 1", after.Expired-before.Expired)
	}
	if cs := l.drain(); len(cs) != 0 {
		t.Errorf("announced more: %s; want one change, late", changes(cs))
	}
}

// Before its deadline the job is pgwerk's to take as any other; pgwerk's clean-up
// deleting an expired job before the primary saw it is recorded expired too.
func TestStartDeadlineBeforeAndAfter(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, start_deadline_secs) VALUES ('m', 'app.m', '@yearly', 1)`)
	s := scheduler.New(pool, scheduler.Options{})
	w := newWorker(t, dsn, pool)
	// Manual runs (no ticker): a job due within a second of being asked for.
	taken := manualRun(t, s, "m")
	if ids := w.dequeue("default"); len(ids) != 1 || ids[0] != taken {
		t.Fatalf("dequeue before the deadline took %v, want %s", ids, taken)
	}
	left := manualRun(t, s, "m")
	exp := pgtest.QueryOne[time.Time](t, pool, `SELECT expires_at FROM werk_jobs WHERE id = $1`, left)
	untilDBClock(t, pool, exp.Add(10*time.Millisecond))
	if ids := w.dequeue("default"); len(ids) != 0 {
		t.Fatalf("dequeue after the deadline took %v", ids)
	}
	w.purge(left) // pgwerk's clean-up
	if l := ledger(t, pool, left); l.JobStatus != "expired" || !l.JobFinishedAt.Equal(exp) {
		t.Errorf("recorded %+v, want expired at %s", l, exp)
	}
}

// With overlap = 'skip', a job waiting past its deadline does not hold the next tick
// back: it will never run.
func TestOverlapSkipIsNotBlockedByAnExpiredJob(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	start := dbNow(t, pool).Truncate(time.Second).Add(time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, overlap, start_deadline_secs)
		VALUES ('o', 'app.o', 2, $1, 'skip', 1)`, start)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, overlap)
		VALUES ('held', 'app.held', 2, $1, 'skip')`, start)
	tk := primary(t, dsn)
	tk.decidedThrough(t, pool, start.Add(4*time.Second+300*time.Millisecond))
	if got := outcomes(t, pool, "o"); got["enqueued"] != 3 || got["skipped_overlap"] != 0 {
		t.Errorf("o: %v; want the ticks at 0, 2 and 4 s enqueued, each job having expired by the next", got)
	}
	if got := outcomes(t, pool, "held"); got["enqueued"] != 1 || got["skipped_overlap"] != 2 {
		t.Errorf("held (no deadline): %v; want one enqueued and two skipped", got)
	}
}

// A run active past max_runtime_secs turns the schedule overdue, once, since the instant
// it reached the limit; its end turns it back: two notifications, no more.
func TestMaxRuntimeTurnsOverdueAndBack(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	l := listenHealth(t, dsn, pool)
	start := dbNow(t, pool).Truncate(time.Second).Add(time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, max_runtime_secs)
		VALUES ('r', 'app.r', 3600, $1, 1)`, start)
	primary(t, dsn)
	w := newWorker(t, dsn, pool)
	job := nextJob(t, pool, "r")
	w.start(job)
	started := pgtest.QueryOne[time.Time](t, pool, `SELECT started_at FROM werk_jobs WHERE id = $1`, job)

	c := l.next(10 * time.Second)
	if c.Name != "r" || c.Health != scheduler.HealthOverdue || c.Previous != scheduler.HealthOK ||
		!c.Since.Equal(started.Add(time.Second)) || c.Job == nil || *c.Job != job || c.Tick == nil || !c.Tick.Equal(start) {
		t.Fatalf("announced %+v; want r overdue since %s, its run %s", c, started.Add(time.Second), job)
	}
	if since := pgtest.QueryOne[time.Time](t, pool, `SELECT health_since FROM werk_cron_status WHERE name = 'r'`); !since.Equal(c.Since) {
		t.Errorf("health_since %s, want %s", since, c.Since)
	}
	w.ack(job)
	c = l.next(10 * time.Second)
	if c.Name != "r" || c.Health != scheduler.HealthOK || c.Previous != scheduler.HealthOverdue {
		t.Errorf("announced %+v; want r ok again", c)
	}
	if cs := l.drain(); len(cs) != 0 {
		t.Errorf("announced more: %s", changes(cs))
	}
}

// Each change of health is announced exactly once, and nothing is announced while it
// stays the same: a failure, another failure, a success; a pause and a resume; a cron
// the ticker cannot read, and its fix; the last of a schedule's runs.
func TestHealthChangesAreAnnouncedOnce(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	l := listenHealth(t, dsn, pool)
	s := scheduler.New(pool, scheduler.Options{})
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('f', 'app.f', '@yearly')`)
	primary(t, dsn)
	w := newWorker(t, dsn, pool)
	step := func(what string, want string) {
		t.Helper()
		if got := changes(l.drain()); got != want {
			t.Errorf("%s: announced %q, want %q", what, got, want)
		}
	}
	run := func(fail bool) {
		t.Helper()
		job := manualRun(t, s, "f")
		w.start(job)
		if fail {
			w.nack(job, "failed", "boom")
			recorded(t, pool, job, "failed")
		} else {
			w.ack(job)
			recorded(t, pool, job, "complete")
		}
	}
	run(true)
	awaitHealth(t, pool, "f", scheduler.HealthFailing)
	step("a failed run", "f: ok->failing")
	run(true)
	step("another failed run", "")
	run(false)
	awaitHealth(t, pool, "f", scheduler.HealthOK)
	step("a run that completed", "f: failing->ok")
	run(false)
	step("another run that completed", "")

	if err := s.PauseBecause(ctx, "f", "maintenance"); err != nil {
		t.Fatal(err)
	}
	awaitHealth(t, pool, "f", scheduler.HealthPaused)
	if err := s.Resume(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	awaitHealth(t, pool, "f", scheduler.HealthOK)
	step("a pause and a resume", "f: ok->paused; f: paused->ok")

	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('bad', 'app.bad', '61 * * * *')`)
	awaitHealth(t, pool, "bad", scheduler.HealthError)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET cron = '@yearly' WHERE name = 'bad'`)
	awaitHealth(t, pool, "bad", scheduler.HealthOK)
	step("a bad cron and its fix", "bad: ok->error; bad: error->ok")

	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, remaining_runs) VALUES ('once', 'app.once', 3600, 1)`)
	awaitHealth(t, pool, "once", scheduler.HealthEnded)
	step("its last run enqueued", "once: ok->ended")
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_status WHERE health_since > now() + interval '1 s'`); n != 0 {
		t.Errorf("%d schedules healthy since the future", n)
	}
}

// A health check that comes due while another session holds the schedule's state row
// waits for the row without spinning the primary (a look a second), and is made once
// the row is free: the run past its limit turns the schedule overdue then.
func TestHealthCheckOfAHeldRowWaitsWithoutSpinning(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	start := dbNow(t, pool).Truncate(time.Second).Add(time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, max_runtime_secs)
		VALUES ('held', 'app.held', 3600, $1, 1)`, start)
	tk := primary(t, dsn)
	w := newWorker(t, dsn, pool)
	job := nextJob(t, pool, "held")
	w.start(job)
	started := pgtest.QueryOne[time.Time](t, pool, `SELECT started_at FROM werk_jobs WHERE id = $1`, job)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `SELECT 1 FROM werk_cron_state WHERE name = 'held' FOR UPDATE`)
	looks := tk.Stats().HealthLooks
	tk.decidedThrough(t, pool, started.Add(3500*time.Millisecond))
	if n := tk.Stats().HealthLooks - looks; n > 8 {
		t.Errorf("%d looks for the health check in about 3 s while its row was held, want a few", n)
	}
	if h := healthOf(t, pool, "held"); h != scheduler.HealthOK {
		t.Errorf("health %s while its state row was held, want ok: the check is still to be made", h)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	awaitHealth(t, pool, "held", scheduler.HealthOverdue)
}

// werkcron_schedules_health counts, status --check's list: what is not ok.
func TestUnhealthyAndCountByHealth(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, paused) VALUES ('p', 'app.p', '@yearly', true)`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('f', 'app.f', '@yearly'), ('k', 'app.k', '@yearly')`)
	w := newWorker(t, dsn, pool)
	job := manualRun(t, s, "f")
	w.start(job)
	w.nack(job, "failed", "boom")
	w.purge(job) // recorded by pgwerk's delete: no ticker needed
	bad, err := s.Unhealthy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Name != "f" || bad[0].Health != scheduler.HealthFailing {
		t.Errorf("Unhealthy: %+v, want f failing", bad)
	}
	counts, err := s.CountByHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[scheduler.HealthOK] != 1 || counts[scheduler.HealthPaused] != 1 || counts[scheduler.HealthFailing] != 1 {
		t.Errorf("CountByHealth: %v", counts)
	}
}

// next_run_at skips the days of the schedule's calendar by their local date, here the
// day Berlin's clocks spring forward (23 hours: 23:00Z on the 27th to 22:00Z on the
// 28th), whose ticks have the UTC dates 27 and 28; an edit of the calendar plans the
// schedule again at once, both ways; Scheduler.NextRuns agrees.
func TestCalendarSkipsLocalDaysAndEditsReplan(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.AddCalendarDays(ctx, "hol", scheduler.CalendarDay{Day: day(t, "2027-03-28"), Note: "a test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "h", Func: "app.h", Cron: "0 * * * *", Timezone: "Europe/Berlin",
		StartsAt: utcTime(t, "2027-03-27T21:30:00Z"), ExcludeCalendar: "hol"}); err != nil {
		t.Fatal(err)
	}
	primary(t, dsn)
	nextRun := func(want string) {
		t.Helper()
		var got *time.Time
		pgtest.Eventually(t, 10*time.Second, "next_run_at "+want, func() bool {
			got = pgtest.QueryOne[*time.Time](t, pool, `SELECT (SELECT next_run_at FROM werk_cron_state WHERE name = 'h' AND planned_at IS NOT NULL)`)
			return got != nil && got.Equal(utcTime(t, want))
		})
	}
	// 22:00Z on the 27th is 23:00 CET, the last tick of the 27th; then the 29th.
	nextRun("2027-03-27T22:00:00Z")
	runs, err := s.NextRuns(ctx, "h", utcTime(t, "2027-03-27T21:30:00Z"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2027-03-27T22:00:00Z 2027-03-28T22:00:00Z 2027-03-28T23:00:00Z"; instants(runs) != want {
		t.Errorf("NextRuns %s, want %s", instants(runs), want)
	}
	if _, err := s.AddCalendarDays(ctx, "hol", scheduler.CalendarDay{Day: day(t, "2027-03-27")}); err != nil {
		t.Fatal(err)
	}
	nextRun("2027-03-28T22:00:00Z") // 00:00 CEST on the 29th
	if _, err := s.RemoveCalendarDays(ctx, "hol", day(t, "2027-03-27"), day(t, "2027-03-28")); err != nil {
		t.Fatal(err)
	}
	nextRun("2027-03-27T22:00:00Z")
	cals, err := s.Calendars(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cals) != 1 || cals[0].Name != "hol" || cals[0].Days != 0 || cals[0].Schedules != 1 {
		t.Errorf("Calendars: %+v, want hol without days, used by one schedule", cals)
	}
}

// A calendar's name and notes are bounded, as every text werkcron keeps.
func TestCalendarRefusesBadRows(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	for _, c := range []struct {
		name, note string
	}{{" ", ""}, {strings.Repeat("x", 201), ""}, {"ok", strings.Repeat("n", 1025)}} {
		if _, err := s.AddCalendarDays(ctx, c.name, scheduler.CalendarDay{Day: day(t, "2027-01-01"), Note: c.note}); err == nil ||
			!strings.Contains(err.Error(), scheduler.ErrBadCalendar.Error()) {
			t.Errorf("calendar %q, note of %d bytes: %v, want %v", clipName(c.name), len(c.note), err, scheduler.ErrBadCalendar)
		}
	}
}

func clipName(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func utcTime(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func instants(ts []time.Time) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.UTC().Format(time.RFC3339))
	}
	return strings.Join(s, " ")
}
