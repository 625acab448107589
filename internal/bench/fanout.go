package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The floors: benchmark-only SQL, never run by the product. They write exactly the
// rows a tick at its usual pace writes (same keys, columns and queue), into the same
// tables of a twin database (the same schedules, no ticker), its job table emptied, its
// tables vacuumed and a checkpoint taken first, just like before a measured tick. A twin,
// since floor (b) advances the schedules' state rows, which in the ticker's database
// would break the ticker's next compare-and-set.

// floorJobID is the job id the floors give the tick's job of the schedule named by
// the SQL expression name ('bench-' and a number): ordered by tick ($3), then by name,
// as the ids the ticker makes are ordered by time, so that the floors append to
// werk_jobs' primary key as a tick does (random ids would split its pages all over).
func floorJobID(name string) string {
	return `(pg_catalog.lpad(pg_catalog.to_hex(extract(epoch FROM $3::timestamptz)::bigint), 8, '0') || '-0000-7000-8000-' ||
       pg_catalog.lpad(pg_catalog.to_hex(substr(` + name + `, 7)::bigint), 12, '0'))::uuid`
}

// floorInsert is floor (a): the N job rows from one bare INSERT ... SELECT.
var floorInsert = `
INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                       scheduled_at, cron_name)
SELECT ` + floorJobID("n.name") + `, 'cron:' || n.name || ':' || $2::text, 'bench.task', 'bench', 'queued', 0,
       jsonb_build_object('args', '[]'::jsonb, 'kwargs', '{}'::jsonb), 1, $3::timestamptz, n.name
FROM (SELECT 'bench-' || lpad(i::text, 8, '0') AS name FROM generate_series(1, $1::int) i) n`

// floorThreeWrites is floor (b): the writes of a tick at its usual pace in one bare
// statement (advance the schedule's werk_cron_state row, insert the jobs; such a tick
// writes no ledger row until its outcome), with the schedule names passed as an array
// as the ticker passes them, but no compare-and-set, no duplicate or overlap check, no
// ON CONFLICT and no NOTIFY. The state row is written as for a schedule the plan's index
// finds (plan_at moves with next_run_at: a new row version with index entries), as every
// tick wrote it before rounds (change 47). Each floor moves next_run_at to an instant of
// its own (after the tick, a millisecond apart), as every tick moves it: an update that
// leaves an indexed column as it was may be HOT (no index entry).
var floorThreeWrites = floorWrites("next_run_at = $4::timestamptz, plan_at = $4::timestamptz", "")

// floorRounds is floor (e)'s statement: floor (b)'s writes for schedules on a round
// (plan_at stays NULL, round_at moves with next_run_at: rewritten in place, HOT), and
// the werk_cron_rounds row that lists them under their next instant, as a fan-out's
// tick writes them since change 47.
var floorRounds = floorWrites("next_run_at = $4::timestamptz, round_at = $4::timestamptz",
	"r AS (INSERT INTO werk_cron_rounds (due_at, names) SELECT $4::timestamptz, pg_catalog.array_agg(s.name) FROM s),\n")

// floorWrites is floor (b)'s statement setting next (the plan's columns) in each state
// row, with the CTEs more before the job insert.
func floorWrites(next, more string) string {
	return `
WITH s AS (
    UPDATE werk_cron_state st
    SET last_tick_at = $3::timestamptz, last_job_id = ` + floorJobID("st.name") + `, last_job_at = $3::timestamptz,
        ` + next + `
    FROM unnest($1::text[]) AS u(name)
    WHERE st.name = u.name
    RETURNING st.name, st.last_job_id
),
` + more + `x AS (SELECT 1)
INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                       timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
SELECT s.last_job_id, 'cron:' || s.name || ':' || $2::text, j.func, j.queue, 'queued',
       j.priority, jsonb_build_object('args', j.args, 'kwargs', j.kwargs), j.max_attempts,
       j.timeout_secs, $3::timestamptz, j.meta, j.result_ttl, j.failure_ttl, s.name
FROM s JOIN werk_cron_jobs j ON j.name = s.name`
}

