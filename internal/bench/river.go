package main

// The River comparison (section "river"): River's periodic jobs next to werkcron's
// fan-out, in the same run, each side on a throwaway cluster of its own, configured
// alike, their ticks taking turns: River, then werkcron with each --parallel of
// -parallel (1, 2 and 4 connections by default).
//
// A cluster per side rather than a database per side in one: the WAL figure is the
// delta of pg_current_wal_insert_lsn(), which is the cluster's, and each side's process
// writes now and then while idle (River's leader keeps its lease in river_leader and
// its maintenance services write; werkcron's primary records outcomes), so on one
// cluster either side's idle writes would be counted in the other's tick; and a
// CHECKPOINT before a tick would flush the other sides' pages too. Each cluster is
// pgtest's, with the bench's settings (appendConf), autovacuum off (the bench vacuums
// between ticks) and max_wal_size large enough that no checkpoint starts inside a tick
// of 1,000,000; their postgresql.conf are checked to be the same but for the port and
// the socket directory.
//
// werkcron: N interval schedules sharing one starts_at, a real `werkcron run`. River:
// N periodic jobs (river.Config.PeriodicJobs, leader election on, River's default
// intervals) in one client, in a process of its own (internal/bench/river, a module of
// its own so that River stays out of werkcron's go.mod). All sides have the same period
// P, the k-th side's instants P/K after the (k-1)-th's. Each side's first complete tick
// and the next -warmup - 1 are warm-ups; after them, every tick either is measured (there was time before it to
// empty the side's job table, VACUUM and CHECKPOINT) or is waited for, and every
// werkcron tick, measured or not, gets its aftercare (side.go: its jobs completed,
// their outcomes recorded by the primary, the ledger pruned, the tables vacuumed), so
// that no tick or clean-up of one side runs during a measured tick of another, and each
// measured werkcron tick meets the state its previous tick left.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// cmpMaxWALSize is the comparison clusters' max_wal_size: a tick of 1,000,000 jobs
// writes about a gigabyte of WAL on either side, and with the default 1 GB a checkpoint
// would start inside it (its pages then pay a second full-page image).
const cmpMaxWALSize = "16GB"

// slotFor is a side's share of the period: room for its tick and the next side's
// emptying and checkpoint before its own, and on werkcron's side for the tick's
// aftercare (the jobs marked complete, the outcomes recorded, which the primary does a
// second or more after the jobs end, the prune and the vacuum, two checkpoints).
func slotFor(kind sideKind, n int) time.Duration {
	if kind == kindRiver {
		return (3*time.Second + time.Duration(n)*60*time.Microsecond).Round(time.Second)
	}
	return (5*time.Second + time.Duration(n)*400*time.Microsecond).Round(time.Second)
}

// prepBudget is the least time before a tick for the bench to start preparing it
// (emptying, VACUUM, CHECKPOINT: a checkpoint has little to flush by then, since the
// side's last rows were truncated or, on werkcron's side, checkpointed after).
func prepBudget(n int) time.Duration { return time.Second + time.Duration(n)*20*time.Microsecond }

type riverResult struct {
	n, reps  int
	period   time.Duration
	sides    []*side
	warnings []string
}

// warn notes what kept a tick from being measured, on stderr at once (a long run shows
// its trouble while it runs) and in the report.
func (r *riverResult) warn(w string) {
	fmt.Fprintf(os.Stderr, "bench:   warning: %s\n", w)
	r.warnings = append(r.warnings, w)
}

func (r riverResult) river() *side {
	for _, s := range r.sides {
		if s.kind == kindRiver {
			return s
		}
	}
	return nil
}

// riverCmp is what the section shares across sizes: the clusters (by side name),
// River's binary and the prune statement.
type riverCmp struct {
	clusters  map[string]*pgtest.Cluster
	riverBin  string
	pruneSQL  string
	pruneArgs []string // parameter names in order
}

// riverSetup builds River's side and reads the ledger's prune statement, once per run.
func (b *bench) riverSetup(ctx context.Context) (*riverCmp, error) {
	if b.rc != nil {
		return b.rc, nil
	}
	rc := &riverCmp{clusters: map[string]*pgtest.Cluster{}}
	var err error
	if rc.pruneSQL, rc.pruneArgs, err = pruneTicksQuery(); err != nil {
		return nil, err
	}
	if rc.riverBin, err = b.buildRiver(ctx); err != nil {
		return nil, err
	}
	b.rc = rc
	return rc, nil
}

