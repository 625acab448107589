// Package ticker is werkcron's scheduling loop. One dedicated connection per process
// stands by for the leader lock (package leader) and, once it holds it, enqueues every
// schedule's due ticks. The table is the plan: werk_cron_jobs.next_run_at says when each
// schedule is looked at next, and the primary holds only the rows due within a short
// horizon (horizon.go), plans rows the database marks unplanned in bounded batches
// (planner.go), decides pending ticks per catch-up policy (decide.go) and writes each
// decision with its jobs in one statement (enqueue.go).
package ticker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
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
	// horizonRows caps the rows the primary reads and holds of the plan at once.
	horizonRows = 10000
	// horizonAhead is how far ahead the primary reads the plan: the rows due within it
	// are held and ticked without asking the database again.
	horizonAhead = 5 * time.Second
	// horizonLead: with nothing due within horizonAhead, the horizon ends this long
	// before the next planned row, so that the primary reads the rows due then ahead of
	// their instant rather than at it (reading 10,000 rows took ~25 ms, on the critical
	// path of every fan-out after a quiet spell).
	horizonLead = time.Second
	// wakeMargin: wake this long after a tick's instant, so that the database (whose
	// clock decides) agrees the tick has come.
	wakeMargin = 2 * time.Millisecond
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
	// session and Parallel-1 more, opened when first needed). Default DefaultParallel.
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

	// State of the current session as primary.
	conn    *pgx.Conn
	q       *db.Queries
	backend int32 // the server process of conn, which holds the leader lock
	// helpers are the fan-out's other connections (fanout.go), opened when first needed.
	helpers   *pgxpool.Pool
	helpersMu sync.Mutex
	offset    time.Duration // database clock minus host clock (for the logs)
	dbAt      time.Time     // the database's clock at the last trusted heartbeat
	hostAt    time.Time     // the host's clock (opts.Now, monotonic) at that instant
	hz        *horizon
	plan      planState
	fill      fillState
	// outcomes: recording the outcomes of this primary's jobs (outcomes.go).
	outcomes outcomeState
	// led: this session became primary; roundsLed: rounds of its loop so far.
	led       bool
	roundsLed int
	// tablesLocked: the last tick statement found a table locked (logged once).
	tablesLocked bool
	// filledLast: the last maintenance step was a backfill's (they take turns with
	// outcome recording).
	filledLast bool
	// A read of the plan that met a table lock (an operator's LOCK TABLE or DDL on
	// werk_cron_jobs) is tried again at planRetryAt, backing off; the primary keeps
	// its lock and heartbeat meanwhile.
	planRetryAt  time.Time
	planRetryGap time.Duration
	// Schedules recorded in werk_cron_holdups, and the changes to write there.
	holdups        map[string]bool
	newHoldups     []*entry
	clearedHoldups []string
	lastBeat       time.Time // host time of the last heartbeat
	lastWon        time.Time // host time a tick statement last decided a schedule (or the promotion)
	lastPrune      time.Time
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
	registerUUID(conn.TypeMap())
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

