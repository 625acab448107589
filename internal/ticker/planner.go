package ticker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
)

const (
	// A planning batch is one transaction: read and lock rows awaiting planning, compute
	// their plans, write them. The loop ticks what is due between two batches, so a
	// batch's duration is the most a due tick waits for planning; the batch size adapts
	// to keep it near planTarget.
	planTarget   = 100 * time.Millisecond
	planBatchMin = 200
	planBatchMax = 5000
	// planCooldown: after a look found nothing to plan, the next look waits this long,
	// so that a flood of notifications (anyone may NOTIFY) costs a bounded number of
	// looks per second.
	planCooldown = 50 * time.Millisecond
	// planRetryMax caps the backoff for rows that others hold locked.
	planRetryMax = 30 * time.Second
	// A planning statement runs at most planTimeout, so that a due tick waits no longer
	// for planning. While statements keep hitting the bound it doubles, up to
	// planTimeoutMax, so that a look that must take longer (a database that slow) still
	// finishes; the first look that finishes sets it back.
	planTimeout    = 400 * time.Millisecond
	planTimeoutMax = 6400 * time.Millisecond
	// The doubled bound never reaches past the next due tick (nor below planTimeout), so
	// that a tick waits for planning less than a second: the bound ends where the tick
	// is due. Only when planSqueezes looks in a row were cut off that way does one run
	// to the doubled bound: a database that slow gets its rows planned late rather than
	// never, and the log says ticks may be late.
	planSqueezes = 3
)

// queryCanceled is the SQLSTATE of a statement cut off by statement_timeout.
const queryCanceled = "57014"

// planner plans the rows awaiting planning (new or changed schedules, and rows handed
// back by setting planned_at to NULL): when to look at each next (its first undecided
// tick, or never) and why it cannot run, if it cannot. Its pacer says whether rows may
// await planning; it also knows how far its sweep over them has come.
//
// A sweep walks the unplanned rows newest change first with a cursor, so that it never
// reads again the index entries of rows it has just planned (they stay in the index
// until vacuum, and a long-running transaction elsewhere can keep them there: read from
// the top each time, planning a million rows would read half a trillion entries). Rows
// changed after the sweep began sit above its start (top) and are taken first in every
// batch: a schedule added during a bulk load is planned at once.
type planner struct {
	*primary
	pacer
	backoff time.Duration
	batch   int // rows per batch (adapts to planTarget)

	sweeping bool
	top      time.Time // the newest change when the sweep began
	cursorAt time.Time // the sweep goes on below (cursorAt, cursorName)
	cursor   string

	// recheck: schedules in error are still to be looked at again (after a
	// promotion), by name after recheckAfter.
	recheck      bool
	recheckAfter string

	// timeout bounds each planning statement (see planTimeout); 0: planTimeout.
	timeout time.Duration
	// squeezed counts looks in a row cut off by a bound shortened to the next due tick;
	// bound is the bound the last look ran under.
	squeezed int
	bound    time.Duration
	// deadline: the bound is the planning transaction's, not each statement's: the
	// statements after the first get what is left of it (rebound).
	deadline time.Time
}

// planBound is the bound of the next planning statements: the doubled bound, cut to
// the next due tick as planSqueezes says.
// due: rows may await planning, or schedules in error are still to be looked at again.
func (pl *planner) due(now time.Time) bool {
	return pl.pacer.due(now) || (pl.recheck && !pl.pending)
}

func (pl *planner) wakeAt() (time.Time, bool) {
	if pl.recheck && !pl.pending {
		return time.Time{}, true // now
	}
	return pl.pacer.wakeAt()
}

// step plans a batch of rows awaiting planning, or, when none await, looks again at a
// batch of schedules in error.
func (pl *planner) step(ctx context.Context) error {
	if pl.pacer.due(time.Now()) {
		return pl.planBatch(ctx)
	}
	return pl.recheckBatch(ctx)
}

func (pl *planner) planBound() time.Duration {
	if pl.timeout == 0 {
		pl.timeout = planTimeout
	}
	bound := pl.timeout
	if pl.squeezed >= planSqueezes {
		return bound
	}
	if until, ok := pl.untilNextTick(); ok && until < bound {
		bound = max(until, planTimeout)
	}
	return bound
}

