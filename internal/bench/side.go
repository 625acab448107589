package main

// A side is one system whose ticks the bench measures: a werkcron primary (`werkcron
// run`, with some --parallel) on a database of its own, or River's periodic jobs
// (internal/bench/river) on a database of its own. The River comparison (river.go)
// takes turns between several sides, each on a cluster of its own; the fan-out
// measurement (fanout.go) has one werkcron side.
//
// Every tick of a werkcron side is followed by what follows it in production, whether
// the tick is measured or not (aftercare): a pgwerk-style UPDATE marks its jobs
// complete, the primary records their outcomes (which writes their ledger rows), the
// ledger rows of the ticks before it are pruned (the ticker's own PruneTicks, as if the
// retention were one period) and werkcron's tables are vacuumed (autovacuum's part).
// So each measured tick meets the state and the ledger the tick before it left: the
// state rows name the previous tick's job, whose ledger row exists, and the ledger holds
// one tick's rows. Nothing of werkcron's (state, ledger, health) is ever emptied; only
// the job table is, on both sides, before a measured tick.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

type sideKind int

const (
	kindWerkcron sideKind = iota
	kindRiver
)

const (
	// cmpPoll is how often the bench looks whether a transaction ended during a
	// measured tick (a read of pg_current_snapshot(), which costs the server next to
	// nothing); only then does it count the job rows.
	cmpPoll = 2 * time.Millisecond
	// lsnLead: the WAL position is read this long before the due instant. River's
	// enqueuer takes jobs due within 100 ms early, so the window opens before that.
	lsnLead = 300 * time.Millisecond
	// cpuLead: the CPU time of the side's process is read this long before the due
	// instant: werkcron's primary reads and decides a fan-out of up to 100,000 in the
	// second before it (its statements then wait for the instant in the database).
	cpuLead = 2 * time.Second
	// pruneRows is the LIMIT of each ledger prune statement, the ticker's batch size.
	pruneRows = 10000
)

// side is one system under measurement.
type side struct {
	name     string
	kind     sideKind
	parallel int    // werkcron: --parallel
	bin      string // werkcron: the binary
	cluster  *pgtest.Cluster
	db, dsn  string
	conn     *pgx.Conn // on the side's database
	proc     *tickerProc
	n        int
	due0     time.Time // the side's first instant; its ticks are due0 + k*period
	period   time.Duration
	warm     bool
	warmAt   time.Time
	warmLeft int // ticks still to go through before the measured ones

	vacuumList string // werkcron: its tables (werk_cron_*)
	pruneSQL   string // werkcron: PruneTicks as the ticker runs it
	pruneArgs  []string

	ticks     []cmpTick
	life      []cmpLife
	lifeTicks []int64 // the tick WAL of the ticks in life, in the same order
	failed    int     // ticks that never completed
	dumps     []string
	warnings  []string
}

// cmpTick is one measured tick of one side.
type cmpTick struct {
	visible time.Duration // due instant -> a count saw all N job rows (see measureTick)
	commit  time.Duration // due instant -> commit of the last job row (commit timestamps)
	first   time.Duration // due instant -> commit of the first job row
	began   time.Duration // due instant -> start of the first transaction that wrote a job row
	txns    int           // transactions that wrote job rows
	wal     int64         // WAL bytes from lsnLead before the due instant to visible
	cpu     time.Duration // CPU time of the side's process from cpuLead before the due instant to visible
	hwm     int64         // the side's process's peak RSS (VmHWM) after the tick, bytes
	ledger  int64         // werkcron: ledger rows the tick wrote
	// waits counts, over samples of pg_stat_activity taken every waitSample during the
	// tick, the side's active backends by what they were doing: "CPU" (no wait event)
	// or the wait event (LWLock:WALInsert, IO:WALSync, ...).
	waits map[string]int
}

// waitSample is how often the bench samples what the side's backends wait on.
const waitSample = 10 * time.Millisecond

