package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// insertIdleSchedules creates n schedules none of which is due for months: half
// interval schedules starting tomorrow, half cron expressions (all different, so each
// is parsed and held on its own) on a day of the month half a year away.
const insertIdleSchedules = `
INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at, cron)
SELECT 'idle-' || lpad(i::text, 8, '0'), 'bench.task', 'bench',
       CASE WHEN i % 2 = 0 THEN 60 + i % 3600 END,
       CASE WHEN i % 2 = 0 THEN now() + interval '1 day' END,
       CASE WHEN i % 2 = 1 THEN format('%s %s %s %s *', i % 60, (i / 60) % 24, 1 + i % 28,
                                       (extract(month FROM now())::int + 5) % 12 + 1) END
FROM generate_series(1, $1::int) i`

type latenessResult struct {
	ticks            int
	p50, p99, max    time.Duration // enqueued_at - scheduled_at
	cp50, cp99, cmax time.Duration // commit - scheduled_at
	missing          int
}

// lateness runs a ticker with one 1 s interval schedule for cfg.latenessTicks ticks.
// started, when not nil, is told when the measured ticks begin.
func (b *bench) lateness(ctx context.Context, started chan<- struct{}) (*latenessResult, error) {
	ticks := b.cfg.latenessTicks
	fmt.Fprintf(os.Stderr, "bench: lateness of a 1 s schedule over %d ticks (~%ds)\n", ticks, ticks+4)
	dsn, err := b.newDB(ctx, "lateness")
	if err != nil {
		return nil, err
	}
	defer b.dropDB(ctx, "lateness")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	// The ticker starts with nothing to do, so that its startup is not among the ticks.
	t, err := b.startTicker(ctx, "lateness", dsn)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	// Starts on a whole second in the future: a schedule created now would tick at once
	// at date_trunc('second', changed_at), already up to a second late by design.
	var first time.Time
	err = conn.QueryRow(ctx, `
		INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at)
		VALUES ('every-second', 'bench.task', 'late', 1, date_trunc('second', now()) + interval '2 s')
		RETURNING starts_at`).Scan(&first)
	if err != nil {
		return nil, err
	}
	if started != nil {
		close(started)
	}
	last := first.Add(time.Duration(ticks-1) * time.Second)
	if err := sleepUntil(ctx, last.Add(time.Second)); err != nil {
		return nil, err
	}
	if t.exited() {
		return nil, fmt.Errorf("the ticker exited:\n%s", t.tail())
	}
	rows, _ := conn.Query(ctx, `
		SELECT extract(epoch FROM enqueued_at - scheduled_at) * 1000,
		       extract(epoch FROM pg_xact_commit_timestamp(xmin) - scheduled_at) * 1000
		FROM werk_jobs WHERE cron_name = 'every-second' AND scheduled_at BETWEEN $1 AND $2`, first, last)
	var late, commit []time.Duration
	for rows.Next() {
		var l, c float64
		if err := rows.Scan(&l, &c); err != nil {
			rows.Close()
			return nil, err
		}
		late, commit = append(late, ms(l)), append(commit, ms(c))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(late) == 0 {
		return nil, fmt.Errorf("no jobs enqueued:\n%s", t.tail())
	}
	r := &latenessResult{ticks: len(late), missing: ticks - len(late)}
	r.p50, r.p99, r.max = pct(late, 50), pct(late, 99), slices.Max(late)
	r.cp50, r.cp99, r.cmax = pct(commit, 50), pct(commit, 99), slices.Max(commit)
	return r, nil
}

// pct is the nearest-rank percentile.
func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func printLateness(r latenessResult) {
	fmt.Printf("Lateness: one interval_secs = 1 schedule, %d ticks", r.ticks)
	if r.missing > 0 {
		fmt.Printf(" (%d ticks without a job!)", r.missing)
	}
	fmt.Println()
	fmt.Printf("  enqueued_at - scheduled_at   p50 %s   p99 %s   max %s\n", dur(r.p50), dur(r.p99), dur(r.max))
	fmt.Printf("  commit - scheduled_at        p50 %s   p99 %s   max %s\n", dur(r.cp50), dur(r.cp99), dur(r.cmax))
	// Judged by the commit: a tick statement sent ahead waits for the instant in the
	// database and stamps enqueued_at after that wait, whenever it then commits.
	fmt.Printf("  goal p99 < 10 ms (commit): %s\n\n", verdict(r.cp99 < 10*time.Millisecond))
}

type idleResult struct {
	n          int
	window     time.Duration
	xacts      int64
	cpu        time.Duration
	hwm, rss   int64
	loadTime   time.Duration
	sideBySide bool
}

// idleRun is a prepared idle measurement: schedules loaded, ticker settled.
type idleRun struct {
	name string
	t    *tickerProc
	r    idleResult
}

func (b *bench) prepareIdle(ctx context.Context) (*idleRun, error) {
	n := b.cfg.idleN
	fmt.Fprintf(os.Stderr, "bench: idle cost of %d schedules, none due, over %s\n", n, b.cfg.idle)
	run := &idleRun{name: "idle", r: idleResult{n: n, window: b.cfg.idle}}
	dsn, err := b.newDB(ctx, run.name)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, insertIdleSchedules, n); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return nil, err
	}
	start := time.Now()
	if run.t, err = b.startTicker(ctx, run.name, dsn); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, conn, run.t, n, 5*time.Minute); err != nil {
		return nil, err
	}
	run.r.loadTime = time.Since(start)
	// Clean up after the ticker's first write of next_run_at, so that no vacuum of ours
	// or of autovacuum falls into the window. The bench's connection closes before it
	// (a closing backend flushes its statistics).
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return nil, err
	}
	return run, nil
}

