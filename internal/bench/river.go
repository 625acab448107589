package main

// The River comparison (section "river"): River's periodic jobs next to werkcron's
// fan-out, in the same run, on two throwaway clusters configured alike, their ticks
// taking turns.
//
// Two clusters rather than two databases in one: the WAL figure is the delta of
// pg_current_wal_insert_lsn(), which is the cluster's, and each side's process writes
// now and then while idle (River's leader keeps its lease in river_leader and its
// maintenance services write; werkcron's primary records outcomes), so on one cluster
// either side's idle writes would be counted in the other's tick; and a CHECKPOINT
// before a tick would flush the other side's pages too. Each cluster is pgtest's, with
// the bench's settings (appendConf) and autovacuum off, and their postgresql.conf are
// checked to be the same but for the port and the socket directory.
//
// werkcron: N interval schedules sharing one starts_at, a real `werkcron run`.
// River: N periodic jobs (river.Config.PeriodicJobs, leader election on, River's
// default intervals) in one client, in a process of its own (internal/bench/river, a
// module of its own so that River stays out of werkcron's go.mod). Both have the same
// period P; River's instants are werkcron's plus P/2. Each side's first complete tick
// is a warm-up; after it, every tick either is measured (there was time before it to
// empty the side's tables, VACUUM and CHECKPOINT) or is waited for and emptied, so
// that no tick or clean-up of one side runs during a tick of the other.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

const (
	// cmpPoll is how often the bench counts a side's job rows during a measured tick.
	cmpPoll = 2 * time.Millisecond
	// lsnLead: the WAL position is read this long before the due instant. River's
	// enqueuer takes jobs due within 100 ms early, so the window opens before that.
	lsnLead = 300 * time.Millisecond
	// pruneRows is the LIMIT of each ledger prune statement, the ticker's batch size.
	pruneRows = 10000
)

// riverPeriodFor leaves each side half a period for its tick and what follows it
// (werkcron: recording the outcomes, which the primary does a second or more after
// the jobs end, the prune and a vacuum, three checkpoints) and the other side's
// emptying and checkpoint before its tick.
func riverPeriodFor(n int) time.Duration {
	half := 6*time.Second + time.Duration(n)*300*time.Microsecond
	return (2 * half).Round(time.Second)
}

// prepBudget is the least time before a tick for the bench to start preparing it
// (emptying, VACUUM, CHECKPOINT: a checkpoint has little to flush by then, since the
// side's last rows were truncated or, on werkcron's side, checkpointed after).
func prepBudget(n int) time.Duration { return time.Second + time.Duration(n)*20*time.Microsecond }

// cmpTick is one measured tick of one side.
type cmpTick struct {
	visible time.Duration // due instant -> the poller saw all N job rows
	commit  time.Duration // due instant -> commit of the last job row (commit timestamps)
	began   time.Duration // due instant -> start of the first transaction that wrote a job row
	txns    int           // transactions that wrote job rows
	wal     int64         // WAL bytes from lsnLead before the due instant to visible
}

// cmpLife is the WAL of werkcron's ledger after a measured tick, in bytes.
type cmpLife struct {
	worker   int64         // pgwerk's UPDATE marking the jobs complete (not werkcron's)
	record   int64         // the primary recording the outcomes
	recorded time.Duration // from the jobs marked complete to every outcome recorded
	prune    int64         // PruneTicks deleting the tick's ledger rows
	vacuum   int64         // VACUUM of werkcron's tables afterwards
}

func (l cmpLife) total(tick int64) int64 { return tick + l.record + l.prune + l.vacuum }

type riverResult struct {
	n, reps   int
	period    time.Duration
	river     []cmpTick
	werk      []cmpTick
	life      []cmpLife
	lifeTicks []int64 // werkcron's tick WAL of the ticks in life, in the same order
	dumps     []string
	warnings  []string
}

// cmpSide is one of the two systems compared, on its own cluster.
type cmpSide struct {
	name    string
	cluster *pgtest.Cluster
	conn    *pgx.Conn // on the side's database
	proc    *tickerProc
	jobs    string // the table of the job rows
	empty   string // empties what a tick writes
	began   string // column holding the start of the transaction that inserted a job row
	warm    bool
	warmAt  time.Time
	due0    time.Time // the side's first instant; its ticks are due0 + k*period
}