// cmpLife is the WAL of werkcron's ledger after a measured tick, in bytes.
type cmpLife struct {
	worker   int64         // pgwerk's UPDATE marking the jobs complete (not werkcron's)
	record   int64         // the primary recording the outcomes
	recorded time.Duration // from the jobs marked complete to every outcome recorded
	prune    int64         // PruneTicks deleting the previous tick's ledger rows
	pruned   int64         // rows it deleted
	vacuum   int64         // VACUUM of werkcron's tables afterwards
}

func (l cmpLife) total(tick int64) int64 { return tick + l.record + l.prune + l.vacuum }

// done reports whether the side has no tick left to measure: reps measured, or two that
// never completed.
func (s *side) done(reps int) bool { return len(s.ticks) >= reps || s.failed >= 2 }

func (s *side) jobs() string {
	if s.kind == kindRiver {
		return "river_job"
	}
	return "werk_jobs"
}

// began is the column holding when the transaction that inserted a job row began: its
// start (River), or when its statement began writing (werkcron: after the wait for the
// instant in the database, for a tick statement sent ahead).
func (s *side) began() string {
	if s.kind == kindRiver {
		return "created_at"
	}
	return "enqueued_at"
}

// prepare empties the job table, vacuums (autovacuum is off on the comparison's
// clusters) and checkpoints, so that every measured tick starts from the same state
// and pays the full-page images of its first touch of each page, as after any
// checkpoint. werkcron's own tables are not emptied: the tick meets what the tick
// before it and its aftercare left.
func (s *side) prepare(ctx context.Context) error {
	qs := []string{"TRUNCATE " + s.jobs(), "VACUUM"}
	if s.kind == kindWerkcron {
		qs = []string{"TRUNCATE werk_jobs", "VACUUM werk_jobs", "VACUUM " + s.vacuumList}
	}
	for _, q := range append(qs, "CHECKPOINT") {
		if _, err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %s: %w", s.name, q, err)
		}
	}
	return nil
}

// ledgerRows counts werkcron's ledger rows.
func (s *side) ledgerRows(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn.QueryRow(ctx, "SELECT count(*) FROM werk_cron_ledger").Scan(&n)
	return n, err
}

// measureTick reads the WAL position lsnLead before due, then watches for the job rows
// of the tick at due until all n are visible, and reads the WAL position again.
// Visible: the bench reads pg_current_snapshot() every cmpPoll and, whenever it changed
// (a transaction ended), counts the job rows; the figure is when the count that saw all
// n started. So the bench costs the server a trivial query every 2 ms and a count only
// after a commit, and the figure is late by at most the poll and the previous count.
// A tick that does not complete within its timeout returns an error wrapping
// errTimeout.
func (s *side) measureTick(ctx context.Context, due time.Time) (cmpTick, lsn, lsn, error) {
	var t cmpTick
	n := s.n
	var ledger0 int64
	if s.kind == kindWerkcron {
		var err error
		if ledger0, err = s.ledgerRows(ctx); err != nil {
			return t, 0, 0, err
		}
	}
	if err := sleepUntil(ctx, due.Add(-cpuLead)); err != nil {
		return t, 0, 0, err
	}
	p0, err := readProc(s.proc.pid())
	if err != nil {
		return t, 0, 0, err
	}
	if err := sleepUntil(ctx, due.Add(-lsnLead)); err != nil {
		return t, 0, 0, err
	}
	l0, err := s.lsn(ctx)
	if err != nil {
		return t, 0, 0, err
	}
	deadline := due.Add(tickTimeoutFor(n))
	prev := ""
	t.waits = map[string]int{}
	var sampled, looked time.Time
	for {
		if now := time.Now(); now.Sub(looked) >= time.Second {
			looked = now
			if err := s.gaveUp(due); err != nil {
				return t, 0, 0, err
			}
		}
		if now := time.Now(); !now.Before(due) && now.Sub(sampled) >= waitSample {
			sampled = now
			if err := s.sampleWaits(ctx, t.waits); err != nil {
				return t, 0, 0, err
			}
		}
		var snap string
		if err := s.conn.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&snap); err != nil {
			return t, 0, 0, err
		}
		if snap != prev {
			prev = snap
			start := time.Now()
			var count int
			if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+s.jobs()).Scan(&count); err != nil {
				return t, 0, 0, err
			}
			if count >= n {
				t.visible = start.Sub(due)
				break
			}
		}
		if s.proc.exited() {
			return t, 0, 0, fmt.Errorf("the process exited:\n%s", s.proc.tail())
		}
		if time.Now().After(deadline) {
			var count int
			_ = s.conn.QueryRow(ctx, "SELECT count(*) FROM "+s.jobs()).Scan(&count)
			return t, 0, 0, fmt.Errorf("%d of %d job rows after %s: %w\n%s", count, n, tickTimeoutFor(n), errTimeout, s.proc.tail())
		}
		if err := sleep(ctx, cmpPoll); err != nil {
			return t, 0, 0, err
		}
	}
	l1, err := s.lsn(ctx)
	if err != nil {
		return t, 0, 0, err
	}
	p1, err := readProc(s.proc.pid())
	if err != nil {
		return t, 0, 0, err
	}
	t.wal, t.cpu, t.hwm = int64(l1-l0), p1.cpu-p0.cpu, p1.hwm
	var rows int
	var began, commit, first float64
	err = s.conn.QueryRow(ctx, `
		SELECT count(*), count(DISTINCT xmin::text),
		       extract(epoch FROM min(`+s.began()+`) - $1) * 1000,
		       extract(epoch FROM max(pg_xact_commit_timestamp(xmin)) - $1) * 1000,
		       extract(epoch FROM min(pg_xact_commit_timestamp(xmin)) - $1) * 1000
		FROM `+s.jobs()+` WHERE scheduled_at = $1`, due).Scan(&rows, &t.txns, &began, &commit, &first)
	if err != nil {
		return t, 0, 0, err
	}
	if rows != n {
		return t, 0, 0, fmt.Errorf("%d job rows for this tick, want %d (rows of an earlier tick left? raise the period)", rows, n)
	}
	t.began, t.commit, t.first = ms(began), ms(commit), ms(first)
	if s.kind == kindWerkcron {
		ledger1, err := s.ledgerRows(ctx)
		if err != nil {
			return t, 0, 0, err
		}
		t.ledger = ledger1 - ledger0
	}
	return t, l0, l1, nil
}

