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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The floors: benchmark-only SQL, never run by the product. Both write exactly the rows
// a tick writes (same keys, columns and queue), into the same tables, emptied and
// checkpointed first just like before a measured tick.

// floorInsert is floor (a): the N job rows from one bare INSERT ... SELECT.
const floorInsert = `
INSERT INTO werk_jobs (key, function, queue, status, priority, payload, max_attempts,
                       scheduled_at, cron_name)
SELECT 'cron:' || n.name || ':' || $2::text, 'bench.task', 'bench', 'queued', 0,
       jsonb_build_object('args', '[]'::jsonb, 'kwargs', '{}'::jsonb), 1, $3::timestamptz, n.name
FROM (SELECT 'bench-' || lpad(i::text, 8, '0') AS name FROM generate_series(1, $1::int) i) n`

// floorThreeWrites is floor (b): the writes of a tick at its usual pace in one bare
// statement (advance the schedule's werk_cron_state row, insert the jobs; such a tick
// writes no ledger row until its outcome), with the schedule names passed as an array
// as the ticker passes them, but no compare-and-set, no duplicate or overlap check, no
// ON CONFLICT and no NOTIFY. next_run_at is set to the value the tick just wrote: the
// row is rewritten all the same (a new row version with the same index entries, since
// next_run_at is indexed), and the ticker's next compare-and-set still holds.
const floorThreeWrites = `
WITH s AS (
    UPDATE werk_cron_state st
    SET last_tick_at = $3::timestamptz, last_job_id = gen_random_uuid(), last_job_at = $3::timestamptz,
        next_run_at = $4::timestamptz
    FROM unnest($1::text[]) AS u(name)
    WHERE st.name = u.name
    RETURNING st.name, st.last_job_id
)
INSERT INTO werk_jobs (id, key, function, queue, status, priority, payload, max_attempts,
                       timeout_secs, scheduled_at, meta, result_ttl, failure_ttl, cron_name)
SELECT s.last_job_id, 'cron:' || s.name || ':' || $2::text, j.func, j.queue, 'queued',
       j.priority, jsonb_build_object('args', j.args, 'kwargs', j.kwargs), j.max_attempts,
       j.timeout_secs, $3::timestamptz, j.meta, j.result_ttl, j.failure_ttl, s.name
FROM s JOIN werk_cron_jobs j ON j.name = s.name`

// floorThreeWritesOnConflict is floor (b) with the job insert the ticker makes:
// INSERT ... ON CONFLICT (key) DO NOTHING. Against floor (b) it prices the speculative
// insertion alone (reported as "ON CONFLICT cost").
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
	period     time.Duration
	fanout     []time.Duration // tick instant -> last job row committed
	first      []time.Duration // tick instant -> first job row committed
	started    []time.Duration // tick instant -> start of the last statement (max enqueued_at)
	statements []int
	cpu        []time.Duration // ticker process CPU for the tick
	floorA     []time.Duration
	floorB     []time.Duration
	floorC     []time.Duration // floor (b) with ON CONFLICT (key) DO NOTHING
	warnings   []string
	timedOut   bool
}

// periodFor leaves room between two ticks for the tick, the three floors and the
// checkpoints before each (about 350 µs per schedule on the 2-core reference machine).
func periodFor(n int) time.Duration {
	d := 3*time.Second + time.Duration(n)*350*time.Microsecond
	return d.Round(time.Second)
}