// roundState makes floor (e)'s twin: every schedule on a round (plan_at NULL) already,
// its row as wide as the ticks leave it, then packed with half of each page free
// (werk_cron_state's fillfactor), so that floorRounds, which rewrites every row of a page
// in one tick, finds room beside each row for its new version.
var roundState = []string{
	"UPDATE werk_cron_state SET next_run_at = now(), plan_at = NULL, round_at = now(), last_tick_at = now(), " +
		"last_job_id = gen_random_uuid(), last_job_at = now()",
	"VACUUM FULL werk_cron_state",
}

// floorThreeWritesOnConflict is floor (b) with the job insert of the general tick
// statement (EnqueueDueTicks): INSERT ... ON CONFLICT (key) DO NOTHING. Against floor
// (b) it prices the speculative insertion alone (reported as "ON CONFLICT cost"), which
// ticks at their usual pace (EnqueueUsualTicks) no longer pay.
var floorThreeWritesOnConflict = strings.Replace(floorThreeWrites,
	"FROM s JOIN werk_cron_jobs j ON j.name = s.name", "FROM s JOIN werk_cron_jobs j ON j.name = s.name\nON CONFLICT (key) DO NOTHING", 1)

// insertSchedules creates n interval schedules named bench-000001... that share one
// anchor (starts_at), so all of them are due on the same ticks.
const insertSchedules = `
INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at)
SELECT 'bench-' || lpad(i::text, 8, '0'), 'bench.task', 'bench', $2::int, $3::timestamptz
FROM generate_series(1, $1::int) i`

type fanoutResult struct {
	n          int
	parallel   int
	period     time.Duration
	fanout     []time.Duration // tick instant -> last job row committed
	visible    []time.Duration // tick instant -> all job rows seen (see side.measureTick)
	first      []time.Duration // tick instant -> first job row committed
	statements []int
	cpu        []time.Duration // ticker process CPU for the tick
	wal        []int64         // WAL of the tick, bytes (the cluster's: the other databases are idle meanwhile)
	ledger     []int64         // ledger rows the tick wrote
	floorA     []time.Duration
	floorB     []time.Duration
	floorC     []time.Duration // floor (b) with ON CONFLICT (key) DO NOTHING
	floorD     []time.Duration // floor (b) split over parallel connections at once
	floorE     []time.Duration // floor (d) for schedules on a round (state rows updated HOT)
	walD       []int64         // WAL of floor (d), bytes
	walE       []int64         // WAL of floor (e), bytes
	warnings   []string
	timedOut   bool
}

// periodFor leaves room between two ticks for the tick, its aftercare (side.go: the jobs
// completed, their outcomes recorded by the primary, the ledger pruned, a vacuum), the
// five floors and the checkpoints before each (about 400 µs per schedule for the tick
// and the floors, as much again for the aftercare, on the 2-core reference machine).
func periodFor(n int) time.Duration {
	d := 5*time.Second + time.Duration(n)*800*time.Microsecond
	return d.Round(time.Second)
}

