package ticker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// jobsAt counts the jobs of the ticks at of the schedules named f..., and the distinct
// schedules among them.
func jobsAt(t *testing.T, conn *pgx.Conn, at time.Time) (jobs, ticks int) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT cron_name)
		FROM werk_jobs WHERE scheduled_at = $1 AND cron_name LIKE 'f%'`, at).Scan(&jobs, &ticks); err != nil {
		t.Fatal(err)
	}
	return jobs, ticks
}

// onRound counts the schedules named f... that are on the round of their next instant
// (plan_at NULL, round_at and next_run_at that instant, and named by a round due then),
// and those the plan's index finds (plan_at is next_run_at, round_at NULL).
func onRound(t *testing.T, conn *pgx.Conn) (rounded, loose int) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE s.plan_at IS NULL AND s.round_at = s.next_run_at
		                          AND EXISTS (SELECT 1 FROM werk_cron_rounds r
		                                      WHERE r.due_at = s.next_run_at AND s.name = ANY (r.names))),
		       count(*) FILTER (WHERE s.plan_at = s.next_run_at AND s.round_at IS NULL)
		FROM werk_cron_state s WHERE s.name LIKE 'f%'`).Scan(&rounded, &loose); err != nil {
		t.Fatal(err)
	}
	return rounded, loose
}

// awaitRounded waits until the n schedules named f... are on rounds: their first
// instant has ticked.
func awaitRounded(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	pgtest.Eventually(t, 20*time.Second, "the first instant ticked, every schedule on a round", func() bool {
		rounded, _ := onRound(t, conn)
		return rounded == n
	})
}