// planTx runs fn in a transaction whose statements run at most planBound each.
func (pl *planner) planTx(ctx context.Context, fn func(q *db.Queries) error) error {
	pl.bound = pl.planBound()
	pl.deadline = time.Now().Add(pl.bound)
	return pgx.BeginFunc(ctx, pl.conn, func(tx pgx.Tx) error {
		q := pl.q.WithTx(tx)
		if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", pl.bound.Milliseconds())); err != nil {
			return fmt.Errorf("bound planning statements: %w", err)
		}
		return fn(q)
	})
}

// rebound gives the next statement of the planning transaction what is left of its
// bound (at least a millisecond: a statement past the deadline is cut off at once, and
// taken as cut off by its bound).
func (pl *planner) rebound(ctx context.Context, q *db.Queries) error {
	left := max(time.Until(pl.deadline), time.Millisecond)
	if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", left.Milliseconds())); err != nil {
		return fmt.Errorf("bound planning statements: %w", err)
	}
	return nil
}

// timedOut reports whether err is a planning statement cut off by its bound (and not by
// ctx), and if so doubles the bound for the next ones, up to planTimeoutMax: the ticks
// due meanwhile go first, and a look that must take longer still gets to finish.
func (pl *planner) timedOut(ctx context.Context, err error) bool {
	var pgErr *pgconn.PgError
	if ctx.Err() != nil || pl.conn.IsClosed() || !errors.As(err, &pgErr) || pgErr.Code != queryCanceled {
		return false
	}
	if pl.bound < pl.timeout {
		pl.squeezed++ // cut to the next tick: the doubled bound was not tried
		if pl.squeezed == planSqueezes {
			pl.log.Warn("planning needs longer than the next tick leaves it; letting the next look run, ticks may be late",
				"bound", pl.timeout, "cut_off_looks", pl.squeezed)
		}
	} else {
		pl.squeezed = 0
		pl.timeout = min(2*pl.timeout, planTimeoutMax)
	}
	pl.Stats.PlanCutoffs.Add(1)
	return true
}