// riverCmp is what the section shares across sizes: the clusters, River's binary and
// the prune statement.
type riverCmp struct {
	werk, river *pgtest.Cluster
	riverBin    string
	pruneSQL    string
	pruneArgs   []string // parameter names in order
}

// riverSetup boots the two clusters, builds River's side and reads the ledger's prune
// statement, once per run.
func (b *bench) riverSetup(ctx context.Context) (*riverCmp, error) {
	if b.rc != nil {
		return b.rc, nil
	}
	rc := &riverCmp{}
	var err error
	if rc.pruneSQL, rc.pruneArgs, err = pruneTicksQuery(); err != nil {
		return nil, err
	}
	if rc.riverBin, err = b.buildRiver(ctx); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		dir string
		to  **pgtest.Cluster
	}{{"pg-werkcron", &rc.werk}, {"pg-river", &rc.river}} {
		cl, err := pgtest.Init(ctx, filepath.Join(b.dir, c.dir))
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.extraClusters = append(b.extraClusters, cl)
		b.mu.Unlock()
		if err := appendConf(cl, b.cfg); err != nil {
			return nil, err
		}
		if err := appendLine(cl, "autovacuum = off\n"); err != nil {
			return nil, err
		}
		*c.to = cl
	}
	if err := sameConf(rc.werk, rc.river); err != nil {
		return nil, err
	}
	for _, cl := range []*pgtest.Cluster{rc.werk, rc.river} {
		if err := cl.Start(ctx); err != nil {
			return nil, err
		}
	}
	b.rc = rc
	return rc, nil
}

// riverTeardown stops the comparison's clusters once it is done, so that they sit in
// no later measurement (with -keep their directories stay, as the main cluster's).
func (b *bench) riverTeardown() {
	if b.rc == nil {
		return
	}
	for _, c := range []*pgtest.Cluster{b.rc.werk, b.rc.river} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if b.cfg.keep {
			_ = c.Stop(ctx, "fast")
		} else {
			_ = c.Remove(ctx)
		}
		cancel()
	}
	b.rc = nil
}

func appendLine(c *pgtest.Cluster, line string) error {
	f, err := os.OpenFile(filepath.Join(c.Dir, "data", "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(line)
	return err
}

// sameConf checks that two clusters' postgresql.conf differ only in the lines that
// must: the port and the socket directory.
func sameConf(a, b *pgtest.Cluster) error {
	read := func(c *pgtest.Cluster) ([]string, error) {
		raw, err := os.ReadFile(filepath.Join(c.Dir, "data", "postgresql.conf"))
		if err != nil {
			return nil, err
		}
		var out []string
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "port =") || strings.HasPrefix(l, "unix_socket_directories =") {
				continue
			}
			out = append(out, l)
		}
		return out, nil
	}
	ca, err := read(a)
	if err != nil {
		return err
	}
	cb, err := read(b)
	if err != nil {
		return err
	}
	if !slices.Equal(ca, cb) {
		return fmt.Errorf("the two clusters' postgresql.conf differ (%s, %s)", a.Dir, b.Dir)
	}
	return nil
}

// riverModule is River's side of the comparison, a Go module of its own, relative to
// the repository root.
var riverModule = filepath.Join("internal", "bench", "river")

// buildRiver builds River's side into the scratch directory.
func (b *bench) buildRiver(ctx context.Context) (string, error) {
	if _, err := os.Stat(filepath.Join(riverModule, "go.mod")); err != nil {
		return "", fmt.Errorf("River's side is built from %s: run the bench from the repository root, as make bench does: %w", riverModule, err)
	}
	out := filepath.Join(b.dir, "riverbench")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = riverModule
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build River's side (%s, a module of its own: it needs River's modules in the module cache or from the Go module proxy; -only without river skips it): %w\n%s",
			riverModule, err, msg)
	}
	return out, nil
}