// timeline lists the transactions that wrote the job rows of the tick due, in order
// of commit: rows, then when the transaction started and committed, after the instant
// (ms). What a fan-out's time goes to shows in it: the gaps between one statement's
// commit and the next one's start are the ticker's own.
func (s *side) timeline(ctx context.Context, due time.Time) (string, error) {
	rows, err := s.conn.Query(ctx, `
		SELECT count(*), extract(epoch FROM min(`+s.began()+`) - $1) * 1000,
		       extract(epoch FROM pg_xact_commit_timestamp(xmin) - $1) * 1000
		FROM `+s.jobs()+` WHERE scheduled_at = $1
		GROUP BY xmin::text, pg_xact_commit_timestamp(xmin) ORDER BY 3`, due)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n int
		var began, commit float64
		if err := rows.Scan(&n, &began, &commit); err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%d %.0f-%.0f", n, began, commit))
	}
	return strings.Join(out, ", "), rows.Err()
}

// sampleWaits adds what the side's other active backends are doing to waits.
func (s *side) sampleWaits(ctx context.Context, waits map[string]int) error {
	rows, err := s.conn.Query(ctx, `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
		FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
		  AND state = 'active'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return err
		}
		waits[w]++
	}
	return rows.Err()
}

// tickTimeoutFor bounds the wait for one tick of n jobs.
func tickTimeoutFor(n int) time.Duration { return tickTimeout + time.Duration(n)*200*time.Microsecond }

// riverGaveUp is in the line River's periodic job enqueuer logs when it gives up
// inserting the jobs due on an instant: it inserts them all in one transaction under
// a deadline (30 s in River v0.51.2), and when that passes it rolls back and goes on to
// the next instant. The tick is lost.
const riverGaveUp = "Error inserting periodic jobs"

// gaveUp returns an error wrapping errTimeout when the side's scheduler has logged,
// at or after due, that it gave up a tick (River's enqueuer at its deadline).
func (s *side) gaveUp(due time.Time) error {
	if s.kind != kindRiver {
		return nil
	}
	if line, ok := s.proc.logLine(due, riverGaveUp); ok {
		return fmt.Errorf("%s lost the tick: its enqueuer gave up inserting the %d jobs at its deadline (%s): %w", s.name, s.n, line, errTimeout)
	}
	return nil
}

// waitTicked waits for a tick that is not measured to be complete.
func (s *side) waitTicked(ctx context.Context, due time.Time) error {
	if err := sleepUntil(ctx, due); err != nil {
		return err
	}
	deadline := time.Now().Add(tickTimeoutFor(s.n))
	for {
		var count int
		if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+s.jobs()+" WHERE scheduled_at = $1", due).Scan(&count); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if count >= s.n {
			return nil
		}
		if err := s.gaveUp(due); err != nil {
			return err
		}
		if s.proc.exited() {
			return fmt.Errorf("%s's process exited:\n%s", s.name, s.proc.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d job rows of the tick at %s after %s: %w\n%s", s.name, count, s.n,
				due.Format(time.RFC3339Nano), tickTimeoutFor(s.n), errTimeout, s.proc.tail())
		}
		if err := sleep(ctx, 20*time.Millisecond+time.Duration(s.n)*100*time.Nanosecond); err != nil {
			return err
		}
	}
}

// aftercare does, after a werkcron tick at due, what follows it in production, and
// with measure set measures the WAL of each step:
//   - pgwerk's worker marks the jobs complete, as its ack does (one statement for all of
//     them here), with the primary stopped so that this WAL is the worker's alone (shown
//     apart, counted on neither side: River's worker completes its jobs too);
//   - the primary, let go again, records the outcomes on its own schedule (which writes
//     the ticks' ledger rows); the bench waits until it has recorded all n;
//   - after a CHECKPOINT (the prune runs days later), the ticker's PruneTicks deletes the
//     ledger rows of the ticks before this one, in batches of pruneRows, so that the
//     ledger holds this tick's rows when the next tick comes;
//   - after a CHECKPOINT, a VACUUM of werkcron's tables (autovacuum's part).
//
// Recording follows the tick in its checkpoint cycle, as it does within seconds in
// production. With River's side there is nothing to do.
func (s *side) aftercare(ctx context.Context, due time.Time, measure, dump bool) (cmpLife, error) {
	var l cmpLife
	if s.kind != kindWerkcron {
		return l, nil
	}
	if err := pauseRecorder(ctx, s.conn, s.proc, true); err != nil {
		return l, err
	}
	stopped := true
	defer func() {
		if stopped {
			_ = s.proc.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	l0, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	tag, err := s.conn.Exec(ctx, `UPDATE werk_jobs SET status = 'complete', started_at = now(), completed_at = now(), attempts = 1
		WHERE scheduled_at = $1 AND status = 'queued'`, due)
	if err != nil {
		return l, fmt.Errorf("mark the jobs complete: %w", err)
	}
	if int(tag.RowsAffected()) != s.n {
		return l, fmt.Errorf("marked %d jobs complete, want %d", tag.RowsAffected(), s.n)
	}
	l1, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	l.worker = int64(l1 - l0)
	if err := pauseRecorder(ctx, s.conn, s.proc, false); err != nil {
		return l, err
	}
	stopped = false

	// The primary records the outcomes on its own schedule.
	start := time.Now()
	deadline := start.Add(tickTimeout + time.Duration(s.n)*time.Millisecond)
	for {
		var got int
		if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM werk_cron_ledger WHERE tick_at = $1 AND job_status IS NOT NULL`, due).Scan(&got); err != nil {
			return l, err
		}
		if got >= s.n {
			break
		}
		if s.proc.exited() {
			return l, fmt.Errorf("the ticker exited:\n%s", s.proc.tail())
		}
		if time.Now().After(deadline) {
			return l, fmt.Errorf("the primary recorded %d of %d outcomes in %s:\n%s", got, s.n, time.Since(start), s.proc.tail())
		}
		if err := sleep(ctx, 50*time.Millisecond+time.Duration(s.n)*200*time.Nanosecond); err != nil {
			return l, err
		}
	}
	l.recorded = time.Since(start)
	l2, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	l.record = int64(l2 - l1)
	if dump {
		s.dumps = append(s.dumps, s.waldump(ctx, fmt.Sprintf("%s recording outcomes, N=%d", s.name, s.n), l1, l2))
	}

	// The prune, as the ticker runs it once the rows are past the retention.
	if measure {
		if _, err := s.conn.Exec(ctx, "CHECKPOINT"); err != nil {
			return l, err
		}
	}
	l3, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	params := map[string]any{"before": due, "max_rows": int32(pruneRows)}
	var args []any
	for _, name := range s.pruneArgs {
		args = append(args, params[name])
	}
	for {
		tag, err := s.conn.Exec(ctx, s.pruneSQL, args...)
		if err != nil {
			return l, fmt.Errorf("PruneTicks: %w", err)
		}
		l.pruned += tag.RowsAffected()
		if tag.RowsAffected() < pruneRows {
			break
		}
	}
	l4, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	l.prune = int64(l4 - l3)
	if dump {
		s.dumps = append(s.dumps, s.waldump(ctx, fmt.Sprintf("%s prune of %d rows, N=%d", s.name, l.pruned, s.n), l3, l4))
	}

	// The vacuum that clears the rows the tick, the recording and the prune left dead.
	if measure {
		if _, err := s.conn.Exec(ctx, "CHECKPOINT"); err != nil {
			return l, err
		}
	}
	l5, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	if _, err := s.conn.Exec(ctx, "VACUUM "+s.vacuumList); err != nil {
		return l, err
	}
	l6, err := s.lsn(ctx)
	if err != nil {
		return l, err
	}
	l.vacuum = int64(l6 - l5)
	if dump {
		s.dumps = append(s.dumps, s.waldump(ctx, fmt.Sprintf("%s vacuum of its tables, N=%d", s.name, s.n), l5, l6))
	}
	return l, nil
}

