package ticker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/internal/schedule"
)

// usualSchedules are schedules whose one due tick is a tick at its usual pace, each
// meeting a different part of what a tick writes: a job group (buffer_all), a last run
// (remaining_runs), a start deadline (expires_at, a health check), jitter, and a
// previous newest job whose ledger row is still to be written, or written already.
const usualSchedules = `
INSERT INTO werk_cron_jobs (name, func, queue, args, kwargs, meta, interval_secs, overlap, remaining_runs,
                            start_deadline_secs, jitter_secs, priority, max_attempts, result_ttl)
VALUES ('plain', 'app.plain', 'default', '[1]', '{"a": 1}', '{"m": true}', 5, 'allow', NULL, NULL, 0, 0, 1, NULL),
       ('buffered', 'app.buffered', 'other', '[]', '{}', NULL, 5, 'buffer_all', NULL, NULL, 0, 3, 2, 60),
       ('last', 'app.last', 'default', '[]', '{}', NULL, 5, 'allow', 1, NULL, 0, 0, 1, NULL),
       ('watched', 'app.watched', 'default', '[]', '{}', NULL, 5, 'allow', 7, 30, 4, 0, 1, NULL),
       ('jittered', 'app.jittered', 'default', '[]', '{}', NULL, 5, 'allow', NULL, NULL, 3, 0, 1, NULL),
       ('prev-awaiting', 'app.prev', 'default', '[]', '{}', NULL, 5, 'allow', NULL, NULL, 0, 0, 1, NULL),
       ('prev-written', 'app.prev', 'default', '[]', '{}', NULL, 5, 'allow', NULL, NULL, 0, 0, 1, NULL)`

// usualSetup makes usualSchedules in a database of their own (usualSeed), and returns
// a connection and the decision of each: one tick at anchor.
func usualSetup(t *testing.T, anchor time.Time) (string, *pgx.Conn, []planned) {
	t.Helper()
	dsn := pgtest.MigratedDB(t)
	conn := connect(t, dsn)
	registerCodecs(conn.TypeMap())
	return dsn, conn, usualSeed(t, conn, anchor)
}

