package ticker

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgwerk/werkcron/db"
)

// horizon is what the primary holds of the plan: the rows due up to end, soonest first.
// Its promise: every planned row whose next_run_at is at or before end is here (or set
// aside), so that the primary sleeps until the first of them without asking the
// database. It is built from one indexed read (ListDueSchedules), bounded by a row cap,
// and kept true by the ticker's own writes: a tick moves a row's next_run_at, a plan
// sets it, and the ticker puts the row here when the new value is before end (or pulls
// end in, when the horizon is full). Everything else (edits, deletes) makes the row
// unplanned in the database, which the planner hears about, or fails the tick
// statement's compare-and-set, after which the row is read again.
type horizon struct {
	entries map[string]*entry
	queue   dueQueue
	// end: the promise holds up to here; zero before the first read. The horizon is
	// read again once the ticker's clock passes it.
	end time.Time
	// max is the most entries it holds (the read's row cap); set-aside entries come on
	// top, and are bounded by the tick statement's size.
	max int
	// cut: the last read, or a row offered since, found the horizon at its cap (more
	// rows may be due at the instant its end was pulled in before).
	cut bool
}

func newHorizon(max int) *horizon {
	return &horizon{entries: map[string]*entry{}, max: max}
}

// stale reports whether the horizon must be read again at now.
func (h *horizon) stale(now time.Time) bool { return h.end.IsZero() || now.After(h.end) }

// reset replaces the horizon's rows with a fresh read: rows, soonest first, read up to
// until with at most max rows (full: the read hit that cap). Set-aside entries, which
// the read leaves out, stay.
func (h *horizon) reset(rows []*entry, until time.Time, full bool) {
	for name, e := range h.entries {
		if e.retryAt.IsZero() {
			h.drop(name)
		}
	}
	h.end, h.cut = until, full
	if full && len(rows) > 0 {
		// Rows at the last row's instant may go on past the cap: the promise holds only
		// before it (the rows read at that instant are still good to tick).
		h.end = rows[len(rows)-1].next.Add(-time.Nanosecond)
	}
	for _, e := range rows {
		h.put(e)
	}
}

// offer hands the horizon a row whose next_run_at the ticker just wrote: it is kept
// when it falls at or before end, where the promise needs it (and the end is pulled in
// before it when the horizon is full), and dropped otherwise.
func (h *horizon) offer(e *entry) {
	if e.due().IsZero() || (e.retryAt.IsZero() && e.next.After(h.end)) {
		h.drop(e.name)
		return
	}
	if old := h.entries[e.name]; old == nil && len(h.entries) >= h.max && e.retryAt.IsZero() {
		h.end, h.cut = minTime(h.end, e.next.Add(-time.Nanosecond)), true
		return
	}
	h.put(e)
}

// put adds or replaces the entry of e's schedule.
func (h *horizon) put(e *entry) {
	if old := h.entries[e.name]; old != nil && old != e {
		h.queue.remove(old)
	}
	h.entries[e.name] = e
	h.queue.set(e)
}

// drop forgets the schedule name.
func (h *horizon) drop(name string) {
	if e := h.entries[name]; e != nil {
		h.queue.remove(e)
		delete(h.entries, name)
	}
}

// get returns the entry of the schedule name, if held.
func (h *horizon) get(name string) *entry { return h.entries[name] }

// popDue takes out every entry due at or before now, soonest first, at most max.
func (h *horizon) popDue(now time.Time, max int) []*entry {
	var due []*entry
	for len(h.queue) > 0 && len(due) < max && !h.queue[0].due().After(now) {
		e := heap.Pop(&h.queue).(*entry)
		delete(h.entries, e.name)
		due = append(due, e)
	}
	return due
}

// mustRead reports whether the horizon is to be read before anything more ticks: it is
// stale and holds nothing due. A stale horizon's due entries tick first: the rows it
// leaves out are due after its end, or at the instant of a read cut off by its cap,
// whose rows it holds are as good to tick as the rest. So a fan-out larger than one
// read does not read its first part twice, on its critical path.
func (h *horizon) mustRead(now time.Time) bool {
	return h.stale(now) && (len(h.queue) == 0 || h.queue[0].due().After(now))
}

// coversJust reports whether at is the instant the horizon's promise ends just before:
// that of a read cut off by its cap there, whose rows at that instant it holds are as
// good to tick as the rest. The horizon's rows at an instant after that are not:
// rows due before them may be missing (left out of the read, or offered to a full
// horizon), so they wait until the plan is read again.
func (h *horizon) coversJust(at time.Time) bool {
	return !at.IsZero() && at.Equal(h.end.Add(time.Nanosecond))
}

// fanoutNext reports whether more may be due at the next instant than the horizon
// holds: its read was cut off by its cap at that very instant (everything it holds is
// due then). Such a fan-out is decided ahead (lead) and may be sent whole.
func (h *horizon) fanoutNext() bool {
	return h.cut && h.coversJust(h.next())
}