// startWerkcron starts the side's primary once its schedules are planned: a ticker
// plans them and is stopped, and the measured one starts on the planned table, as a
// primary does after any restart or takeover. (A primary that has run since before its
// schedules were planned holds an open-ended horizon that one restarted never has.)
func (b *bench) startWerkcron(ctx context.Context, s *side, logName string) error {
	start := func(name string) (*tickerProc, error) {
		return b.startProc(name, false, s.bin, "run", "--no-migrate", "--dsn", s.dsn,
			"--log-level", b.cfg.tickerLogLevel, "--parallel", strconv.Itoa(s.parallel))
	}
	planner, err := start(logName + "-planner")
	if err != nil {
		return err
	}
	err = waitReady(ctx, s.conn, planner, s.n, 10*time.Minute)
	planner.stop()
	if err != nil {
		return err
	}
	s.proc, err = start(logName)
	return err
}

// werkcronTables lists werkcron's own tables (werk_cron_*), which its ledger and its
// schedules' per-tick state live in, whatever the migrations call them today.
func werkcronTables(ctx context.Context, conn *pgx.Conn) (string, error) {
	var list string
	err := conn.QueryRow(ctx, `
		SELECT coalesce(string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY c.relname), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm') AND c.relname LIKE 'werk\_cron\_%' AND pg_table_is_visible(c.oid)`).Scan(&list)
	if err == nil && list == "" {
		err = errors.New("no werk_cron_* tables after the migrations")
	}
	return list, err
}