// measure counts the transactions of the idle database over the window, from the admin
// connection on another database, and reads the ticker's CPU time and memory.
// Autovacuum is paused for the window (its workers' transactions would count).
func (b *bench) measureIdle(ctx context.Context, run *idleRun) (*idleResult, error) {
	if err := b.autovacuum(ctx, false); err != nil {
		return nil, err
	}
	defer func() { _ = b.autovacuum(context.WithoutCancel(ctx), true) }()
	// An idle backend reports its statistics at the latest 10 s after its last
	// statement (PGSTAT_IDLE_INTERVAL): wait for the ticker's start-up statements to be
	// counted before the window opens, not inside it.
	if err := sleep(ctx, 12*time.Second); err != nil {
		return nil, err
	}
	x0, err := b.xacts(ctx, run.name)
	if err != nil {
		return nil, err
	}
	p0, err := readProc(run.t.pid())
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, run.r.window); err != nil {
		return nil, err
	}
	p1, err := readProc(run.t.pid())
	if err != nil {
		return nil, err
	}
	// Backends report statistics at most once a second: wait for the last ones.
	if err := sleep(ctx, 1500*time.Millisecond); err != nil {
		return nil, err
	}
	x1, err := b.xacts(ctx, run.name)
	if err != nil {
		return nil, err
	}
	r := run.r
	r.xacts = x1 - x0
	r.cpu = p1.cpu - p0.cpu
	r.hwm, r.rss = p1.hwm, p1.rss
	if run.t.exited() {
		return nil, fmt.Errorf("the ticker exited:\n%s", run.t.tail())
	}
	return &r, nil
}

func (b *bench) autovacuum(ctx context.Context, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.admin.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET autovacuum = %t", on)); err != nil {
		return err
	}
	_, err := b.admin.Exec(ctx, "SELECT pg_reload_conf()")
	return err
}

