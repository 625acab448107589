package ticker

import (
	"context"
	"fmt"
	"time"

	"github.com/pgwerk/werkcron/db"
)

// Health: one word per schedule (ok, failing, late, overdue, paused, error, ended) in
// werk_cron_health, written and announced (NOTIFY werk_cron_health) by
// werk_cron_refresh_health wherever the facts it follows change, never by a scan of every
// schedule:
//   - outcomes: werk_cron_note_runs, wherever a run's outcome is recorded;
//   - planning: the planner looks at the schedules it planned that are paused, in error or
//     ended, or whose health is not ok (planner.go);
//   - hold-ups: the schedules set aside or let go (enqueue.go);
//   - time: a start deadline or a run-time limit passing. The tick statement and the
//     functions that enqueue set werk_cron_state.health_check_at for schedules that have
//     either (and for one whose error a tick clears, or that ended), and this primary
//     looks at those whose instant has come, through the index of those alone.
// A new primary looks at what came due while none ran, and again at every schedule in
// error, failing, late or overdue (a hold-up of the last primary is gone, say): what
// changed meanwhile is announced then. (Paused and ended change through planning.)

const (
	// healthBatch is how many schedules one look reads at most.
	healthBatch = 1000
	// healthCooldown: after a notification (which anyone may send) the next look waits
	// at least this long after the last.
	healthCooldown = 50 * time.Millisecond
	// healthRetry: after a look that failed, the next waits this long.
	healthRetry = 5 * time.Second
	// healthStepGap separates two looks of a backlog, so that the loop hears
	// notifications between them.
	healthStepGap = 10 * time.Millisecond
)

// watcher is the service that keeps schedules' health current as time passes (a start
// deadline or a run-time limit) and looks again after a takeover: what it owes.
type watcher struct {
	*primary
	// pacer: look for checks that came due, and the soonest still to come, once
	// notBefore (host time) has passed.
	pacer
	// next is the soonest check this primary knows of (database time); zero: none.
	next time.Time
	// recheck: schedules in error, failing, late or overdue are still to be looked at
	// again (after a promotion), by name after recheckAfter.
	recheck      bool
	recheckAfter string
	lastLook     time.Time // host time
}

// due reports whether a look is owed at now (host time).
func (w *watcher) due(now time.Time) bool {
	return w.recheck || w.pacer.due(now) || (!w.next.IsZero() && !w.now().Before(w.next))
}

// wakeAt is when a look is owed (host time).
func (w *watcher) wakeAt() (time.Time, bool) {
	if w.recheck {
		return time.Time{}, true
	}
	at, ok := w.pacer.wakeAt()
	if !w.next.IsZero() {
		if n := time.Now().Add(w.next.Sub(w.now()) + wakeMargin); !ok || n.Before(at) {
			at, ok = n, true
		}
	}
	return at, ok
}

// noteCheck takes in a health_check_at just written (zero or year 1: none).
func (w *watcher) noteCheck(at time.Time) {
	if at.Year() <= 1 {
		return
	}
	if w.next.IsZero() || at.Before(w.next) {
		w.next = at
	}
}

// poke notes that a check may have been set by someone else (a notification, a backfill,
// an error written): look again, no sooner than healthCooldown after the last look.
func (w *watcher) poke() {
	if !w.pending {
		w.pending, w.notBefore = true, w.lastLook.Add(healthCooldown)
	}
}