// usualSeed makes usualSchedules on conn, planned, the two prev- schedules with a
// previous newest job at anchor-5s (prev-written's ledger row written already), and
// returns the decision of each: one tick at anchor.
func usualSeed(t *testing.T, conn *pgx.Conn, anchor time.Time) []planned {
	t.Helper()
	ctx := context.Background()
	pgtest.Exec(t, conn, usualSchedules)
	pgtest.Exec(t, conn, `UPDATE werk_cron_state SET planned_at = now(), next_run_at = $1`, anchor)
	prev := anchor.Add(-5 * time.Second)
	pgtest.Exec(t, conn, `UPDATE werk_cron_state SET last_tick_at = $1, last_job_at = $1,
		last_job_id = ('00000000-0000-7000-8000-00000000000' || CASE name WHEN 'prev-awaiting' THEN '1' ELSE '2' END)::uuid
		WHERE name LIKE 'prev-%'`, prev)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, ticks, job_status)
		VALUES ('prev-written', $1, 'enqueued', '00000000-0000-7000-8000-000000000002', 1, 'complete')`, prev)
	rows, err := db.New(conn).GetSchedulesForTicker(ctx, []string{"plain", "buffered", "last", "watched", "jittered", "prev-awaiting", "prev-written"})
	if err != nil || len(rows) != 7 {
		t.Fatal(rows, err)
	}
	var batch []planned
	for _, r := range rows {
		e := newEntry(row(r))
		batch = append(batch, planned{e, schedule.Decision{Enqueue: []time.Time{anchor}, Next: anchor.Add(5 * time.Second)}})
		if !batch[len(batch)-1].usual() {
			t.Fatalf("%s: not a tick at its usual pace", r.Name)
		}
	}
	return batch
}

// written is what a tick statement left in the database, as text that does not depend on
// when it ran: the jobs, the state rows and the ledger.
func whatWasWritten(t *testing.T, conn *pgx.Conn) [3]string {
	t.Helper()
	return [3]string{
		pgtest.QueryOne[string](t, conn, `SELECT string_agg(format('%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s',
			id, key, function, queue, priority, group_key, payload, max_attempts, timeout_secs, scheduled_at,
			expires_at, meta, result_ttl, failure_ttl, cron_name), E'\n' ORDER BY key) FROM werk_jobs`),
		pgtest.QueryOne[string](t, conn, `SELECT string_agg(format('%s %s %s %s %s %s %s %s',
			name, last_tick_at, next_run_at, remaining_runs, last_job_id, last_job_at, last_error,
			health_check_at IS NOT NULL), E'\n' ORDER BY name) FROM werk_cron_state`),
		pgtest.QueryOne[string](t, conn, `SELECT string_agg(format('%s %s %s %s %s %s', name, tick_at, outcome, job_id,
			ticks, job_status), E'\n' ORDER BY name, tick_at) FROM werk_cron_ledger`),
	}
}

// EnqueueUsualTicks writes what EnqueueDueTicks writes for the same ticks at their usual
// pace, job for job, state row for state row and ledger row for ledger row, and says the
// same: each schedule won, with its remaining runs.
func TestUsualTicksWriteWhatDueTicksWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	anchor := time.Now().Truncate(time.Second).Add(-2 * time.Second)
	_, usualConn, usualBatch := usualSetup(t, anchor)
	_, dueConn, dueBatch := usualSetup(t, anchor)

	usual := tickParams(usualBatch, 0)
	due := tickParams(dueBatch, 0)
	due.JobIds = usual.JobIds // the same jobs, to compare them
	usualRows, err := db.New(usualConn).EnqueueUsualTicks(ctx, usualParams(usual, false))
	if err != nil {
		t.Fatal(err)
	}
	dueRows, err := db.New(dueConn).EnqueueDueTicks(ctx, due)
	if err != nil {
		t.Fatal(err)
	}
	said := func(rows []db.EnqueueDueTicksRow) map[string]int32 {
		m := map[string]int32{}
		for _, r := range rows {
			switch r.Outcome {
			case "won":
				m[r.Name] = r.RemainingRuns
			default:
				m[r.Outcome+" "+r.Name]++
			}
		}
		return m
	}
	// Every schedule advanced: the statement names only those with more to say than
	// that ('last' has a run limit, 'watched' a health check), and says 'all_won' once
	// for the rest.
	raw := map[string]bool{}
	for _, r := range usualRows {
		raw[r.Outcome+" "+r.Name] = true
	}
	if !raw["all_won "] || raw["won plain"] || !raw["won last"] || !raw["won watched"] || len(usualRows) != 5 {
		t.Errorf("EnqueueUsualTicks returned %+v; want 'won' for last and watched alone, 'all_won', and the two queues", usualRows)
	}
	outcomes := usualOutcomes(usualRows, usual.TickNames)
	if len(outcomes) != len(dueRows) {
		t.Errorf("EnqueueUsualTicks said %d things, spelled out: %+v; EnqueueDueTicks %d", len(outcomes), outcomes, len(dueRows))
	}
	gotSaid, wantSaid := said(outcomes), said(dueRows)
	if len(wantSaid) != 9 || wantSaid["queue default"] != 1 || wantSaid["queue other"] != 1 || wantSaid["last"] != 0 || wantSaid["watched"] != 6 {
		t.Fatalf("EnqueueDueTicks said %v; want the seven schedules won and their two queues", wantSaid)
	}
	for k, v := range wantSaid {
		if gotSaid[k] != v {
			t.Errorf("EnqueueUsualTicks said %s: %d; EnqueueDueTicks %d (all: %v)", k, gotSaid[k], v, gotSaid)
		}
	}
	if len(gotSaid) != len(wantSaid) {
		t.Errorf("EnqueueUsualTicks said %v; EnqueueDueTicks %v", gotSaid, wantSaid)
	}
	got, want := whatWasWritten(t, usualConn), whatWasWritten(t, dueConn)
	for i, what := range []string{"jobs", "state rows", "ledger rows"} {
		if got[i] != want[i] {
			t.Errorf("%s of EnqueueUsualTicks:\n%s\nof EnqueueDueTicks:\n%s", what, got[i], want[i])
		}
	}
	// The comparison compares something: each wrote seven jobs, the awaiting previous
	// job's ledger row, and left the ended schedule without a plan.
	if n := pgtest.QueryOne[int64](t, usualConn, `SELECT count(*) FROM werk_jobs`); n != 7 {
		t.Errorf("%d jobs, want 7", n)
	}
	if n := pgtest.QueryOne[int64](t, usualConn, `SELECT count(*) FROM werk_cron_ledger WHERE name = 'prev-awaiting' AND job_status IS NULL`); n != 1 {
		t.Errorf("prev-awaiting: %d ledger rows awaiting an outcome, want its previous job's", n)
	}
	if next := pgtest.QueryOne[*time.Time](t, usualConn, `SELECT next_run_at FROM werk_cron_state WHERE name = 'last'`); next != nil {
		t.Errorf("last: next_run_at %v after its last run, want none", next)
	}
}

// A schedule EnqueueUsualTicks cannot take as usual is left as it was (no job, no ledger
// row, its state unchanged) and not reported won, while the others of the same
// statement go through; the ticker's write path (execute) then gives it to
// EnqueueDueTicks, which records what happened to its tick.
func TestUsualTicksLeaveTheUnusualToDueTicks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		setup   string // run against 'plain' after its decision was made
		outcome string // what EnqueueDueTicks records of its tick; "" for none (lost)
	}{
		{"decided before", `INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, ticks)
			VALUES ('plain', $1, 'enqueued', gen_random_uuid(), 1)`, "duplicate"},
		{"key held", `INSERT INTO werk_jobs (key, function, scheduled_at) VALUES ('cron:plain:' || to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'app.other', $1)`, "foreign"},
		{"paused", `UPDATE werk_cron_jobs SET paused = true WHERE name = 'plain' AND $1::timestamptz IS NOT NULL`, ""},
		{"overlap changed", `UPDATE werk_cron_jobs SET overlap = 'skip' WHERE name = 'plain' AND $1::timestamptz IS NOT NULL`, ""},
		{"state moved on", `UPDATE werk_cron_state SET last_tick_at = $1 WHERE name = 'plain'`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			anchor := time.Now().Truncate(time.Second).Add(-2 * time.Second)
			_, conn, batch := usualSetup(t, anchor)
			pgtest.Exec(t, conn, c.setup, anchor)
			before := pgtest.QueryOne[string](t, conn, `SELECT format('%s', s) FROM werk_cron_state s WHERE name = 'plain'`)

			all := tickParams(batch, 0)
			if c.name == "key held" {
				// Not looking for held keys first, the statement fails on it, undone.
				_, err := db.New(conn).EnqueueUsualTicks(ctx, usualParams(all, false))
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != uniqueViolation {
					t.Fatalf("EnqueueUsualTicks without looking for held keys: %v; want a unique violation", err)
				}
				if n := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_jobs WHERE cron_name IS NOT NULL`); n != 0 {
					t.Fatalf("%d jobs went in; want none", n)
				}
			}
			rows, err := db.New(conn).EnqueueUsualTicks(ctx, usualParams(all, true))
			if err != nil {
				t.Fatal(err)
			}
			won := map[string]bool{}
			for _, r := range usualOutcomes(rows, all.TickNames) {
				if r.Outcome == "won" {
					won[r.Name] = true
				} else if r.Outcome != "queue" {
					t.Errorf("row %+v; want only 'won' and 'queue'", r)
				}
			}
			if won["plain"] || len(won) != 6 {
				t.Errorf("won %v; want the six others, not plain", won)
			}
			if after := pgtest.QueryOne[string](t, conn, `SELECT format('%s', s) FROM werk_cron_state s WHERE name = 'plain'`); after != before {
				t.Errorf("plain's state %s, was %s; want it untouched", after, before)
			}
			if n := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'plain'`); n != 0 {
				t.Errorf("plain got %d jobs, want none", n)
			}
			if n := pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_cron_ledger WHERE name = 'plain' AND outcome <> 'enqueued'`); n != 0 {
				t.Errorf("plain got %d ledger rows, want none", n)
			}

			// The write path: EnqueueDueTicks takes plain (the others advanced already,
			// so their decisions, made again here, lose the compare-and-set).
			p := &primary{Ticker: &Ticker{log: slog.New(slog.NewTextHandler(io.Discard, nil))}, conn: conn, q: db.New(conn)}
			var out []written
			if err := p.execute(ctx, conn, 0, layout(batch[:1]), &out); err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 {
				t.Fatalf("%d statements' results, want EnqueueDueTicks' alone", len(out))
			}
			var recorded string
			for _, r := range out[0].rows {
				if r.Name == "plain" && r.Outcome != "won" {
					recorded = r.Outcome
				}
			}
			if recorded != c.outcome {
				t.Errorf("EnqueueDueTicks recorded plain's tick %q; want %q (rows %+v)", recorded, c.outcome, out[0].rows)
			}
			// Only a held key makes the next statements look for held keys first.
			if checking := p.checkKeysUntil.Load() > time.Now().UnixNano(); checking != (c.name == "key held") {
				t.Errorf("looking for held keys first: %v", checking)
			}
		})
	}
}