func (b *bench) fanout(ctx context.Context, n int) (fanoutResult, error) {
	r := fanoutResult{n: n, parallel: b.cfg.fanoutParallel, period: b.cfg.period}
	if r.period <= 0 {
		r.period = periodFor(n)
	}
	reps := b.cfg.reps
	if n >= 1_000_000 {
		reps = b.cfg.largeReps
	}
	fmt.Fprintf(os.Stderr, "bench: fan-out of %d schedules every %s, --parallel %d, %d ticks measured after %d warm-up\n", n, r.period, r.parallel, reps, max(b.cfg.warmup, 1))
	pruneSQL, pruneArgs, err := pruneTicksQuery()
	if err != nil {
		return r, err
	}
	name, twinName := fmt.Sprintf("fanout_%d", n), fmt.Sprintf("floors_%d", n)
	dsn, err := b.newDB(ctx, name)
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, name)
	twinDSN, err := b.newDB(ctx, twinName)
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, twinName)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.Background())
	twin, err := pgx.Connect(ctx, twinDSN)
	if err != nil {
		return r, err
	}
	defer twin.Close(context.Background())
	twins := []*pgx.Conn{twin} // floor (d)'s connections, one per connection of the fan-out
	for len(twins) < r.parallel {
		c, err := pgx.Connect(ctx, twinDSN)
		if err != nil {
			return r, err
		}
		defer c.Close(context.Background())
		twins = append(twins, c)
	}
	// Floor (e)'s twin: the same schedules, on a round (roundState).
	roundsName := fmt.Sprintf("rounds_%d", n)
	roundsDSN, err := b.newDB(ctx, roundsName)
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, roundsName)
	var roundTwins []*pgx.Conn
	for len(roundTwins) < max(r.parallel, 1) {
		c, err := pgx.Connect(ctx, roundsDSN)
		if err != nil {
			return r, err
		}
		defer c.Close(context.Background())
		roundTwins = append(roundTwins, c)
	}

	now, err := dbNow(ctx, conn)
	if err != nil {
		return r, err
	}
	anchor := now.Truncate(time.Second).Add(prepTime(n)).Truncate(time.Second)
	for _, c := range []*pgx.Conn{conn, twin, roundTwins[0]} {
		if _, err := c.Exec(ctx, insertSchedules, n, int(r.period/time.Second), anchor); err != nil {
			return r, err
		}
		if c == roundTwins[0] {
			for _, q := range roundState {
				if _, err := c.Exec(ctx, q); err != nil {
					return r, err
				}
			}
		}
		if _, err := c.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return r, err
		}
	}
	var names []string
	rows, _ := conn.Query(ctx, "SELECT name FROM werk_cron_jobs ORDER BY name")
	if names, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return r, err
	}
	s := &side{name: "werkcron", kind: kindWerkcron, parallel: r.parallel, bin: b.bin, cluster: b.cluster, db: name, dsn: dsn,
		conn: conn, n: n, due0: anchor, period: r.period, pruneSQL: pruneSQL, pruneArgs: pruneArgs}
	if s.vacuumList, err = werkcronTables(ctx, conn); err != nil {
		return r, err
	}
	twinTables, err := werkcronTables(ctx, twin)
	if err != nil {
		return r, err
	}
	if err := b.startWerkcron(ctx, s, name); err != nil {
		return r, err
	}
	defer s.proc.stop()
	if err := warmUp(ctx, []*side{s}); err != nil {
		return r, err
	}
	warmLeft := max(b.cfg.warmup, 1) - 1

	for k := 0; len(r.fanout) < reps; k++ {
		tick := anchor.Add(time.Duration(k) * r.period)
		if !tick.After(s.warmAt) {
			continue
		}
		if k > 2*reps+b.cfg.warmup+4 {
			r.warnings = append(r.warnings, "stopped: too many ticks could not be measured (raise -period)")
			break
		}
		measured := warmLeft == 0 && time.Until(tick) >= prepBudget(n)
		if warmLeft > 0 {
			warmLeft--
			if err := s.waitTicked(ctx, tick); err != nil {
				return r, err
			}
			if _, err := s.aftercare(ctx, tick, false, false); err != nil {
				return r, err
			}
			continue
		}
		if measured {
			if err := s.prepare(ctx); err != nil {
				return r, err
			}
			measured = time.Until(tick) >= lsnLead+20*time.Millisecond
		}
		if !measured {
			// The last tick, its aftercare and the floors took longer than the period.
			r.warnings = append(r.warnings, fmt.Sprintf("tick at %s: too little time left to prepare it; not measured (raise -period)", tick.Format("15:04:05")))
			if err := s.waitTicked(ctx, tick); err != nil {
				return r, err
			}
			if _, err := s.aftercare(ctx, tick, false, false); err != nil {
				return r, err
			}
			continue
		}
		t, _, _, err := s.measureTick(ctx, tick)
		if errors.Is(err, errTimeout) {
			r.timedOut = true
			r.warnings = append(r.warnings, err.Error())
			return r, nil
		} else if err != nil {
			return r, err
		}
		r.fanout, r.visible, r.first = append(r.fanout, t.commit), append(r.visible, t.visible), append(r.first, t.first)
		r.statements, r.cpu, r.wal, r.ledger = append(r.statements, t.txns), append(r.cpu, t.cpu), append(r.wal, t.wal), append(r.ledger, t.ledger)
		if _, err := s.aftercare(ctx, tick, false, false); err != nil {
			return r, err
		}

		// The floors, in the twin database.
		key := key0(tick)
		reset := func() error {
			for _, q := range []string{"TRUNCATE werk_jobs", "VACUUM werk_jobs", "VACUUM " + twinTables, "CHECKPOINT"} {
				if _, err := twin.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}
		floor := func(sql string, args ...any) (time.Duration, error) {
			if err := reset(); err != nil {
				return 0, err
			}
			return timed(ctx, twin, n, sql, args...)
		}
		d, err := floor(floorInsert, n, key, tick)
		if err != nil {
			return r, fmt.Errorf("floor (a): %w", err)
		}
		r.floorA = append(r.floorA, d)
		if d, err = floor(floorThreeWrites, names, key, tick, tick.Add(r.period+1*time.Millisecond)); err != nil {
			return r, fmt.Errorf("floor (b): %w", err)
		}
		r.floorB = append(r.floorB, d)
		if d, err = floor(floorThreeWritesOnConflict, names, key, tick, tick.Add(r.period+2*time.Millisecond)); err != nil {
			return r, fmt.Errorf("floor (b) with ON CONFLICT: %w", err)
		}
		r.floorC = append(r.floorC, d)
		if err := reset(); err != nil {
			return r, fmt.Errorf("before floor (d): %w", err)
		}
		var wal int64
		if d, wal, err = floorSplit(ctx, twins, floorThreeWrites, names, key, tick, tick.Add(r.period+3*time.Millisecond)); err != nil {
			return r, fmt.Errorf("floor (d): %w", err)
		}
		r.floorD, r.walD = append(r.floorD, d), append(r.walD, wal)
		for _, q := range []string{"TRUNCATE werk_jobs, werk_cron_rounds", "VACUUM werk_jobs", "VACUUM werk_cron_state", "CHECKPOINT"} {
			if _, err := roundTwins[0].Exec(ctx, q); err != nil {
				return r, fmt.Errorf("before floor (e): %w", err)
			}
		}
		if d, wal, err = floorSplit(ctx, roundTwins, floorRounds, names, key, tick, tick.Add(r.period+4*time.Millisecond)); err != nil {
			return r, fmt.Errorf("floor (e): %w", err)
		}
		r.floorE, r.walE = append(r.floorE, d), append(r.walE, wal)
		i := len(r.fanout) - 1
		fmt.Fprintf(os.Stderr, "bench:   tick %d: fan-out %s (%d statements, %d B/job, %d ledger rows), floor (a) %s, floor (b) %s, with ON CONFLICT %s, over %d connections %s (%d B/job), on a round %s (%d B/job)\n",
			i+1, dur(r.fanout[i]), t.txns, t.wal/int64(n), t.ledger, dur(r.floorA[i]), dur(r.floorB[i]), dur(r.floorC[i]), len(twins),
			dur(r.floorD[i]), r.walD[i]/int64(n), dur(r.floorE[i]), r.walE[i]/int64(n))
	}
	return r, nil
}