// pruneTicksQuery reads the ledger's prune statement (PruneTicks) from queries/plan.sql
// as the ticker runs it, so that the bench prunes with whatever the ticker holds today.
func pruneTicksQuery() (string, []string, error) {
	const file = "queries/plan.sql"
	raw, err := readRepoFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("the ledger's prune statement is read from %s: %w", file, err)
	}
	start := bytes.Index(raw, []byte("-- name: PruneTicks "))
	if start < 0 {
		return "", nil, fmt.Errorf("%s: no query named PruneTicks", file)
	}
	q := raw[start:]
	if next := bytes.Index(q[1:], []byte("\n-- name:")); next >= 0 {
		q = q[:next+1]
	}
	sql, order := sqlcParams(string(q))
	for _, name := range order {
		if name != "before" && name != "max_rows" {
			return "", nil, fmt.Errorf("%s PruneTicks: the bench does not know parameter @%s", file, name)
		}
	}
	return sql, order, nil
}

// lsn is a WAL position.
type lsn uint64

func (l lsn) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

func parseLSN(s string) (lsn, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad LSN %q", s)
	}
	return lsn(h<<32 | l), nil
}

// lsn is the cluster's current WAL insert position.
func (s *side) lsn(ctx context.Context) (lsn, error) {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&v); err != nil {
		return 0, err
	}
	return parseLSN(v)
}