// A key another transaction takes while EnqueueUsualTicks runs (committed after its
// snapshot) fails the statement, which inserts its jobs without ON CONFLICT: nothing
// advances and no job goes in. The ticker's write path (execute) then gives every tick
// to EnqueueDueTicks, which records that tick 'foreign', naming the other job, and
// enqueues the others once. A key held before the statement is EnqueueDueTicks' too
// (TestUsualTicksLeaveTheUnusualToDueTicks).
func TestUsualTicksKeyTakenMidStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	anchor := time.Now().Truncate(time.Second).Add(-2 * time.Second)
	dsn, conn, batch := usualSetup(t, anchor)
	check := connect(t, dsn)
	statesBefore := pgtest.QueryOne[string](t, check, `SELECT string_agg(format('%s', s), E'\n' ORDER BY name) FROM werk_cron_state s`)

	// takeKey holds plain's key in another transaction until the statement run by run
	// waits on it, then commits it; it returns the other job's id and what run returned.
	takeKey := func(run func() error) (uuid.UUID, error) {
		t.Helper()
		other := connect(t, dsn)
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id := pgtest.QueryOne[uuid.UUID](t, tx, `INSERT INTO werk_jobs (key, function, cron_name, scheduled_at)
			VALUES ($1, 'app.other', 'plain', $2) RETURNING id`, jobKey("plain", anchor), anchor)
		done := make(chan error, 1)
		go func() { done <- run() }()
		pgtest.Eventually(t, 10*time.Second, "the statement waiting on the held key", func() bool {
			return pgtest.QueryOne[bool](t, tx, `SELECT EXISTS (SELECT 1 FROM pg_locks
				WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = pg_current_xact_id()::text)`)
		})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return id, <-done
	}

	pgtest.Exec(t, conn, `SET lock_timeout = '20s'`)
	other, err := takeKey(func() error {
		_, err := db.New(conn).EnqueueUsualTicks(ctx, usualParams(tickParams(batch, 0), true))
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != uniqueViolation {
		t.Fatalf("EnqueueUsualTicks: %v; want a unique violation", err)
	}
	if after := pgtest.QueryOne[string](t, check, `SELECT string_agg(format('%s', s), E'\n' ORDER BY name) FROM werk_cron_state s`); after != statesBefore {
		t.Errorf("state rows after the failed statement:\n%s\nwant them as they were:\n%s", after, statesBefore)
	}
	if n := pgtest.QueryOne[int64](t, check, `SELECT count(*) FROM werk_jobs WHERE id <> $1`, other); n != 0 {
		t.Errorf("%d jobs went in; want none", n)
	}

	// The same race on the write path: the ticks go to EnqueueDueTicks.
	pgtest.Exec(t, check, `DELETE FROM werk_jobs`)
	p := &primary{Ticker: &Ticker{log: slog.New(slog.NewTextHandler(io.Discard, nil))}, conn: conn, q: db.New(conn)}
	var out []written
	other, err = takeKey(func() error { return p.execute(ctx, conn, 0, layout(batch), &out) })
	if err != nil {
		t.Fatal(err)
	}
	won, foreign := 0, 0
	for _, w := range out {
		for _, r := range w.rows {
			switch {
			case r.Outcome == "won":
				won++
			case r.Outcome == "foreign" && r.Name == "plain" && r.JobID != nil && *r.JobID == other:
				foreign++
			case r.Outcome != "queue":
				t.Errorf("row %+v", r)
			}
		}
	}
	if won != 7 || foreign != 1 {
		t.Fatalf("results %+v; want seven won, and plain's tick foreign, naming the other job", out)
	}
	if got := pgtest.QueryOne[string](t, check, `SELECT format('%s %s', outcome, job_id = $2) FROM werk_cron_ledger
		WHERE name = 'plain' AND tick_at = $1`, anchor, other); got != "foreign t" {
		t.Errorf("plain's ledger row: %s; want foreign, naming the other job", got)
	}
	if got, want := pgtest.QueryOne[string](t, check, `SELECT string_agg(format('%s:%s', cron_name, n), ' ' ORDER BY cron_name)
		FROM (SELECT cron_name, count(*) AS n FROM werk_jobs WHERE key LIKE 'cron:%' GROUP BY cron_name) j`),
		"buffered:1 jittered:1 last:1 plain:1 prev-awaiting:1 prev-written:1 watched:1"; got != want {
		t.Errorf("jobs per schedule %s; want %s (plain's the other job)", got, want)
	}
}

// EnqueueUsualTicks run on another connection of the primary's process (leader_pid set)
// goes through only while the session whose backend is leader_pid holds the leader lock:
// with nobody holding it, or another session, it advances nothing and writes no job.
func TestUsualTicksFencedByTheLeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	anchor := time.Now().Truncate(time.Second).Add(-2 * time.Second)
	dsn, conn, batch := usualSetup(t, anchor)
	leader := connect(t, dsn)
	pid := pgtest.QueryOne[int32](t, leader, `SELECT pg_backend_pid()`)
	run := func(leaderPid int32) (won int) {
		t.Helper()
		all := tickParams(batch, leaderPid)
		rows, err := db.New(conn).EnqueueUsualTicks(ctx, usualParams(all, false))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range usualOutcomes(rows, all.TickNames) {
			if r.Outcome == "won" {
				won++
			}
		}
		return won
	}
	jobs := func() int64 { return pgtest.QueryOne[int64](t, conn, `SELECT count(*) FROM werk_jobs`) }

	if won := run(pid); won != 0 || jobs() != 0 {
		t.Fatalf("nobody holding the leader lock: %d won, %d jobs; want none", won, jobs())
	}
	other := connect(t, dsn)
	pgtest.Exec(t, other, `SELECT pg_advisory_lock(werk_cron_lock_key())`)
	if won := run(pid); won != 0 || jobs() != 0 {
		t.Fatalf("another session holding the leader lock: %d won, %d jobs; want none", won, jobs())
	}
	pgtest.Exec(t, other, `SELECT pg_advisory_unlock(werk_cron_lock_key())`)
	pgtest.Exec(t, leader, `SELECT pg_advisory_lock(werk_cron_lock_key())`)
	if won := run(pid); won != 7 || jobs() != 7 {
		t.Fatalf("leader_pid's session holding the leader lock: %d won, %d jobs; want all 7", won, jobs())
	}
}

