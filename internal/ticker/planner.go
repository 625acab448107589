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

// planState is what the primary knows of rows awaiting planning, and how far its sweep
// over them has come.
//
// A sweep walks the unplanned rows newest change first with a cursor, so that it never
// reads again the index entries of rows it has just planned (they stay in the index
// until vacuum, and a long-running transaction elsewhere can keep them there: read from
// the top each time, planning a million rows would read half a trillion entries). Rows
// changed after the sweep began sit above its start (top) and are taken first in every
// batch: a schedule added during a bulk load is planned at once.
type planState struct {
	pending   bool      // rows may await planning: look when notBefore has passed
	notBefore time.Time // host time
	backoff   time.Duration
	batch     int // rows per batch (adapts to planTarget)

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
func (t *Ticker) planBound() time.Duration {
	if t.plan.timeout == 0 {
		t.plan.timeout = planTimeout
	}
	bound := t.plan.timeout
	if t.plan.squeezed >= planSqueezes {
		return bound
	}
	if t.hz == nil {
		return bound
	}
	next := t.hz.next()
	if next.IsZero() || t.hz.end.Before(next) {
		next = t.hz.end
	}
	if until := next.Sub(t.now()); !next.IsZero() && until < bound {
		bound = max(until, planTimeout)
	}
	return bound
}

// planTx runs fn in a transaction whose statements run at most planBound each.
func (t *Ticker) planTx(ctx context.Context, fn func(q *db.Queries) error) error {
	t.plan.bound = t.planBound()
	t.plan.deadline = time.Now().Add(t.plan.bound)
	return pgx.BeginFunc(ctx, t.conn, func(tx pgx.Tx) error {
		q := t.q.WithTx(tx)
		if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", t.plan.bound.Milliseconds())); err != nil {
			return fmt.Errorf("bound planning statements: %w", err)
		}
		return fn(q)
	})
}

// rebound gives the next statement of the planning transaction what is left of its
// bound (at least a millisecond: a statement past the deadline is cut off at once, and
// taken as cut off by its bound).
func (t *Ticker) rebound(ctx context.Context, q *db.Queries) error {
	left := max(time.Until(t.plan.deadline), time.Millisecond)
	if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", left.Milliseconds())); err != nil {
		return fmt.Errorf("bound planning statements: %w", err)
	}
	return nil
}

// timedOut reports whether err is a planning statement cut off by its bound (and not by
// ctx), and if so doubles the bound for the next ones, up to planTimeoutMax: the ticks
// due meanwhile go first, and a look that must take longer still gets to finish.
func (t *Ticker) timedOut(ctx context.Context, err error) bool {
	var pgErr *pgconn.PgError
	if ctx.Err() != nil || t.conn.IsClosed() || !errors.As(err, &pgErr) || pgErr.Code != queryCanceled {
		return false
	}
	if t.plan.bound < t.plan.timeout {
		t.plan.squeezed++ // cut to the next tick: the doubled bound was not tried
		if t.plan.squeezed == planSqueezes {
			t.log.Warn("planning needs longer than the next tick leaves it; letting the next look run, ticks may be late",
				"bound", t.plan.timeout, "cut_off_looks", t.plan.squeezed)
		}
	} else {
		t.plan.squeezed = 0
		t.plan.timeout = min(2*t.plan.timeout, planTimeoutMax)
	}
	t.Stats.PlanCutoffs.Add(1)
	return true
}

func (p *planState) due(now time.Time) bool { return p.pending && !now.Before(p.notBefore) }

