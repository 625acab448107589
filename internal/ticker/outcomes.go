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

// The primary records the outcomes of its jobs (queries/outcomes.sql): pgwerk's workers
// pay nothing for the history, since no trigger fires on their status updates. While
// any ledger row awaits its job's outcome, the primary passes over those rows, a chunk
// per statement between ticks, and writes the ones whose job is final. A job pgwerk
// deletes first is recorded by werkcron's trigger on the DELETE.
const (
	// outcomeChunk is how many awaiting ledger rows one statement reads at most.
	outcomeChunk = 2000
	// outcomeBound bounds one statement on the server (a statement_timeout local to its
	// transaction), and never past the next due tick: cut off by it, the next reads
	// half as many rows.
	outcomeBound = 500 * time.Millisecond
	// outcomeMinBound: with less time than this before the next due tick, the next
	// statement waits for the tick.
	outcomeMinBound = 20 * time.Millisecond
	// outcomeSqueezes: after this many statements in a row cut short by a due tick,
	// the next runs to outcomeBound.
	outcomeSqueezes = 3
	// outcomeMinChunk: a chunk this small still cut off by its own bound is not made
	// smaller; the pass waits outcomeRetry, saying why.
	outcomeMinChunk = 100
	// outcomeDueBound bounds the reading of the outcomes of due schedules that pause
	// after failures, just before their ticks: cut off, they are decided on the
	// outcomes recorded so far.
	outcomeDueBound = 200 * time.Millisecond
	// outcomeStepGap separates two statements of one pass, so that the loop waits for
	// notifications (a changed schedule, a backfill) between them.
	outcomeStepGap = 10 * time.Millisecond
	// outcomeGap is the least time from one pass to the next: an outcome is recorded
	// about this long after the job ends.
	outcomeGap = time.Second
	// outcomeShare: a pass waits at least this many times as long as its statements
	// took, so that a backlog of jobs in flight (a queue nobody works) costs the
	// primary at most a tenth of its time.
	outcomeShare = 10
	// outcomeRetry: after an error the next statement waits this long.
	outcomeRetry = 5 * time.Second
)

// outcomeState is where the primary stands in recording outcomes.
type outcomeState struct {
	// pending: some ledger rows may await an outcome (this primary enqueued jobs, or was
	// told of a manual run, or just took over); look when notBefore (host time) passed.
	pending   bool
	notBefore time.Time
	// A pass under way goes on after (afterName, afterTick); its statements have read
	// passRows rows and taken passBusy so far.
	passing   bool
	afterName string
	afterTick time.Time
	passBusy  time.Duration
	passRows  int64
	chunk     int32
	squeezed  int // statements in a row cut short by a due tick
}

func (o *outcomeState) due(now time.Time) bool { return o.pending && !now.Before(o.notBefore) }

// expect notes that new ledger rows may await an outcome.
func (o *outcomeState) expect() { o.pending = true }

