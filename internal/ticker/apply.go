package ticker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgwerk/werkcron/db"
)

// What came of tick statements, applied to the primary's state: the entries advance
// (or are looked at again when their decision did not go through), the counters and
// the outcome recorder learn of the jobs, and state decided outside the statement is
// saved.

// apply takes in what came of one tick statement.
func (p *primary) apply(ctx context.Context, w written, now time.Time, lostOnes *[]lost) error {
	switch {
	case w.tableLocked:
		p.tableLocked(w.batch, now, w.err)
		return nil
	case w.err != nil:
		var pgErr *pgconn.PgError
		errors.As(w.err, &pgErr)
		p.setAsideOne(ctx, w.batch[0], now, pgErr, w.err)
		return nil
	}
	return p.applyRows(ctx, w, lostOnes)
}

// tickRef names one tick of one schedule.
type tickRef struct {
	name string
	at   int64 // Unix nanoseconds
}

// applyRows applies what one tick statement did to the entries of its batch; decisions
// that did not go through are added to lostOnes.
func (p *primary) applyRows(ctx context.Context, w written, lostOnes *[]lost) error {
	committed := p.now()
	p.tablesLocked = false
	won := make(map[string]int32, len(w.batch)) // remaining_runs after the decision
	defer func() {
		if len(won) > 0 {
			p.lastWon = time.Now()
		}
		p.Signals.Ticked.Signal(len(won))
	}()
	// Ticks that did not go as asked, by outcome ("raced": a key taken after the
	// statement's snapshot); rare, so the map is usually empty.
	other := map[tickRef]string{}
	var fill db.FillRacedForeignParams
	var settle db.SettleRacedTicksParams
	var foreign []*entry
	var dbNow time.Time
	var ledgerRows int32
	for _, r := range w.rows {
		dbNow = r.StartedAt
		switch r.Outcome {
		case "won":
			won[r.Name] = r.RemainingRuns
			ledgerRows = r.LedgerRows // the statement's, on each of its 'won' rows
			p.watcher.noteCheck(r.HealthCheckAt)
		case "duplicate", "skipped_overlap", "foreign":
			outcome := r.Outcome
			if outcome == "foreign" && r.JobID == nil {
				// A key committed after the statement's snapshot: the ledger row needs
				// that job's id, which a later statement can see.
				outcome = "raced"
				fill.Names = append(fill.Names, r.Name)
				fill.TickAts = append(fill.TickAts, *r.TickAt)
				fill.Keys = append(fill.Keys, jobKey(r.Name, *r.TickAt))
			}
			other[tickRef{r.Name, r.TickAt.UnixNano()}] = outcome
		}
	}
	p.Stats.LedgerRows.Add(int64(ledgerRows))
	jobs := make(map[tickRef]uuid.UUID, len(w.params.JobIds))
	for i, id := range w.params.JobIds {
		if id != uuid.Nil {
			jobs[tickRef{w.params.TickNames[i], w.params.TickAts[i].UnixNano()}] = id
		}
	}
	for _, b := range w.batch {
		e := b.e
		remaining, ok := won[e.name]
		if !ok {
			*lostOnes = append(*lostOnes, lost{e: e, newest: b.d.Newest(), dbNow: dbNow})
			continue
		}
		// Every tick of a schedule that won went through (the statement takes all of a
		// schedule's ticks or none).
		for _, m := range b.d.Missed {
			if other[tickRef{e.name, m.At.UnixNano()}] != "" {
				continue // decided before, as this or something else: nothing new
			}
			p.Stats.Missed.Add(1)
		}
		for _, x := range b.d.Excluded {
			if other[tickRef{e.name, x.At.UnixNano()}] == "" {
				p.Stats.Excluded.Add(1)
			}
		}
		e.err = ""
		// The statement made the newest tick meant to get a job the schedule's last
		// job (its row to be written with its outcome): the newest that got one, unless
		// its key was taken meanwhile.
		var newestMeant, newestGot time.Time
		raced := int32(0)
		for _, at := range b.d.Enqueue {
			ref := tickRef{e.name, at.UnixNano()}
			switch other[ref] {
			case "":
				p.Stats.Enqueued.Add(1)
				p.Stats.Lateness.Observe(committed.Sub(at))
				newestMeant, newestGot = at, at
			case "raced":
				raced++
				newestMeant = at
				p.Stats.Duplicates.Add(1)
				e.err = foreignKeyError(e.name, at)
				p.log.Error("a tick's job key was taken by a job werkcron did not make for it", "schedule", logName(e.name), "tick", at, "key", jobKey(e.name, at))
			case "duplicate":
				p.Stats.Duplicates.Add(1)
				p.log.Warn("tick already decided; not enqueued again", "schedule", logName(e.name), "tick", at)
			case "foreign":
				p.Stats.Duplicates.Add(1)
				e.err = foreignKeyError(e.name, at)
				p.log.Error("a tick's job key is held by a job werkcron did not make for it", "schedule", logName(e.name), "tick", at, "key", jobKey(e.name, at))
			case "skipped_overlap":
				p.Stats.SkippedOverlap.Add(1)
			}
		}
		if !newestMeant.IsZero() {
			if !e.lastJobAt.IsZero() {
				// The schedule's previous newest tick got its ledger row, awaiting its
				// outcome: the pass over the ledger records it.
				p.recorder.untrack(e.name)
				p.recorder.expect()
			}
			switch {
			case newestMeant.Equal(newestGot):
				e.lastJobID, e.lastJobAt = jobs[tickRef{e.name, newestGot.UnixNano()}], newestGot
				p.recorder.track(e.name, newestGot, e.lastJobID)
			default:
				// Its key was taken: the state names the newest job the decision made
				// (whose row the statement wrote), or the one it named before.
				if !newestGot.IsZero() {
					e.lastJobID = jobs[tickRef{e.name, newestGot.UnixNano()}]
				}
				e.lastJobAt = time.Time{}
				settle.Names = append(settle.Names, e.name)
				settle.RacedJobIds = append(settle.RacedJobIds, jobs[tickRef{e.name, newestMeant.UnixNano()}])
				settle.LastJobIds = append(settle.LastJobIds, e.lastJobID)
				settle.Unspent = append(settle.Unspent, raced)
				if remaining >= 0 {
					remaining += raced
				}
				if !newestGot.IsZero() {
					p.recorder.expect()
				}
			}
		}
		if e.err != "" {
			foreign = append(foreign, e)
		}
		e.lastTick = b.d.Newest()
		e.next = b.d.Next
		if e.remaining = int(remaining); e.remaining == 0 {
			e.next = time.Time{} // ended: its runs are used up
		}
		e.retryAt, e.backoff, e.blocked, e.blockedSince = time.Time{}, 0, "", time.Time{}
		if p.holdups[e.name] {
			p.clearedHoldups = append(p.clearedHoldups, e.name)
		}
		p.hz.offer(e)
	}
	if len(fill.Names) > 0 {
		if err := p.q.FillRacedForeign(ctx, fill); err != nil {
			return fmt.Errorf("name the jobs that took ticks' keys: %w", err)
		}
	}
	if len(settle.Names) > 0 {
		if err := p.q.SettleRacedTicks(ctx, settle); err != nil {
			return fmt.Errorf("settle the state of schedules whose keys were taken: %w", err)
		}
	}
	return p.saveState(ctx, foreign)
}

