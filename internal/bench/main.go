// Command bench measures werkcron at scale against a throwaway PostgreSQL
// cluster on loopback, and prints the figures with the machine they came from:
//
//   - fan-out: N schedules all due on one tick, from the tick instant until the last job
//     row is committed, each tick in the steady state (the one before it completed and
//     its outcomes recorded), next to floors measured in a twin database;
//   - lateness of a single 1 s schedule;
//   - idle cost of a ticker with 10,000 schedules and none due;
//   - reload latency and memory with 100,000 schedules loaded;
//   - scale: memory, takeover and a bulk INSERT with 10,000 to 1,000,000 schedules;
//   - the worker path: what recording job outcomes costs pgwerk's workers;
//   - River's periodic jobs next to werkcron's fan-out (river.go): time and WAL per job
//     of a tick on each side, werkcron with each -parallel, each side on an identically
//     configured cluster of its own, ticks taking turns, and the WAL of a werkcron
//     tick's whole life (its outcome recorded, its ledger row pruned).
//
// Every ticker is the real binary (`werkcron run`) in a process of its own, so that
// /proc/<pid> gives its CPU time and peak RSS and the bench's own work is not counted.
// Times are taken from the server's clock (enqueued_at, and commit timestamps with
// track_commit_timestamp = on), so polling by the bench does not blur them.
//
//	go run ./internal/bench -bin bin/werkcron            (what `make bench` runs)
//	go run ./internal/bench -n 10000 -only fanout -reps 5
//	go run ./internal/bench -explain 10000               (plan of the tick statement)
//	go run ./internal/bench -explain 10000 -explain-among 100000
//	                                                     (as a fan-out's last statement)
//	go run ./internal/bench -only river -n 100000 -reps 5 -waldump
//
// The defaults (make bench) take about 25 minutes; docs/benchmarks.md lists the longer
// runs (100,000 and 1,000,000 due, 1,000,000 schedules) one by one.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

type config struct {
	ns             []int
	scaleNs        []int
	reps           int
	largeReps      int
	workerJobs     int
	workerRounds   int
	workerSync     bool
	tickerLogLevel string
	period         time.Duration // 0: chosen from N
	latenessTicks  int
	idle           time.Duration
	idleN          int
	reloadN        int
	reloadSamples  int
	durable        bool
	serial         bool
	only           map[string]bool
	explain        int
	explainJobs    int
	explainAmong   int
	bin            string
	keep           bool
	autoExplain    time.Duration
	logStatements  time.Duration
	riverNs        []int
	riverReps      int
	riverPeriod    time.Duration // 0: chosen from N
	parallels      []int         // werkcron sides of the River comparison: --parallel of each
	fanoutParallel int           // --parallel of the fan-out measurement's ticker
	baseline       string        // River comparison: another werkcron binary, as one more side
	baselinePar    int           // its --parallel
	warmup         int           // ticks of each side before the measured ones
	waldump        bool
	timeline       bool
}

