package ticker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
)

// primary is one session's leadership: the connection that holds the leader lock, what
// the loop keeps while it leads, and the services that share that connection. It lives
// from the promotion to the end of the session; the next promotion starts afresh.
type primary struct {
	*Ticker
	conn    *pgx.Conn
	q       *db.Queries
	backend int32 // the server process of conn, which holds the leader lock
	// helpers are the fan-out's other connections (fanout.go), opened when first needed.
	helpers   *pgxpool.Pool
	helpersMu sync.Mutex
	// warming: what warmHelpers runs on, cancelled first when the helpers close;
	// helpersClosed: closed for good (this session no longer leads).
	warming       context.Context
	stopWarming   context.CancelFunc
	helpersClosed bool
	clock
	hz *horizon
	// A read of the plan that met a table lock (an operator's LOCK TABLE or DDL on
	// werk_cron_jobs) is tried again at planRetryAt, backing off; the primary keeps
	// its lock and heartbeat meanwhile.
	planRetryAt  time.Time
	planRetryGap time.Duration
	// The tick path's reports: schedules recorded in werk_cron_holdups, and the changes
	// to write there (holdups.go); tablesLocked: the last tick statement found a table
	// locked (logged once); lastWon: host time a tick statement last decided a schedule
	// (or the promotion).
	holdups        map[string]bool
	newHoldups     []*entry
	clearedHoldups []string
	tablesLocked   bool
	lastWon        time.Time
	// checkKeysUntil (host time, Unix nanoseconds): until then, ticks at their usual pace
	// leave out the job keys held when their statement starts (keyCheckFor in
	// write.go). Written by the fan-out's connections too.
	checkKeysUntil atomic.Int64

	planner  *planner
	filler   *filler
	recorder *recorder
	pruner   *pruner
	watcher  *watcher
	// cals: the calendars its schedules skip (calendar.go).
	cals calendars
	// filledLast: the last step was the filler's (it takes turns with the recorder).
	filledLast bool
}

// A service is one of the primary's jobs besides ticking: the planner, the filler
// (backfills), the recorder (job outcomes) and the pruner. Each keeps its own state,
// works through the primary's connection, and does its work in steps, each bounded
// (by a row count and a statement timeout, never past the next due tick) so that a due
// tick waits for at most one step: the loop ticks what is due, then gives one service
// one step, then looks again.
type service interface {
	// due reports whether the service has work it may do at now (host time).
	due(now time.Time) bool
	// wakeAt is when the service will next have work (host time), and whether it
	// expects any at all: the loop sleeps no longer.
	wakeAt() (time.Time, bool)
	// step does one bounded step. Only a failure of the connection is returned.
	step(ctx context.Context) error
}

// pacer is when a service next has work: pending says it may have some, notBefore (host
// time) not before when. Services embed it.
type pacer struct {
	pending   bool
	notBefore time.Time
}

func (c *pacer) due(now time.Time) bool    { return c.pending && !now.Before(c.notBefore) }
func (c *pacer) wakeAt() (time.Time, bool) { return c.notBefore, c.pending }

// expect notes that there may be work (a notification, a job enqueued).
func (c *pacer) expect() { c.pending = true }

// survive deals with the error of a statement that can wait for another try: when the
// connection is gone it returns err, wrapped with what was being done, which ends the
// session; otherwise it logs it, saying what happens next, and returns nil.
func (p *primary) survive(err error, what, next string, args ...any) error {
	if p.conn.IsClosed() {
		return fmt.Errorf("%s: %w", what, err)
	}
	msg := what
	if next != "" {
		msg += "; " + next
	}
	p.log.Warn(msg, append(args, "err", err)...)
	return nil
}