// foreignKeyError is the last_error of a schedule whose tick at found its key held by
// a job werkcron did not make for it.
func foreignKeyError(name string, at time.Time) string {
	return fmt.Sprintf("the tick at %s got no job: its key %s is held by a job werkcron did not make for it (another scheduler's, a restored or a forged one)",
		at.UTC().Format(time.RFC3339), jobKey(name, at))
}

// saveState writes next_run_at and last_error of entries decided outside the tick
// statement, in one statement. A row edited meanwhile (or held by another session) is
// left alone: an edit plans it afresh, and a held one is written at its next decision.
func (p *primary) saveState(ctx context.Context, es []*entry) error {
	if len(es) == 0 {
		return nil
	}
	var args db.SaveScheduleStateParams
	for _, e := range es {
		args.Names = append(args.Names, e.name)
		args.SeenDefinedAts = append(args.SeenDefinedAts, e.definedAt)
		args.NextRunAts = append(args.NextRunAts, e.next)                         // zero (year 1) stands for NULL
		args.LastErrors = append(args.LastErrors, cutBytes(e.err, maxErrorBytes)) // "" is NULL
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := p.q.SaveScheduleState(ctx, args); err != nil {
		if err := p.survive(err, "save next_run_at and last_error", "left for the next decision"); err != nil {
			return err
		}
	}
	p.watcher.poke() // a changed last_error set a health check
	return nil
}

// settleLost looks again at decisions that did not go through:
//   - a tick still in the future by the database's clock (this host's estimate ran a
//     little ahead): the same entry is simply due again at that tick;
//   - otherwise the row changed (edited, paused, deleted) or another session holds it:
//     it is read again; an unchanged row is held, and is set aside with backoff; a
//     changed one is taken as it is now (planned rows due soon join the horizon;
//     unplanned ones are the planner's).
func (p *primary) settleLost(ctx context.Context, lostOnes []lost, now time.Time) error {
	var names []string
	old := map[string]*entry{}
	for _, l := range lostOnes {
		if !l.dbNow.IsZero() && l.newest.After(l.dbNow) {
			l.e.retryAt = l.newest.Add(wakeMargin)
			p.hz.put(l.e)
			continue
		}
		names = append(names, l.e.name)
		old[l.e.name] = l.e
	}
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rows, err := p.q.GetSchedulesForTicker(ctx, names)
	if err != nil {
		return fmt.Errorf("read back schedules that changed while deciding: %w", err)
	}
	es := make([]*entry, len(rows))
	for i, r := range rows {
		es[i] = newEntry(row(r))
	}
	if err := p.withCalendars(ctx, p.q, es, false); err != nil {
		return fmt.Errorf("read back schedules that changed while deciding: %w", err)
	}
	for i, r := range rows {
		e, was := es[i], old[r.Name]
		delete(old, r.Name)
		if e.definedAt.Equal(was.definedAt) && e.lastTick.Equal(was.lastTick) && e.paused == was.paused {
			// Unchanged: the decision did not go through for another reason (this
			// ticker's own lock gone, say); tried again with backoff.
			e.backoff, e.blockedSince = was.backoff, was.blockedSince
			p.block(e, now, "the schedule's row is locked by another session")
			continue
		}
		if r.NextRunAt == nil {
			p.planner.expect() // edited (the planner takes it) or paused/ended
			p.hz.drop(e.name)
			continue
		}
		p.hz.offer(e)
	}
	for name := range old {
		p.hz.drop(name) // deleted
		if p.holdups[name] {
			p.clearedHoldups = append(p.clearedHoldups, name)
		}
	}
	return nil
}