// lead runs the primary's loop: read what is due, tick it, plan what awaits planning,
// and sleep until the next due row, a change notification or the heartbeat.
func (t *Ticker) lead(ctx context.Context, conn *pgx.Conn) error {
	// Statements run on a context that outlives shutdown by a short grace, so that the
	// statement in flight (bounded anyway by lockTimeout and its own deadline) usually
	// finishes; a statement cut off rolls back whole.
	work, stop := graceful(ctx, shutdownGrace)
	defer stop()
	t.conn, t.q = conn, db.New(conn)
	t.hz = newHorizon(horizonRows)
	t.plan = planState{pending: true, recheck: true} // whatever changed while no primary ran, and errors
	t.fill = fillState{pending: true}                // requests made while no primary ran
	// Jobs that ended while no primary ran, and the newest ticks of the last primary,
	// whose rows are written with their outcomes: a sweep finds them.
	t.outcomes = outcomeState{pending: true, sweep: true}
	t.holdups, t.newHoldups, t.clearedHoldups = map[string]bool{}, nil, nil
	t.dbAt, t.hostAt = time.Time{}, time.Time{}
	t.planRetryAt, t.planRetryGap = time.Time{}, 0
	defer func() {
		t.closeHelpers()
		t.conn, t.q, t.hz = nil, nil, nil
	}()

	if err := t.q.MarkLeader(work, t.opts.ApplicationName); err != nil {
		return fmt.Errorf("set application_name: %w", err)
	}
	if err := t.q.SetLockTimeout(work, fmt.Sprintf("%dms", lockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	if _, err := t.q.ListenForChanges(work); err != nil {
		return fmt.Errorf("listen for schedule changes: %w", err)
	}
	if err := t.q.ClearAllHoldups(work); err != nil {
		t.log.Warn("clear werk_cron_holdups of the last primary", "err", err)
	}
	if err := t.heartbeat(work); err != nil {
		return err
	}
	t.Stats.Promotions.Add(1)
	t.lastWon = time.Now()
	t.led = true
	t.setRole(RolePrimary)
	t.Signals.Promoted.Signal(struct{}{})
	t.log.Info("primary: this ticker now schedules", "clock_offset", t.offset.Round(time.Millisecond))

	for ctx.Err() == nil {
		t.Stats.progress()
		if t.roundsLed++; t.roundsLed == 2 {
			t.Stats.failedLeads.Store(0) // went round: this primary works
		}
		// The heartbeat comes first, so that a primary busy ticking (a backlog, or a
		// decision the database keeps refusing) still proves its lock and rereads the
		// clock.
		if time.Since(t.lastBeat) >= t.opts.Heartbeat {
			if err := t.heartbeat(work); err != nil {
				return err
			}
		}
		now := t.now()
		t.Stats.overdue.Store(int64(t.hz.overdue(now)))
		t.Stats.stalled.Store(int64(min(t.hz.heldUp(now), time.Since(t.lastWon))))
		t.Stats.held.Store(int64(len(t.hz.entries)))
		if t.hz.stale(now) && !time.Now().Before(t.planRetryAt) {
			if err := t.readHorizon(work, now); err != nil {
				return err
			}
		}
		if due := t.hz.popDue(now, maxTicksPerStatement); len(due) > 0 {
			if err := t.tick(work, due, now); err != nil {
				return err
			}
			continue
		}
		if t.plan.due(time.Now()) {
			if err := t.planBatch(work); err != nil {
				return err
			}
			continue
		}
		if t.plan.recheck && !t.plan.pending {
			if err := t.recheckBatch(work); err != nil {
				return err
			}
			continue
		}
		// Backfill and outcome recording take turns while both have work: a long queue of
		// backfill requests must not keep outcomes from being recorded, nor the reverse.
		fillDue, outcomesDue := t.fill.due(time.Now()), t.outcomes.due(time.Now())
		if fillDue && (!outcomesDue || !t.filledLast) {
			t.filledLast = true
			if err := t.backfillStep(work); err != nil {
				return err
			}
			continue
		}
		if outcomesDue {
			t.filledLast = false
			if err := t.recordStep(work); err != nil {
				return err
			}
			continue
		}
		if time.Since(t.lastPrune) > time.Hour {
			started := time.Now()
			if err := t.prune(work); err != nil {
				return err
			}
			t.log.Debug("pruned", "took", time.Since(started))
		}
		if err := t.sleep(ctx, now); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// graceful returns a context that is cancelled grace after ctx is done (or when stop is
// called).
func graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(grace):
			case <-work.Done():
			}
		case <-work.Done():
		}
		cancel()
	}()
	return work, cancel
}