// pruneTicksQuery reads the ledger's prune statement (PruneTicks) from queries/plan.sql
// as the ticker runs it, so that the bench prunes with whatever the ticker holds today.
func pruneTicksQuery() (string, []string, error) {
	const file = "queries/plan.sql"
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("the ledger's prune statement is read from %s: run the bench from the repository root: %w", file, err)
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

func (b *bench) riverCompare(ctx context.Context, n, reps int) (riverResult, error) {
	r := riverResult{n: n, reps: reps, period: b.cfg.riverPeriod}
	if r.period <= 0 {
		r.period = riverPeriodFor(n)
	}
	rc, err := b.riverSetup(ctx)
	if err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "bench: River and werkcron, %d jobs due on one instant, every %s each, taking turns; %d ticks each measured\n",
		n, r.period, reps)

	// The databases, one on each cluster.
	werkDB, riverDB := fmt.Sprintf("werkcron_%d", n), fmt.Sprintf("river_%d", n)
	werkDSN, err := createDB(ctx, rc.werk, werkDB)
	if err != nil {
		return r, err
	}
	defer dropDBOn(rc.werk, werkDB)
	if err := scheduler.Migrate(ctx, werkDSN, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return r, fmt.Errorf("migrate werkcron: %w", err)
	}
	riverDSN, err := createDB(ctx, rc.river, riverDB)
	if err != nil {
		return r, err
	}
	defer dropDBOn(rc.river, riverDB)
	if out, err := exec.CommandContext(ctx, rc.riverBin, "migrate", "-dsn", riverDSN).CombinedOutput(); err != nil {
		return r, fmt.Errorf("River's migrations: %w\n%s", err, out)
	}

	werk := &cmpSide{name: "werkcron", cluster: rc.werk, jobs: "werk_jobs",
		empty: "TRUNCATE werk_jobs, werk_cron_ledger", began: "enqueued_at"}
	river := &cmpSide{name: "River", cluster: rc.river, jobs: "river_job",
		empty: "TRUNCATE river_job", began: "created_at"}
	for _, s := range []struct {
		side *cmpSide
		dsn  string
	}{{werk, werkDSN}, {river, riverDSN}} {
		if s.side.conn, err = pgx.Connect(ctx, s.dsn); err != nil {
			return r, err
		}
		defer s.side.conn.Close(context.Background())
	}
	vacuumList, err := werkcronTables(ctx, werk.conn)
	if err != nil {
		return r, err
	}

	// The schedules, and both processes. The first instant leaves werkcron time to
	// load the schedules and River time to elect a leader; a side that is not ready
	// by its first instant warms up on a later one.
	now, err := dbNow(ctx, werk.conn)
	if err != nil {
		return r, err
	}
	werk.due0 = now.Truncate(time.Second).Add(3*time.Second + prepTime(n)).Truncate(time.Second)
	river.due0 = werk.due0.Add(r.period / 2)
	if _, err := werk.conn.Exec(ctx, insertSchedules, n, int(r.period/time.Second), werk.due0); err != nil {
		return r, err
	}
	if _, err := werk.conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return r, err
	}
	if werk.proc, err = b.startTicker(ctx, fmt.Sprintf("river-werkcron-%d", n), werkDSN); err != nil {
		return r, err
	}
	defer werk.proc.stop()
	if river.proc, err = b.startProc(fmt.Sprintf("river-%d", n), true, rc.riverBin, "run", "-dsn", riverDSN,
		"-n", strconv.Itoa(n), "-anchor", river.due0.UTC().Format(time.RFC3339Nano), "-every", r.period.String(),
		"-id", fmt.Sprintf("riverbench-%d", n)); err != nil {
		return r, err
	}
	defer river.proc.stop()

	if err := warmUp(ctx, n, r.period, werk, river); err != nil {
		return r, err
	}

	// The ticks, in order of their instants from the first after both warm-ups.
	k := 0
	for ; ; k++ {
		w, v := werk.due0.Add(time.Duration(k)*r.period), river.due0.Add(time.Duration(k)*r.period)
		if w.After(werk.warmAt) && w.After(river.warmAt) && v.After(werk.warmAt) && v.After(river.warmAt) {
			break
		}
	}
	maxTicks := 4*reps + 4 // each side's ticks: up to every other one not measured, and two more
	for i := 0; len(r.werk) < reps || len(r.river) < reps; i++ {
		if i >= maxTicks {
			r.warnings = append(r.warnings, fmt.Sprintf("stopped after %d ticks with %d werkcron and %d River ticks measured (raise -river-period)",
				i, len(r.werk), len(r.river)))
			break
		}
		s, due := werk, werk.due0.Add(time.Duration(k)*r.period)
		if i%2 == 1 {
			s, due = river, river.due0.Add(time.Duration(k)*r.period)
			k++
		}
		measured := (s == werk && len(r.werk) < reps) || (s == river && len(r.river) < reps)
		if measured && time.Until(due) < prepBudget(n) {
			measured = false
			if i >= 2 { // before, the warm-ups just ended close to it
				r.warnings = append(r.warnings, fmt.Sprintf("%s tick at %s: too little time left to prepare it after the last tick; not measured (raise -river-period)",
					s.name, due.Format("15:04:05.000")))
			}
		}
		if measured {
			if err := s.prepare(ctx); err != nil {
				return r, fmt.Errorf("%s: %w", s.name, err)
			}
			if time.Until(due) < lsnLead+20*time.Millisecond {
				measured = false
				r.warnings = append(r.warnings, fmt.Sprintf("%s tick at %s: emptying and checkpointing took until %s before it; not measured (raise -river-period)",
					s.name, due.Format("15:04:05.000"), time.Until(due).Round(time.Millisecond)))
			}
		}
		if !measured {
			if err := s.waitTicked(ctx, due, n); err != nil {
				return r, err
			}
			continue
		}
		last := (s == werk && len(r.werk) == reps-1) || (s == river && len(r.river) == reps-1)
		t, l0, l1, err := s.measureTick(ctx, due, n)
		if err != nil {
			return r, fmt.Errorf("%s tick at %s: %w", s.name, due.Format(time.RFC3339Nano), err)
		}
		if last && b.cfg.waldump {
			r.dumps = append(r.dumps, s.waldump(ctx, fmt.Sprintf("%s tick, N=%d", s.name, n), l0, l1))
		}
		if s == river {
			r.river = append(r.river, t)
			fmt.Fprintf(os.Stderr, "bench:   River tick %d: %s, %d B/job\n", len(r.river), dur(t.visible), t.wal/int64(n))
			continue
		}
		r.werk = append(r.werk, t)
		life, dumps, err := werk.lifetime(ctx, due, n, rc, vacuumList, last && b.cfg.waldump)
		if err != nil {
			return r, fmt.Errorf("werkcron's ledger after the tick at %s: %w", due.Format(time.RFC3339Nano), err)
		}
		r.life, r.lifeTicks = append(r.life, life), append(r.lifeTicks, t.wal)
		r.dumps = append(r.dumps, dumps...)
		fmt.Fprintf(os.Stderr, "bench:   werkcron tick %d: %s, %d B/job; outcomes %d B/job (recorded after %s), prune %d B/job, vacuum %d B/job\n",
			len(r.werk), dur(t.visible), t.wal/int64(n), life.record/int64(n), dur(life.recorded), life.prune/int64(n), life.vacuum/int64(n))
	}
	return r, nil
}