func (b *bench) xacts(ctx context.Context, dbname string) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	err := b.admin.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1`, dbname).Scan(&n)
	return n, err
}

func (b *bench) idleCost(ctx context.Context, _ chan struct{}) (*idleResult, error) {
	run, err := b.prepareIdle(ctx)
	if err != nil {
		return nil, err
	}
	defer b.dropDB(ctx, run.name)
	defer run.t.stop()
	return b.measureIdle(ctx, run)
}

// latenessAndIdle prepares the idle ticker (its loading would disturb the 1 s
// schedule), then runs the lateness ticks and the idle window at the same time.
func (b *bench) latenessAndIdle(ctx context.Context) (*latenessResult, *idleResult, error) {
	run, err := b.prepareIdle(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("idle: %w", err)
	}
	defer b.dropDB(ctx, run.name)
	defer run.t.stop()
	type latOut struct {
		r   *latenessResult
		err error
	}
	started := make(chan struct{})
	done := make(chan latOut, 1)
	go func() {
		r, err := b.lateness(ctx, started)
		done <- latOut{r, err}
	}()
	select {
	case <-started:
	case out := <-done:
		return nil, nil, fmt.Errorf("lateness: %w", out.err)
	}
	idle, err := b.measureIdle(ctx, run)
	if err != nil {
		<-done
		return nil, nil, fmt.Errorf("idle: %w", err)
	}
	idle.sideBySide = true
	out := <-done
	if out.err != nil {
		return nil, nil, fmt.Errorf("lateness: %w", out.err)
	}
	return out.r, idle, nil
}

func printIdle(r idleResult) {
	secs := r.window.Seconds()
	fmt.Printf("Idle: %d schedules, none due, ticker loaded in %s; window %s", r.n, dur(r.loadTime), r.window)
	if r.sideBySide {
		fmt.Printf(" (side by side with the lateness run, in another database)")
	}
	fmt.Println()
	fmt.Printf("  transactions in its database %d = %.3f queries/s   ticker CPU %s (%.3f%% of a core)   RSS %s, peak %s\n",
		r.xacts, float64(r.xacts)/secs, r.cpu, 100*r.cpu.Seconds()/secs, mb(r.rss), mb(r.hwm))
	// "No measurable CPU": less than 0.1% of one core, below what process monitors show.
	fmt.Printf("  goals < 0.2 queries/s: %s   no measurable CPU (< 0.1%% of a core): %s   peak RSS < 50 MB: %s\n\n",
		verdict(float64(r.xacts)/secs < 0.2), verdict(r.cpu.Seconds()/secs < 0.001), verdict(r.hwm < 50<<20))
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

type reloadResult struct {
	n              int
	loadTime       time.Duration
	server, client []time.Duration
	hwm, rss       int64
}

// reload measures, with cfg.reloadN schedules loaded, the time from the commit of an
// INSERT of one schedule to the commit that writes its next_run_at (both commit
// timestamps, so the bench's polling does not blur it).
func (b *bench) reload(ctx context.Context) (reloadResult, error) {
	n := b.cfg.reloadN
	r := reloadResult{n: n}
	fmt.Fprintf(os.Stderr, "bench: reload with %d schedules loaded, %d inserts\n", n, b.cfg.reloadSamples)
	dsn, err := b.newDB(ctx, "reload")
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, "reload")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, insertIdleSchedules, n); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return r, err
	}
	start := time.Now()
	t, err := b.startTicker(ctx, "reload", dsn)
	if err != nil {
		return r, err
	}
	defer t.stop()
	if err := waitReady(ctx, conn, t, n, 5*time.Minute); err != nil {
		return r, err
	}
	r.loadTime = time.Since(start)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return r, err
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		return r, err
	}
	for i := range b.cfg.reloadSamples {
		name := fmt.Sprintf("reload-%03d", i)
		var xid string
		sent := time.Now()
		err := conn.QueryRow(ctx, `
			INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at)
			VALUES ($1, 'bench.task', 'bench', 3600, now() + interval '1 day')
			RETURNING xmin::text`, name).Scan(&xid)
		if err != nil {
			return r, err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var written bool
			var server float64
			err := conn.QueryRow(ctx, `
				SELECT planned_at IS NOT NULL,
				       coalesce(extract(epoch FROM pg_xact_commit_timestamp(xmin) - pg_xact_commit_timestamp($2::xid)) * 1000, 0)
				FROM werk_cron_state WHERE name = $1`, name, xid).Scan(&written, &server)
			if err != nil {
				return r, err
			}
			if written {
				r.client = append(r.client, time.Since(sent))
				r.server = append(r.server, ms(server))
				break
			}
			if time.Now().After(deadline) {
				return r, fmt.Errorf("%s: next_run_at not written after 30 s:\n%s", name, t.tail())
			}
			if err := sleep(ctx, 2*time.Millisecond); err != nil {
				return r, err
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return r, err
		}
	}
	p, err := readProc(t.pid())
	if err != nil {
		return r, err
	}
	r.hwm, r.rss = p.hwm, p.rss
	return r, nil
}

func printReload(r reloadResult) {
	fmt.Printf("Reload: %d schedules loaded (ticker start to all next_run_at written: %s); %d single-row INSERTs\n",
		r.n, dur(r.loadTime), len(r.server))
	fmt.Printf("  INSERT commit -> next_run_at commit   p50 %s   max %s   (seen by the client: p50 %s, max %s)\n",
		dur(median(r.server)), dur(slices.Max(r.server)), dur(median(r.client)), dur(slices.Max(r.client)))
	fmt.Printf("  ticker RSS %s, peak %s\n", mb(r.rss), mb(r.hwm))
	fmt.Printf("  goals reload < 100 ms: %s   peak RSS < 150 MB: %s\n\n",
		verdict(slices.Max(r.server) < 100*time.Millisecond), verdict(r.hwm < 150<<20))
}