// planBatch plans one batch of rows awaiting planning: for each, when to look at it next
// (its first undecided tick, or never) and why it cannot run, if it cannot. Rows due
// within the horizon join it. Rows another session holds are skipped (SKIP LOCKED) and
// looked at again, with backoff, once the sweep is over.
func (pl *planner) planBatch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if pl.batch == 0 {
		pl.batch = 1000
	}
	limit := pl.batch
	pl.Stats.PlanLooks.Add(1)
	var planned []*entry
	var rows []row
	var older int
	before := pl // to go back to, should the batch fail
	started := time.Now()
	err := pl.planTx(ctx, func(q *db.Queries) error {
		rows = rows[:0]
		if pl.sweeping {
			fresh, err := q.LockUnplannedAbove(ctx, db.LockUnplannedAboveParams{Above: pl.top, MaxRows: int32(limit)})
			if err != nil {
				return fmt.Errorf("read rows awaiting planning: %w", err)
			}
			for _, r := range fresh {
				rows = append(rows, row(r))
			}
		} else {
			// A new sweep, from the newest change down.
			pl.sweeping, pl.top, pl.cursorAt, pl.cursor = true, time.Time{}, farFuture, ""
		}
		if want := limit - len(rows); want > 0 {
			if err := pl.rebound(ctx, q); err != nil {
				return err
			}
			below, err := q.LockUnplannedBelow(ctx, db.LockUnplannedBelowParams{
				BelowAt: pl.cursorAt, BelowName: pl.cursor, MaxRows: int32(want)})
			if err != nil {
				return fmt.Errorf("read rows awaiting planning: %w", err)
			}
			for _, r := range below {
				rows = append(rows, row(r))
			}
			older = len(below)
			if older > 0 {
				last := below[older-1]
				if pl.top.IsZero() {
					pl.top = below[0].DefinedAt
				}
				pl.cursorAt, pl.cursor = last.DefinedAt, last.Name
			}
			if older < want {
				pl.sweeping = false // the sweep reached the bottom
			}
		}
		if err := pl.rebound(ctx, q); err != nil {
			return err
		}
		var err error
		planned, err = pl.planRows(ctx, q, rows)
		return err
	})
	took := time.Since(started)
	if pl.timedOut(ctx, err) {
		// Nothing was written: the same batch, smaller, after whatever is due.
		pl.log.Info("planning gave way to due ticks; going on", "took", took.Round(time.Millisecond), "next_bound", pl.timeout)
		batch, timeout, squeezed := max(limit/2, planBatchMin), pl.timeout, pl.squeezed
		pl = before
		pl.batch, pl.timeout, pl.squeezed = batch, timeout, squeezed
		pl.notBefore = time.Now().Add(planCooldown)
		return nil
	}
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case pl.conn.IsClosed() || !errors.As(err, &pgErr):
			return err
		case pgErr.Code == lockNotAvailable || len(rows) == 0:
			// A table lock (pgwerk's or an operator's DDL): nothing was written; look
			// again after a backoff, with a new sweep.
			pl.sweeping = false
			pl.retry()
			pl.log.Warn("planning waits for a table lock; trying again", "err", err, "in", pl.backoff)
		case limit > 1:
			// The database refused a write of the batch (a trigger or constraint someone
			// added, say): go on one row at a time from where the batch began, so that the
			// row involved is found and the others are planned.
			pl = before
			pl.batch = 1
		default:
			// One row the database will not take a plan for: leave it unplanned, said
			// in the log, and go on past it (the sweep's cursor has moved past it, or,
			// for a row changed during the sweep, its top is raised over it).
			bad := rows[0]
			if older == 0 && bad.DefinedAt.After(pl.top) {
				pl.top = bad.DefinedAt
			}
			pl.log.Error("the database refused the plan of a schedule; left unplanned", "schedule", bad.Name, "err", err)
		}
		return nil
	}
	for _, e := range planned {
		if e.err != "" {
			pl.log.Warn("schedule cannot run", "schedule", e.name, "err", e.err)
		}
		pl.hz.offer(e)
	}
	if err := pl.plannedHealth(ctx, planned); err != nil {
		return err
	}
	pl.timeout, pl.squeezed = planTimeout, 0
	pl.Stats.Planned.Add(int64(len(planned)))
	pl.Signals.Planned.Signal(len(planned))
	pl.log.Debug("planned", "rows", len(planned), "batch", limit, "took", took)
	pl.adapt(len(planned), limit, took)
	if pl.sweeping {
		return nil // more to come, after whatever is due
	}
	// The sweep is over. Rows may still await planning: skipped because others hold
	// them, or committed by a transaction that began before the sweep and ended after
	// the cursor passed. One look through the index says.
	var left bool
	err = pl.planTx(ctx, func(q *db.Queries) error {
		var err error
		left, err = q.AnyUnplanned(ctx)
		return err
	})
	if pl.timedOut(ctx, err) {
		// Through the dead entries of the rows just planned: look again after what is due.
		pl.pending, pl.notBefore = true, time.Now().Add(planCooldown)
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for rows awaiting planning: %w", err)
	}
	switch {
	case left && len(planned) > 0:
		pl.pending, pl.notBefore = true, time.Time{} // a new sweep at once
	case left:
		pl.retry() // only rows others hold: back off
	default:
		// The sweep is over: start the next one afresh.
		*pl = planner{primary: pl.primary, pacer: pacer{notBefore: time.Now().Add(planCooldown)}, batch: pl.batch,
			recheck: pl.recheck, recheckAfter: pl.recheckAfter}
	}
	return nil
}

// planRows computes and writes the plans of rows its caller holds locked.
func (pl *planner) planRows(ctx context.Context, q *db.Queries, rows []row) ([]*entry, error) {
	rows, err := pl.consistent(ctx, q, rows)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	args := db.SavePlansParams{
		Names:      make([]string, len(rows)),
		NextRunAts: make([]time.Time, len(rows)),
		LastErrors: make([]string, len(rows)),
	}
	planned := make([]*entry, len(rows))
	for i, r := range rows {
		planned[i] = newEntry(r)
	}
	// A calendar edit sends its schedules here: their calendars are read afresh.
	if err := pl.withCalendars(ctx, q, planned, true); err != nil {
		return nil, err
	}
	for i, e := range planned {
		next, lastError := e.plan(pl.allow)
		if lastError != "" && e.err == "" {
			e.err = lastError
		}
		e.next = next
		args.Names[i], args.NextRunAts[i], args.LastErrors[i] = e.name, next, cutBytes(lastError, maxErrorBytes) // zero, "": NULL
	}
	if err := q.SavePlans(ctx, args); err != nil {
		return nil, fmt.Errorf("save plans: %w", err)
	}
	return planned, nil
}

