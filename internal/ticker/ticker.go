// Package ticker is werkcron's scheduling loop. One dedicated connection per process
// stands by for the leader lock (package leader) and, once it holds it, enqueues every
// schedule's due ticks. The table is the plan: werk_cron_jobs.next_run_at says when each
// schedule is looked at next, and the primary holds only the rows due within a short
// horizon (horizon.go), plans rows the database marks unplanned in bounded batches
// (planner.go), decides pending ticks per catch-up policy (tick.go) and writes each
// decision with its jobs in one statement (write.go), a large fan-out over several
// connections (fanout.go).
package ticker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/leader"
)

// Defaults of Options.
const (
	DefaultStandbyRetry = time.Second
	DefaultMisfireGrace = 5 * time.Second
	DefaultHeartbeat    = 6 * time.Second
	DefaultRetention    = 7 * 24 * time.Hour
)

const (
	// maxTicksPerStatement bounds one tick statement; a larger fan-out is split. Two
	// statements of 5,000 took a fifth longer than one of 10,000 (BENCHMARKS.md), and
	// the first jobs of a 100,000 fan-out still commit within about 0.3 s.
	maxTicksPerStatement = 10000
	// horizonRows caps the rows the primary reads and holds of the plan at once, and what
	// one tick takes of a larger fan-out: with --parallel 2, two statements of
	// maxTicksPerStatement. Against reads of 10,000 a fan-out of 100,000 wrote about 15 B
	// less WAL per job, in as much time (docs/benchmarks.md, change 28); the primary's
	// peak RSS with a million schedules went from 40 to 52 MB.
	horizonRows = 20000
	// horizonAhead is how far ahead the primary reads the plan: the rows due within it
	// are held and ticked without asking the database again.
	horizonAhead = 5 * time.Second
	// horizonLead: with nothing due within horizonAhead, the horizon ends this long
	// before the next planned row, so that the primary reads the rows due then ahead of
	// their instant rather than at it (reading 10,000 rows took ~25 ms, on the critical
	// path of every fan-out after a quiet spell), and before a large fan-out's
	// fanoutLead.
	horizonLead = 2 * time.Second
	// wakeMargin: wake this long after a tick's instant, so that the database (whose
	// clock decides) agrees the tick has come.
	wakeMargin = 2 * time.Millisecond
	// prepareLead: the primary decides a tick this long before its instant (tickAt). It
	// covers deciding and laying out a read's 20,000 ticks (25-40 ms on a 2-core
	// machine, more beside the read of the plan made ahead) and the longest send lead;
	// services leave it free.
	prepareLead = 130 * time.Millisecond
	// fanoutLead: when more are due at the next instant than one read of the plan holds
	// (the horizon is cut at its cap), the primary starts deciding this long before it,
	// and decides read after read of that instant's fan-out (tickAt), up to
	// aheadReads, for as long as it has time before sending: each read, decision and
	// layout then comes before the instant instead of between its statements (100,000
	// due: four gaps of 140-170 ms, docs/benchmarks.md change 45). Reading and deciding
	// 20,000 takes 100-150 ms on a 2-core machine, 200 ms on a busy one; the horizon is
	// read before a quiet spell's next row (horizonLead) in time for this. It covers
	// the five reads and wholeLead: at 1 s, on a day the reads took 200 ms, the reads
	// went on until 0.15-0.2 s before the instant, so the statements, sent then, began
	// writing 130-160 ms after it (docs/benchmarks.md, 2026-12-06; at change 46, with
	// faster reads, 1.5 s had gained nothing measurable).
	fanoutLead = 1600 * time.Millisecond
	// aheadReads bounds what the primary decides ahead of an instant, and so holds at
	// once: this many reads of the plan (100,000 schedules, about 1 KB each: their
	// entries, decisions and statements' arrays). A larger fan-out's rest is decided
	// read by read as its statements are written.
	aheadReads = 5
	// aheadGrace: a read of the plan made beside a round's statements that has not come
	// in this long after them is dropped, and the plan read again (write). Reading 20,000
	// rows takes 40-50 ms.
	aheadGrace = 250 * time.Millisecond
	// sendLead: the primary sends a tick's statements this long before its instant per
	// sendLeadTicks ticks of its largest statement (sendLeadFor), and the usual one
	// waits for the instant in the database (EnqueueUsualTicks), so that by then the
	// database has taken it in, planned it and looked up each tick's definition and
	// ledger rows: for 5,000 ticks, two statements at once on a 2-core machine, 25-40 ms,
	// which would otherwise come after the instant.
	sendLead      = 45 * time.Millisecond
	sendLeadTicks = 5000
	// wholeLead: a round sent whole (sentWhole: a fan-out decided ahead, with more
	// statements than connections write at once) is sent this long before its instant,
	// or as soon as it is decided when that is later (deciding 100,000 takes 0.5-1 s,
	// so on a busy machine that is later), so that every statement has read what it looks up by then (a
	// statement of 10,000: 60-70 ms of the database's work; ten of them on two cores,
	// 300-350 ms). Well short of the second a statement waits for its instant at most,
	// so that this host's estimate of the database's clock may be off by as much.
	wholeLead = 600 * time.Millisecond
	// wholeConns: the fan-out's pool holds up to this many connections (or --parallel,
	// if more), so that a round sent whole (100,000 due: ten statements) has one per
	// statement and the read of the plan made beside them.
	wholeConns = aheadReads*horizonRows/maxTicksPerStatement + 1
	// turnLimit: a statement of a round sent whole waits for its lane's turn at most
	// this long after its instant, then writes without it (werk_cron_wait_turn): the
	// statements before it in its lane (100,000 due, two lanes: four of them) take
	// about a second on two cores, and a session that holds the lane's key some other
	// way (any role may take an advisory lock) holds up a fan-out no longer than this.
	turnLimit = 5 * time.Second
	// lockTimeout bounds every wait of the primary's statements on a lock another
	// session holds (a row, a key, a table): what is blocked is set aside, not waited for.
	lockTimeout = 100 * time.Millisecond
	// statementTimeout bounds any one statement (a client deadline).
	statementTimeout = time.Minute
	// shutdownGrace is how long a statement in flight may finish after shutdown begins.
	shutdownGrace = 2 * time.Second
	// defaultConnectTimeout applies per host when the DSN sets no connect_timeout.
	defaultConnectTimeout = 10 * time.Second
)

