package ticker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgwerk/werkcron/db"
)

// Schedules another session holds up (a row or job key held, a table locked, a
// trigger refused): set aside with backoff, said once in the log, and, after a while,
// shown in werk_cron_holdups (and so in werk_cron_status) until they tick again.

const (
	// failedRetry: a schedule whose enqueue the database refuses is retried after this.
	failedRetry = 30 * time.Second
	// Set-aside backoff for a schedule another session blocks (a row held, a key held
	// uncommitted): from setAsideFirst, doubling to setAsideMax.
	setAsideFirst = 500 * time.Millisecond
	setAsideMax   = 10 * time.Second
	// tableRetry: when one of the tables is locked (DDL, LOCK TABLE), every tick of the
	// statement waits this long and tries again; the ticker keeps its leadership.
	tableRetry = 250 * time.Millisecond
	// holdupAfter: a schedule set aside this long is recorded in werk_cron_holdups,
	// where the status view shows it as an error until it ticks again.
	holdupAfter = 2 * time.Second
)

// tableLocked sets every schedule of batch aside for tableRetry: one of werkcron's
// tables is locked by another session (DDL, LOCK TABLE), or has a trigger that would
// run another role's code (werk_cron_trusted_triggers), so no schedule could write.
func (p *primary) tableLocked(batch []planned, now time.Time, err error) {
	if !p.tablesLocked {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == untrustedTrigger {
			p.log.Error("refusing to write: a trigger on werkcron's tables would run another role's code; ticks wait until it is dropped",
				"err", err, "hint", pgErr.Hint)
		} else {
			p.log.Warn("a table is locked by another session; ticks wait until it is released", "err", err)
		}
		p.tablesLocked = true
	}
	for _, pd := range batch {
		pd.e.retryAt = now.Add(tableRetry)
		p.hz.put(pd.e)
	}
}

// setAsideOne handles a statement of one schedule that failed: blocked on a key another
// transaction holds (set aside with backoff), or refused (last_error, retried after
// failedRetry).
func (p *primary) setAsideOne(ctx context.Context, pl planned, now time.Time, pgErr *pgconn.PgError, err error) {
	e, d := pl.e, pl.d
	first := d.Newest()
	if len(d.Enqueue) > 0 {
		first = d.Enqueue[0]
	}
	if pgErr.Code == lockNotAvailable {
		why := "the schedule's row is locked by another session (an uncommitted change of its definition, or a lock on its werk_cron_state row)"
		if keyWait(pgErr) {
			why = fmt.Sprintf("the job key of the tick at %s is held by another session's uncommitted transaction", first.UTC().Format(time.RFC3339))
		}
		p.block(e, now, why)
		return
	}
	e.err = fmt.Sprintf("enqueue of the tick at %s failed (retried in %s): %v", first.UTC().Format(time.RFC3339), failedRetry, err)
	e.retryAt = now.Add(failedRetry)
	p.log.Error("enqueue failed; retrying later", "schedule", e.name, "err", err, "retry_in", failedRetry)
	p.hz.put(e)
	if serr := p.saveState(ctx, []*entry{e}); serr != nil {
		p.log.Warn("record last_error", "schedule", e.name, "err", serr)
	}
}

// block sets e aside because another session holds what its decision needs: it is
// tried again with backoff, and logged once.
func (p *primary) block(e *entry, now time.Time, why string) {
	if e.blockedSince.IsZero() {
		e.blockedSince = now
		p.log.Warn("schedule blocked by another session; set aside and retried", "schedule", e.name, "why", why)
	}
	e.blocked = why
	e.backoff = min(max(2*e.backoff, setAsideFirst), setAsideMax)
	e.retryAt = now.Add(e.backoff)
	p.hz.put(e)
	if now.Sub(e.blockedSince) >= holdupAfter && !p.holdups[e.name] {
		p.newHoldups = append(p.newHoldups, e)
	}
}

// flushHoldups records schedules set aside for a while in werk_cron_holdups, and
// forgets those that ticked again. Failing to is logged, not fatal: it is a view.
func (p *primary) flushHoldups(ctx context.Context) error {
	var rec db.RecordHoldupsParams
	seen := map[string]bool{}
	for _, e := range p.newHoldups {
		if seen[e.name] {
			continue
		}
		seen[e.name] = true
		rec.Names = append(rec.Names, e.name)
		rec.Sinces = append(rec.Sinces, e.blockedSince)
		rec.Reasons = append(rec.Reasons, cutBytes(e.blocked, maxErrorBytes))
	}
	clear := p.clearedHoldups
	p.newHoldups, p.clearedHoldups = nil, nil
	if len(rec.Names) == 0 && len(clear) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	err := p.q.ClearHoldups(ctx, clear)
	if err == nil && len(rec.Names) > 0 {
		err = p.q.RecordHoldups(ctx, rec)
	}
	if err != nil {
		if err := p.survive(err, "record held-up schedules", ""); err != nil {
			return err
		}
		return nil
	}
	for _, name := range clear {
		delete(p.holdups, name)
	}
	for _, name := range rec.Names {
		p.holdups[name] = true
	}
	// Held up is an error to their health; let go, not any more.
	if err := p.refreshHealth(ctx, p.q, append(rec.Names, clear...), nil); err != nil {
		return p.survive(err, "look at the health of schedules held up or let go", "")
	}
	return nil
}