func main() {
	var cfg config
	var ns, scaleNs, riverNs, only, parallels string
	flag.StringVar(&ns, "n", "1000,10000,100000", "fan-out sizes: schedules due on one tick")
	flag.StringVar(&scaleNs, "scale-n", "10000,100000", "scale sizes: schedules in the database (1000000 takes about 10 minutes, 10000000 about an hour)")
	flag.IntVar(&cfg.reps, "reps", 3, "measured ticks per fan-out size (medians are reported)")
	flag.IntVar(&cfg.largeReps, "large-reps", 1, "measured ticks for fan-outs of 1,000,000 and more")
	flag.DurationVar(&cfg.period, "period", 0, "interval of the fan-out schedules (default: from N, room for the tick and both floors)")
	flag.IntVar(&cfg.latenessTicks, "lateness-ticks", 200, "ticks of the 1 s schedule measured for lateness")
	flag.DurationVar(&cfg.idle, "idle", time.Minute, "idle measurement window")
	flag.IntVar(&cfg.idleN, "idle-n", 10000, "schedules (none due) in the idle measurement")
	flag.IntVar(&cfg.reloadN, "reload-n", 100000, "schedules loaded in the reload measurement")
	flag.IntVar(&cfg.reloadSamples, "reload-samples", 20, "inserts timed in the reload measurement")
	flag.BoolVar(&cfg.durable, "durable", true, "fsync, synchronous_commit and full_page_writes on (off: pgtest's throwaway settings)")
	flag.BoolVar(&cfg.serial, "serial", false, "run the idle and lateness measurements one after the other instead of side by side")
	flag.StringVar(&only, "only", "", "comma-separated subset of: fanout,river,lateness,idle,reload,scale,worker")
	flag.StringVar(&riverNs, "river-n", "10000", "sizes of the River comparison (-n, when given, also sets them)")
	flag.DurationVar(&cfg.riverPeriod, "river-period", 0, "period of each side in the River comparison, whole seconds, shared out among the sides in proportion to their default slots (default: from N and the number of sides)")
	flag.StringVar(&parallels, "parallel", "1,2,4", "River comparison: one werkcron side per value, run with --parallel of that value")
	flag.IntVar(&cfg.fanoutParallel, "fanout-parallel", scheduler.DefaultParallel, "fan-out measurement: the ticker's --parallel")
	flag.StringVar(&cfg.baseline, "baseline", "", "River comparison: one more werkcron side running this binary (with -baseline-parallel), to compare two builds in one run")
	flag.IntVar(&cfg.baselinePar, "baseline-parallel", scheduler.DefaultParallel, "--parallel of the -baseline side")
	flag.IntVar(&cfg.warmup, "warmup", 3, "ticks of each side before the measured ones (werkcron's state table settles over the first few)")
	flag.BoolVar(&cfg.waldump, "waldump", false, "River comparison: print pg_waldump --stats=record of the last measured tick of each side and of werkcron's ledger phases")
	flag.BoolVar(&cfg.timeline, "timeline", false, "River comparison: print each measured tick's transactions that wrote job rows (rows, start and commit after the instant)")
	flag.IntVar(&cfg.workerJobs, "worker-jobs", 10000, "jobs per run of the worker-path measurement")
	flag.BoolVar(&cfg.workerSync, "worker-sync", false, "worker path with synchronous_commit on, as pgwerk's workers run by default (off: the stricter measure)")
	flag.IntVar(&cfg.workerRounds, "worker-rounds", 5, "rounds of the worker-path measurement (each: with, without and plain, taking turns)")
	flag.IntVar(&cfg.explain, "explain", 0, "only print EXPLAIN ANALYZE of the tick statements for this many due schedules")
	flag.IntVar(&cfg.explainJobs, "explain-jobs", 0, "with -explain: jobs of the same instant in werk_jobs first, as a fan-out's later statements meet them")
	flag.IntVar(&cfg.explainAmong, "explain-among", 0, "with -explain: this many schedules in the database, the statements taking the last N of them by name, as a fan-out's last statement meets them")
	flag.StringVar(&cfg.bin, "bin", "", "werkcron binary (default: build ./cmd/werkcron into the scratch directory)")
	flag.DurationVar(&cfg.autoExplain, "auto-explain", 0, "log the plans of statements slower than this into the server log (use with -keep)")
	flag.DurationVar(&cfg.logStatements, "log-statements", 0, "log statements slower than this, with their durations, into the server log (use with -keep)")
	flag.StringVar(&cfg.tickerLogLevel, "ticker-log-level", "info", "--log-level of the tickers (their logs are in the scratch directory; see -keep)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the scratch directory (cluster and ticker logs) for inspection; the server is still stopped")
	flag.Parse()
	cfg.ns = sizes("-n", ns)
	cfg.scaleNs = sizes("-scale-n", scaleNs)
	cfg.parallels = sizes("-parallel", parallels)
	// The River comparison takes its sizes from -n when -n is given, and at least 5
	// ticks a side unless -reps is given.
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.riverNs, cfg.riverReps = sizes("-river-n", riverNs), max(cfg.reps, 5)
	if set["n"] && !set["river-n"] {
		cfg.riverNs = cfg.ns
	}
	if set["reps"] {
		cfg.riverReps = cfg.reps
	}
	if p := cfg.riverPeriod; p < 0 || p%time.Second != 0 || (p > 0 && p < 2*time.Second) {
		fmt.Fprintf(os.Stderr, "bench: -river-period %s: want whole seconds, at least 2s\n", p)
		os.Exit(2)
	}
	cfg.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.only[s] = true
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// bench holds the run's cluster and the ticker processes it started, so that every exit
// path stops them.
type bench struct {
	cfg     config
	dir     string
	cluster *pgtest.Cluster
	bin     string
	// admin is on database postgres, so its queries never count against a measured
	// database; mu guards it and tickers (lateness and idle run side by side).
	mu      sync.Mutex
	admin   *pgx.Conn
	tickers []*tickerProc
	// The River comparison's two clusters (in extraClusters, for the clean-up) and
	// what else it sets up once.
	rc            *riverCmp
	extraClusters []*pgtest.Cluster
}

// sizes parses a comma-separated list of positive integers (underscores allowed).
func sizes(flagName, list string) []int {
	var out []int
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(strings.ReplaceAll(s, "_", "")); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: %s %q: want positive integers\n", flagName, list)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func (c config) want(section string) bool { return len(c.only) == 0 || c.only[section] }

func run(ctx context.Context, cfg config) (err error) {
	dir, err := os.MkdirTemp("", "werkcron-bench-")
	if err != nil {
		return err
	}
	// As root the server runs as the postgres user, which must reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	b := &bench{cfg: cfg, dir: dir}
	defer func() {
		b.cleanup()
		if cfg.keep {
			fmt.Fprintf(os.Stderr, "bench: kept %s\n", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()

	if err := b.setup(ctx); err != nil {
		return err
	}
	if cfg.explain > 0 {
		return b.explain(ctx, cfg.explain)
	}
	if err := b.printMachine(ctx); err != nil {
		return err
	}

	if cfg.want("fanout") && len(cfg.ns) > 0 {
		var rows []fanoutResult
		for _, n := range cfg.ns {
			r, err := b.fanout(ctx, n)
			if err != nil {
				return fmt.Errorf("fan-out %d: %w", n, err)
			}
			rows = append(rows, r)
		}
		printFanout(rows)
	}

	if cfg.want("river") && len(cfg.riverNs) > 0 {
		var rows []riverResult
		for _, n := range cfg.riverNs {
			r, err := b.riverCompare(ctx, n, cfg.riverReps)
			if err != nil {
				return fmt.Errorf("River comparison %d: %w", n, err)
			}
			rows = append(rows, r)
		}
		b.riverTeardown()
		printRiver(rows)
	}

	var lat *latenessResult
	var idle *idleResult
	switch {
	case cfg.want("lateness") && cfg.want("idle") && !cfg.serial:
		// Side by side: the idle ticker sends a heartbeat every few seconds and the
		// 1 s schedule one statement a second, neither disturbs the other, and this
		// saves a minute of the run. -serial runs them apart.
		lat, idle, err = b.latenessAndIdle(ctx)
		if err != nil {
			return err
		}
	default:
		if cfg.want("lateness") {
			if lat, err = b.lateness(ctx, nil); err != nil {
				return fmt.Errorf("lateness: %w", err)
			}
		}
		if cfg.want("idle") {
			if idle, err = b.idleCost(ctx, nil); err != nil {
				return fmt.Errorf("idle: %w", err)
			}
		}
	}
	if lat != nil {
		printLateness(*lat)
	}
	if idle != nil {
		printIdle(*idle)
	}
	if cfg.want("reload") {
		r, err := b.reload(ctx)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		printReload(r)
	}
	if cfg.want("worker") {
		r, err := b.workerPath(ctx, cfg.workerJobs, cfg.workerRounds)
		if err != nil {
			return fmt.Errorf("worker path: %w", err)
		}
		printWorker(r)
	}
	if cfg.want("scale") && len(cfg.scaleNs) > 0 {
		var rows []scaleResult
		for _, n := range cfg.scaleNs {
			r, err := b.scale(ctx, n)
			if err != nil {
				return fmt.Errorf("scale %d: %w", n, err)
			}
			rows = append(rows, r)
			printScale([]scaleResult{r}) // as it comes: the large sizes take long
		}
		if len(rows) > 1 {
			printScale(rows)
		}
	}
	return nil
}

// setup boots the cluster and finds or builds the binary.
func (b *bench) setup(ctx context.Context) error {
	b.bin = b.cfg.bin
	if b.bin == "" {
		b.bin = filepath.Join(b.dir, "werkcron")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "./cmd/werkcron").CombinedOutput()
		if err != nil {
			return fmt.Errorf("build werkcron: %w\n%s", err, out)
		}
	} else if abs, err := filepath.Abs(b.bin); err == nil {
		b.bin = abs
	}
	c, err := pgtest.Init(ctx, filepath.Join(b.dir, "pg"))
	if err != nil {
		return err
	}
	b.cluster = c
	if err := appendConf(c, b.cfg); err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	b.admin, err = pgx.Connect(ctx, c.DSN("postgres"))
	return err
}

// appendConf overrides pgtest's throwaway settings (later lines win). Commit timestamps
// give the exact commit instant of every job row; durability is on by default, since
// that is what a production ticker pays for each tick.
func appendConf(c *pgtest.Cluster, cfg config) error {
	conf := "\n# werkcron bench\ntrack_commit_timestamp = on\n"
	if cfg.logStatements > 0 {
		conf += fmt.Sprintf("log_min_duration_statement = '%dms'\nlog_min_messages = log\n", cfg.logStatements.Milliseconds())
	}
	if cfg.durable {
		conf += "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
	}
	if autoExplain := cfg.autoExplain; autoExplain > 0 {
		conf += fmt.Sprintf("session_preload_libraries = 'auto_explain'\nauto_explain.log_min_duration = '%dms'\n"+
			"auto_explain.log_analyze = on\nauto_explain.log_timing = off\nauto_explain.log_nested_statements = on\n"+
			"log_min_messages = log\n", autoExplain.Milliseconds())
	}
	f, err := os.OpenFile(filepath.Join(c.Dir, "data", "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(conf)
	return err
}

func (b *bench) cleanup() {
	for _, t := range b.tickers {
		t.stop()
	}
	if b.admin != nil {
		_ = b.admin.Close(context.Background())
	}
	for _, c := range append([]*pgtest.Cluster{b.cluster}, b.extraClusters...) {
		if c == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if b.cfg.keep {
			_ = c.Stop(ctx, "fast")
		} else {
			_ = c.Remove(ctx)
		}
		cancel()
	}
}

func (b *bench) printMachine(ctx context.Context) error {
	var version string
	if err := b.admin.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	settings := map[string]string{}
	rows, err := b.admin.Query(ctx, `SELECT name, setting || coalesce(unit, '') FROM pg_settings
		WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers',
		               'wal_level', 'max_wal_size', 'checkpoint_timeout', 'track_commit_timestamp')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		settings[k] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Printf("werkcron bench  %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("machine     %s\n", machine())
	fmt.Printf("postgres    %s\n", version)
	fmt.Printf("settings    fsync=%s synchronous_commit=%s full_page_writes=%s shared_buffers=%s max_wal_size=%s checkpoint_timeout=%s wal_level=%s track_commit_timestamp=%s\n",
		settings["fsync"], settings["synchronous_commit"], settings["full_page_writes"], pages(settings["shared_buffers"]),
		settings["max_wal_size"], settings["checkpoint_timeout"], settings["wal_level"], settings["track_commit_timestamp"])
	fmt.Printf("connection  TCP loopback; every ticker is `werkcron run` in its own process\n")
	fmt.Printf("ticker      %s\n\n", b.bin)
	return nil
}

// pages turns pg_settings' "16384" + "8kB" into MB.
func pages(s string) string {
	if v, ok := strings.CutSuffix(s, "8kB"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return fmt.Sprintf("%dMB", n*8/1024)
		}
	}
	return s
}

// machine describes the host: CPU model, cores, memory, kernel.
func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/1024/1024)
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d cores (%s), %s memory, Linux %s", numCPU(), model, mem, kernel)
}