// Roles a ticker reports through Options.OnRole.
const (
	RoleStandby = "standby"
	RolePrimary = "primary"
	RoleStopped = "stopped"
)

// Options configure a Ticker. Zero values take the defaults.
type Options struct {
	// StandbyRetry is how long a standby waits for the leader lock inside the server
	// before asking again (its only query while idle). Default 1s.
	StandbyRetry time.Duration
	// MisfireGrace is how late a tick of a catchup = 'none' schedule may still be
	// enqueued (enough to ride out a failover). Default 5s.
	MisfireGrace time.Duration
	// Heartbeat is how often an idle primary checks its session and the database clock.
	Heartbeat time.Duration
	// Retention is how long werk_cron_ticks rows are kept. Default 7 days.
	Retention time.Duration
	// Now is the host clock (default time.Now). Only its offset from the database's
	// clock is used: hosts with skewed clocks still agree on ticks. Tests inject skew.
	Now func() time.Time
	// Logger receives the ticker's logs (default slog.Default()).
	Logger *slog.Logger
	// ApplicationName names the ticker's session in pg_stat_activity and in
	// werk_cron_instances. Default "werkcron <host>/<pid>".
	ApplicationName string
	// OnRole is called with RoleStandby, RolePrimary or RoleStopped when that changes.
	OnRole func(role string)
	// Parallel is how many connections write a large fan-out at once (the leader's own
	// session and Parallel-1 more, opened when first needed; with 2 or more, one more
	// reads the plan ahead of a fan-out larger than one read, whose statements are sent
	// whole, up to ten connections more, and write Parallel at once). Default
	// DefaultParallel.
	Parallel int
	// AllowFuncs and AllowQueues, when not empty, are the only functions and queues
	// this ticker enqueues (path.Match patterns, where '*' also matches dots:
	// "myapp.tasks.*"). A schedule outside them gets last_error instead.
	AllowFuncs, AllowQueues []string
}

// Ticker is the scheduling loop: one dedicated connection that stands by for the leader
// lock and, once it holds it, enqueues every schedule's due ticks.
type Ticker struct {
	cfg   *pgx.ConnConfig
	opts  Options
	log   *slog.Logger
	allow allowList
	Stats Stats
	// Signals are for tests (see TestSignals): without Init they do nothing.
	Signals TestSignals
	// led: this session became primary; roundsLed: rounds of its loop so far (for
	// Stats.FailingAsPrimary).
	led       bool
	roundsLed int
	// horizonRows caps the primary's reads of the plan (0: the constant horizonRows);
	// tests make it small.
	horizonRows int
}