// next returns when the first entry is due; zero when there is none.
func (h *horizon) next() time.Time {
	if len(h.queue) == 0 {
		return time.Time{}
	}
	return h.queue[0].due()
}

// overdue is how long the oldest tick held here has been due at now, whether it waits
// its turn or was set aside for a table lock; 0 when none is due. A schedule set aside
// on its own account (another session holds its row or a key, or the database refused
// its job) is left out: it is reported on that schedule (werk_cron_status), and says
// nothing about the ticker as a whole.
func (h *horizon) overdue(now time.Time) time.Duration {
	var d time.Duration
	for _, e := range h.entries {
		if e.blocked != "" || e.err != "" {
			continue
		}
		if !e.next.IsZero() && now.Sub(e.next) > d {
			d = now.Sub(e.next)
		}
	}
	return d
}

// heldUp is how long the oldest tick held here that another session keeps from being
// written (its schedule's row or a job key held) has been due at now; 0 when none is.
func (h *horizon) heldUp(now time.Time) time.Duration {
	var d time.Duration
	for _, e := range h.entries {
		if e.blocked != "" && !e.next.IsZero() && now.Sub(e.next) > d {
			d = now.Sub(e.next)
		}
	}
	return d
}

// setAside returns the names of the entries waiting for a retry.
func (h *horizon) setAside() []string {
	names := []string{}
	for name, e := range h.entries {
		if !e.retryAt.IsZero() {
			names = append(names, name)
		}
	}
	return names
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// dueQueue is a min-heap of entries by due().
type dueQueue []*entry

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due().Before(q[j].due()) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *dueQueue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

// set puts e in the queue at its due time, or takes it out when it has none.
func (q *dueQueue) set(e *entry) {
	switch {
	case e.due().IsZero() && e.index >= 0:
		heap.Remove(q, e.index)
	case e.due().IsZero():
	case e.index >= 0:
		heap.Fix(q, e.index)
	default:
		heap.Push(q, e)
	}
}

func (q *dueQueue) remove(e *entry) {
	if e.index >= 0 {
		heap.Remove(q, e.index)
	}
}

// readHorizon reads the rows due within horizonAhead of now (leaving out those set
// aside, which keep their own retry times). When none are, it asks for the soonest
// planned row beyond, and the horizon reaches to horizonLead before it: an idle primary
// then sleeps until then, or a change, and reads the plan once more ahead of that row.
func (p *primary) readHorizon(ctx context.Context, now time.Time) error {
	until := now.Add(horizonAhead)
	// One row more than the horizon holds says whether the read was cut off: a read of
	// exactly horizonRows is complete up to until (were it taken as cut off, its end
	// would be pulled in before its last rows' instant, and the horizon read again at
	// that instant: on the tick's critical path, for 10,000 due at once).
	rows, err := p.q.ListDueSchedules(ctx, db.ListDueSchedulesParams{
		Until: until, Skip: p.hz.setAside(), MaxRows: int32(p.hz.max) + 1})
	if p.planLocked(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the schedules due by %s: %w", until.UTC().Format(time.RFC3339), err)
	}
	if len(rows) == 0 {
		next, err := p.q.NextPlannedAfter(ctx, until)
		if p.planLocked(err) {
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
	return p.install(ctx, rows, until, "read the plan")
}

// install makes rows, a read of the plan up to until, the horizon: their entries, with
// the calendars those exclude days by, and the promise up to until. what names the read
// in the log.
func (p *primary) install(ctx context.Context, rows []row, until time.Time, what string) error {
	p.Stats.HorizonReads.Add(1)
	entries, full := newEntries(rows, p.hz.max)
	if err := p.withCalendars(ctx, p.q, entries, false); p.planLocked(err) {
		return nil
	} else if err != nil {
		return err
	}
	p.hz.reset(entries, until, full)
	if p.planRetryGap > 0 {
		p.log.Info("read the plan again: the table lock is gone")
	}
	p.planRetryAt, p.planRetryGap = time.Time{}, 0
	p.log.Debug(what, "due", len(entries), "until", until)
	return nil
}

// newEntries are the horizon's entries of a read of rows: at most max of them (full:
// there were more).
func newEntries(rows []row, max int) (es []*entry, full bool) {
	full = len(rows) > max
	if full {
		rows = rows[:max]
	}
	es = make([]*entry, len(rows))
	for i, r := range rows {
		es[i] = newEntry(r)
	}
	return es, full
}

// ahead is a read of the plan made beside a tick's statements (readAhead).
type ahead struct {
	done   chan struct{}
	cancel context.CancelFunc
	until  time.Time
	rows   []row
	err    error
}

// readAhead starts the read of the plan that is due right after the tick of due, beside
// its statements: when the horizon's last read was cut off by its cap, and due takes
// all it holds that is due. A fan-out larger than one read (100,000 due: five reads of
// 40-50 ms each) then reads each next part while the last one's statements run (or
// while it is decided, ahead of its instant: decideAhead) instead of after them. The
// read leaves out the schedules of due and unwritten, whose rows the statements are to
// write, and those set aside, and runs on a connection of the fan-out's pool; the
// primary takes it (takeAhead) once the statements are done, before it applies what
// came of them. Nil when there is nothing to read ahead, or no spare connection (a
// ticker writing on one connection).
func (p *primary) readAhead(ctx context.Context, due []*entry, unwritten []string, now time.Time) *ahead {
	if p.opts.Parallel < 2 || !p.hz.cut || !p.hz.mustRead(now) || time.Now().Before(p.planRetryAt) {
		return nil
	}
	skip := append(p.hz.setAside(), unwritten...)
	for _, e := range due {
		skip = append(skip, e.name)
	}
	a := &ahead{done: make(chan struct{}), until: now.Add(horizonAhead)}
	maxRows := int32(p.hz.max) + 1
	ctx, a.cancel = context.WithTimeout(ctx, statementTimeout)
	go func() {
		defer close(a.done)
		pool, err := p.helperPool(ctx)
		if err != nil {
			a.err = err
			return
		}
		c, err := pool.Acquire(ctx)
		if err != nil {
			a.err = err
			return
		}
		defer c.Release()
		a.rows, a.err = db.New(c.Conn()).ListDueSchedules(ctx, db.ListDueSchedulesParams{
			Until: a.until, Skip: skip, MaxRows: maxRows})
	}()
	return a
}

// wait waits for the read to end (a nil read has none).
func (a *ahead) wait() {
	if a != nil {
		<-a.done
	}
}

// waitFor waits at most d for the read to end, and reports whether it has.
func (a *ahead) waitFor(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a.done:
		return true
	case <-t.C:
		return false
	}
}

// stop cuts the read short, if it still runs, and waits for it to end: a tick that
// failed (its session gone, a network cut) does not wait on the read's connection.
func (a *ahead) stop() {
	if a != nil {
		a.cancel()
		<-a.done
	}
}

// takeAhead makes a read made ahead the horizon, as readHorizon would have read it after
// the tick. A read that failed, or found nothing due, is dropped: the horizon stays
// stale, and the loop reads it as it would have.
func (p *primary) takeAhead(ctx context.Context, a *ahead) error {
	if a == nil {
		return nil
	}
	a.wait()
	a.cancel() // its timer
	if a.err != nil || len(a.rows) == 0 {
		if a.err != nil && ctx.Err() == nil {
			p.log.Debug("read the plan ahead; reading it again", "err", a.err)
		}
		return nil
	}
	p.Stats.ReadsAhead.Add(1)
	return p.install(ctx, a.rows, a.until, "read the plan ahead")
}

// planLocked reports whether err is a read of the plan cut off by lock_timeout: a table
// lock another session holds on a table it reads (werk_cron_jobs, say). The read is then tried again after a
// backoff (logged once), instead of giving up the leadership for it.
func (p *primary) planLocked(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != lockNotAvailable {
		return false
	}
	if p.planRetryGap == 0 {
		p.log.Warn("the plan's tables are locked by another session; reading the plan again when they are free", "err", err)
	}
	p.planRetryGap = min(max(2*p.planRetryGap, 250*time.Millisecond), 5*time.Second)
	p.planRetryAt = time.Now().Add(p.planRetryGap)
	return true
}

// farFuture stands for "nothing planned": the horizon reaches everywhere.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// untilNextTick is how long until the primary decides the next due tick (lead before
// it), or the horizon's end (where the plan is read again): how long a service's
// statement may take without holding up a tick. ok is false when there is neither.
func (p *primary) untilNextTick() (until time.Duration, ok bool) {
	next := p.hz.next()
	if next.IsZero() {
		next = p.hz.end
	} else {
		// A fan-out's instant is just past the end of the horizon cut off there.
		next = minTime(p.hz.end, next.Add(-p.lead()))
	}
	if next.IsZero() {
		return 0, false
	}
	return next.Sub(p.now()), true
}

// lead is how long before its instant the primary decides the next due tick (tickAt):
// prepareLead, or fanoutLead when more may be due then than the horizon holds (a read
// cut off by its cap at that very instant: everything it holds is due then) and the
// rest can be read while it is decided (readAhead: a spare connection, and the plan
// not locked). A horizon cut off at a later instant leaves the services their time
// between ticks.
func (p *primary) lead() time.Duration {
	if p.hz.fanoutNext() && p.opts.Parallel >= 2 && !time.Now().Before(p.planRetryAt) {
		return fanoutLead
	}
	return prepareLead
}