// step is one look: at the schedules in error, failing, late or overdue, after a
// promotion; else at those whose health_check_at has come, and then for the soonest
// still to come.
func (w *watcher) step(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	h := w
	h.lastLook = time.Now()
	failed := func(what string, err error) error {
		if w.conn.IsClosed() {
			return fmt.Errorf("%s: %w", what, err)
		}
		w.log.Warn(what+"; trying again shortly", "err", err, "retry_in", healthRetry)
		h.pending, h.notBefore = true, time.Now().Add(healthRetry)
		if h.recheck {
			h.recheck = false // a courtesy, as the planner's recheck: the next promotion tries again
		}
		return nil
	}
	if h.recheck {
		names, err := w.q.UnhealthyAfter(ctx, db.UnhealthyAfterParams{After: h.recheckAfter, MaxRows: healthBatch})
		if err != nil {
			return failed("look again at schedules in error, failing, late or overdue", err)
		}
		if len(names) > 0 {
			rows, err := w.q.RefreshHealth(ctx, db.RefreshHealthParams{Names: names, UnlessOk: []string{}})
			if err != nil {
				return failed("look again at schedules in error, failing, late or overdue", err)
			}
			w.healthLooked(rows)
			h.recheckAfter = names[len(names)-1]
		}
		if len(names) < healthBatch {
			h.recheck = false
		}
		return nil
	}
	w.Stats.HealthLooks.Add(1)
	rows, err := w.q.RefreshDueHealth(ctx, healthBatch)
	if err != nil {
		return failed("look at schedules' health", err)
	}
	looked := 0
	for _, r := range rows {
		looked = int(r.Looked)
		w.healthChanged(r.Name, r.Previous, r.Health, r.Changed)
	}
	if looked >= healthBatch {
		h.pending, h.notBefore = true, time.Now().Add(healthStepGap) // more are due
		return nil
	}
	next, err := w.q.NextHealthCheck(ctx)
	if err != nil {
		return failed("read the next health check", err)
	}
	h.pending, h.next = false, time.Time{}
	if len(next) > 0 {
		h.next = next[0]
		if now := w.now(); !h.next.After(now) {
			// Due, and not looked at: another session holds its state row. Again in a
			// second, not at once.
			h.next = now.Add(time.Second)
		}
	}
	return nil
}

// plannedHealth looks at the health of schedules just planned: those paused, in error or
// ended now, and those whose health is not ok (resumed, say); one that plans as running
// and was ok stays ok, and costs an index probe. Only a lost connection is returned.
func (p *primary) plannedHealth(ctx context.Context, planned []*entry) error {
	var changed, unlessOK []string
	for _, e := range planned {
		if e.paused || e.err != "" || e.next.IsZero() {
			changed = append(changed, e.name)
		} else {
			unlessOK = append(unlessOK, e.name)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := p.refreshHealth(ctx, p.q, changed, unlessOK); err != nil {
		if p.conn.IsClosed() {
			return err
		}
		// The next planning of these schedules, or the next promotion, looks again.
		p.log.Warn("look at the health of schedules just planned", "err", err)
	}
	return nil
}

// refreshHealth looks at the health of names, and of unlessOK where it is not ok, with
// q (a transaction's, or the primary's session). Failing to is logged, not fatal: the
// planner and the recheck of a new primary look again.
func (p *primary) refreshHealth(ctx context.Context, q *db.Queries, names, unlessOK []string) error {
	if len(names) == 0 && len(unlessOK) == 0 {
		return nil
	}
	if names == nil {
		names = []string{}
	}
	if unlessOK == nil {
		unlessOK = []string{}
	}
	rows, err := q.RefreshHealth(ctx, db.RefreshHealthParams{Names: names, UnlessOk: unlessOK})
	if err != nil {
		return fmt.Errorf("look at schedules' health: %w", err)
	}
	p.healthLooked(rows)
	return nil
}

// healthLooked takes in what RefreshHealth did.
func (p *primary) healthLooked(rows []db.RefreshHealthRow) {
	for _, r := range rows {
		p.healthChanged(r.Name, r.Previous, r.Health, r.Changed)
		p.watcher.noteCheck(r.SoonestCheck)
	}
}

func (p *primary) healthChanged(name, previous, health string, changed bool) {
	if !changed {
		return
	}
	p.Stats.HealthChanges.Add(1)
	p.Signals.HealthChanged.Signal(name)
	if health == "ok" || health == "paused" || health == "ended" {
		p.log.Info("schedule health changed", "schedule", logName(name), "health", health, "previous", previous)
	} else {
		p.log.Warn("schedule health changed", "schedule", logName(name), "health", health, "previous", previous)
	}
}