// floorSplit is floor (d): floor (b) split over conns, one statement of a run of names
// each (in name order, as the ticker parts a fan-out), all sent at once, each its own
// transaction; the time until the last has committed. What the bare writes of a tick
// take when the database's cores share them; above 20,000 due the ticker writes more,
// smaller statements one after another on each connection, so this is their best case.
// It returns the cluster's WAL meanwhile too (its other databases are idle then).
func floorSplit(ctx context.Context, conns []*pgx.Conn, sql string, names []string, key string, tick, next time.Time) (time.Duration, int64, error) {
	size := (len(names) + len(conns) - 1) / len(conns)
	errs := make([]error, len(conns))
	var lsn0 string
	var wal int64
	if err := conns[0].QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn0); err != nil {
		return 0, 0, err
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		part := names[min(i*size, len(names)):min((i+1)*size, len(names))]
		wg.Go(func() { _, errs[i] = timed(ctx, c, len(part), sql, part, key, tick, next) })
	}
	wg.Wait()
	d := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	if err := conns[0].QueryRow(ctx, "SELECT (pg_current_wal_insert_lsn() - $1::text::pg_lsn)::bigint", lsn0).Scan(&wal); err != nil {
		return 0, 0, err
	}
	return d, wal, nil
}

// tickTimeout bounds the wait for one tick's fan-out, so that a slow build still ends.
const tickTimeout = 3 * time.Minute