func (b *bench) fanout(ctx context.Context, n int) (fanoutResult, error) {
	r := fanoutResult{n: n, period: b.cfg.period}
	if r.period <= 0 {
		r.period = periodFor(n)
	}
	reps := b.cfg.reps
	if n >= 1_000_000 {
		reps = b.cfg.largeReps
	}
	fmt.Fprintf(os.Stderr, "bench: fan-out of %d schedules every %s, %d ticks measured\n", n, r.period, reps)
	name := fmt.Sprintf("fanout_%d", n)
	dsn, err := b.newDB(ctx, name)
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, name)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.Background())

	now, err := dbNow(ctx, conn)
	if err != nil {
		return r, err
	}
	anchor := now.Truncate(time.Second).Add(r.period)
	if _, err := conn.Exec(ctx, insertSchedules, n, int(r.period/time.Second), anchor); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE werk_cron_jobs"); err != nil {
		return r, err
	}
	var names []string
	rows, _ := conn.Query(ctx, "SELECT name FROM werk_cron_jobs ORDER BY name")
	if names, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return r, err
	}

	t, err := b.startTicker(ctx, name, dsn)
	if err != nil {
		return r, err
	}
	defer t.stop()
	if err := waitReady(ctx, conn, t, n, 5*time.Minute); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, `LISTEN "werk:bench"`); err != nil {
		return r, err
	}
	ready, err := dbNow(ctx, conn)
	if err != nil {
		return r, err
	}
	// The first measured tick leaves time to empty the tables and checkpoint.
	tick := anchor
	for tick.Before(ready.Add(prepTime(n))) {
		tick = tick.Add(r.period)
	}

	for rep := 0; rep < reps; rep++ {
		if err := reset(ctx, conn); err != nil {
			return r, err
		}
		// A tick that came while the last floors ran would have competed with them (and
		// its rows are gone with the reset): measure the next one that is still ahead.
		if time.Until(tick) < 200*time.Millisecond {
			skipped := 0
			for time.Until(tick) < 200*time.Millisecond {
				tick = tick.Add(r.period)
				skipped++
			}
			r.warnings = append(r.warnings, fmt.Sprintf("tick %d: the last tick, floors and checkpoints took longer than the period; skipped %d ticks (raise -period)", rep+1, skipped))
		}
		before, err := readProc(t.pid())
		if err != nil {
			return r, err
		}
		if err := waitTick(ctx, conn, t, tick, n); errors.Is(err, errTimeout) {
			r.timedOut = true
			r.warnings = append(r.warnings, err.Error())
			return r, nil
		} else if err != nil {
			return r, err
		}
		after, err := readProc(t.pid())
		if err != nil {
			return r, err
		}
		var count, stmts int
		var last, first, started float64
		err = conn.QueryRow(ctx, `
			SELECT count(*), count(DISTINCT xmin::text),
			       extract(epoch FROM max(pg_xact_commit_timestamp(xmin)) - $1) * 1000,
			       extract(epoch FROM min(pg_xact_commit_timestamp(xmin)) - $1) * 1000,
			       extract(epoch FROM max(enqueued_at) - $1) * 1000
			FROM werk_jobs WHERE queue = 'bench' AND scheduled_at = $1`, tick).
			Scan(&count, &stmts, &last, &first, &started)
		if err != nil {
			return r, err
		}
		if count != n {
			return r, fmt.Errorf("tick %s: %d job rows, want %d", tick.Format(time.RFC3339), count, n)
		}
		r.fanout = append(r.fanout, ms(last))
		r.first = append(r.first, ms(first))
		r.started = append(r.started, ms(started))
		r.statements = append(r.statements, stmts)
		r.cpu = append(r.cpu, after.cpu-before.cpu)

		key := tick.UTC().Format("2006-01-02T15:04:05Z")
		if err := reset(ctx, conn); err != nil {
			return r, err
		}
		d, err := timed(ctx, conn, n, floorInsert, n, key, tick)
		if err != nil {
			return r, fmt.Errorf("floor (a): %w", err)
		}
		r.floorA = append(r.floorA, d)
		if err := reset(ctx, conn); err != nil {
			return r, err
		}
		d, err = timed(ctx, conn, n, floorThreeWrites, names, key, tick, tick.Add(r.period))
		if err != nil {
			return r, fmt.Errorf("floor (b): %w", err)
		}
		r.floorB = append(r.floorB, d)
		if err := reset(ctx, conn); err != nil {
			return r, err
		}
		d, err = timed(ctx, conn, n, floorThreeWritesOnConflict, names, key, tick, tick.Add(r.period))
		if err != nil {
			return r, fmt.Errorf("floor (b) with ON CONFLICT: %w", err)
		}
		r.floorC = append(r.floorC, d)
		fmt.Fprintf(os.Stderr, "bench:   tick %d: fan-out %s (%d statements), floor (a) %s, floor (b) %s, with ON CONFLICT %s\n",
			rep+1, r.fanout[rep].Round(time.Millisecond), stmts, r.floorA[rep].Round(time.Millisecond), r.floorB[rep].Round(time.Millisecond),
			r.floorC[rep].Round(time.Millisecond))
		tick = tick.Add(r.period)
	}
	return r, nil
}