// A statement of ticks at their usual pace sent before their instant (as tickAt sends
// it) waits for the instant in the database and writes nothing before it: it holds no
// schedule's row meanwhile, a schedule paused while it waits gets no job, the others'
// jobs are enqueued at or after the instant ('queued' unless their jitter puts them
// later), and what it returns goes by the clock it read after the wait. A @wait_until
// more than a second away is waited for a second at most, and then, like a statement
// that does not wait at all, it advances nothing: no tick before its instant, whoever
// sends it.
func TestUsualTicksSentEarlyWaitForTheirInstant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.MigratedDB(t)
	early, other, tooEarly := connect(t, dsn), connect(t, dsn), connect(t, pgtest.MigratedDB(t))
	registerCodecs(early.TypeMap())
	registerCodecs(tooEarly.TypeMap())
	var anchor, dbNow time.Time
	asked := time.Now()
	if err := early.QueryRow(ctx, `SELECT date_trunc('second', clock_timestamp()) + interval '4 seconds', clock_timestamp()`).Scan(&anchor, &dbNow); err != nil {
		t.Fatal(err)
	}
	// The instant on this host's clock: the database read its clock between the ask and
	// the answer, so the instant lies between these two (a loaded machine takes
	// milliseconds to answer). Each check below takes the one that makes its failure sure.
	hostLatest := time.Now().Add(anchor.Sub(dbNow))
	hostEarliest := asked.Add(anchor.Sub(dbNow))
	earlyBatch, tooEarlyBatch := usualSeed(t, early, anchor), usualSeed(t, tooEarly, anchor)
	run := func(conn *pgx.Conn, batch []planned, waitUntil time.Time) ([]db.EnqueueDueTicksRow, error) {
		params := usualParams(tickParams(batch, 0), false)
		params.WaitUntil = waitUntil
		rows, err := db.New(conn).EnqueueUsualTicks(ctx, params)
		return usualOutcomes(rows, params.TickNames), err
	}

	// Two seconds before the instant: not waited for without @wait_until; a second at
	// most with it. Neither advances anything.
	time.Sleep(time.Until(hostEarliest.Add(-2 * time.Second)))
	for _, waitUntil := range []time.Time{{}, anchor} {
		rows, err := run(tooEarly, tooEarlyBatch, waitUntil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 0 {
			t.Errorf("sent 2 s early with @wait_until %v: returned %v; want nothing", waitUntil, rows)
		}
	}
	if n := pgtest.QueryOne[int64](t, tooEarly, `SELECT count(*) FROM werk_jobs`); n != 0 {
		t.Errorf("sent 2 s early: %d jobs; want none", n)
	}
	if left := time.Until(hostLatest); left < 200*time.Millisecond {
		t.Fatalf("the early statements ended %v before the instant; the one that waits was to give up after a second", left)
	}

	// 300 ms before the instant, with @wait_until; 'plain' is paused while it waits.
	time.Sleep(time.Until(hostEarliest.Add(-300 * time.Millisecond)))
	type result struct {
		rows     []db.EnqueueDueTicksRow
		err      error
		returned time.Time
	}
	done := make(chan result, 1)
	go func() {
		rows, err := run(early, earlyBatch, anchor)
		done <- result{rows, err, time.Now()}
	}()
	time.Sleep(time.Until(hostEarliest.Add(-150 * time.Millisecond)))
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// No schedule's row is held before the instant.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM werk_cron_state WHERE name = 'last' FOR UPDATE NOWAIT`); err != nil {
		t.Errorf("a state row before the instant: %v; want it free", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE werk_cron_jobs SET paused = true WHERE name = 'plain'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(hostEarliest); left <= 0 {
		t.Fatalf("the pause committed %v after the instant; the test needs it before", -left)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.returned.Before(hostEarliest) {
		t.Errorf("the statement returned %v before the instant", hostEarliest.Sub(res.returned))
	}
	won := map[string]bool{}
	for _, r := range res.rows {
		if r.StartedAt.Before(anchor) {
			t.Errorf("%s %s: started_at %v, before the instant %v", r.Outcome, r.Name, r.StartedAt, anchor)
		}
		if r.Outcome == "won" {
			won[r.Name] = true
		}
	}
	if won["plain"] || len(won) != len(earlyBatch)-1 {
		t.Errorf("won: %v; want every schedule but 'plain', paused before the instant", won)
	}
	var jobs, plain, before, wrongStatus int64
	if err := early.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE cron_name = 'plain'),
		count(*) FILTER (WHERE enqueued_at < $1),
		count(*) FILTER (WHERE status <> CASE WHEN scheduled_at > enqueued_at THEN 'scheduled' ELSE 'queued' END)
		FROM werk_jobs`, anchor).Scan(&jobs, &plain, &before, &wrongStatus); err != nil {
		t.Fatal(err)
	}
	if jobs != int64(len(earlyBatch)-1) || plain != 0 || before != 0 || wrongStatus != 0 {
		t.Errorf("%d jobs (%d of 'plain'), %d enqueued before the instant, %d with a status their enqueued_at does not give; want %d, 0, 0, 0",
			jobs, plain, before, wrongStatus, len(earlyBatch)-1)
	}
}

// layout lays batch out as one part, as a round of one part would be.
func layout(batch []planned) part { return layoutAll([][]planned{batch})[0] }

// A tick statement reads rows in proportion to its ticks, not to the tables it looks in:
// each tick's definition in werk_cron_jobs, and its ledger rows (decided before? the
// previous job's row written?), by probes of their primary keys. The statement here is
// the last 2,000 of 20,000 schedules, each with a ledger row, as a fan-out's last
// statement meets them: planned as joins, definitions and ledger were read from their
// first name on, or the ledger hashed whole. The rows read are counted by the
// transaction's own statistics (pg_stat_get_xact_tuples_returned, tables and indexes).
func TestUsualTicksReadTheirOwnRowsOnly(t *testing.T) {
	t.Parallel()
	const schedules, ticks = 20000, 2000
	ctx := context.Background()
	conn := connect(t, pgtest.MigratedDB(t))
	registerCodecs(conn.TypeMap())
	anchor := time.Now().Truncate(time.Second).Add(-2 * time.Second)
	prev := anchor.Add(-time.Minute)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_jobs (name, func, interval_secs)
		SELECT format('n-%s', lpad(i::text, 6, '0')), 'app.task', 60 FROM generate_series(1, $1::int) i`, schedules)
	pgtest.Exec(t, conn, `UPDATE werk_cron_state SET planned_at = now(), next_run_at = $1,
		last_tick_at = $2, last_job_at = $2, last_job_id = gen_random_uuid()`, anchor, prev)
	pgtest.Exec(t, conn, `INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, ticks, job_status)
		SELECT name, last_job_at, 'enqueued', last_job_id, 1, 'complete' FROM werk_cron_state`)
	pgtest.Exec(t, conn, `ANALYZE werk_cron_jobs, werk_cron_state, werk_cron_ledger`)

	names := pgtest.QueryOne[[]string](t, conn, `SELECT array_agg(name ORDER BY name DESC)
		FROM (SELECT name FROM werk_cron_jobs ORDER BY name DESC LIMIT $1) n`, ticks)
	rows, err := db.New(conn).GetSchedulesForTicker(ctx, names)
	if err != nil || len(rows) != ticks {
		t.Fatal(len(rows), err)
	}
	batch := make([]planned, len(rows))
	for i, r := range rows {
		batch[i] = planned{newEntry(row(r)), schedule.Decision{Enqueue: []time.Time{anchor}, Next: anchor.Add(time.Minute)}}
	}
	batch = parts(batch, 1)[0] // in name order, as the ticker lays a part out

	// The rows of a table and its indexes that scans returned, as this backend counts
	// them (counts not yet reported include earlier statements: compare two).
	read := func(table string) int64 {
		return pgtest.QueryOne[int64](t, conn, `SELECT sum(pg_stat_get_xact_tuples_returned(c.oid))::bigint
			FROM pg_class c WHERE c.oid = $1::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass)`, table)
	}
	tables := []string{"werk_cron_jobs", "werk_cron_ledger"}
	tx, err := conn.Begin(ctx) // no report of the counts inside a transaction
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	before := map[string]int64{}
	for _, table := range tables {
		before[table] = read(table)
	}
	params := tickParams(batch, 0)
	got, err := db.New(customPlan{conn}).EnqueueUsualTicks(ctx, usualParams(params, false))
	if err != nil {
		t.Fatal(err)
	}
	if outcomes := usualOutcomes(got, params.TickNames); len(outcomes) != ticks+1 { // and one queue
		t.Fatalf("%d outcomes, want every one of the %d ticks won", len(outcomes), ticks)
	}
	// One row per tick from werk_cron_jobs (its definition); from the ledger, none for
	// a tick not decided before, and one for the previous job's row, written.
	for _, table := range tables {
		switch n := read(table) - before[table]; {
		case n > ticks:
			t.Errorf("%s: the statement of %d ticks read %d rows of it (%d in the table), want at most %d",
				table, ticks, n, schedules, ticks)
		case table == "werk_cron_jobs" && n < ticks:
			t.Errorf("%s: %d rows read counted for %d ticks: are the counts taken (track_counts)?", table, n, ticks)
		}
	}
}