func prepTime(n int) time.Duration { return 8*time.Second + time.Duration(n)*120*time.Microsecond }

// timed runs one statement in its own transaction and returns its round trip, commit
// included, checking that it wrote n rows.
func timed(ctx context.Context, conn *pgx.Conn, n int, sql string, args ...any) (time.Duration, error) {
	start := time.Now()
	tag, err := conn.Exec(ctx, sql, args...)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if int(tag.RowsAffected()) != n {
		return 0, fmt.Errorf("wrote %d rows, want %d", tag.RowsAffected(), n)
	}
	return d, nil
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printFanout(rs []fanoutResult) {
	fmt.Println("Fan-out: N interval schedules sharing one anchor, all due on the same tick; medians of the measured ticks, each in the steady state")
	fmt.Println("  (the tick before it completed and its outcomes recorded); fan-out = tick instant -> last job row committed (commit timestamps);")
	fmt.Println("  visible = when a count first saw all N; floors timed by the client, commit included, in a twin database")
	fmt.Printf("  %8s %3s %5s %9s %9s %9s %9s %6s %9s %8s %10s %10s %9s %9s\n",
		"N", "p", "ticks", "fan-out", "max", "visible", "first", "stmts", "ticker", "WAL", "floor(a)", "floor(b)", "÷ (a)", "÷ (b)")
	fmt.Printf("  %8s %3s %5s %9s %9s %9s %9s %6s %9s %8s %10s %10s %9s %9s\n",
		"", "", "", "", "", "", "commit", "", "CPU", "per job", "insert", "writes", "", "")
	for _, r := range rs {
		if len(r.fanout) == 0 {
			fmt.Printf("  %8d  no tick finished within %s\n", r.n, tickTimeoutFor(r.n))
			continue
		}
		f, a, b := median(r.fanout), median(r.floorA), median(r.floorB)
		fmt.Printf("  %8d %3d %5d %9s %9s %9s %9s %6d %9s %6d B %10s %10s %8.2fx %8.2fx\n",
			r.n, r.parallel, len(r.fanout), dur(f), dur(slices.Max(r.fanout)), dur(median(r.visible)), dur(median(r.first)),
			slices.Max(r.statements), dur(median(r.cpu)), medianInt(r.wal)/int64(r.n), dur(a), dur(b), ratio(f, a), ratio(f, b))
	}
	for _, r := range rs {
		var each []string
		for i := range r.fanout {
			each = append(each, fmt.Sprintf("%s/%s/%s", dur(r.fanout[i]), dur(r.floorA[i]), dur(r.floorB[i])))
		}
		fmt.Printf("  N=%d every %s, each tick fan-out/floor(a)/floor(b): %s; ledger rows written by the ticks: %v\n",
			r.n, r.period, strings.Join(each, "  "), r.ledger)
		if len(r.floorC) > 0 {
			b, c := median(r.floorB), median(r.floorC)
			fmt.Printf("  N=%d ON CONFLICT cost: floor (b) %s, with ON CONFLICT (key) DO NOTHING %s: %+.1f%%\n",
				r.n, dur(b), dur(c), 100*(ratio(c, b)-1))
		}
		if len(r.floorD) > 0 {
			f, d := median(r.fanout), median(r.floorD)
			fmt.Printf("  N=%d floor (d), floor (b) over %d connections at once, a statement each: %s (%.2fx floor (b)), %d B/job; fan-out ÷ (d): %.2fx\n",
				r.n, max(r.parallel, 1), dur(d), ratio(d, median(r.floorB)), medianInt(r.walD)/int64(r.n), ratio(f, d))
		}
		if len(r.floorE) > 0 {
			f, d, e := median(r.fanout), median(r.floorD), median(r.floorE)
			fmt.Printf("  N=%d floor (e), floor (d) for schedules on a round (state rows updated HOT, a round row per statement): %s (%.2fx floor (d)), %d B/job; fan-out ÷ (e): %.2fx\n",
				r.n, dur(e), ratio(e, d), medianInt(r.walE)/int64(r.n), ratio(f, e))
		}
		for _, w := range r.warnings {
			fmt.Printf("  N=%d warning: %s\n", r.n, w)
		}
	}
	for _, r := range rs {
		f := median(r.fanout)
		if len(r.fanout) == 0 {
			f = tickTimeoutFor(r.n)
		}
		switch r.n {
		case 10000:
			fmt.Printf("  goal 10,000 within 1 s: %s (%s); within 1.5x of floor (b): %s (%.2fx)\n",
				verdict(f <= time.Second), dur(f), verdict(ratio(f, median(r.floorB)) <= 1.5), ratio(f, median(r.floorB)))
		case 100000:
			fmt.Printf("  goal 100,000 within 10 s: %s (%s)\n", verdict(f <= 10*time.Second), dur(f))
		case 1000000:
			fmt.Printf("  goal 1,000,000 within 1.3x of floor (b): %s (%.2fx)\n",
				verdict(ratio(f, median(r.floorB)) <= 1.3), ratio(f, median(r.floorB)))
		}
	}
	fmt.Println()
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// dur prints a duration with about three significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

// key0 is the tick part of a job key (cron:<name>:<tick>), as the ticker writes it.
func key0(tick time.Time) string { return tick.UTC().Format("2006-01-02T15:04:05Z") }

// explain prints the plans of the two tick statements (as queries/tick.sql holds them) and of
// floor (b) for n due schedules, each run for real in a transaction that is rolled back,
// with the WAL each wrote by record type (pg_waldump --stats=record). The tick is the
// schedules' next after one real tick of a real ticker and its aftercare (side.go), with
// the parameters the ticker would pass (read from werk_cron_state), so that it meets
// the steady state: every schedule's previous tick recorded in the ledger.
func (b *bench) explain(ctx context.Context, n int) error {
	raw, err := readRepoFile("queries/tick.sql")
	if err != nil {
		return err
	}
	dueSQL, err := namedQuery(raw, "EnqueueDueTicks")
	if err != nil {
		return err
	}
	usualSQL, err := namedQuery(raw, "EnqueueUsualTicks")
	if err != nil {
		return err
	}
	pruneSQL, pruneArgs, err := pruneTicksQuery()
	if err != nil {
		return err
	}
	dsn, err := b.newDB(ctx, "explain")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// As in the ticker's sessions (queries/leader.sql): a statement costed above
	// jit_above_cost would otherwise spend some 60 ms compiling before its first row.
	if _, err := conn.Exec(ctx, "SET jit = off"); err != nil {
		return err
	}
	now, err := dbNow(ctx, conn)
	if err != nil {
		return err
	}
	// all schedules are in the database (-explain-among), the statements taking the
	// last n of them by name.
	all := max(n, b.cfg.explainAmong)
	period := periodFor(all)
	anchor := now.Truncate(time.Second).Add(prepTime(all)).Truncate(time.Second)
	if _, err := conn.Exec(ctx, insertSchedules, all, int(period/time.Second), anchor); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}
	s := &side{name: "werkcron", kind: kindWerkcron, parallel: 1, bin: b.bin, cluster: b.cluster, db: "explain", dsn: dsn,
		conn: conn, n: all, due0: anchor, period: period, pruneSQL: pruneSQL, pruneArgs: pruneArgs}
	if s.vacuumList, err = werkcronTables(ctx, conn); err != nil {
		return err
	}
	if s.proc, err = b.startTicker(ctx, "explain", dsn); err != nil {
		return err
	}
	if err := warmUp(ctx, []*side{s}); err != nil {
		s.proc.stop()
		return err
	}
	s.proc.stop()
	if _, err := conn.Exec(ctx, "TRUNCATE werk_jobs"); err != nil {
		return err
	}

	// The tick statement's parameters by name, as the ticker fills them for one due
	// enqueue tick per schedule, of the last n schedules.
	var names, keys, kinds []string
	var defined, prevTicks, ats, nexts, prevJobAts []time.Time
	var counts []int32
	var heads []bool
	var ids, prevJobs [][16]byte
	var tick time.Time
	rows, _ := conn.Query(ctx, `SELECT name, last_tick_at, defined_at, next_run_at, last_job_id, last_job_at
		FROM (SELECT * FROM werk_cron_state ORDER BY next_run_at DESC, name DESC LIMIT $1) s
		ORDER BY next_run_at, name`, n)
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var name string
			var last, def, next, jobAt time.Time
			var job [16]byte
			if err := rows.Scan(&name, &last, &def, &next, &job, &jobAt); err != nil {
				return err
			}
			tick = next
			names = append(names, name)
			keys = append(keys, "cron:"+name+":"+key0(next))
			prevTicks, defined, ats = append(prevTicks, last), append(defined, def), append(ats, next)
			nexts = append(nexts, next.Add(period))
			kinds, counts, heads = append(kinds, "enqueue"), append(counts, 1), append(heads, true)
			ids = append(ids, uuid.Must(uuid.NewV7()))
			prevJobs, prevJobAts = append(prevJobs, job), append(prevJobAts, jobAt)
		}
		return rows.Err()
	}()
	if err != nil {
		return err
	}
	params := map[string]any{
		"tick_names": names, "tick_keys": keys, "tick_ats": ats, "tick_kinds": kinds,
		"tick_counts": counts, "tick_heads": heads, "job_ids": ids, "schedule_ticks": counts,
		"prev_tick_ats": prevTicks, "seen_defined_ats": defined, "newest_tick_ats": ats, "next_run_ats": nexts,
		"prev_job_ids": prevJobs, "prev_job_ats": prevJobAts, "leader_pid": int32(0),
		// As the ticker runs it unless a key held by another job failed it lately.
		"check_keys": false,
		// Due already: the statement waits for nothing.
		"wait_until": time.Time{},
	}
	bind := func(query string) (string, []any, error) {
		sql, order := sqlcParams(query)
		var args []any
		for _, name := range order {
			v, ok := params[name]
			if !ok {
				return "", nil, fmt.Errorf("queries/tick.sql: the bench does not know parameter @%s", name)
			}
			args = append(args, v)
		}
		return sql, args, nil
	}
	dueSQL, dueArgs, err := bind(dueSQL)
	if err != nil {
		return err
	}
	usualSQL, usualArgs, err := bind(usualSQL)
	if err != nil {
		return err
	}
	if m := b.cfg.explainJobs; m > 0 {
		// The job table as a fan-out larger than one statement leaves it for its later
		// statements: m jobs of the same instant, of schedules whose names (and keys)
		// sort before these.
		if _, err := conn.Exec(ctx, `INSERT INTO werk_jobs (key, function, queue, status, scheduled_at, payload, cron_name)
			SELECT 'cron:bench-0-' || lpad(i::text, 8, '0') || ':' || $2, 'bench.task', 'bench', 'queued', $3,
			       '{"args": [], "kwargs": {}}', 'bench-0-' || lpad(i::text, 8, '0')
			FROM generate_series(1, $1::int) i`, m, key0(tick), tick); err != nil {
			return err
		}
	}
	// The statement refuses a tick in the future by the database's clock.
	if err := sleepUntil(ctx, tick.Add(10*time.Millisecond)); err != nil {
		return err
	}
	key := key0(tick)
	label := fmt.Sprintf("N=%d", n)
	if all > n {
		label = fmt.Sprintf("N=%d (the last of %d schedules)", n, all)
	}
	for _, q := range []struct {
		title string
		sql   string
		args  []any
	}{
		{"tick statement of ticks at their usual pace (EnqueueUsualTicks, queries/tick.sql)", usualSQL, usualArgs},
		{"general tick statement (EnqueueDueTicks, queries/tick.sql)", dueSQL, dueArgs},
		{"floor (b): the same writes, bare", floorThreeWrites, []any{names, key, tick, tick.Add(period)}},
	} {
		for _, c := range []string{"VACUUM werk_jobs", "VACUUM " + s.vacuumList, "CHECKPOINT"} {
			if _, err := conn.Exec(ctx, c); err != nil {
				return err
			}
		}
		l0, err := s.lsn(ctx)
		if err != nil {
			return err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, WAL, VERBOSE false) "+q.sql, q.args...)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		_ = tx.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", q.title, err)
		}
		l1, err := s.lsn(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("== %s, %s (rolled back)\n%s\n\n", q.title, label, strings.Join(plan, "\n"))
		fmt.Print(s.waldump(ctx, fmt.Sprintf("%s, %s, %d B per tick", q.title, label, int64(l1-l0)/int64(n)), l0, l1))
		// The same statement timed by the client without EXPLAIN's instrumentation, each
		// run after a CHECKPOINT and rolled back (so every run meets the same rows).
		// As the ticker runs it: an unnamed statement, planned for its parameters each
		// time (QueryExecModeCacheDescribe); then planned once for any parameters.
		for _, mode := range []struct {
			name, set string
		}{{"custom plans, as the ticker runs it", "auto"}, {"a generic plan", "force_generic_plan"}} {
			var took []time.Duration
			for range 7 {
				if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
					return err
				}
				tx, err := conn.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode.set); err != nil {
					_ = tx.Rollback(ctx)
					return err
				}
				args := append([]any{pgx.QueryExecModeCacheDescribe}, q.args...)
				if mode.set != "auto" {
					args[0] = pgx.QueryExecModeCacheStatement
				}
				start := time.Now()
				_, err = tx.Exec(ctx, q.sql, args...)
				took = append(took, time.Since(start))
				_ = tx.Rollback(ctx)
				if err != nil {
					return fmt.Errorf("%s: %w", q.title, err)
				}
			}
			fmt.Printf("== %s, %s, timed by the client, %s (7 runs, each after a CHECKPOINT, rolled back): median %s (%s)\n",
				q.title, label, mode.name, dur(median(took)), durList(took))
		}
		fmt.Println()
	}
	return nil
}

// namedQuery is the query named name ("-- name: <name> ...") of a file of sqlc queries,
// up to the next.
func namedQuery(file []byte, name string) (string, error) {
	start := bytes.Index(file, []byte("-- name: "+name+" "))
	if start < 0 {
		return "", fmt.Errorf("queries/tick.sql has no query %s", name)
	}
	q := file[start:]
	if next := bytes.Index(q[1:], []byte("\n-- name:")); next >= 0 {
		q = q[:1+next]
	}
	return string(q), nil
}

// sqlcParams turns sqlc's @name parameters into $1, $2, ... in order of first
// appearance, as sqlc numbers them, and returns the names in that order.
func sqlcParams(sql string) (string, []string) {
	seen := map[string]int{}
	var order []string
	out := regexp.MustCompile(`@([a-z_][a-z0-9_]*)`).ReplaceAllStringFunc(sql, func(m string) string {
		if _, ok := seen[m]; !ok {
			seen[m] = len(seen) + 1
			order = append(order, m[1:])
		}
		return fmt.Sprintf("$%d", seen[m])
	})
	return out, order
}