// cluster returns the side's cluster, booting it the first time: pgtest's, with the
// bench's settings, autovacuum off and max_wal_size cmpMaxWALSize, the same as every
// other comparison cluster's.
func (b *bench) cmpCluster(ctx context.Context, name string) (*pgtest.Cluster, error) {
	rc := b.rc
	if c := rc.clusters[name]; c != nil {
		return c, nil
	}
	dir := "pg-" + strings.NewReplacer(" ", "-", "=", "").Replace(strings.ToLower(name))
	cl, err := pgtest.Init(ctx, filepath.Join(b.dir, dir))
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.extraClusters = append(b.extraClusters, cl)
	b.mu.Unlock()
	if err := appendConf(cl, b.cfg); err != nil {
		return nil, err
	}
	if err := appendLine(cl, "autovacuum = off\nmax_wal_size = '"+cmpMaxWALSize+"'\n"); err != nil {
		return nil, err
	}
	for _, other := range rc.clusters {
		if err := sameConf(other, cl); err != nil {
			return nil, err
		}
		break
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	rc.clusters[name] = cl
	return cl, nil
}

// riverTeardown stops the comparison's clusters once it is done, so that they sit in
// no later measurement (with -keep their directories stay, as the main cluster's).
func (b *bench) riverTeardown() {
	if b.rc == nil {
		return
	}
	for _, c := range b.rc.clusters {
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
		return fmt.Errorf("two comparison clusters' postgresql.conf differ (%s, %s)", a.Dir, b.Dir)
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

// readRepoFile reads a file of the repository, relative to its root (the bench runs
// from there, as make bench runs it).
func readRepoFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run the bench from the repository root: %w", err)
	}
	return raw, nil
}

func (b *bench) riverCompare(ctx context.Context, n, reps int) (riverResult, error) {
	r := riverResult{n: n, reps: reps}
	rc, err := b.riverSetup(ctx)
	if err != nil {
		return r, err
	}
	r.sides = append(r.sides, &side{name: "River", kind: kindRiver, n: n})
	for _, p := range b.cfg.parallels {
		r.sides = append(r.sides, &side{name: fmt.Sprintf("werkcron p=%d", p), kind: kindWerkcron, parallel: p, n: n,
			bin: b.bin, pruneSQL: rc.pruneSQL, pruneArgs: rc.pruneArgs})
	}
	if b.cfg.baseline != "" {
		r.sides = append(r.sides, &side{name: fmt.Sprintf("baseline p=%d", b.cfg.baselinePar), kind: kindWerkcron,
			parallel: b.cfg.baselinePar, n: n, bin: b.cfg.baseline, pruneSQL: rc.pruneSQL, pruneArgs: rc.pruneArgs})
	}
	for _, s := range r.sides {
		s.warmLeft = max(b.cfg.warmup, 1) - 1 // the first is warmUp's
	}
	k := len(r.sides)
	// Each side's slot, from its tick to the next side's, holds its tick and aftercare:
	// slotFor, or -river-period shared out in the same proportions.
	slots := make([]time.Duration, k)
	var sum time.Duration
	for i, s := range r.sides {
		slots[i] = slotFor(s.kind, n)
		sum += slots[i]
	}
	for i := range slots {
		if b.cfg.riverPeriod > 0 {
			slots[i] = time.Duration(float64(b.cfg.riverPeriod) * float64(slots[i]) / float64(sum)).Truncate(time.Second)
		}
		r.period += slots[i]
	}
	fmt.Fprintf(os.Stderr, "bench: River and werkcron, %d jobs due on one instant, every %s on each of %d sides, taking turns; %d ticks each measured after %d warm-up\n",
		n, r.period, k, reps, max(b.cfg.warmup, 1))

	// The databases, one on each side's cluster, and the schedules.
	for _, s := range r.sides {
		if s.cluster, err = b.cmpCluster(ctx, s.name); err != nil {
			return r, err
		}
		s.db = fmt.Sprintf("bench_%d", n)
		if s.dsn, err = createDB(ctx, s.cluster, s.db); err != nil {
			return r, err
		}
		defer dropDBOn(s.cluster, s.db)
		switch s.kind {
		case kindWerkcron:
			if err := scheduler.Migrate(ctx, s.dsn, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				return r, fmt.Errorf("migrate werkcron: %w", err)
			}
		case kindRiver:
			if out, err := exec.CommandContext(ctx, rc.riverBin, "migrate", "-dsn", s.dsn).CombinedOutput(); err != nil {
				return r, fmt.Errorf("River's migrations: %w\n%s", err, out)
			}
		}
		if s.conn, err = pgx.Connect(ctx, s.dsn); err != nil {
			return r, err
		}
		defer s.conn.Close(context.Background())
	}
	// The first instant leaves werkcron time to insert and plan the schedules (a minute
	// or two for a million) and River time to elect a leader, so that the first side's
	// first tick does not share the machine with the planning (River's enqueuer gives
	// up a million jobs whose insert outlasts its 30 s deadline); a side that is not
	// ready by its first instant warms up on a later one.
	now, err := dbNow(ctx, r.sides[0].conn)
	if err != nil {
		return r, err
	}
	base := now.Truncate(time.Second).Add(8*time.Second + time.Duration(n)*240*time.Microsecond).Truncate(time.Second)
	offset := time.Duration(0)
	for i, s := range r.sides {
		s.period = r.period
		s.due0 = base.Add(offset)
		offset += slots[i]
		if s.kind != kindWerkcron {
			continue
		}
		if _, err := s.conn.Exec(ctx, insertSchedules, n, int(r.period/time.Second), s.due0); err != nil {
			return r, err
		}
		if _, err := s.conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return r, err
		}
		if s.vacuumList, err = werkcronTables(ctx, s.conn); err != nil {
			return r, err
		}
	}
	for _, s := range r.sides {
		logName := fmt.Sprintf("cmp-%d-%s", n, strings.NewReplacer(" ", "-", "=", "").Replace(strings.ToLower(s.name)))
		switch s.kind {
		case kindWerkcron:
			err = b.startWerkcron(ctx, s, logName)
		case kindRiver:
			s.proc, err = b.startProc(logName, true, rc.riverBin, "run", "-dsn", s.dsn,
				"-n", strconv.Itoa(n), "-anchor", s.due0.UTC().Format(time.RFC3339Nano), "-every", r.period.String(),
				"-id", fmt.Sprintf("riverbench-%d", n))
		}
		if err != nil {
			return r, err
		}
		defer s.proc.stop()
	}

	if err := warmUp(ctx, r.sides); err != nil {
		return r, err
	}

	// The ticks, in order of their instants, after each side's warm-up.
	maxRounds := 2*reps + b.cfg.warmup + 4
	for round := 0; ; round++ {
		done := true
		for _, s := range r.sides {
			if !s.done(reps) {
				done = false
			}
		}
		if done {
			break
		}
		if round >= maxRounds {
			r.warn(fmt.Sprintf("stopped after %d rounds (raise -river-period)", round))
			break
		}
		for _, s := range r.sides {
			due := s.due0.Add(time.Duration(round) * r.period)
			if !due.After(s.warmAt) {
				continue
			}
			if s.done(reps) {
				// Its ticks and their aftercare would only take the machine from the
				// sides still measured (a werkcron side's aftercare of a million jobs
				// takes a quarter of an hour).
				s.proc.stop()
				continue
			}
			if err := b.cmpTick(ctx, &r, s, due); err != nil {
				return r, fmt.Errorf("%s, tick at %s: %w", s.name, due.Format(time.RFC3339Nano), err)
			}
		}
	}
	return r, nil
}