// createDB creates database name on cluster c and returns its URL.
func createDB(ctx context.Context, c *pgtest.Cluster, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return c.DSN(name), nil
}

func dropDBOn(c *pgtest.Cluster, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
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

// warmUp waits until each side has written one complete tick, and empties its tables
// right after that tick (its next is a period away).
func warmUp(ctx context.Context, n int, period time.Duration, sides ...*cmpSide) error {
	deadline := time.Now().Add(5*time.Minute + 2*period)
	for {
		warm := 0
		for _, s := range sides {
			if s.warm {
				warm++
				continue
			}
			var count int
			var last *time.Time
			if err := s.conn.QueryRow(ctx, "SELECT count(*), max(scheduled_at) FROM "+s.jobs).Scan(&count, &last); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if count >= n {
				if _, err := s.conn.Exec(ctx, s.empty); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				s.warm, s.warmAt = true, *last
				fmt.Fprintf(os.Stderr, "bench:   %s warmed up on its tick at %s\n", s.name, last.Format("15:04:05.000"))
				continue
			}
			if s.proc.exited() {
				return fmt.Errorf("%s's process exited:\n%s", s.name, s.proc.tail())
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s wrote %d of %d job rows for its first tick in %s:\n%s", s.name, count, n,
					5*time.Minute+2*period, s.proc.tail())
			}
		}
		if warm == len(sides) {
			return nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// prepare empties the tables a tick writes, vacuums (autovacuum is off) and
// checkpoints, so that every measured tick starts from the same state and pays the
// full-page images of its first touch of each page, as after any checkpoint.
func (s *cmpSide) prepare(ctx context.Context) error {
	for _, q := range []string{s.empty, "VACUUM", "CHECKPOINT"} {
		if _, err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// waitTicked waits for a tick that is not measured to be complete, then empties the
// side's tables, so that neither its rows nor what they set off (werkcron's primary
// passes over jobs awaiting an outcome) run into the next tick.
func (s *cmpSide) waitTicked(ctx context.Context, due time.Time, n int) error {
	if err := sleepUntil(ctx, due); err != nil {
		return err
	}
	deadline := time.Now().Add(tickTimeout)
	for {
		var count int
		if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+s.jobs+" WHERE scheduled_at = $1", due).Scan(&count); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if count >= n {
			_, err := s.conn.Exec(ctx, s.empty)
			return err
		}
		if s.proc.exited() {
			return fmt.Errorf("%s's process exited:\n%s", s.name, s.proc.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d job rows of the tick at %s after %s:\n%s", s.name, count, n,
				due.Format(time.RFC3339Nano), tickTimeout, s.proc.tail())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// measureTick reads the WAL position lsnLead before due, counts the job rows every
// cmpPoll from due until all n are there, and reads the WAL position again.
func (s *cmpSide) measureTick(ctx context.Context, due time.Time, n int) (cmpTick, lsn, lsn, error) {
	var t cmpTick
	if err := sleepUntil(ctx, due.Add(-lsnLead)); err != nil {
		return t, 0, 0, err
	}
	l0, err := s.lsn(ctx)
	if err != nil {
		return t, 0, 0, err
	}
	if err := sleepUntil(ctx, due); err != nil {
		return t, 0, 0, err
	}
	deadline := due.Add(tickTimeout)
	count := 0
	for {
		if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+s.jobs).Scan(&count); err != nil {
			return t, 0, 0, err
		}
		if count >= n {
			t.visible = time.Since(due)
			break
		}
		if s.proc.exited() {
			return t, 0, 0, fmt.Errorf("the process exited:\n%s", s.proc.tail())
		}
		if time.Now().After(deadline) {
			return t, 0, 0, fmt.Errorf("%d of %d job rows after %s:\n%s", count, n, tickTimeout, s.proc.tail())
		}
		if err := sleep(ctx, cmpPoll); err != nil {
			return t, 0, 0, err
		}
	}
	l1, err := s.lsn(ctx)
	if err != nil {
		return t, 0, 0, err
	}
	t.wal = int64(l1 - l0)
	var rows int
	var began, commit float64
	err = s.conn.QueryRow(ctx, `
		SELECT count(*), count(DISTINCT xmin::text),
		       extract(epoch FROM min(`+s.began+`) - $1) * 1000,
		       extract(epoch FROM max(pg_xact_commit_timestamp(xmin)) - $1) * 1000
		FROM `+s.jobs+` WHERE scheduled_at = $1`, due).Scan(&rows, &t.txns, &began, &commit)
	if err != nil {
		return t, 0, 0, err
	}
	if rows != n || count != n {
		return t, 0, 0, fmt.Errorf("%d job rows, %d of them for this tick, want %d (rows of an earlier tick left? raise -river-period)", count, rows, n)
	}
	t.began, t.commit = ms(began), ms(commit)
	return t, l0, l1, nil
}

// lifetime measures the WAL werkcron's ledger costs after the tick at due: the
// primary recording the jobs' outcomes once they are complete, the prune that deletes
// the ledger rows when they are past the retention, and a vacuum of werkcron's tables
// afterwards. Recording follows the tick within seconds, as it does in production, so
// it shares the tick's checkpoint cycle; the prune runs days later and the vacuum
// after it, so each starts after a CHECKPOINT and pays its full-page images.
func (s *cmpSide) lifetime(ctx context.Context, due time.Time, n int, rc *riverCmp, vacuumList string, dump bool) (cmpLife, []string, error) {
	var l cmpLife
	var dumps []string
	// pgwerk's worker marks the jobs complete, as its ack does (one statement for all
	// of them here), with the primary stopped so that this WAL is the worker's alone.
	if err := pauseRecorder(ctx, s.conn, s.proc, true); err != nil {
		return l, nil, err
	}
	stopped := true
	defer func() {
		if stopped {
			_ = s.proc.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	l0, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	tag, err := s.conn.Exec(ctx, `UPDATE werk_jobs SET status = 'complete', started_at = now(), completed_at = now(), attempts = 1
		WHERE scheduled_at = $1 AND status = 'queued'`, due)
	if err != nil {
		return l, nil, fmt.Errorf("mark the jobs complete: %w", err)
	}
	if int(tag.RowsAffected()) != n {
		return l, nil, fmt.Errorf("marked %d jobs complete, want %d", tag.RowsAffected(), n)
	}
	l1, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	l.worker = int64(l1 - l0)
	if err := pauseRecorder(ctx, s.conn, s.proc, false); err != nil {
		return l, nil, err
	}
	stopped = false

	// The primary records the outcomes on its own schedule.
	start := time.Now()
	deadline := start.Add(tickTimeout)
	for {
		var got int
		if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM werk_cron_ticks WHERE tick_at = $1 AND job_status IS NOT NULL`, due).Scan(&got); err != nil {
			return l, nil, err
		}
		if got >= n {
			break
		}
		if s.proc.exited() {
			return l, nil, fmt.Errorf("the ticker exited:\n%s", s.proc.tail())
		}
		if time.Now().After(deadline) {
			return l, nil, fmt.Errorf("the primary recorded %d of %d outcomes in %s:\n%s", got, n, tickTimeout, s.proc.tail())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return l, nil, err
		}
	}
	l.recorded = time.Since(start)
	l2, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	l.record = int64(l2 - l1)
	if dump {
		dumps = append(dumps, s.waldump(ctx, fmt.Sprintf("werkcron recording outcomes, N=%d", n), l1, l2))
	}

	// The prune, as the ticker runs it once the rows are past the retention.
	if _, err := s.conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return l, nil, err
	}
	l3, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	params := map[string]any{"before": due.Add(time.Second), "max_rows": int32(pruneRows)}
	var args []any
	for _, name := range rc.pruneArgs {
		args = append(args, params[name])
	}
	pruned := 0
	for {
		tag, err := s.conn.Exec(ctx, rc.pruneSQL, args...)
		if err != nil {
			return l, nil, fmt.Errorf("PruneTicks: %w", err)
		}
		pruned += int(tag.RowsAffected())
		if tag.RowsAffected() < pruneRows {
			break
		}
	}
	if pruned != n {
		return l, nil, fmt.Errorf("PruneTicks deleted %d ledger rows, want %d", pruned, n)
	}
	l4, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	l.prune = int64(l4 - l3)
	if dump {
		dumps = append(dumps, s.waldump(ctx, fmt.Sprintf("werkcron prune, N=%d", n), l3, l4))
	}

	// The vacuum that clears the rows the tick, the recording and the prune left dead.
	if _, err := s.conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return l, nil, err
	}
	l5, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	if _, err := s.conn.Exec(ctx, "VACUUM "+vacuumList); err != nil {
		return l, nil, err
	}
	l6, err := s.lsn(ctx)
	if err != nil {
		return l, nil, err
	}
	l.vacuum = int64(l6 - l5)
	if dump {
		dumps = append(dumps, s.waldump(ctx, fmt.Sprintf("werkcron vacuum of %s, N=%d", vacuumList, n), l5, l6))
	}
	return l, dumps, nil
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
func (s *cmpSide) lsn(ctx context.Context) (lsn, error) {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&v); err != nil {
		return 0, err
	}
	return parseLSN(v)
}

// waldump runs pg_waldump --stats=record over [from, to) of the side's cluster and
// returns its report under title (or why there is none).
func (s *cmpSide) waldump(ctx context.Context, title string, from, to lsn) string {
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
	return head + indent(string(out))
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

func printRiver(rs []riverResult) {
	if len(rs) == 0 {
		return
	}
	fmt.Println("River and werkcron: N periodic jobs (River v0.51.2, one client, leader) / N interval schedules (werkcron run),")
	fmt.Printf("  all due on one instant, every %s (by N) on each side, ticks taking turns; two clusters, identically configured, autovacuum off\n", periods(rs))
	fmt.Printf("  time = due instant -> a poller (count(*) every %s) sees all N job rows; WAL = pg_current_wal_insert_lsn() from %s before\n", cmpPoll, lsnLead)
	fmt.Println("  the due instant to then, per job; each measured tick after emptying the side's tables, VACUUM and CHECKPOINT; medians;")
	fmt.Println("  ticks = measured ticks River/werkcron; ÷ River = werkcron's figure divided by River's")
	fmt.Printf("  %8s %7s %10s %10s %10s %12s %12s %10s\n", "N", "ticks", "River", "werkcron", "÷ River", "River WAL", "werkcron WAL", "÷ River")
	for _, r := range rs {
		if len(r.river) == 0 || len(r.werk) == 0 {
			fmt.Printf("  %8d  not measured on both sides\n", r.n)
			continue
		}
		rt, wt := median(visible(r.river)), median(visible(r.werk))
		rw, ww := medianInt(wals(r.river)), medianInt(wals(r.werk))
		fmt.Printf("  %8d %3d/%-3d %10s %10s %9.2fx %8d B/job %8d B/job %9.2fx\n", r.n, len(r.river), len(r.werk),
			dur(rt), dur(wt), ratio(wt, rt), rw/int64(r.n), ww/int64(r.n), float64(ww)/float64(max(rw, 1)))
	}
	for _, r := range rs {
		fmt.Printf("  N=%d each tick: River %s; werkcron %s\n", r.n, durList(visible(r.river)), durList(visible(r.werk)))
		fmt.Printf("  N=%d each tick's WAL per job: River %s; werkcron %s\n", r.n, perJob(wals(r.river), r.n), perJob(wals(r.werk), r.n))
		if len(r.river) > 0 && len(r.werk) > 0 {
			fmt.Printf("  N=%d from the due instant, medians: first job row's transaction began River %s, werkcron %s; last job row committed River %s, werkcron %s; transactions River %d, werkcron %d\n",
				r.n, dur(median(field(r.river, func(t cmpTick) time.Duration { return t.began }))),
				dur(median(field(r.werk, func(t cmpTick) time.Duration { return t.began }))),
				dur(median(field(r.river, func(t cmpTick) time.Duration { return t.commit }))),
				dur(median(field(r.werk, func(t cmpTick) time.Duration { return t.commit }))),
				slices.Max(txns(r.river)), slices.Max(txns(r.werk)))
		}
		if len(r.river) < 5 || len(r.werk) < 5 {
			fmt.Printf("  N=%d: fewer than 5 ticks measured on a side: a smoke test, not a figure\n", r.n)
		}
		for _, w := range r.warnings {
			fmt.Printf("  N=%d warning: %s\n", r.n, w)
		}
	}
	fmt.Println()

	fmt.Println("werkcron's ledger over a tick's life: WAL per tick (per job), medians. The outcomes are recorded by the primary")
	fmt.Println("  once a pgwerk-style UPDATE has marked the jobs complete (that UPDATE's own WAL is pgwerk's, shown apart, not counted),")
	fmt.Println("  in the tick's checkpoint cycle; the prune (queries/plan.sql PruneTicks, as the ticker runs it past the retention) and")
	fmt.Println("  the VACUUM of werkcron's tables after it each start after a CHECKPOINT, as they run days later")
	fmt.Printf("  %8s %16s %16s %16s %16s %16s %9s %16s\n", "N", "tick", "outcomes", "prune", "vacuum", "total", "÷ River", "pgwerk's UPDATE")
	for _, r := range rs {
		if len(r.life) == 0 {
			continue
		}
		tick := medianInt(r.lifeTicks)
		rec := medianInt(lifeField(r.life, func(l cmpLife) int64 { return l.record }))
		pr := medianInt(lifeField(r.life, func(l cmpLife) int64 { return l.prune }))
		vac := medianInt(lifeField(r.life, func(l cmpLife) int64 { return l.vacuum }))
		wk := medianInt(lifeField(r.life, func(l cmpLife) int64 { return l.worker }))
		var totals []int64
		for i, l := range r.life {
			totals = append(totals, l.total(r.lifeTicks[i]))
		}
		tot := medianInt(totals)
		riverWAL := ""
		if len(r.river) > 0 {
			riverWAL = fmt.Sprintf("%8.2fx", float64(tot)/float64(max(medianInt(wals(r.river)), 1)))
		}
		fmt.Printf("  %8d %16s %16s %16s %16s %16s %9s %16s\n", r.n, perTick(tick, r.n), perTick(rec, r.n), perTick(pr, r.n),
			perTick(vac, r.n), perTick(tot, r.n), riverWAL, perTick(wk, r.n))
		var took []time.Duration
		for _, l := range r.life {
			took = append(took, l.recorded)
		}
		fmt.Printf("  N=%d the primary had recorded every outcome %s after the jobs were marked complete (each: %s)\n",
			r.n, dur(median(took)), durList(took))
	}
	fmt.Println("  ÷ River: werkcron's total against River's tick. River keeps no ledger: what happens to its job row later (a worker")
	fmt.Println("  completes it, River's cleaner deletes it) has its counterpart in pgwerk's writes to werk_jobs, counted on neither side.")
	fmt.Println()

	for _, r := range rs {
		for _, d := range r.dumps {
			fmt.Print(d)
		}
	}
	if len(rs) > 0 && len(rs[0].dumps) > 0 {
		fmt.Println()
	}
}

func periods(rs []riverResult) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.period.String())
	}
	return strings.Join(slices.Compact(s), ", ")
}

func visible(ts []cmpTick) []time.Duration {
	return field(ts, func(t cmpTick) time.Duration { return t.visible })
}

func field(ts []cmpTick, f func(cmpTick) time.Duration) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		out = append(out, f(t))
	}
	return out
}

func wals(ts []cmpTick) []int64 {
	var out []int64
	for _, t := range ts {
		out = append(out, t.wal)
	}
	return out
}

func txns(ts []cmpTick) []int {
	out := []int{0}
	for _, t := range ts {
		out = append(out, t.txns)
	}
	return out
}

func lifeField(ls []cmpLife, f func(cmpLife) int64) []int64 {
	var out []int64
	for _, l := range ls {
		out = append(out, f(l))
	}
	return out
}

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func durList(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	var s []string
	for _, d := range ds {
		s = append(s, dur(d))
	}
	return strings.Join(s, " ")
}

func perJob(v []int64, n int) string {
	if len(v) == 0 {
		return "-"
	}
	var s []string
	for _, b := range v {
		s = append(s, strconv.FormatInt(b/int64(n), 10))
	}
	return strings.Join(s, " ") + " B"
}

// perTick is bytes per tick, with bytes per job in parentheses.
func perTick(b int64, n int) string {
	var t string
	switch {
	case b >= 10<<20:
		t = fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
	case b >= 1<<20:
		t = fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	case b >= 10<<10:
		t = fmt.Sprintf("%.0f kB", float64(b)/(1<<10))
	default:
		t = fmt.Sprintf("%.1f kB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%s (%d B)", t, b/int64(n))
}
