package ticker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pgwerk/werkcron/internal/leader"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
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
	// loadPage is how many schedules loadAll reads per statement.
	loadPage = 2000
	// fullReload: with more changed names than this, reread every row instead.
	fullReload = 1000
	// wakeMargin: wake this long after a tick's instant, so that the database (whose
	// clock decides) agrees the tick has come.
	wakeMargin = 2 * time.Millisecond
	// failedRetry: a schedule whose statement failed is retried after this.
	failedRetry      = 30 * time.Second
	statementTimeout = time.Minute
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
}

// Ticker is the scheduling loop: one dedicated connection that stands by for the leader
// lock and, once it holds it, enqueues every schedule's ticks.
type Ticker struct {
	cfg   *pgx.ConnConfig
	opts  Options
	log   *slog.Logger
	Stats Stats

	// State of the current session as primary.
	conn      *pgx.Conn
	q         *db.Queries
	offset    time.Duration // database clock minus host clock (for the logs)
	dbAt      time.Time     // the database's clock at the last trusted heartbeat
	hostAt    time.Time     // the host's clock (opts.Now, monotonic) at that instant
	entries   map[string]*entry
	queue     dueQueue
	dirty     map[*entry]struct{} // next_run_at or last_error to write
	lastBeat  time.Time           // host time of the last heartbeat
	lastPrune time.Time
}

// New prepares a ticker for the database at dsn; Run starts it.
func New(dsn string, opts Options) (*Ticker, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse the connection string: %w", err)
	}
	return NewConfig(cfg, opts), nil
}