// waldump runs pg_waldump --stats=record over [from, to) of the side's cluster and
// returns its report under title (or why there is none).
func (s *side) waldump(ctx context.Context, title string, from, to lsn) string {
	head := fmt.Sprintf("== pg_waldump --stats=record: %s (%s..%s, %d bytes)\n", title, from, to, to-from)
	// pg_waldump reads the files: wait until the range is flushed (the WAL writer
	// flushes every wal_writer_delay).
	for i := 0; ; i++ {
		var v string
		if err := s.conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&v); err != nil {
			return head + "  " + err.Error() + "\n"
		}
		if f, err := parseLSN(v); err != nil || f >= to || i >= 100 {
			break
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return head + "  " + err.Error() + "\n"
		}
	}
	bin, err := pgtest.BinDir()
	if err != nil {
		return head + "  " + err.Error() + "\n"
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_waldump"), "--stats=record",
		"-p", filepath.Join(s.cluster.Dir, "data", "pg_wal"), "-s", from.String(), "-e", to.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return head + fmt.Sprintf("  pg_waldump: %v\n%s", err, indent(stderr.String()))
	}
	return head + indent(string(out)) + s.btreeByIndex(ctx, bin, from, to)
}

// btreeByIndex sums the range's Btree records (full-page images included) by index and
// record type: which index's inserts and page splits a tick pays for.
func (s *side) btreeByIndex(ctx context.Context, bin string, from, to lsn) string {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_waldump"), "-r", "Btree",
		"-p", filepath.Join(s.cluster.Dir, "data", "pg_wal"), "-s", from.String(), "-e", to.String())
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("  Btree by index: pg_waldump: %v\n", err)
	}
	type key struct{ node, kind string }
	bytes, count := map[key]int64{}, map[key]int64{}
	for _, l := range strings.Split(string(out), "\n") {
		// rmgr: Btree len (rec/tot): 64/ 64, tx: ..., desc: INSERT_LEAF off 2, blkref #0: rel 1663/5/16390 blk 1
		_, tot, ok := strings.Cut(l, "len (rec/tot):")
		desc, rel := strings.Index(l, "desc: "), strings.Index(l, " rel ")
		if !ok || desc < 0 || rel < 0 {
			continue
		}
		tot, _, _ = strings.Cut(tot, ",")
		_, tot, _ = strings.Cut(tot, "/")
		n, err := strconv.ParseInt(strings.TrimSpace(tot), 10, 64)
		if err != nil {
			continue
		}
		kind := strings.Fields(l[desc+len("desc: "):])[0]
		node := strings.Fields(l[rel+len(" rel "):])[0]
		node = node[strings.LastIndex(node, "/")+1:]
		bytes[key{node, kind}] += n
		count[key{node, kind}]++
	}
	names := map[string]string{}
	rows, err := s.conn.Query(ctx, "SELECT relfilenode::text, relname::text FROM pg_class WHERE relkind = 'i'")
	if err == nil {
		for rows.Next() {
			var node, name string
			if rows.Scan(&node, &name) == nil {
				names[node] = name
			}
		}
		rows.Close()
	}
	keys := make([]key, 0, len(bytes))
	for k := range bytes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes[keys[i]] > bytes[keys[j]] })
	var b strings.Builder
	b.WriteString("  Btree records by index (full-page images included):\n")
	for _, k := range keys {
		name := names[k.node]
		if name == "" {
			name = "relfilenode " + k.node
		}
		fmt.Fprintf(&b, "    %-45s %-14s %8d records %10d bytes\n", name, k.kind, count[k], bytes[k])
	}
	return b.String()
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
