package ticker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/db"
)

const (
	// planBatch is how many unplanned rows one planning transaction takes. Small enough
	// that a batch (a read, the cron math, a write) takes a few tens of milliseconds, so
	// that planning a million new rows, batch after batch, delays no due tick by more
	// than that: the loop ticks what is due between two batches.
	planBatch = 2000
	// planCooldown: after a look found nothing to plan, the next look waits this long,
	// so that a flood of notifications (anyone may NOTIFY) costs a bounded number of
	// looks per second.
	planCooldown = 50 * time.Millisecond
	// planRetryMax caps the backoff for rows that others hold locked.
	planRetryMax = 30 * time.Second
)

// planState is what the primary knows of rows awaiting planning.
type planState struct {
	pending   bool      // rows may await planning: look when notBefore has passed
	notBefore time.Time // host time
	backoff   time.Duration
}

func (p *planState) due(now time.Time) bool { return p.pending && !now.Before(p.notBefore) }

// planBatch plans up to planBatch rows awaiting planning, newest change first: for each,
// when to look at it next (its first undecided tick, or never) and why it cannot run, if
// it cannot. Rows due within the horizon join it. The rows are locked for the
// transaction's few milliseconds; rows another session holds are skipped and looked at
// again with backoff.
func (t *Ticker) planBatch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	var planned []*entry
	err := pgx.BeginFunc(ctx, t.conn, func(tx pgx.Tx) error {
		q := t.q.WithTx(tx)
		rows, err := q.LockUnplanned(ctx, planBatch)
		if err != nil {
			return fmt.Errorf("read rows awaiting planning: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		p := db.SavePlansParams{
			Names:      make([]string, len(rows)),
			NextRunAts: make([]time.Time, len(rows)),
			LastErrors: make([]string, len(rows)),
		}
		planned = make([]*entry, len(rows))
		for i, r := range rows {
			e := newEntry(row(r))
			next, lastError := e.plan()
			if lastError != "" && e.err == "" {
				e.err = lastError
			}
			e.next = next
			p.Names[i], p.NextRunAts[i], p.LastErrors[i] = e.name, next, lastError // zero, "": NULL
			planned[i] = e
		}
		if err := q.SavePlans(ctx, p); err != nil {
			return fmt.Errorf("save plans: %w", err)
		}
		return nil
	})
	if err != nil {
		if t.conn.IsClosed() {
			return err
		}
		// A table lock (pgwerk's or an operator's DDL) or a statement refused: nothing
		// was written; look again after a backoff.
		t.plan.retry()
		t.log.Warn("planning failed; trying again", "err", err, "in", t.plan.backoff)
		return nil
	}
	for _, e := range planned {
		if e.err != "" {
			t.log.Warn("schedule cannot run", "schedule", e.name, "err", e.err)
		}
		t.hz.offer(e)
	}
	t.Stats.Planned.Add(int64(len(planned)))
	t.log.Debug("planned", "rows", len(planned))
	if len(planned) == planBatch {
		return nil // more to come, after whatever is due
	}
	// Fewer than a batch: done, unless rows were skipped because others hold them.
	left, err := t.q.AnyUnplanned(ctx)
	if err != nil {
		return fmt.Errorf("look for rows awaiting planning: %w", err)
	}
	if left {
		t.plan.retry()
		return nil
	}
	t.plan = planState{notBefore: time.Now().Add(planCooldown)}
	return nil
}

// retry keeps planning pending and backs off: 100 ms, doubling to planRetryMax.
func (p *planState) retry() {
	p.backoff = min(max(2*p.backoff, 100*time.Millisecond), planRetryMax)
	p.pending = true
	p.notBefore = time.Now().Add(p.backoff)
}