// NewConfig is New for a parsed configuration (for example a copy of a
// pool's ConnConfig); the ticker keeps cfg.
func NewConfig(cfg *pgx.ConnConfig, opts Options) *Ticker {
	if opts.StandbyRetry <= 0 {
		opts.StandbyRetry = DefaultStandbyRetry
	}
	if opts.MisfireGrace <= 0 {
		opts.MisfireGrace = DefaultMisfireGrace
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
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
	// Client-side TCP keepalives (the server's are set by elect): a database host that
	// vanishes without closing the connection fails the ticker's statements within
	// seconds, so that it reconnects (to a promoted replica, with several hosts in the
	// DSN) instead of waiting on a dead socket for the kernel's default of hours.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	return &Ticker{cfg: cfg, opts: opts, log: opts.Logger}
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
		err := t.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, leader.ErrLockNotSession) {
			return err
		}
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		t.log.Warn("ticker session ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
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
	err = leader.Elect(ctx, conn, t.opts.StandbyRetry, func() {
		t.log.Info("standing by: another ticker is primary", "retry", t.opts.StandbyRetry)
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

// lead runs the primary's loop: load schedules, then sleep until the earliest tick, a
// change notification or the heartbeat, and enqueue what is due.
func (t *Ticker) lead(ctx context.Context, conn *pgx.Conn) error {
	// Statements run on a context that shutdown does not cancel: the statement in
	// flight finishes, then the loop sees ctx is done and stops.
	work := context.WithoutCancel(ctx)
	t.conn, t.q = conn, db.New(conn)
	t.entries = map[string]*entry{}
	t.queue = nil
	t.dirty = map[*entry]struct{}{}
	t.dbAt, t.hostAt = time.Time{}, time.Time{}
	defer func() { t.conn, t.q, t.entries, t.queue, t.dirty = nil, nil, nil, nil, nil }()

	if err := t.q.MarkLeader(work, t.opts.ApplicationName); err != nil {
		return fmt.Errorf("set application_name: %w", err)
	}
	if _, err := t.q.ListenForChanges(work); err != nil {
		return fmt.Errorf("listen for schedule changes: %w", err)
	}
	if err := t.heartbeat(work); err != nil {
		return err
	}
	t.Stats.Promotions.Add(1)
	t.setRole(RolePrimary)
	t.log.Info("primary: this ticker now schedules", "clock_offset", t.offset.Round(time.Millisecond))
	if err := t.loadAll(work); err != nil {
		return err
	}

	for ctx.Err() == nil {
		// The heartbeat is checked first, so that a primary busy ticking (a backlog, or
		// a decision the database keeps refusing) still proves its lock and rereads
		// the clock.
		if time.Since(t.lastBeat) >= t.opts.Heartbeat {
			if err := t.heartbeat(work); err != nil {
				return err
			}
		}
		now := t.now()
		if due := t.queue.popDue(now); len(due) > 0 {
			if err := t.tick(work, due, now); err != nil {
				return err
			}
			continue
		}
		if err := t.flush(work); err != nil {
			return err
		}
		if time.Since(t.lastPrune) > time.Hour {
			t.prune(work)
		}
		wait := t.opts.Heartbeat - time.Since(t.lastBeat)
		if next := t.queue.peek(); !next.IsZero() {
			wait = min(wait, next.Sub(t.now())+wakeMargin)
		}
		names, err := t.waitForChanges(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(names) > 0 {
			if err := t.reload(work, names); err != nil {
				return err
			}
		}
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
// clock (assuming the server read it halfway through the round trip).
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

// waitForChanges waits up to d for change notifications and returns the names of the
// changed schedules (none when d passed quietly).
func (t *Ticker) waitForChanges(ctx context.Context, d time.Duration) ([]string, error) {
	if d <= 0 {
		return nil, nil
	}
	seen := map[string]struct{}{}
	for len(seen) <= fullReload {
		wctx, cancel := context.WithTimeout(ctx, d)
		n, err := t.conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if t.conn.IsClosed() || ctx.Err() != nil {
				return nil, fmt.Errorf("wait for notifications: %w", err)
			}
			if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
				break
			}
			return nil, fmt.Errorf("wait for notifications: %w", err)
		}
		seen[n.Payload] = struct{}{}
		d = time.Millisecond // take what has arrived already, then act
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	return names, nil
}

// loadAll reads every schedule, a page at a time so that the rows of a large table are
// never all in memory at once. The pages are separate snapshots: a row changed between
// two of them notifies, and is reread by name after the load.
func (t *Ticker) loadAll(ctx context.Context) error {
	keep := make(map[string]bool, len(t.entries))
	after := ""
	for {
		rows, err := t.q.ListSchedulesForTickerPage(ctx, db.ListSchedulesForTickerPageParams{After: after, PageSize: loadPage})
		if err != nil {
			return fmt.Errorf("load schedules: %w", err)
		}
		for _, row := range rows {
			keep[row.Name] = true
			t.put(row)
		}
		if len(rows) < loadPage {
			break
		}
		after = rows[len(rows)-1].Name
	}
	for name, e := range t.entries {
		if !keep[name] {
			t.drop(e)
		}
	}
	t.log.Info("loaded schedules", "count", len(keep))
	return nil
}

// reload rereads the named schedules (changed, deleted or stale).
func (t *Ticker) reload(ctx context.Context, names []string) error {
	if len(names) > fullReload {
		return t.loadAll(ctx)
	}
	rows, err := t.q.GetSchedulesForTicker(ctx, names)
	if err != nil {
		return fmt.Errorf("reload schedules: %w", err)
	}
	found := make(map[string]bool, len(rows))
	for _, row := range rows {
		found[row.Name] = true
		t.put(row)
	}
	for _, name := range names {
		if e := t.entries[name]; e != nil && !found[name] {
			t.drop(e)
		}
	}
	return nil
}

func (t *Ticker) put(row db.WerkCronJob) {
	old := t.entries[row.Name]
	e := newEntry(row, old)
	if old != nil {
		t.queue.remove(old)
		delete(t.dirty, old)
		if e.err != "" && e.err != old.err {
			t.log.Warn("schedule cannot run", "schedule", e.name, "err", e.err)
		}
	} else if e.err != "" {
		t.log.Warn("schedule cannot run", "schedule", e.name, "err", e.err)
	}
	e.refresh()
	t.entries[e.name] = e
	t.queue.set(e)
	t.dirty[e] = struct{}{}
}

func (t *Ticker) drop(e *entry) {
	t.queue.remove(e)
	delete(t.dirty, e)
	delete(t.entries, e.name)
}

// flush writes next_run_at and last_error of the entries whose values changed, in one
// statement.
func (t *Ticker) flush(ctx context.Context) error {
	var p db.SaveScheduleStateParams
	for e := range t.dirty {
		if !e.next.Equal(e.dbNext) || e.err != e.dbErr {
			p.Names = append(p.Names, e.name)
			p.NextRunAts = append(p.NextRunAts, e.next) // zero (year 1) stands for NULL
			p.LastErrors = append(p.LastErrors, e.err)  // "" is NULL
		}
	}
	if len(p.Names) > 0 {
		if err := t.q.SaveScheduleState(ctx, p); err != nil {
			return fmt.Errorf("save next_run_at and last_error: %w", err)
		}
	}
	for e := range t.dirty {
		e.dbNext, e.dbErr = e.next, e.err
		delete(t.dirty, e)
	}
	return nil
}

func (t *Ticker) prune(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	n, err := t.q.PruneTicks(ctx, t.now().Add(-t.opts.Retention))
	if err != nil {
		t.log.Warn("prune werk_cron_ticks", "err", err)
		return
	}
	t.lastPrune = time.Now()
	if n > 0 {
		t.log.Info("pruned werk_cron_ticks", "rows", n, "older_than", t.opts.Retention)
	}
}

// planned is one schedule's decision inside a tick statement.
type planned struct {
	e *entry
	d decision
}

// lost is a decision that did not go through (see settleLost).
type lost struct {
	e      *entry
	newest time.Time // the newest tick of the decision
	dbNow  time.Time // the statement's start, by the database's clock
}

// tick decides the due entries and writes the decisions, in statements of at most
// maxTicksPerStatement ticks. Decisions that did not go through are settled once, after
// the last statement, so that no statement works on entries a reload replaced.
func (t *Ticker) tick(ctx context.Context, due []*entry, now time.Time) error {
	var batch []planned
	var lostOnes []lost
	size := 0
	for _, e := range due {
		d := decide(e.sched, e.window(t.opts.MisfireGrace), now)
		if d.capped {
			t.log.Warn("schedule was down for very many ticks; missed counts are lower bounds", "schedule", e.name)
		}
		if d.empty() {
			e.next = d.next
			t.queue.set(e)
			t.dirty[e] = struct{}{}
			continue
		}
		n := len(d.enqueue) + len(d.missed)
		if size+n > maxTicksPerStatement && len(batch) > 0 {
			if err := t.write(ctx, batch, now, &lostOnes); err != nil {
				return err
			}
			batch, size = batch[:0], 0
		}
		batch = append(batch, planned{e, d})
		size += n
	}
	if len(batch) > 0 {
		if err := t.write(ctx, batch, now, &lostOnes); err != nil {
			return err
		}
	}
	return t.settleLost(ctx, lostOnes, now)
}

// write runs one tick statement. A statement error that is not the connection's (a row
// the database refuses) must not stop the other schedules: the batch is retried one
// schedule at a time, and only the failing ones are set aside, with the error in
// last_error.
func (t *Ticker) write(ctx context.Context, batch []planned, now time.Time, lostOnes *[]lost) error {
	err := t.enqueue(ctx, batch, lostOnes)
	var pgErr *pgconn.PgError
	for retry := 0; retry < uniqueRetries && errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && !t.conn.IsClosed(); retry++ {
		// A job key or ledger row committed by someone else after the statement's
		// snapshot (queries/tick.sql): once more, and its lookups see it now.
		t.log.Info("a tick's job key was taken meanwhile; deciding again", "err", err)
		err = t.enqueue(ctx, batch, lostOnes)
	}
	if err == nil || t.conn.IsClosed() {
		return err
	}
	if !errors.As(err, &pgErr) {
		return err
	}
	if len(batch) == 1 {
		e, d := batch[0].e, batch[0].d
		first := d.newest()
		if len(d.enqueue) > 0 {
			first = d.enqueue[0]
		}
		e.err = fmt.Sprintf("enqueue of the tick at %s failed (retried in %s): %v", first.UTC().Format(time.RFC3339), failedRetry, err)
		e.retryAt = now.Add(failedRetry)
		t.log.Error("enqueue failed; retrying later", "schedule", e.name, "err", err, "retry_in", failedRetry)
		t.queue.set(e)
		t.dirty[e] = struct{}{}
		return nil
	}
	for _, p := range batch {
		if err := t.write(ctx, []planned{p}, now, lostOnes); err != nil {
			return err
		}
	}
	return nil
}

// uniqueViolation is SQLSTATE unique_violation. A batch that meets one is decided again
// up to uniqueRetries times (each sees what the last ran into) before it is split into
// one statement per schedule.
const (
	uniqueViolation = "23505"
	uniqueRetries   = 3
)

// jobKey is the job key of a schedule's tick, werk_jobs.key: one job per tick.
func jobKey(name string, tick time.Time) string {
	return "cron:" + name + ":" + tick.UTC().Format("2006-01-02T15:04:05Z")
}

// tickParams lays batch out as the tick statement's arrays, one element per tick.
func tickParams(batch []planned) db.EnqueueDueTicksParams {
	n := 0
	for _, b := range batch {
		n += len(b.d.missed) + len(b.d.enqueue)
	}
	p := db.EnqueueDueTicksParams{
		TickNames: make([]string, 0, n), TickKeys: make([]string, 0, n), TickAts: make([]time.Time, 0, n),
		TickKinds: make([]string, 0, n), TickCounts: make([]int32, 0, n), TickHeads: make([]bool, 0, n),
		JobIds: make([]uuid.UUID, 0, n), ScheduleTicks: make([]int32, 0, n),
		PrevTickAts: make([]time.Time, 0, n), SeenUpdatedAts: make([]time.Time, 0, n),
		NewestTickAts: make([]time.Time, 0, n), NextRunAts: make([]time.Time, 0, n),
	}
	for _, b := range batch {
		scheduleTicks := int32(len(b.d.missed) + len(b.d.enqueue))
		newest := b.d.newest()
		// The head tick (see queries/tick.sql): the newest tick, or with overlap
		// 'skip' the oldest enqueue tick, the only one that can get a job.
		head := newest
		if b.e.overlapSkip && len(b.d.enqueue) > 0 {
			head = b.d.enqueue[0]
		}
		add := func(at time.Time, kind string, ticks int) {
			p.TickNames = append(p.TickNames, b.e.name)
			p.TickKeys = append(p.TickKeys, jobKey(b.e.name, at))
			p.TickAts = append(p.TickAts, at)
			p.TickKinds = append(p.TickKinds, kind)
			p.TickCounts = append(p.TickCounts, int32(ticks))
			p.TickHeads = append(p.TickHeads, at.Equal(head))
			// Time-ordered ids: werk_jobs' primary key grows at its right edge instead of
			// splitting pages all over the index. A missed tick gets no job.
			id := uuid.Nil
			if kind == "enqueue" {
				id = uuid.Must(uuid.NewV7())
			}
			p.JobIds = append(p.JobIds, id)
			p.ScheduleTicks = append(p.ScheduleTicks, scheduleTicks) // all or none of them go through

			// The schedule's side, repeated on each of its ticks (the statement joins
			// no two of its parts, so each tick carries what its schedule needs).
			p.PrevTickAts = append(p.PrevTickAts, b.e.lastTick) // zero (year 1) stands for NULL
			p.SeenUpdatedAts = append(p.SeenUpdatedAts, b.e.updatedAt)
			p.NewestTickAts = append(p.NewestTickAts, newest)
			p.NextRunAts = append(p.NextRunAts, b.d.next) // zero (year 1) stands for NULL
		}
		for _, m := range b.d.missed {
			add(m.at, "missed", m.ticks)
		}
		for _, at := range b.d.enqueue {
			add(at, "enqueue", 1)
		}
	}
	return p
}

// tickRef names one tick of one schedule.
type tickRef struct {
	name string
	at   int64 // Unix nanoseconds
}

// enqueue runs the tick statement for batch and applies its outcome to the entries;
// decisions that did not go through are added to lostOnes.
func (t *Ticker) enqueue(ctx context.Context, batch []planned, lostOnes *[]lost) error {
	sctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rows, err := db.New(customPlan{t.conn}).EnqueueDueTicks(sctx, tickParams(batch))
	if err != nil {
		return fmt.Errorf("enqueue due ticks: %w", err)
	}
	committed := t.now()
	t.Stats.Statements.Add(1)

	won := make(map[string]bool, len(batch))
	// Ticks that did not go as asked, by outcome: rare, so the map is usually empty.
	other := map[tickRef]string{}
	var dbNow time.Time
	for _, r := range rows {
		dbNow = r.StartedAt
		switch r.Outcome {
		case "won":
			won[r.Name] = true
		case "duplicate", "skipped_overlap":
			other[tickRef{r.Name, r.TickAt.UnixNano()}] = r.Outcome
		}
	}
	for _, b := range batch {
		e := b.e
		if !won[e.name] {
			*lostOnes = append(*lostOnes, lost{e: e, newest: b.d.newest(), dbNow: dbNow})
			continue
		}
		// Every tick of a schedule that won went through (the statement takes all of a
		// schedule's ticks or none).
		for _, m := range b.d.missed {
			if other[tickRef{e.name, m.at.UnixNano()}] != "" {
				continue // decided before, as this or something else: nothing new
			}
			t.Stats.Missed.Add(1)
		}
		for _, at := range b.d.enqueue {
			switch other[tickRef{e.name, at.UnixNano()}] {
			case "":
				t.Stats.Enqueued.Add(1)
				t.Stats.Lateness.Observe(committed.Sub(at))
			case "duplicate":
				t.Stats.Duplicates.Add(1)
				t.log.Warn("tick already decided or had a job; not enqueued again", "schedule", e.name, "tick", at)
			case "skipped_overlap":
				t.Stats.SkippedOverlap.Add(1)
			}
		}
		e.lastTick = b.d.newest()
		e.next, e.retryAt = b.d.next, time.Time{}
		e.dbNext, e.err, e.dbErr = b.d.next, "", ""
		t.queue.set(e)
	}
	return nil
}

// lockedRetry: a schedule whose row another session holds locked is tried again after
// this (or at once when that session's change commits and notifies).
const lockedRetry = time.Second

// settleLost looks again at decisions that did not go through:
//   - a tick still in the future by the database's clock (this host's estimate ran a
//     little ahead): the same entry is simply due again at that tick;
//   - otherwise the row changed (edited, paused, deleted, ticked by someone else) or is
//     locked by another session: it is reread, and when nothing changed (a lock) it is
//     retried shortly instead of at once.
func (t *Ticker) settleLost(ctx context.Context, lostOnes []lost, now time.Time) error {
	var names []string
	seen := map[string]*entry{}
	for _, l := range lostOnes {
		if t.entries[l.e.name] != l.e {
			continue // already replaced
		}
		if !l.dbNow.IsZero() && l.newest.After(l.dbNow) {
			l.e.retryAt = l.newest.Add(wakeMargin)
			t.queue.set(l.e)
			continue
		}
		names = append(names, l.e.name)
		seen[l.e.name] = l.e
	}
	if len(names) == 0 {
		return nil
	}
	t.log.Info("schedules changed or locked while deciding; rereading them", "schedules", strings.Join(names, ","))
	if err := t.reload(ctx, names); err != nil {
		return err
	}
	for name, old := range seen {
		if e := t.entries[name]; e != nil && e.updatedAt.Equal(old.updatedAt) && e.lastTick.Equal(old.lastTick) {
			e.retryAt = now.Add(lockedRetry)
			t.queue.set(e)
		}
	}
	return nil
}

// customPlan runs queries through PostgreSQL's unnamed statement, which is planned for
// the arguments at hand, instead of a cached prepared statement, which after five runs
// switches to a generic plan. The generic plan of the tick statement guesses 10 rows per
// array and plans against werk_jobs as it was when it was made: planned while werk_jobs
// was empty, it probed every tick's key with a sequential scan, and the 20 statements of
// a 100,000-schedule tick took 2 s, 4 s, ... 14 s each as the table filled. Planning
// anew costs about a millisecond per statement.
type customPlan struct{ *pgx.Conn }

func (c customPlan) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.Conn.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}

func (t *Ticker) setRole(role string) {
	t.Stats.Primary.Store(role == RolePrimary)
	if t.opts.OnRole != nil {
		t.opts.OnRole(role)
	}
}