// tickTimeout bounds the wait for one tick's fan-out, so that a slow build still ends.
const tickTimeout = 3 * time.Minute

func prepTime(n int) time.Duration { return 2*time.Second + time.Duration(n)*20*time.Microsecond }

// reset empties the queue and the ledger and checkpoints, so that the tick and both
// floors start from the same state and none pays for another's dirty pages (each pays
// the full-page images of its own first touch of a page, as after any checkpoint).
func reset(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "TRUNCATE werk_jobs, werk_cron_ledger"); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "CHECKPOINT")
	return err
}

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

// waitTick waits until the ledger holds n rows for tick. The ticker notifies
// werk:bench after each statement commits, so the bench only looks after a commit and
// does not compete with the fan-out it measures.
func waitTick(ctx context.Context, conn *pgx.Conn, t *tickerProc, tick time.Time, n int) error {
	if err := sleepUntil(ctx, tick); err != nil {
		return err
	}
	deadline := time.Now().Add(tickTimeout)
	for {
		var got int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM werk_cron_ticks WHERE tick_at = $1", tick).Scan(&got); err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		if t.exited() {
			return fmt.Errorf("the ticker exited:\n%s", t.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tick %s: %d of %d ledger rows after %s: %w", tick.Format(time.RFC3339), got, n, tickTimeout, errTimeout)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed() {
			continue
		}
		if conn.IsClosed() {
			return fmt.Errorf("the bench's connection closed: %w", err)
		}
	}
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
	fmt.Println("Fan-out: N interval schedules sharing one anchor, all due on the same tick; medians of the measured ticks")
	fmt.Println("  fan-out = tick instant -> last job row committed (commit timestamps); floors timed by the client, commit included")
	fmt.Printf("  %8s %5s %9s %9s %9s %6s %9s %10s %10s %9s %9s\n",
		"N", "ticks", "fan-out", "max", "first", "stmts", "ticker", "floor(a)", "floor(b)", "÷ (a)", "÷ (b)")
	fmt.Printf("  %8s %5s %9s %9s %9s %6s %9s %10s %10s %9s %9s\n",
		"", "", "", "", "commit", "", "CPU", "insert", "3 writes", "", "")
	for _, r := range rs {
		if len(r.fanout) == 0 {
			fmt.Printf("  %8d  no tick finished within %s\n", r.n, tickTimeout)
			continue
		}
		f, a, b := median(r.fanout), median(r.floorA), median(r.floorB)
		fmt.Printf("  %8d %5d %9s %9s %9s %6d %9s %10s %10s %8.2fx %8.2fx\n",
			r.n, len(r.fanout), dur(f), dur(slices.Max(r.fanout)), dur(median(r.first)), slices.Max(r.statements),
			dur(median(r.cpu)), dur(a), dur(b), ratio(f, a), ratio(f, b))
	}
	for _, r := range rs {
		var each []string
		for i := range r.fanout {
			each = append(each, fmt.Sprintf("%s/%s/%s", dur(r.fanout[i]), dur(r.floorA[i]), dur(r.floorB[i])))
		}
		fmt.Printf("  N=%d every %s, each tick fan-out/floor(a)/floor(b): %s\n", r.n, r.period, strings.Join(each, "  "))
		if len(r.floorC) > 0 {
			b, c := median(r.floorB), median(r.floorC)
			fmt.Printf("  N=%d ON CONFLICT cost: floor (b) %s, with ON CONFLICT (key) DO NOTHING %s: %+.1f%%\n",
				r.n, dur(b), dur(c), 100*(ratio(c, b)-1))
		}
		for _, w := range r.warnings {
			fmt.Printf("  N=%d warning: %s\n", r.n, w)
		}
	}
	for _, r := range rs {
		f := median(r.fanout)
		if len(r.fanout) == 0 {
			f = tickTimeout
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

// explain prints the plans of the tick statement (as queries/tick.sql holds it) and of
// floor (b) for n due schedules, each run for real in a transaction that is rolled back.
func (b *bench) explain(ctx context.Context, n int) error {
	raw, err := os.ReadFile("queries/tick.sql")
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	// The tick statement is the file's first query; the others follow it.
	if first := bytes.Index(raw, []byte("-- name:")); first >= 0 {
		if next := bytes.Index(raw[first+1:], []byte("\n-- name:")); next >= 0 {
			raw = raw[:first+1+next]
		}
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
	now, err := dbNow(ctx, conn)
	if err != nil {
		return err
	}
	tick := now.Truncate(time.Second)
	if _, err := conn.Exec(ctx, insertSchedules, n, 3600, tick); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}
	type sch struct {
		name    string
		updated time.Time
	}
	rows, _ := conn.Query(ctx, "SELECT name, updated_at FROM werk_cron_jobs ORDER BY name")
	// The tick statement's parameters by name, as the ticker fills them for one due
	// enqueue tick per schedule.
	key := tick.UTC().Format("2006-01-02T15:04:05Z")
	var names, keys, kinds []string
	var updated, zeros, nexts, ats []time.Time
	var counts []int32
	var heads []bool
	var ids [][16]byte
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var s sch
			if err := rows.Scan(&s.name, &s.updated); err != nil {
				return err
			}
			names = append(names, s.name)
			keys = append(keys, "cron:"+s.name+":"+key)
			updated = append(updated, s.updated)
			zeros = append(zeros, time.Time{})
			nexts = append(nexts, tick.Add(time.Hour))
			ats = append(ats, tick)
			kinds = append(kinds, "enqueue")
			counts = append(counts, 1)
			heads = append(heads, true)
			ids = append(ids, uuid.Must(uuid.NewV7()))
		}
		return rows.Err()
	}()
	if err != nil {
		return err
	}
	params := map[string]any{
		"tick_names": names, "tick_keys": keys, "tick_ats": ats, "tick_kinds": kinds,
		"tick_counts": counts, "tick_heads": heads, "job_ids": ids, "schedule_ticks": counts,
		"prev_tick_ats": zeros, "seen_updated_ats": updated, "newest_tick_ats": ats, "next_run_ats": nexts,
	}
	tickSQL, order := sqlcParams(string(raw))
	var tickArgs []any
	for _, name := range order {
		v, ok := params[name]
		if !ok {
			return fmt.Errorf("queries/tick.sql: the bench does not know parameter @%s", name)
		}
		tickArgs = append(tickArgs, v)
	}
	for _, q := range []struct {
		title string
		sql   string
		args  []any
	}{
		{"tick statement (queries/tick.sql)", tickSQL, tickArgs},
		{"floor (b): the same three writes, bare", floorThreeWrites, []any{names, key, tick, tick.Add(time.Hour)}},
	} {
		for round := range 2 { // the first warms the caches; the second is printed
			if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
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
			if round == 1 {
				fmt.Printf("== %s, N=%d\n%s\n\n", q.title, n, strings.Join(plan, "\n"))
			}
		}
	}
	return nil
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