// lead runs the primary's loop on conn, which holds the leader lock: read what is due,
// tick it, give the services a step, and sleep until the next due row, a change
// notification or the heartbeat.
func (t *Ticker) lead(ctx context.Context, conn *pgx.Conn) error {
	// Statements run on a context that outlives shutdown by a short grace, so that the
	// statement in flight (bounded anyway by lockTimeout and its own deadline) usually
	// finishes; a statement cut off rolls back whole.
	work, stop := graceful(ctx, shutdownGrace)
	defer stop()
	p := &primary{Ticker: t, conn: conn, q: db.New(conn), hz: newHorizon(cmp.Or(t.horizonRows, testHorizonRows, horizonRows)), holdups: map[string]bool{}}
	p.warming, p.stopWarming = context.WithCancel(work)
	// Whatever changed while no primary ran, and schedules in error.
	p.planner = &planner{primary: p, pacer: pacer{pending: true}, recheck: true}
	// Requests made while no primary ran.
	p.filler = &filler{primary: p, pacer: pacer{pending: true}}
	// Jobs that ended while no primary ran, and the newest ticks of the last primary,
	// whose rows are written with their outcomes: a sweep finds them.
	p.recorder = &recorder{primary: p, pacer: pacer{pending: true}, sweep: true}
	p.pruner = &pruner{primary: p}
	// Health checks that came due while no primary ran, and every schedule in error,
	// failing, late or overdue: what changed meanwhile is announced now.
	p.watcher = &watcher{primary: p, pacer: pacer{pending: true}, recheck: true}
	defer p.closeHelpers()
	return p.run(ctx, work)
}