// consistent returns rows with each row whose definition is not the one its state was
// made for (updated_at is not defined_at) read again. A state row changed after the
// locking read's snapshot is locked, and returned, as it is now, but joined with the
// definition as the snapshot saw it: a schedule resumed meanwhile came back still
// paused, and was planned as never to run again. Read again (a statement of its own,
// so a snapshot of its own, while the state rows stay locked), the two agree. Rows gone
// meanwhile (deleted) are dropped; a row whose two still differ (defined_at written by
// hand) is planned as read.
func (pl *planner) consistent(ctx context.Context, q *db.Queries, rows []row) ([]row, error) {
	var stale []string
	for _, r := range rows {
		if !r.UpdatedAt.Equal(r.DefinedAt) {
			stale = append(stale, r.Name)
		}
	}
	if len(stale) == 0 {
		return rows, nil
	}
	fresh, err := q.GetSchedulesForTicker(ctx, stale)
	if err != nil {
		return nil, fmt.Errorf("read again schedules changed while they were read: %w", err)
	}
	now := make(map[string]row, len(fresh))
	for _, r := range fresh {
		now[r.Name] = row(r)
	}
	out := rows[:0:0]
	for _, r := range rows {
		if r.UpdatedAt.Equal(r.DefinedAt) {
			out = append(out, r)
		} else if f, ok := now[r.Name]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// recheckBatch plans again a batch of the schedules in error, after a promotion (the
// new primary may know a zone the last one did not, or have another allow-list), by
// name, between ticks and after any planning owed. A failure gives up the recheck: it
// is a courtesy, and the next promotion tries again.
func (pl *planner) recheckBatch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	limit := max(pl.batch, planBatchMin)
	var planned []*entry
	var read int
	err := pl.planTx(ctx, func(q *db.Queries) error {
		rows, err := q.LockInError(ctx, db.LockInErrorParams{After: pl.recheckAfter, MaxRows: int32(limit)})
		if err != nil {
			return fmt.Errorf("read schedules in error: %w", err)
		}
		read = len(rows)
		in := make([]row, len(rows))
		for i, r := range rows {
			in[i] = row(r)
		}
		planned, err = pl.planRows(ctx, q, in)
		return err
	})
	if pl.timedOut(ctx, err) {
		return nil // the same batch again, after what is due
	}
	if err != nil {
		if err := pl.survive(err, "look again at schedules in error", "left for the next primary"); err != nil {
			return err
		}
		pl.recheck = false
		return nil
	}
	fixed := 0
	for _, e := range planned {
		pl.recheckAfter = e.name
		if e.err == "" {
			fixed++
		}
		pl.hz.offer(e)
	}
	if err := pl.plannedHealth(ctx, planned); err != nil {
		return err
	}
	if fixed > 0 {
		pl.log.Info("schedules in error can run now", "count", fixed)
	}
	if read < limit {
		pl.recheck = false
	}
	return nil
}

// adapt moves the batch size toward planTarget per batch: a full batch that took less
// than half of it doubles, one that took more than twice halves.
func (pl *planner) adapt(got, limit int, took time.Duration) {
	switch {
	case got == limit && took < planTarget/2:
		pl.batch = min(2*pl.batch, planBatchMax)
	case took > 2*planTarget:
		pl.batch = max(pl.batch/2, planBatchMin)
	}
}

// retry keeps planning pending and backs off: 100 ms, doubling to planRetryMax.
func (pl *planner) retry() {
	pl.backoff = min(max(2*pl.backoff, 100*time.Millisecond), planRetryMax)
	pl.pending = true
	pl.notBefore = time.Now().Add(pl.backoff)
}