// cmpTick measures the side's tick at due if it is still wanted and there is time to
// prepare it, else waits for it; then does its aftercare.
func (b *bench) cmpTick(ctx context.Context, r *riverResult, s *side, due time.Time) error {
	want := s.warmLeft == 0 && !s.done(r.reps)
	if s.warmLeft > 0 {
		s.warmLeft--
	}
	measured := want && time.Until(due) >= prepBudget(s.n)
	if want && !measured {
		r.warn(fmt.Sprintf("%s tick at %s: too little time left to prepare it after the last tick; not measured (raise -river-period)",
			s.name, due.Format("15:04:05.000")))
	}
	if measured {
		if err := s.prepare(ctx); err != nil {
			return err
		}
		if time.Until(due) < lsnLead+20*time.Millisecond {
			measured = false
			r.warn(fmt.Sprintf("%s tick at %s: emptying and checkpointing took until %s before it; not measured (raise -river-period)",
				s.name, due.Format("15:04:05.000"), time.Until(due).Round(time.Millisecond)))
		}
	}
	if !measured {
		if err := s.waitTicked(ctx, due); err != nil {
			if errors.Is(err, errTimeout) && s.kind == kindRiver {
				r.warn(err.Error())
				s.failed++
				return nil
			}
			return err
		}
		_, err := s.aftercare(ctx, due, false, false)
		return err
	}
	last := len(s.ticks) == r.reps-1
	t, l0, l1, err := s.measureTick(ctx, due)
	if errors.Is(err, errTimeout) && s.kind == kindRiver {
		s.failed++
		r.warn(fmt.Sprintf("%s tick at %s: %v", s.name, due.Format("15:04:05.000"), err))
		return nil
	} else if err != nil {
		return err
	}
	if last && b.cfg.waldump {
		s.dumps = append(s.dumps, s.waldump(ctx, fmt.Sprintf("%s tick, N=%d", s.name, s.n), l0, l1))
	}
	s.ticks = append(s.ticks, t)
	if b.cfg.timeline {
		line, err := s.timeline(ctx, due)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench:   %s tick %d transactions: %s\n", s.name, len(s.ticks), line)
	}
	if s.kind == kindRiver {
		fmt.Fprintf(os.Stderr, "bench:   %s tick %d: %s (last commit %s), %d B/job\n", s.name, len(s.ticks), dur(t.visible), dur(t.commit), t.wal/int64(s.n))
		return nil
	}
	life, err := s.aftercare(ctx, due, true, last && b.cfg.waldump)
	if err != nil {
		return fmt.Errorf("aftercare: %w", err)
	}
	s.life, s.lifeTicks = append(s.life, life), append(s.lifeTicks, t.wal)
	fmt.Fprintf(os.Stderr, "bench:   %s tick %d: %s (began %s, last commit %s, %d transactions), %d B/job, %d ledger rows; outcomes %d B/job (recorded after %s), prune %d B/row, vacuum %d B/job\n",
		s.name, len(s.ticks), dur(t.visible), dur(t.began), dur(t.commit), t.txns, t.wal/int64(s.n), t.ledger, life.record/int64(s.n), dur(life.recorded),
		life.prune/max(life.pruned, 1), life.vacuum/int64(s.n))
	return nil
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

// warmUp waits until each side has written one complete tick, looking at all sides in
// turn, so that a side whose first ticks fail (River's enqueuer gives up an insert that
// outlasts its deadline) does not hold up the others' aftercare. A werkcron side's
// tick then gets its aftercare, and a River side's job rows are emptied.
func warmUp(ctx context.Context, sides []*side) error {
	deadlines := make([]time.Time, len(sides))
	for i, s := range sides {
		deadlines[i] = time.Now().Add(5*time.Minute + 2*s.period + time.Duration(s.n)*200*time.Microsecond)
	}
	for {
		cold := 0
		for i, s := range sides {
			if s.warm {
				continue
			}
			var at time.Time
			err := s.conn.QueryRow(ctx, "SELECT scheduled_at FROM "+s.jobs()+" GROUP BY 1 HAVING count(*) >= $1 ORDER BY 1 LIMIT 1", s.n).Scan(&at)
			lost := s.gaveUp(s.due0)
			switch {
			case err == nil:
				s.warm, s.warmAt = true, at
				fmt.Fprintf(os.Stderr, "bench:   %s warmed up on its tick at %s\n", s.name, at.Format("15:04:05.000"))
				if s.kind == kindRiver {
					if _, err := s.conn.Exec(ctx, "TRUNCATE river_job"); err != nil {
						return err
					}
				} else if _, err := s.aftercare(ctx, at, false, false); err != nil {
					return fmt.Errorf("%s: aftercare of its first tick: %w", s.name, err)
				}
				continue
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("%s: %w", s.name, err)
			case lost != nil:
				// Ready, and tried: a side that loses its ticks warms up on the first
				// it lost, and its measured ticks are reported lost.
				at := s.due0.Add(time.Since(s.due0).Truncate(s.period))
				s.warm, s.warmAt = true, at
				fmt.Fprintf(os.Stderr, "bench:   %s warmed up on its tick at %s, which it lost: %v\n", s.name, at.Format("15:04:05.000"), lost)
				continue
			case s.proc.exited():
				return fmt.Errorf("%s's process exited:\n%s", s.name, s.proc.tail())
			case time.Now().After(deadlines[i]):
				return fmt.Errorf("%s wrote no complete tick in %s:\n%s", s.name, time.Since(deadlines[i].Add(-5*time.Minute-2*s.period)), s.proc.tail())
			}
			cold++
		}
		if cold == 0 {
			return nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

func printRiver(rs []riverResult) {
	if len(rs) == 0 {
		return
	}
	fmt.Println("River and werkcron: N periodic jobs (River v0.51.2, one client, leader) / N interval schedules (werkcron run --parallel p),")
	fmt.Printf("  all due on one instant; each side on a cluster of its own (identically configured, autovacuum off, max_wal_size %s), ticks taking turns\n", cmpMaxWALSize)
	fmt.Println("  time = due instant -> all N job rows visible (pg_current_snapshot() read every 2 ms; on each change a count; the count that saw N)")
	fmt.Println("  commit = due instant -> commit timestamp of the last job row; WAL = pg_current_wal_insert_lsn() from 300 ms before the instant")
	fmt.Println("  to then, per job; each measured tick after emptying the job table, VACUUM and CHECKPOINT; werkcron's state and ledger are")
	fmt.Println("  never emptied: every werkcron tick's jobs are completed and their outcomes recorded before the next; medians")
	for _, r := range rs {
		rv := r.river()
		fmt.Printf("  N=%d, every %s on each side\n", r.n, r.period)
		fmt.Printf("  %-14s %5s %10s %8s %10s %8s %10s %5s %9s %12s %8s %7s\n",
			"side", "ticks", "time", "÷ River", "commit", "÷ River", "first", "txns", "CPU", "WAL", "÷ River", "ledger")
		for _, s := range r.sides {
			if len(s.ticks) == 0 {
				fmt.Printf("  %-14s  no tick measured (%d lost or not complete: see the warnings)\n", s.name, s.failed)
				continue
			}
			t, c := median(visible(s.ticks)), median(field(s.ticks, func(t cmpTick) time.Duration { return t.commit }))
			w := medianInt(wals(s.ticks))
			rt, rc, rw := "", "", ""
			if rv != nil && len(rv.ticks) > 0 && s != rv {
				rt = fmt.Sprintf("%.2fx", ratio(t, median(visible(rv.ticks))))
				rc = fmt.Sprintf("%.2fx", ratio(c, median(field(rv.ticks, func(t cmpTick) time.Duration { return t.commit }))))
				rw = fmt.Sprintf("%.2fx", float64(w)/float64(max(medianInt(wals(rv.ticks)), 1)))
			}
			ledger := ""
			if s.kind == kindWerkcron {
				ledger = strconv.FormatInt(slices.Max(ledgers(s.ticks)), 10)
			}
			fmt.Printf("  %-14s %5d %10s %8s %10s %8s %10s %5d %9s %8d B/job %8s %7s\n",
				s.name, len(s.ticks), dur(t), rt, dur(c), rc, dur(median(field(s.ticks, func(t cmpTick) time.Duration { return t.first }))),
				slices.Max(txns(s.ticks)), dur(median(field(s.ticks, func(t cmpTick) time.Duration { return t.cpu }))),
				w/int64(r.n), rw, ledger)
		}
		for _, s := range r.sides {
			fmt.Printf("    %s each tick: %s; last commit %s; WAL per job %s; peak RSS %s\n", s.name, durList(visible(s.ticks)),
				durList(field(s.ticks, func(t cmpTick) time.Duration { return t.commit })), perJob(wals(s.ticks), r.n),
				mb(slices.Max(append([]int64{0}, field(s.ticks, func(t cmpTick) int64 { return t.hwm })...))))
		}
		for _, s := range r.sides {
			fmt.Printf("    %s backends sampled every %s during its ticks: %s\n", s.name, waitSample, waitSummary(s.ticks))
		}
		for _, s := range r.sides {
			if len(s.ticks) > 0 && len(s.ticks) < 5 {
				fmt.Printf("    %s: fewer than 5 ticks measured: a smoke test, not a figure\n", s.name)
			}
			for _, w := range s.warnings {
				fmt.Printf("    %s warning: %s\n", s.name, w)
			}
		}
		for _, w := range r.warnings {
			fmt.Printf("    warning: %s\n", w)
		}
		if rv != nil && len(rv.ticks) > 0 {
			for _, s := range r.sides {
				if s.kind != kindWerkcron || s.parallel != scheduler.DefaultParallel || len(s.ticks) == 0 {
					continue
				}
				tr := ratio(median(visible(s.ticks)), median(visible(rv.ticks)))
				wr := float64(medianInt(wals(s.ticks))) / float64(max(medianInt(wals(rv.ticks)), 1))
				fmt.Printf("    goals at N=%d, %s (the default): time ≤ 0.8x River's: %s (%.2fx); WAL per job ≤ 1.3x River's: %s (%.2fx)\n",
					r.n, s.name, verdict(tr <= 0.8), tr, verdict(wr <= 1.3), wr)
			}
		}
	}
	fmt.Println()

	fmt.Println("werkcron over a tick's life: WAL per tick (per job or row), medians. The outcomes are recorded by the primary once a")
	fmt.Println("  pgwerk-style UPDATE has marked the jobs complete (that UPDATE's own WAL is pgwerk's, shown apart, not counted), in the")
	fmt.Println("  tick's checkpoint cycle: that writes the ticks' ledger rows. The prune (queries/plan.sql PruneTicks, as the ticker runs")
	fmt.Println("  it past --retention: here the previous tick's rows) and the VACUUM of werkcron's tables after it each start after a")
	fmt.Println("  CHECKPOINT, as they run days later")
	fmt.Printf("  %8s %-14s %16s %16s %18s %16s %16s %9s %16s\n", "N", "side", "tick", "outcomes", "prune (per row)", "vacuum", "total", "÷ River", "pgwerk's UPDATE")
	for _, r := range rs {
		rv := r.river()
		for _, s := range r.sides {
			if len(s.life) == 0 {
				continue
			}
			tick := medianInt(s.lifeTicks)
			rec := medianInt(lifeField(s.life, func(l cmpLife) int64 { return l.record }))
			pr := medianInt(lifeField(s.life, func(l cmpLife) int64 { return l.prune }))
			rows := medianInt(lifeField(s.life, func(l cmpLife) int64 { return l.pruned }))
			vac := medianInt(lifeField(s.life, func(l cmpLife) int64 { return l.vacuum }))
			wk := medianInt(lifeField(s.life, func(l cmpLife) int64 { return l.worker }))
			var totals []int64
			for i, l := range s.life {
				totals = append(totals, l.total(s.lifeTicks[i]))
			}
			tot := medianInt(totals)
			riverWAL := ""
			if rv != nil && len(rv.ticks) > 0 {
				riverWAL = fmt.Sprintf("%8.2fx", float64(tot)/float64(max(medianInt(wals(rv.ticks)), 1)))
			}
			fmt.Printf("  %8d %-14s %16s %16s %18s %16s %16s %9s %16s\n", r.n, s.name, perTick(tick, r.n), perTick(rec, r.n),
				perTick(pr, int(max(rows, 1))), perTick(vac, r.n), perTick(tot, r.n), riverWAL, perTick(wk, r.n))
			var took []time.Duration
			for _, l := range s.life {
				took = append(took, l.recorded)
			}
			fmt.Printf("  %8s %-14s the primary had recorded every outcome %s after the jobs were marked complete (each: %s)\n",
				"", "", dur(median(took)), durList(took))
		}
	}
	fmt.Println("  ÷ River: werkcron's total against River's tick. River keeps no ledger: what happens to its job row later (a worker")
	fmt.Println("  completes it, River's cleaner deletes it) has its counterpart in pgwerk's writes to werk_jobs, counted on neither side.")
	fmt.Println()

	for _, r := range rs {
		for _, s := range r.sides {
			for _, d := range s.dumps {
				fmt.Print(d)
			}
		}
	}
}

// waitSummary sums the wait samples of ticks: each wait event's share, most first.
func waitSummary(ts []cmpTick) string {
	all := map[string]int{}
	total := 0
	for _, t := range ts {
		for w, n := range t.waits {
			all[w] += n
			total += n
		}
	}
	if total == 0 {
		return "-"
	}
	keys := slices.Collect(maps.Keys(all))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(all[b]-all[a], strings.Compare(a, b)) })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %.0f%%", k, 100*float64(all[k])/float64(total)))
	}
	return fmt.Sprintf("%s (%d samples)", strings.Join(out, ", "), total)
}

func visible(ts []cmpTick) []time.Duration {
	return field(ts, func(t cmpTick) time.Duration { return t.visible })
}

func field[T any](ts []cmpTick, f func(cmpTick) T) []T {
	var out []T
	for _, t := range ts {
		out = append(out, f(t))
	}
	return out
}

func wals(ts []cmpTick) []int64 { return field(ts, func(t cmpTick) int64 { return t.wal }) }

func ledgers(ts []cmpTick) []int64 {
	out := []int64{0}
	for _, t := range ts {
		out = append(out, t.ledger)
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

// perTick is bytes per tick, with bytes per job (or row) in parentheses.
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