// readHorizon reads the rows due within horizonAhead of now (leaving out those set
// aside, which keep their own retry times). When none are, it asks for the soonest
// planned row beyond, and the horizon reaches to horizonLead before it: an idle primary
// then sleeps until then, or a change, and reads the plan once more ahead of that row.
func (t *Ticker) readHorizon(ctx context.Context, now time.Time) error {
	until := now.Add(horizonAhead)
	// One row more than the horizon holds says whether the read was cut off: a read of
	// exactly horizonRows is complete up to until (were it taken as cut off, its end
	// would be pulled in before its last rows' instant, and the horizon read again at
	// that instant: on the tick's critical path, for 10,000 due at once).
	rows, err := t.q.ListDueSchedules(ctx, db.ListDueSchedulesParams{
		Until: until, Skip: t.hz.setAside(), MaxRows: horizonRows + 1})
	if t.planLocked(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the schedules due by %s: %w", until.UTC().Format(time.RFC3339), err)
	}
	t.Stats.HorizonReads.Add(1)
	full := len(rows) > horizonRows
	if full {
		rows = rows[:horizonRows]
	}
	entries := make([]*entry, len(rows))
	for i, r := range rows {
		entries[i] = newEntry(r)
	}
	if len(rows) == 0 {
		next, err := t.q.NextPlannedAfter(ctx, until)
		if t.planLocked(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the next planned run: %w", err)
		}
		until = farFuture
		if len(next) > 0 {
			until = next[0].Add(-horizonLead) // after now+horizonAhead, so after now
		}
	}
	t.hz.reset(entries, until, full)
	if t.planRetryGap > 0 {
		t.log.Info("read the plan again: the table lock is gone")
	}
	t.planRetryAt, t.planRetryGap = time.Time{}, 0
	t.log.Debug("read the plan", "due", len(rows), "until", until)
	return nil
}

// planLocked reports whether err is a read of the plan cut off by lock_timeout: a table
// lock another session holds on werk_cron_jobs. The read is then tried again after a
// backoff (logged once), instead of giving up the leadership for it.
func (t *Ticker) planLocked(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != lockNotAvailable {
		return false
	}
	if t.planRetryGap == 0 {
		t.log.Warn("werk_cron_jobs is locked by another session; reading the plan again when it is free", "err", err)
	}
	t.planRetryGap = min(max(2*t.planRetryGap, 250*time.Millisecond), 5*time.Second)
	t.planRetryAt = time.Now().Add(t.planRetryGap)
	return true
}

// farFuture stands for "nothing planned": the horizon reaches everywhere.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// sleep waits until the first entry is due, the horizon must be read again, planning
// may resume, the heartbeat is due, or a change notification arrives. checked is the
// instant up to which the loop found nothing due.
func (t *Ticker) sleep(ctx context.Context, checked time.Time) error {
	wait := t.opts.Heartbeat - time.Since(t.lastBeat)
	now := t.now()
	if next := t.hz.next(); !next.IsZero() {
		wait = min(wait, next.Sub(now)+wakeMargin)
	}
	switch {
	case t.hz.stale(now) && time.Now().Before(t.planRetryAt):
		wait = min(wait, time.Until(t.planRetryAt)) // the plan is locked: its retry
	case !t.hz.end.IsZero() && t.hz.end.Before(now.Add(wait)):
		wait = t.hz.end.Sub(now) + wakeMargin
	}
	if t.plan.pending {
		wait = min(wait, time.Until(t.plan.notBefore))
	}
	if t.fill.pending {
		wait = min(wait, time.Until(t.fill.notBefore))
	}
	if t.outcomes.pending {
		wait = min(wait, time.Until(t.outcomes.notBefore))
	}
	if wait <= 0 {
		return nil
	}
	if !t.plan.pending && !t.fill.pending {
		t.Signals.Idle.Signal(checked)
	}
	t.log.Debug("sleep", "for", wait)
	heard, err := t.waitForChanges(ctx, wait)
	if err != nil {
		return err
	}
	if heard {
		// A schedule changed, a backfill was requested, or a run was triggered by hand:
		// look for all three.
		t.plan.pending = true
		t.fill.pending = true
		t.outcomes.expect()
	}
	return nil
}

// now is the database's time as this host estimates it: the database clock read at the
// last heartbeat plus the time elapsed since on the host's monotonic clock. A step of
// the host's wall clock (NTP, an operator) between heartbeats changes nothing; read as
// wall clock plus offset instead, a step forward would make the ticker decide ticks that
// the database still considers future, and classify the current ones as missed.
func (t *Ticker) now() time.Time { return t.dbAt.Add(t.opts.Now().Sub(t.hostAt)) }

