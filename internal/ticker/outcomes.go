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
	// transaction): cut off, the next reads half as many rows.
	outcomeBound = 500 * time.Millisecond
	// outcomeGap is the least time from one pass to the next: an outcome is recorded
	// about this long after the job ends.
	outcomeGap = time.Second
	// outcomeShare: a pass waits at least this many times as long as it took, so that
	// a backlog of jobs in flight (a queue nobody works) costs the primary at most a
	// tenth of its time.
	outcomeShare = 10
	// outcomeRetry: after an error the next pass waits this long.
	outcomeRetry = 5 * time.Second
)

// outcomeState is where the primary stands in recording outcomes.
type outcomeState struct {
	// pending: some ledger rows may await an outcome (this primary enqueued jobs, or was
	// told of a manual run, or just took over); look when notBefore (host time) passed.
	pending   bool
	notBefore time.Time
	// A pass under way goes on after (afterName, afterTick); it began at passStart and
	// has read passRows rows so far.
	passing   bool
	afterName string
	afterTick time.Time
	passStart time.Time
	passRows  int64
	chunk     int32
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
	if !o.passing {
		o.passing, o.afterName, o.afterTick = true, "", time.Time{}
		o.passStart, o.passRows = time.Now(), 0
	}
	rows, err := t.recordOutcomes(ctx, db.RecordOutcomesParams{
		AfterName: o.afterName, AfterTickAt: o.afterTick, Names: []string{}, MaxRows: o.chunk,
	})
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case t.conn.IsClosed() || ctx.Err() != nil:
			return fmt.Errorf("record job outcomes: %w", err)
		case errors.As(err, &pgErr) && pgErr.Code == queryCanceled && o.chunk > 100:
			o.chunk /= 2 // cut off by its bound: read fewer next time
			o.notBefore = time.Now()
		default:
			t.log.Warn("record job outcomes; trying again shortly", "err", err, "retry_in", outcomeRetry)
			o.passing = false
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
	o.passRows += scanned
	if scanned == int64(o.chunk) {
		o.notBefore = time.Now() // more to read: the next chunk, after any tick due
		return nil
	}
	o.passing = false
	if o.passRows == 0 {
		o.pending = false // nothing awaits: look again when a job is enqueued
		return nil
	}
	o.notBefore = time.Now().Add(max(outcomeGap, outcomeShare*time.Since(o.passStart)))
	return nil
}

// recordOutcomes runs RecordOutcomes bounded on the server, then pauses the schedules
// whose newly recorded failures reach their pause_after_failures.
func (t *Ticker) recordOutcomes(ctx context.Context, p db.RecordOutcomesParams) ([]db.RecordOutcomesRow, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	var rows []db.RecordOutcomesRow
	t.Stats.OutcomeLooks.Add(1)
	err := pgx.BeginFunc(ctx, t.conn, func(tx pgx.Tx) error {
		q := t.q.WithTx(tx)
		if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", outcomeBound.Milliseconds())); err != nil {
			return fmt.Errorf("bound the statement: %w", err)
		}
		var err error
		rows, err = q.RecordOutcomes(ctx, p)
		return err
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
		if r.Status == "unknown" {
			unknown++
		}
		if r.Status == "failed" && !seen[r.Name] {
			seen[r.Name] = true
			failed = append(failed, r.Name)
		}
	}
	if unknown > 0 {
		t.log.Warn("jobs' rows were gone before their outcomes were recorded (TRUNCATE werk_jobs?); recorded as unknown",
			"jobs", unknown)
	}
	if len(failed) > 0 {
		paused, err := t.q.PauseFailingSchedules(ctx, failed)
		if err != nil {
			if t.conn.IsClosed() {
				return nil, fmt.Errorf("pause schedules after failures: %w", err)
			}
			// The ticker pauses them before their next job anyway (failureStreaks).
			t.log.Warn("pause schedules after failures; trying again before their next job", "err", err)
		}
		for _, name := range paused {
			t.log.Warn("paused a schedule after failures in a row", "schedule", name)
			t.hz.drop(name) // unplanned now (its definition changed): the planner takes it
		}
	}
	return rows, nil
}