// New prepares a ticker for the database at dsn; Run starts it.
func New(dsn string, opts Options) (*Ticker, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse the connection string: %w", err)
	}
	return NewConfig(cfg, opts)
}

// NewConfig is New for a parsed configuration (for example a copy of a pool's
// ConnConfig); the ticker keeps cfg.
func NewConfig(cfg *pgx.ConnConfig, opts Options) (*Ticker, error) {
	allow, err := newAllowList(opts.AllowFuncs, opts.AllowQueues)
	if err != nil {
		return nil, err
	}
	if opts.StandbyRetry <= 0 {
		opts.StandbyRetry = DefaultStandbyRetry
	}
	if opts.MisfireGrace <= 0 {
		opts.MisfireGrace = DefaultMisfireGrace
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ApplicationName == "" {
		host, _ := os.Hostname()
		if len(host) > 24 {
			host = host[:24]
		}
		opts.ApplicationName = fmt.Sprintf("werkcron %s/%d", host, os.Getpid())
	}
	cfg.RuntimeParams["application_name"] = opts.ApplicationName
	if cfg.ConnectTimeout == 0 {
		// A host that does not answer (a dead primary's address, a black hole) must not
		// hold the reconnect loop for the kernel's two minutes.
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	// Client-side TCP keepalives (the server's are set by leader.Elect): a database host
	// that vanishes without closing the connection fails the ticker's statements within
	// seconds, so that it reconnects (to a promoted replica, with several hosts in the
	// DSN) instead of waiting on a dead socket for the kernel's default of hours.
	cfg.DialFunc = leader.Dialer().DialContext // and TCP_USER_TIMEOUT: see leader.Dialer
	return &Ticker{cfg: cfg, opts: opts, log: opts.Logger, allow: allow}, nil
}

// Run stands by, leads when it gets the leader lock, and survives lost connections and
// database restarts by reconnecting with backoff. It returns nil when ctx is done (after
// releasing the lock, so that a standby takes over at once), and an error only when
// leading is impossible (leader.ErrLockNotSession).
func (t *Ticker) Run(ctx context.Context) error {
	defer t.setRole(RoleStopped)
	backoff := 100 * time.Millisecond
	for {
		started := time.Now()
		t.led, t.roundsLed = false, 0
		err := t.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if t.led && t.roundsLed < 2 { // failed before its loop went round once
			t.Stats.failedLeads.Add(1)
			t.Stats.lastFailure.Store(fmt.Sprint(err))
		}
		if errors.Is(err, leader.ErrLockNotSession) {
			return err
		}
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		t.log.Warn("ticker session ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		t.Stats.progress() // reconnecting is doing its job
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session is one connection's life: stand by, then lead until the connection fails or
// ctx is done.
func (t *Ticker) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, t.cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	registerCodecs(conn.TypeMap())
	t.setRole(RoleStandby)
	err = leader.Elect(ctx, conn, leader.Options{
		Retry:    t.opts.StandbyRetry,
		Progress: t.Stats.progress,
		Log:      t.log,
		Waiting: func() {
			t.log.Info("standing by: another ticker is primary", "retry", t.opts.StandbyRetry)
		},
		Intruder: func(who string) { t.Stats.intruder.Store(who) },
	})
	if err != nil {
		return err
	}
	err = t.lead(ctx, conn)
	if ctx.Err() != nil && !conn.IsClosed() {
		if rerr := leader.Resign(conn); rerr != nil {
			t.log.Warn("release the leader lock", "err", rerr)
		} else {
			t.log.Info("released the leader lock")
		}
	}
	return err
}

func (t *Ticker) setRole(role string) {
	t.Stats.Primary.Store(role == RolePrimary)
	t.Stats.overdue.Store(0)
	t.Stats.stalled.Store(0)
	t.Stats.held.Store(0)
	if role == RolePrimary {
		t.Stats.intruder.Store("")
	}
	if t.opts.OnRole != nil {
		t.opts.OnRole(role)
	}
}

// testHorizonRows replaces horizonRows when set (SetHorizonRows, in the fault tests'
// build only).
var testHorizonRows int