// errLostLock: the heartbeat found the leader lock no longer held by this session.
var errLostLock = errors.New("this session no longer holds the leader lock; rejoining as a standby")

// maxClockRTT: a heartbeat whose round trip took longer (a stalled network, a frozen
// process) does not update the clock estimate, which is only as good as half of it.
const maxClockRTT = 500 * time.Millisecond

// heartbeat checks that this session still holds the lock, and reads the database
// clock (assuming the server read it halfway through the round trip). It reads no
// table, so that nothing another session locks can hold it up.
func (t *Ticker) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	before := t.opts.Now()
	hb, err := t.q.LeaderHeartbeat(ctx)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	after := t.opts.Now()
	if !hb.Held {
		// Not fatal by itself: stop scheduling and start over as a standby. If a proxy
		// is switching our server session, the next election's checks say so and stop.
		return errLostLock
	}
	t.backend = hb.BackendPid
	if rtt := after.Sub(before); rtt <= maxClockRTT || t.dbAt.IsZero() {
		t.hostAt = before.Add(rtt / 2)
		t.dbAt = hb.Now
		t.offset = t.dbAt.Sub(t.hostAt.Round(0))
	} else {
		t.log.Warn("heartbeat round trip too slow to read the database clock; keeping the last reading", "rtt", rtt)
	}
	t.lastBeat = time.Now()
	return nil
}

// maxDrain bounds how many queued notifications one wake-up reads: they all mean the
// same ("look at the unplanned rows"), so a flood of them costs one look, not one each.
const maxDrain = 1000

// waitForChanges waits up to d for a change notification on werk_cron_jobs and reports
// whether one came. A notification is only a hint to look at the unplanned rows; its
// payload is ignored, so that anyone who may NOTIFY the channel can at most make the
// ticker look (rate-limited by planState) and never make it reload anything.
func (t *Ticker) waitForChanges(ctx context.Context, d time.Duration) (bool, error) {
	heard := false
	for n := 0; n < maxDrain; n++ {
		wctx, cancel := context.WithTimeout(ctx, d)
		_, err := t.conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if t.conn.IsClosed() || ctx.Err() != nil {
				return heard, fmt.Errorf("wait for notifications: %w", err)
			}
			if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
				return heard, nil
			}
			return heard, fmt.Errorf("wait for notifications: %w", err)
		}
		heard = true
		d = time.Millisecond // take what has arrived already, then act
	}
	return heard, nil
}

// pruneBatch is how many ledger rows one prune statement deletes.
const pruneBatch = 10000

// prune deletes ledger rows older than the retention, a batch at a time between ticks.
// A failure is logged and retried at the next hour: pruning can wait, ticks cannot.
func (t *Ticker) prune(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	n, err := t.q.PruneTicks(ctx, db.PruneTicksParams{Before: t.now().Add(-t.opts.Retention), MaxRows: pruneBatch})
	if err != nil {
		if t.conn.IsClosed() {
			return fmt.Errorf("prune werk_cron_ledger: %w", err)
		}
		t.log.Warn("prune werk_cron_ledger; trying again in an hour", "err", err)
		t.lastPrune = time.Now()
		return nil
	}
	if n > 0 {
		t.log.Info("pruned werk_cron_ledger", "rows", n, "older_than", t.opts.Retention)
	}
	if n < pruneBatch {
		// The ledger is done; backfill requests as old go with it (few: no batches).
		if _, err := t.q.PruneBackfills(ctx, t.now().Add(-t.opts.Retention)); err != nil {
			if t.conn.IsClosed() {
				return fmt.Errorf("prune werk_cron_backfills: %w", err)
			}
			t.log.Warn("prune werk_cron_backfills; trying again in an hour", "err", err)
		}
		t.lastPrune = time.Now() // done; otherwise the next batch follows at the next idle moment
	}
	return nil
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