// run promotes this session and goes round the loop until ctx is done (or the session
// fails).
func (p *primary) run(ctx, work context.Context) error {
	if err := p.q.MarkLeader(work, p.opts.ApplicationName); err != nil {
		return fmt.Errorf("set application_name: %w", err)
	}
	if err := p.q.SetLockTimeout(work, fmt.Sprintf("%dms", lockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	if _, err := p.q.ListenForChanges(work); err != nil {
		return fmt.Errorf("listen for schedule changes: %w", err)
	}
	if err := p.q.ClearAllHoldups(work); err != nil {
		p.log.Warn("clear werk_cron_holdups of the last primary", "err", err)
	}
	if err := p.heartbeat(work); err != nil {
		return err
	}
	p.Stats.Promotions.Add(1)
	p.lastWon = time.Now()
	p.led = true
	p.setRole(RolePrimary)
	p.Signals.Promoted.Signal(struct{}{})
	p.log.Info("primary: this ticker now schedules", "clock_offset", p.offset.Round(time.Millisecond))

	for ctx.Err() == nil {
		p.Stats.progress()
		if p.roundsLed++; p.roundsLed == 2 {
			p.Stats.failedLeads.Store(0) // went round: this primary works
		}
		// The heartbeat comes first, so that a primary busy ticking (a backlog, or a
		// decision the database keeps refusing) still proves its lock and rereads the
		// clock.
		if time.Since(p.lastBeat) >= p.opts.Heartbeat {
			if err := p.heartbeat(work); err != nil {
				return err
			}
		}
		now := p.now()
		p.Stats.overdue.Store(int64(p.hz.overdue(now)))
		p.Stats.stalled.Store(int64(min(p.hz.heldUp(now), time.Since(p.lastWon))))
		p.Stats.held.Store(int64(len(p.hz.entries)))
		if p.hz.mustRead(now) && !time.Now().Before(p.planRetryAt) {
			if err := p.readHorizon(work, now); err != nil {
				return err
			}
			if p.opts.Parallel > 1 && len(p.hz.entries) >= 2*parallelMin {
				// A fan-out to split is coming; one larger than a read may be sent whole.
				want := p.opts.Parallel
				if p.hz.fanoutNext() {
					want = max(want, wholeConns)
				}
				go p.warmHelpers(p.backend, want)
			}
		}
		if due := p.hz.popDue(now, p.hz.max); len(due) > 0 { // all one read holds
			if err := p.tick(work, due, now); err != nil {
				return err
			}
			continue
		}
		if at := p.hz.next(); p.decidable(at) && at.Sub(p.now()) <= p.lead() {
			if err := p.tickAt(ctx, work, at); err != nil {
				return err
			}
			continue
		}
		if s := p.nextService(time.Now()); s != nil {
			if err := s.step(work); err != nil {
				return err
			}
			continue
		}
		if err := p.sleep(ctx, now); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// decidable reports whether the tick due at at (the horizon's first) may be decided
// ahead of its instant (tickAt): the horizon's promise reaches it. One past its end (set
// aside, or held while rows due before it may be missing from a full horizon) waits for
// the plan to be read at that end, or for its instant (tick).
func (p *primary) decidable(at time.Time) bool {
	return !at.IsZero() && (!at.After(p.hz.end) || p.hz.coversJust(at))
}

// nextService is the service to give a step to now, if any: the planner first (a
// changed schedule's next tick may be due soon); the filler and the recorder take
// turns while both have work (a long queue of backfill requests must not keep outcomes
// from being recorded, nor the reverse); the pruner when nothing else is to be done.
func (p *primary) nextService(now time.Time) service {
	if p.planner.due(now) {
		return p.planner
	}
	if p.watcher.due(now) {
		return p.watcher
	}
	fill, record := p.filler.due(now), p.recorder.due(now)
	switch {
	case fill && (!record || !p.filledLast):
		p.filledLast = true
		return p.filler
	case record:
		p.filledLast = false
		return p.recorder
	case p.pruner.due(now):
		return p.pruner
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

// sleep waits until the first entry is due, the horizon must be read again, planning
// may resume, the heartbeat is due, or a change notification arrives. checked is the
// instant up to which the loop found nothing due.
func (p *primary) sleep(ctx context.Context, checked time.Time) error {
	wait := p.opts.Heartbeat - time.Since(p.lastBeat)
	now := p.now()
	if next := p.hz.next(); p.decidable(next) {
		wait = min(wait, next.Sub(now)-p.lead()) // tickAt decides it ahead
	}
	switch {
	case p.hz.stale(now) && time.Now().Before(p.planRetryAt):
		wait = min(wait, time.Until(p.planRetryAt)) // the plan is locked: its retry
	case !p.hz.end.IsZero() && p.hz.end.Before(now.Add(wait)):
		wait = p.hz.end.Sub(now) + wakeMargin
	}
	for _, s := range []service{p.planner, p.watcher, p.filler, p.recorder, p.pruner} {
		if at, ok := s.wakeAt(); ok {
			wait = min(wait, time.Until(at))
		}
	}
	if wait <= 0 {
		return nil
	}
	if !p.planner.pending && !p.filler.pending {
		p.Signals.Idle.Signal(checked)
	}
	p.log.Debug("sleep", "for", wait)
	heard, err := p.waitForChanges(ctx, wait)
	if err != nil {
		return err
	}
	if heard {
		// A schedule changed, a backfill was requested, or a run was triggered by hand:
		// look for all three.
		p.planner.expect()
		p.filler.expect()
		p.recorder.expect()
		p.watcher.poke() // a manual run may have set a health check
	}
	return nil
}

// maxDrain bounds how many queued notifications one wake-up reads: they all mean the
// same ("look at the unplanned rows"), so a flood of them costs one look, not one each.
const maxDrain = 1000

// waitForChanges waits up to d for a change notification on werk_cron_jobs and reports
// whether one came. A notification is only a hint to look at the unplanned rows; its
// payload is ignored, so that anyone who may NOTIFY the channel can at most make the
// ticker look (rate-limited by planState) and never make it reload anything.
func (p *primary) waitForChanges(ctx context.Context, d time.Duration) (bool, error) {
	heard := false
	for n := 0; n < maxDrain; n++ {
		wctx, cancel := context.WithTimeout(ctx, d)
		_, err := p.conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if p.conn.IsClosed() || ctx.Err() != nil {
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