// A fan-out's schedules go on rounds: after each instant every one of them is on the
// round of its next instant, not in the plan's index, a spent round is deleted, and
// each instant still gives every schedule exactly one job, on time. A schedule ticking
// alone keeps its plan_at.
func TestFanoutTicksFromRounds(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const n = 2 * (roundMin + 36)
	at := dueTogether(t, setup, n, 2)
	if _, err := setup.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('solo', 'app.f', 1)`); err != nil {
		t.Fatal(err)
	}
	runTicker(t, dsn, Options{Parallel: 2}, 0)

	instants := []time.Time{at, at.Add(2 * time.Second), at.Add(4 * time.Second)}
	for _, in := range instants {
		pgtest.Eventually(t, 20*time.Second, "a job for every schedule at "+in.Format(time.TimeOnly), func() bool {
			jobs, _ := jobsAt(t, setup, in)
			return jobs >= n
		})
		if jobs, ticks := jobsAt(t, setup, in); jobs != n || ticks != n {
			t.Errorf("%s: %d jobs of %d schedules, want %d of %d", in.Format(time.TimeOnly), jobs, ticks, n, n)
		}
	}
	var late time.Duration
	if err := setup.QueryRow(ctx, `SELECT max(enqueued_at - scheduled_at) FROM werk_jobs WHERE scheduled_at = ANY ($1)`,
		instants[1:]).Scan(&late); err != nil {
		t.Fatal(err)
	}
	// A schedule the plan lost track of would be found only when read again past its end.
	if late > time.Second {
		t.Errorf("a job of a later instant was enqueued %s after it, want well within a second", late)
	}
	// The ticker goes on ticking meanwhile: the rounds spent are those due by the newest
	// instant that has jobs, and one round (a statement's) holds the instant after it.
	pgtest.Eventually(t, 5*time.Second, "every schedule on its next round, and the spent rounds gone", func() bool {
		rounded, _ := onRound(t, setup)
		var spent, next int
		err := setup.QueryRow(ctx, `WITH newest AS (SELECT max(scheduled_at) AS at FROM werk_jobs WHERE cron_name LIKE 'f%')
			SELECT count(*) FILTER (WHERE due_at <= newest.at), count(*) FILTER (WHERE due_at = newest.at + interval '2 s')
			FROM werk_cron_rounds, newest`).Scan(&spent, &next)
		return err == nil && rounded == n && spent == 0 && next == 1
	})
	var solo, soloRound *time.Time
	var soloNext time.Time
	if err := setup.QueryRow(ctx, `SELECT plan_at, round_at, next_run_at FROM werk_cron_state WHERE name = 'solo'`).Scan(&solo, &soloRound, &soloNext); err != nil {
		t.Fatal(err)
	}
	if solo == nil || !solo.Equal(soloNext) || soloRound != nil {
		t.Errorf("a schedule ticking alone: plan_at %v, round_at %v, next_run_at %s; want plan_at its next_run_at, no round", solo, soloRound, soloNext)
	}
}

// A schedule leaves its round when anything but a fan-out's tick moves it: an edit of
// its definition (planned afresh, found by the plan's index, and ticked with the rest),
// or an owner's UPDATE of its next_run_at in psql (werk_cron_state_plan puts it in the
// plan's index at once, or writing NULL there, takes it off its round).
func TestScheduleLeavesItsRound(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const n = roundMin + 36
	at := dueTogether(t, setup, n, 2)
	runTicker(t, dsn, Options{Parallel: 1}, 0)
	awaitRounded(t, setup, n)

	if _, err := setup.Exec(ctx, `UPDATE werk_cron_jobs SET func = 'app.g' WHERE name = 'f1'`); err != nil {
		t.Fatal(err)
	}
	moved := at.Add(4 * time.Second)
	if _, err := setup.Exec(ctx, `UPDATE werk_cron_state SET next_run_at = $1 WHERE name = 'f2'`, moved); err != nil {
		t.Fatal(err)
	}
	var planAt, roundAt *time.Time
	if err := setup.QueryRow(ctx, `SELECT plan_at, round_at FROM werk_cron_state WHERE name = 'f2'`).Scan(&planAt, &roundAt); err != nil {
		t.Fatal(err)
	}
	if planAt == nil || !planAt.Equal(moved) || roundAt != nil {
		t.Errorf("after an owner moved its next_run_at: plan_at %v, round_at %v; want plan_at %s, no round", planAt, roundAt, moved)
	}
	if _, err := setup.Exec(ctx, `UPDATE werk_cron_state SET next_run_at = NULL WHERE name = 'f3'`); err != nil {
		t.Fatal(err)
	}
	if err := setup.QueryRow(ctx, `SELECT plan_at, round_at FROM werk_cron_state WHERE name = 'f3'`).Scan(&planAt, &roundAt); err != nil {
		t.Fatal(err)
	}
	if planAt != nil || roundAt != nil {
		t.Errorf("after an owner cleared its next_run_at: plan_at %v, round_at %v; want neither", planAt, roundAt)
	}

	second := at.Add(2 * time.Second)
	pgtest.Eventually(t, 20*time.Second, "the second instant's jobs", func() bool {
		jobs, _ := jobsAt(t, setup, second)
		// f3 has no next run. f2's tick there is still its definition's: next_run_at is
		// when the ticker looks next, not a skip, so a primary that held f2's row before
		// the owner moved it ticks it (the tests' runs all did), one that reads it
		// afterwards at the new instant.
		return jobs >= n-2
	})
	var f1 int
	if err := setup.QueryRow(ctx, `SELECT count(*) FILTER (WHERE cron_name = 'f1' AND function = 'app.g')
		FROM werk_jobs WHERE scheduled_at = $1`, second).Scan(&f1); err != nil {
		t.Fatal(err)
	}
	if jobs, ticks := jobsAt(t, setup, second); ticks != jobs || f1 != 1 {
		t.Errorf("second instant: %d jobs of %d schedules, %d of the edited f1; want one each, f1's of its new definition", jobs, ticks, f1)
	}
}

// A new primary finds a fan-out's schedules on their rounds: the primary that put them
// there stops, another takes over, and every schedule gets its next job on time.
func TestTakeoverTicksFromRounds(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const n = roundMin + 36
	at := dueTogetherIn(t, setup, n, 3, 3)

	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	first, err := NewConfig(cfg, Options{Parallel: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	pgtest.Eventually(t, 20*time.Second, "the first instant ticked, every schedule on a round", func() bool {
		jobs, _ := jobsAt(t, setup, at)
		rounded, _ := onRound(t, setup)
		return jobs == n && rounded == n
	})
	stop()
	<-done

	runTicker(t, dsn, Options{Parallel: 1}, 0)
	second := at.Add(3 * time.Second)
	pgtest.Eventually(t, 20*time.Second, "the second instant's jobs from the new primary", func() bool {
		jobs, _ := jobsAt(t, setup, second)
		return jobs >= n
	})
	var late time.Duration
	if err := setup.QueryRow(ctx, `SELECT max(enqueued_at - scheduled_at) FROM werk_jobs WHERE scheduled_at = $1`, second).Scan(&late); err != nil {
		t.Fatal(err)
	}
	if jobs, ticks := jobsAt(t, setup, second); jobs != n || ticks != n || late > time.Second {
		t.Errorf("second instant: %d jobs of %d schedules, the last %s late; want %d of %d, within a second", jobs, ticks, late, n, n)
	}
}

// A round is kept while a schedule is still on it: one of a fan-out's state rows is
// locked by another session across the instant, the others tick and move on to the
// next round (after which the primary deletes the rounds no schedule is on), and the
// round of the held schedule stays, naming it, until it has ticked too.
func TestRoundKeptWhileAScheduleIsOnIt(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const n = roundMin + 36
	at := dueTogether(t, setup, n, 3)
	runTicker(t, dsn, Options{Parallel: 1}, 0)
	awaitRounded(t, setup, n)

	second := at.Add(3 * time.Second)
	holder := connect(t, dsn)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM werk_cron_state WHERE name = 'f1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 20*time.Second, "the second instant's jobs but the held schedule's", func() bool {
		jobs, _ := jobsAt(t, setup, second)
		rounded, _ := onRound(t, setup)
		return jobs == n-1 && rounded == n
	})
	var held int
	if err := setup.QueryRow(ctx, `SELECT count(*) FROM werk_cron_rounds WHERE due_at = $1 AND 'f1' = ANY (names)`, second).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 1 {
		t.Errorf("%d rounds of the second instant name the held schedule, want 1 (it is still on it)", held)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Its tick of the second instant is decided once it is free (as its catch-up policy
	// says: by default recorded missed), and it ticks on, back on a round.
	pgtest.Eventually(t, 20*time.Second, "the held schedule's tick of the second instant decided, and a later job", func() bool {
		var decided, later int
		err := setup.QueryRow(ctx, `SELECT (SELECT count(*) FROM werk_cron_ledger WHERE name = 'f1' AND tick_at = $1)
			+ (SELECT count(*) FROM werk_jobs WHERE cron_name = 'f1' AND scheduled_at = $1),
			(SELECT count(*) FROM werk_jobs WHERE cron_name = 'f1' AND scheduled_at > $1)`, second).Scan(&decided, &later)
		return err == nil && decided >= 1 && later >= 1
	})
}

// An idle primary wakes for a round: with a period longer than the primary reads ahead
// and a heartbeat longer still, only the round's instant (NextPlannedAfter) can wake it
// in time for its schedules' second tick.
func TestIdlePrimaryWakesForARound(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const n, period = roundMin + 36, 9
	at := dueTogether(t, setup, n, period)
	runTicker(t, dsn, Options{Parallel: 1, Heartbeat: time.Minute}, 0)
	second := at.Add(period * time.Second)
	pgtest.Eventually(t, 30*time.Second, "the second instant's jobs", func() bool {
		jobs, _ := jobsAt(t, setup, second)
		return jobs >= n
	})
	var late time.Duration
	if err := setup.QueryRow(ctx, `SELECT max(enqueued_at - scheduled_at) FROM werk_jobs WHERE scheduled_at = $1`, second).Scan(&late); err != nil {
		t.Fatal(err)
	}
	if rounded, _ := onRound(t, setup); rounded != n || late > time.Second {
		t.Errorf("%d of %d schedules on a round, the second instant's last job %s late; want all, within a second", rounded, n, late)
	}
}

// The schedules on rounds are read by their key, whatever the table's statistics say.
// Right after a fan-out has put its schedules on rounds, werk_cron_state's statistics
// are still those taken while each had its plan_at, and say that hardly any row has
// plan_at NULL. Left to join the rounds' names with the table as it saw fit, the
// planner then read the whole table once and compared every row it kept with every
// name of every round: 20,000 schedules on eight rounds took 30-50 s to read (the
// second instant of a fan-out after a takeover, in the fault suite). Here the state is
// written as the ticker leaves it, the statistics taken before; the read of the plan
// must find every schedule, and deleting the rounds once spent must delete them, each
// handling a few rows per schedule (by EXPLAIN ANALYZE), not a few per schedule and name.
func TestRoundsReadByKeyWhateverTheStatistics(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	registerCodecs(conn.TypeMap())
	const n, rounds = 4000, 8 // rounds: a power of two (the names are split by a hash's low bits)
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, sql := range []string{
		// Statistics stay the ones this test takes.
		`ALTER TABLE werk_cron_state SET (autovacuum_enabled = off)`,
		`ALTER TABLE werk_cron_jobs SET (autovacuum_enabled = off)`,
		`INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at)
			SELECT 'f' || i, 'app.f', 60, $1 FROM generate_series(1, ` + fmt.Sprint(n) + `) i`,
		// Each planned by the plan's index, as before the fan-out.
		`UPDATE werk_cron_state SET next_run_at = $1, plan_at = $1, planned_at = now()`,
		`ANALYZE werk_cron_state, werk_cron_jobs`,
		// Then on rounds, as the fan-out's statements leave them.
		`UPDATE werk_cron_state SET plan_at = NULL, round_at = $1`,
		`INSERT INTO werk_cron_rounds (due_at, names)
			SELECT $1, array_agg(name ORDER BY name) FROM werk_cron_state
			GROUP BY hashtext(name) & ` + fmt.Sprint(rounds-1),
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, at)
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	rows, err := db.New(conn).ListDueSchedules(ctx, db.ListDueSchedulesParams{Until: at, MaxRows: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Errorf("read %d schedules due, want %d", len(rows), n)
	}
	// Per schedule: a name of a round, its state row and its definition (each looked
	// up by key), the rows above them; a few times n. Compared name by name with the
	// table, it is n times the table.
	if work := explainWork(t, conn, "ListDueSchedules", fmt.Sprintf("'%s', '{}', %d", at.Format(time.RFC3339), n+1)); work > 20*n {
		t.Errorf("the read of %d schedules on %d rounds handled %d rows, more than %d", n, rounds, work, 20*n)
	}

	// The instant ticks: every schedule moves on to a round of the next; the rounds of
	// this one are spent, and deleting them looks at each name once.
	next := at.Add(time.Minute)
	for _, sql := range []string{
		`UPDATE werk_cron_state SET next_run_at = $1, round_at = $1`,
		`INSERT INTO werk_cron_rounds (due_at, names) SELECT $1, names FROM werk_cron_rounds`,
	} {
		if _, err := conn.Exec(ctx, sql, next); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dropped, err := db.New(tx).DropSpentRounds(ctx, at); err != nil || dropped != rounds {
		t.Errorf("deleted %d spent rounds (err %v), want %d", dropped, err, rounds)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if work := explainWork(t, conn, "DropSpentRounds", fmt.Sprintf("'%s'", at.Format(time.RFC3339))); work > 20*n {
		t.Errorf("deleting %d spent rounds of %d schedules handled %d rows, more than %d", rounds, n, work, 20*n)
	}
}

// explainWork runs the statement of the query named name (sqlc's name), which pgx has
// prepared on conn, again with args under EXPLAIN ANALYZE, in a transaction it rolls
// back, and returns the rows each node of its plan produced or filtered out, in all
// their loops.
func explainWork(t *testing.T, conn *pgx.Conn, name, args string) int {
	t.Helper()
	ctx := context.Background()
	var stmt string
	if err := conn.QueryRow(ctx, `SELECT name FROM pg_prepared_statements WHERE statement LIKE '-- name: ' || $1 || ' %'`,
		name).Scan(&stmt); err != nil {
		t.Fatalf("the prepared statement of %s: %v", name, err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var plan []struct{ Plan planNode }
	if err := tx.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE %s(%s)`,
		pgx.Identifier{stmt}.Sanitize(), args)).Scan(&plan); err != nil {
		t.Fatalf("explain %s: %v", name, err)
	}
	work := plan[0].Plan.work()
	t.Logf("%s handled %d rows", name, work)
	return work
}

// planNode is a node of a plan EXPLAIN (ANALYZE, FORMAT JSON) shows.
type planNode struct {
	Rows     float64    `json:"Actual Rows"` // per loop
	Loops    float64    `json:"Actual Loops"`
	Filtered float64    `json:"Rows Removed by Filter"`      // per loop
	Joined   float64    `json:"Rows Removed by Join Filter"` // per loop
	Plans    []planNode `json:"Plans"`
}

// work is how many rows the node and those under it produced or filtered out, in all
// their loops.
func (p planNode) work() int {
	w := int((p.Rows + p.Filtered + p.Joined) * p.Loops)
	for _, c := range p.Plans {
		w += c.work()
	}
	return w
}