// planBatch plans one batch of rows awaiting planning: for each, when to look at it next
// (its first undecided tick, or never) and why it cannot run, if it cannot. Rows due
// within the horizon join it. Rows another session holds are skipped (SKIP LOCKED) and
// looked at again, with backoff, once the sweep is over.
func (t *Ticker) planBatch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if t.plan.batch == 0 {
		t.plan.batch = 1000
	}
	limit := t.plan.batch
	t.Stats.PlanLooks.Add(1)
	var planned []*entry
	var rows []row
	var older int
	before := t.plan // to go back to, should the batch fail
	started := time.Now()
	err := t.planTx(ctx, func(q *db.Queries) error {
		rows = rows[:0]
		if t.plan.sweeping {
			fresh, err := q.LockUnplannedAbove(ctx, db.LockUnplannedAboveParams{Above: t.plan.top, MaxRows: int32(limit)})
			if err != nil {
				return fmt.Errorf("read rows awaiting planning: %w", err)
			}
			for _, r := range fresh {
				rows = append(rows, row(r))
			}
		} else {
			// A new sweep, from the newest change down.
			t.plan.sweeping, t.plan.top, t.plan.cursorAt, t.plan.cursor = true, time.Time{}, farFuture, ""
		}
		if want := limit - len(rows); want > 0 {
			if err := t.rebound(ctx, q); err != nil {
				return err
			}
			below, err := q.LockUnplannedBelow(ctx, db.LockUnplannedBelowParams{
				BelowAt: t.plan.cursorAt, BelowName: t.plan.cursor, MaxRows: int32(want)})
			if err != nil {
				return fmt.Errorf("read rows awaiting planning: %w", err)
			}
			for _, r := range below {
				rows = append(rows, row(r))
			}
			older = len(below)
			if older > 0 {
				last := below[older-1]
				if t.plan.top.IsZero() {
					t.plan.top = below[0].DefinedAt
				}
				t.plan.cursorAt, t.plan.cursor = last.DefinedAt, last.Name
			}
			if older < want {
				t.plan.sweeping = false // the sweep reached the bottom
			}
		}
		if err := t.rebound(ctx, q); err != nil {
			return err
		}
		var err error
		planned, err = t.planRows(ctx, q, rows)
		return err
	})
	took := time.Since(started)
	if t.timedOut(ctx, err) {
		// Nothing was written: the same batch, smaller, after whatever is due.
		t.log.Info("planning gave way to due ticks; going on", "took", took.Round(time.Millisecond), "next_bound", t.plan.timeout)
		batch, timeout, squeezed := max(limit/2, planBatchMin), t.plan.timeout, t.plan.squeezed
		t.plan = before
		t.plan.batch, t.plan.timeout, t.plan.squeezed = batch, timeout, squeezed
		t.plan.notBefore = time.Now().Add(planCooldown)
		return nil
	}
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case t.conn.IsClosed() || !errors.As(err, &pgErr):
			return err
		case pgErr.Code == lockNotAvailable || len(rows) == 0:
			// A table lock (pgwerk's or an operator's DDL): nothing was written; look
			// again after a backoff, with a new sweep.
			t.plan.sweeping = false
			t.plan.retry()
			t.log.Warn("planning waits for a table lock; trying again", "err", err, "in", t.plan.backoff)
		case limit > 1:
			// The database refused a write of the batch (a trigger or constraint someone
			// added, say): go on one row at a time from where the batch began, so that the
			// row involved is found and the others are planned.
			t.plan = before
			t.plan.batch = 1
		default:
			// One row the database will not take a plan for: leave it unplanned, said
			// in the log, and go on past it (the sweep's cursor has moved past it, or,
			// for a row changed during the sweep, its top is raised over it).
			bad := rows[0]
			if older == 0 && bad.DefinedAt.After(t.plan.top) {
				t.plan.top = bad.DefinedAt
			}
			t.log.Error("the database refused the plan of a schedule; left unplanned", "schedule", bad.Name, "err", err)
		}
		return nil
	}
	for _, e := range planned {
		if e.err != "" {
			t.log.Warn("schedule cannot run", "schedule", e.name, "err", e.err)
		}
		t.hz.offer(e)
	}
	if err := t.plannedHealth(ctx, planned); err != nil {
		return err
	}
	t.plan.timeout, t.plan.squeezed = planTimeout, 0
	t.Stats.Planned.Add(int64(len(planned)))
	t.Signals.Planned.Signal(len(planned))
	t.log.Debug("planned", "rows", len(planned), "batch", limit, "took", took)
	t.plan.adapt(len(planned), limit, took)
	if t.plan.sweeping {
		return nil // more to come, after whatever is due
	}
	// The sweep is over. Rows may still await planning: skipped because others hold
	// them, or committed by a transaction that began before the sweep and ended after
	// the cursor passed. One look through the index says.
	var left bool
	err = t.planTx(ctx, func(q *db.Queries) error {
		var err error
		left, err = q.AnyUnplanned(ctx)
		return err
	})
	if t.timedOut(ctx, err) {
		// Through the dead entries of the rows just planned: look again after what is due.
		t.plan.pending, t.plan.notBefore = true, time.Now().Add(planCooldown)
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for rows awaiting planning: %w", err)
	}
	switch {
	case left && len(planned) > 0:
		t.plan.pending, t.plan.notBefore = true, time.Time{} // a new sweep at once
	case left:
		t.plan.retry() // only rows others hold: back off
	default:
		t.plan = planState{notBefore: time.Now().Add(planCooldown), batch: t.plan.batch,
			recheck: t.plan.recheck, recheckAfter: t.plan.recheckAfter}
	}
	return nil
}