// recordStep reads the next chunk of the pass over the ledger rows awaiting an outcome,
// and records those whose job is final.
func (t *Ticker) recordStep(ctx context.Context) error {
	o := &t.outcomes
	if o.chunk == 0 {
		o.chunk = outcomeChunk
	}
	// Bounded to the next due tick (or the horizon's end, where the plan is read again),
	// unless outcomeSqueezes statements in a row were cut off that way: a database that
	// slow gets its outcomes recorded with ticks a little late rather than never.
	bound, squeezed := outcomeBound, false
	if o.squeezed < outcomeSqueezes {
		next := t.hz.next()
		if next.IsZero() || t.hz.end.Before(next) {
			next = t.hz.end
		}
		if !next.IsZero() {
			if until := next.Sub(t.now()); until < bound {
				bound, squeezed = until, true
			}
		}
	}
	if bound < outcomeMinBound {
		o.notBefore = time.Now().Add(max(bound, 0) + wakeMargin) // after the tick
		return nil
	}
	if !o.passing {
		o.passing, o.afterName, o.afterTick = true, "", time.Time{}
		o.passBusy, o.passRows = 0, 0
	}
	started := time.Now()
	rows, err := t.recordOutcomes(ctx, bound, db.RecordOutcomesParams{
		AfterName: o.afterName, AfterTickAt: o.afterTick, Names: []string{}, MaxRows: o.chunk,
	})
	took := time.Since(started)
	o.passBusy += took
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case t.conn.IsClosed() || ctx.Err() != nil:
			return fmt.Errorf("record job outcomes: %w", err)
		case errors.As(err, &pgErr) && pgErr.Code == queryCanceled && squeezed:
			o.squeezed++ // cut short by a tick: the same chunk after it
			o.notBefore = time.Now().Add(outcomeStepGap)
		case errors.As(err, &pgErr) && pgErr.Code == queryCanceled && o.chunk > outcomeMinChunk:
			o.squeezed = 0
			o.chunk /= 2 // cut off by its own bound: read fewer next time
			o.notBefore = time.Now().Add(outcomeStepGap)
		default:
			// The pass goes on from where it is, later.
			t.log.Warn("record job outcomes; trying again shortly", "err", err, "retry_in", outcomeRetry)
			o.notBefore = time.Now().Add(outcomeRetry)
		}
		return nil
	}
	var scanned int64
	for _, r := range rows {
		if r.Kind == "scanned" {
			scanned = r.Rows
			if r.TickAt != nil {
				o.afterName, o.afterTick = r.Name, *r.TickAt
			}
		}
	}
	o.squeezed = 0
	o.passRows += scanned
	if scanned == int64(o.chunk) {
		if took < bound/4 {
			o.chunk = min(2*o.chunk, outcomeChunk) // well within its bound: back towards the full chunk
		}
		o.notBefore = time.Now().Add(outcomeStepGap)
		return nil
	}
	o.passing = false
	if o.passRows == 0 {
		o.pending = false // nothing awaits: look again when a job is enqueued
		return nil
	}
	o.notBefore = time.Now().Add(max(outcomeGap, outcomeShare*o.passBusy))
	return nil
}

// recordOutcomes runs RecordOutcomes bounded on the server by bound, advances the
// outcome counters in the same transaction, and pauses the schedules whose
// newly recorded failures reach their pause_after_failures.
func (t *Ticker) recordOutcomes(ctx context.Context, bound time.Duration, p db.RecordOutcomesParams) ([]db.RecordOutcomesRow, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	var rows []db.RecordOutcomesRow
	t.Stats.OutcomeLooks.Add(1)
	err := pgx.BeginFunc(ctx, t.conn, func(tx pgx.Tx) error {
		q := t.q.WithTx(tx)
		if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", bound.Milliseconds())); err != nil {
			return fmt.Errorf("bound the statement: %w", err)
		}
		var err error
		if rows, err = q.RecordOutcomes(ctx, p); err != nil {
			return err
		}
		// Counted once the outcomes are written, before they are visible: a reader
		// who sees an outcome sees it counted.
		if counts := outcomeCounts(rows); counts != (db.CountOutcomesParams{}) {
			if err := q.CountOutcomes(ctx, counts); err != nil {
				return fmt.Errorf("count job outcomes: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var failed []string
	seen := map[string]bool{}
	unknown := 0
	for _, r := range rows {
		if r.Kind != "recorded" {
			continue
		}
		t.Stats.Outcomes.Add(1)
		switch {
		case r.Status == "unknown":
			unknown++
		case r.Status == "failed" && !seen[r.Name]:
			seen[r.Name] = true
			failed = append(failed, r.Name)
		}
	}
	if unknown > 0 {
		t.log.Warn("jobs' rows were gone before their outcomes were recorded (TRUNCATE werk_jobs, or deleted before werkcron recorded outcomes); recorded as unknown",
			"jobs", unknown)
	}
	if len(failed) > 0 {
		if _, err := t.pauseFailing(ctx, failed); err != nil {
			if t.conn.IsClosed() {
				return nil, err
			}
			// The ticker pauses them before their next job anyway (failureStreaks).
			t.log.Warn("pause schedules after failures; trying again before their next job", "err", err)
		}
	}
	return rows, nil
}

// outcomeCounts is how many of each counted outcome rows recorded ('unknown' is not
// an outcome of werkcron_job_outcomes_total).
func outcomeCounts(rows []db.RecordOutcomesRow) db.CountOutcomesParams {
	var c db.CountOutcomesParams
	for _, r := range rows {
		if r.Kind != "recorded" {
			continue
		}
		switch r.Status {
		case "complete":
			c.Complete++
		case "failed":
			c.Failed++
		case "aborted":
			c.Aborted++
		}
	}
	return c
}