// planRows computes and writes the plans of rows its caller holds locked.
func (t *Ticker) planRows(ctx context.Context, q *db.Queries, rows []row) ([]*entry, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	p := db.SavePlansParams{
		Names:      make([]string, len(rows)),
		NextRunAts: make([]time.Time, len(rows)),
		LastErrors: make([]string, len(rows)),
	}
	planned := make([]*entry, len(rows))
	for i, r := range rows {
		planned[i] = newEntry(r)
	}
	// A calendar edit sends its schedules here: their calendars are read afresh.
	if err := t.withCalendars(ctx, q, planned, true); err != nil {
		return nil, err
	}
	for i, e := range planned {
		next, lastError := e.plan(t.allow)
		if lastError != "" && e.err == "" {
			e.err = lastError
		}
		e.next = next
		p.Names[i], p.NextRunAts[i], p.LastErrors[i] = e.name, next, cutBytes(lastError, maxErrorBytes) // zero, "": NULL
	}
	if err := q.SavePlans(ctx, p); err != nil {
		return nil, fmt.Errorf("save plans: %w", err)
	}
	return planned, nil
}

// recheckBatch plans again a batch of the schedules in error, after a promotion (the
// new primary may know a zone the last one did not, or have another allow-list), by
// name, between ticks and after any planning owed. A failure gives up the recheck: it
// is a courtesy, and the next promotion tries again.
func (t *Ticker) recheckBatch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	limit := max(t.plan.batch, planBatchMin)
	var planned []*entry
	var read int
	err := t.planTx(ctx, func(q *db.Queries) error {
		rows, err := q.LockInError(ctx, db.LockInErrorParams{After: t.plan.recheckAfter, MaxRows: int32(limit)})
		if err != nil {
			return fmt.Errorf("read schedules in error: %w", err)
		}
		read = len(rows)
		in := make([]row, len(rows))
		for i, r := range rows {
			in[i] = row(r)
		}
		planned, err = t.planRows(ctx, q, in)
		return err
	})
	if t.timedOut(ctx, err) {
		return nil // the same batch again, after what is due
	}
	if err != nil {
		if t.conn.IsClosed() {
			return err
		}
		t.log.Warn("look again at schedules in error; left for the next primary", "err", err)
		t.plan.recheck = false
		return nil
	}
	fixed := 0
	for _, e := range planned {
		t.plan.recheckAfter = e.name
		if e.err == "" {
			fixed++
		}
		t.hz.offer(e)
	}
	if err := t.plannedHealth(ctx, planned); err != nil {
		return err
	}
	if fixed > 0 {
		t.log.Info("schedules in error can run now", "count", fixed)
	}
	if read < limit {
		t.plan.recheck = false
	}
	return nil
}

// adapt moves the batch size toward planTarget per batch: a full batch that took less
// than half of it doubles, one that took more than twice halves.
func (p *planState) adapt(got, limit int, took time.Duration) {
	switch {
	case got == limit && took < planTarget/2:
		p.batch = min(2*p.batch, planBatchMax)
	case took > 2*planTarget:
		p.batch = max(p.batch/2, planBatchMin)
	}
}

// retry keeps planning pending and backs off: 100 ms, doubling to planRetryMax.
func (p *planState) retry() {
	p.backoff = min(max(2*p.backoff, 100*time.Millisecond), planRetryMax)
	p.pending = true
	p.notBefore = time.Now().Add(p.backoff)
}
