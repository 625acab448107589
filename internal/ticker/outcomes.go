package ticker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
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
	// spent on rows whose jobs were still in flight, so that a backlog nobody works (a
	// queue without workers) costs the primary at most a tenth of its time. Time spent
	// recording outcomes is not counted: a pass over a large fan-out whose jobs are
	// ending records most of them, and the rest must not wait ten times that long.
	outcomeShare = 10
	// outcomeMaxWait bounds that wait, however long the last pass took (a pass over a
	// large backlog, or one whose time includes a pause of this process: a step is
	// timed by the host's clock): an outcome waits for at most this long between two
	// passes. A backlog nobody works whose pass takes longer than
	// outcomeMaxWait/outcomeShare (some hundreds of thousands of jobs) costs the
	// primary more than a tenth of its time.
	outcomeMaxWait = time.Minute
	// outcomeRetry: after an error the next statement waits this long.
	outcomeRetry = 5 * time.Second
)

// maxTracked bounds how many schedules' newest enqueued ticks the primary keeps track of
// (to record their outcomes, and write their ledger rows, when their jobs end): beyond
// it, it looks for them in werk_cron_state instead (a sweep), as a new primary does
// for those its predecessor enqueued. A hundred thousand cost it about 15 MB.
const maxTracked = 100_000

// lastRun is a schedule's newest enqueued tick whose ledger row is written with its
// outcome (werk_cron_state.last_job_at).
type lastRun struct {
	name string
	tick time.Time
	job  uuid.UUID
}

// outcomeState is where the primary stands in recording outcomes.
type recorder struct {
	*primary
	pacer
	// pending: some ledger rows may await an outcome (this primary enqueued jobs, or was
	// told of a manual run, or just took over); look when notBefore (host time) passed.
	// A pass under way goes on after (afterName, afterTick); its statements have read
	// passRows rows and taken passBusy so far.
	passing      bool
	afterName    string
	afterTick    time.Time
	passBusy     time.Duration
	passRows     int64
	passRecorded int64 // outcomes the pass recorded
	chunk        int32
	squeezed     int           // statements in a row cut short by a due tick
	bound        time.Duration // a statement's bound: outcomeBound, unless a test sets it

	// tracked holds the schedules' newest enqueued ticks this primary knows of, by
	// schedule: each pass also records those whose jobs ended (phase last).
	tracked map[string]lastRun
	// sweep: look through werk_cron_state for newest enqueued ticks this primary does
	// not know of (after a takeover, or when tracked was full), by name after sweepAfter.
	sweep      bool
	sweepAfter string
	// The pass's phase: the ledger's rows awaiting an outcome, then the tracked ticks
	// (pass holds them, in order, and lastPos how far the pass has come), then the sweep.
	phase   int
	pass    []lastRun
	lastPos int
	// running: of the last runs just looked at, those whose jobs are still to end.
	running map[string]bool
}

// Phases of a pass over what awaits an outcome.
const (
	phaseLedger = iota
	phaseTracked
	phaseSweep
)

// track notes a schedule's newest enqueued tick, whose ledger row is to be written with
// its outcome (replacing the one it had); when tracked is full, a sweep finds it later.
func (rc *recorder) track(name string, tick time.Time, job uuid.UUID) {
	rc.pending = true
	if rc.tracked == nil {
		rc.tracked = map[string]lastRun{}
	}
	if _, ok := rc.tracked[name]; !ok && len(rc.tracked) >= maxTracked {
		rc.sweep = true
		return
	}
	rc.tracked[name] = lastRun{name, tick, job}
}

// untrack forgets a schedule's newest enqueued tick: its row is written (or another's
// is, for a newer tick).
func (rc *recorder) untrack(name string) { delete(rc.tracked, name) }

// step reads the next chunk of the pass over the ledger rows awaiting an outcome,
// and records those whose job is final.
func (rc *recorder) step(ctx context.Context) error {
	o := rc
	if o.chunk == 0 {
		o.chunk = outcomeChunk
	}
	// Bounded to the next due tick (or the horizon's end, where the plan is read again),
	// unless outcomeSqueezes statements in a row were cut off that way: a database that
	// slow gets its outcomes recorded with ticks a little late rather than never.
	bound, squeezed := cmp.Or(o.bound, outcomeBound), false
	if o.squeezed < outcomeSqueezes {
		if until, ok := rc.untilNextTick(); ok && until < bound {
			bound, squeezed = until, true
		}
	}
	if bound < outcomeMinBound {
		o.notBefore = time.Now().Add(max(bound, 0) + rc.lead() + wakeMargin) // after the tick
		return nil
	}
	if !o.passing {
		o.passing, o.afterName, o.afterTick = true, "", time.Time{}
		o.passBusy, o.passRows, o.passRecorded = 0, 0, 0
		o.phase, o.pass, o.lastPos = phaseLedger, nil, 0
	}
	started, recordedBefore := time.Now(), rc.Stats.Outcomes.Load()
	var scanned int64
	var full bool
	var err error
	switch o.phase {
	case phaseLedger:
		scanned, err = rc.recordLedgerStep(ctx, bound)
		full = scanned == int64(o.chunk)
	case phaseTracked:
		scanned, err = rc.recordTrackedStep(ctx, bound)
		full = o.lastPos < len(o.pass)
	case phaseSweep:
		scanned, err = rc.sweepStep(ctx, bound)
		full = o.sweep
	}
	took := time.Since(started)
	o.passBusy += took
	o.passRecorded += rc.Stats.Outcomes.Load() - recordedBefore
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case rc.conn.IsClosed() || ctx.Err() != nil:
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
			rc.log.Warn("record job outcomes; trying again shortly", "err", err, "retry_in", outcomeRetry)
			o.notBefore = time.Now().Add(outcomeRetry)
		}
		return nil
	}
	o.squeezed = 0
	o.passRows += scanned
	if full {
		if took < bound/4 {
			o.chunk = min(2*o.chunk, outcomeChunk) // well within its bound: back towards the full chunk
		}
		o.notBefore = time.Now().Add(outcomeStepGap)
		return nil
	}
	// The next phase with something to do, if any, after a step's gap.
	if o.phase == phaseLedger {
		o.phase, o.pass, o.lastPos = phaseTracked, o.trackedInOrder(), 0
		if len(o.pass) > 0 {
			o.notBefore = time.Now().Add(outcomeStepGap)
			return nil
		}
	}
	if o.phase == phaseTracked && o.sweep {
		o.phase = phaseSweep
		o.notBefore = time.Now().Add(outcomeStepGap)
		return nil
	}
	o.passing = false
	if o.passRows == 0 && len(o.tracked) == 0 && !o.sweep {
		o.pending = false // nothing awaits: look again when a job is enqueued
		o.Signals.OutcomesIdle.Signal(struct{}{})
		return nil
	}
	o.notBefore = time.Now().Add(passWait(o.passBusy, o.passRows, o.passRecorded))
	return nil
}

// passWait is how long the recorder waits after a pass that took busy over rows rows,
// recording recorded outcomes: outcomeShare times the part of busy spent on rows whose
// jobs were still in flight (taken in proportion to the rows), at least outcomeGap and
// at most outcomeMaxWait.
func passWait(busy time.Duration, rows, recorded int64) time.Duration {
	idle := busy
	if rows > 0 {
		idle = time.Duration(float64(busy) * float64(max(rows-recorded, 0)) / float64(rows))
	}
	return min(max(outcomeGap, outcomeShare*idle), outcomeMaxWait)
}

// trackedInOrder is what the pass goes through of the tracked ticks, by name.
func (rc *recorder) trackedInOrder() []lastRun {
	runs := make([]lastRun, 0, len(rc.tracked))
	for _, r := range rc.tracked {
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b lastRun) int { return strings.Compare(a.name, b.name) })
	return runs
}

// recordLedgerStep reads the next chunk of the ledger's rows awaiting an outcome, and
// records those whose job is final; it returns how many rows it read.
func (rc *recorder) recordLedgerStep(ctx context.Context, bound time.Duration) (int64, error) {
	o := rc
	rows, err := rc.recordOutcomes(ctx, bound, db.RecordOutcomesParams{
		AfterName: o.afterName, AfterTickAt: o.afterTick, Names: []string{}, MaxRows: o.chunk,
	})
	if err != nil {
		return 0, err
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
	return scanned, nil
}

// recordTrackedStep records the next chunk of the tracked ticks whose jobs ended.
func (rc *recorder) recordTrackedStep(ctx context.Context, bound time.Duration) (int64, error) {
	o := rc
	end := min(o.lastPos+int(o.chunk), len(o.pass))
	runs := o.pass[o.lastPos:end]
	if err := rc.recordLastRuns(ctx, bound, runs); err != nil {
		return 0, err
	}
	o.lastPos = end
	return int64(len(runs)), nil
}

// sweepStep reads the next page of werk_cron_state for newest enqueued ticks whose rows
// are still to be written, records those whose jobs ended, and keeps track of the rest.
func (rc *recorder) sweepStep(ctx context.Context, bound time.Duration) (int64, error) {
	o := rc
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	page, err := rc.q.SweepLastRuns(ctx, db.SweepLastRunsParams{AfterName: o.sweepAfter, MaxRows: o.chunk})
	if err != nil {
		return 0, fmt.Errorf("look for newest ticks awaiting an outcome: %w", err)
	}
	var runs []lastRun
	for _, r := range page {
		if r.Deferred {
			runs = append(runs, lastRun{r.Name, r.TickAt, r.JobID})
		}
	}
	if len(runs) > 0 {
		if err := rc.recordLastRuns(ctx, bound, runs); err != nil {
			return 0, err
		}
		for _, r := range runs {
			if _, known := o.tracked[r.name]; !known && o.running[r.name] {
				o.track(r.name, r.tick, r.job)
			}
		}
	}
	if len(page) > 0 {
		o.sweepAfter = page[len(page)-1].Name
	}
	if len(page) < int(o.chunk) {
		o.sweep, o.sweepAfter = false, "" // through: what remains untracked is found next time
	}
	return int64(len(page)), nil
}

// recordLastRuns records the outcomes of runs (schedules' newest enqueued ticks) whose
// jobs ended, writing their ledger rows, bounded on the server by bound; runs still to
// come stay tracked, and runs that are not their schedules' newest any more are
// forgotten (their rows exist, or await in the ledger).
func (rc *recorder) recordLastRuns(ctx context.Context, bound time.Duration, runs []lastRun) error {
	o := rc
	if len(runs) == 0 {
		return nil
	}
	args := db.RecordLastRunsParams{
		Names: make([]string, len(runs)), TickAts: make([]time.Time, len(runs)), JobIds: make([]uuid.UUID, len(runs)),
	}
	for i, r := range runs {
		args.Names[i], args.TickAts[i], args.JobIds[i] = r.name, r.tick, r.job
	}
	var rows []db.RecordLastRunsRow
	err := rc.boundTx(ctx, bound, func(q *db.Queries) error {
		var err error
		if rows, err = q.RecordLastRuns(ctx, args); err != nil {
			return err
		}
		var recorded []outcome
		for _, r := range rows {
			if r.State == "recorded" {
				recorded = append(recorded, outcome{r.Name, r.Status})
			}
		}
		return rc.countOutcomes(ctx, q, recorded)
	})
	if err != nil {
		return err
	}
	o.running = map[string]bool{}
	var recorded []outcome
	for _, r := range rows {
		switch r.State {
		case "recorded":
			recorded = append(recorded, outcome{r.Name, r.Status})
			o.untrack(r.Name)
		case "settled":
			if cur, ok := o.tracked[r.Name]; ok && cur.job == r.JobID {
				o.untrack(r.Name)
			}
			o.expect()
		case "running":
			o.running[r.Name] = true
		}
	}
	return rc.noteRecorded(ctx, recorded)
}

// outcome is one outcome just recorded: the schedule's, and its job_status.
type outcome struct{ name, status string }

// recordOutcomes runs RecordOutcomes bounded on the server by bound, advances the
// outcome counters in the same transaction, and pauses the schedules whose
// newly recorded failures reach their pause_after_failures.
func (rc *recorder) recordOutcomes(ctx context.Context, bound time.Duration, params db.RecordOutcomesParams) ([]db.RecordOutcomesRow, error) {
	var rows []db.RecordOutcomesRow
	var recorded []outcome
	err := rc.boundTx(ctx, bound, func(q *db.Queries) error {
		var err error
		if rows, err = q.RecordOutcomes(ctx, params); err != nil {
			return err
		}
		for _, r := range rows {
			if r.Kind == "recorded" {
				recorded = append(recorded, outcome{r.Name, r.Status})
			}
		}
		return rc.countOutcomes(ctx, q, recorded)
	})
	if err != nil {
		return nil, err
	}
	return rows, rc.noteRecorded(ctx, recorded)
}

// boundTx runs fn in a transaction whose statements run at most bound each on the
// server (a statement_timeout local to it), so that recording gives way to due ticks.
func (rc *recorder) boundTx(ctx context.Context, bound time.Duration, fn func(q *db.Queries) error) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rc.Stats.OutcomeLooks.Add(1)
	return pgx.BeginFunc(ctx, rc.conn, func(tx pgx.Tx) error {
		q := rc.q.WithTx(tx)
		if err := q.BoundPlanningStatements(ctx, fmt.Sprintf("%dms", bound.Milliseconds())); err != nil {
			return fmt.Errorf("bound the statement: %w", err)
		}
		return fn(q)
	})
}

// countOutcomes advances the outcome counters by what was just recorded, in the
// recording transaction: counted once the outcomes are written, before they are
// visible, so that a reader who sees an outcome sees it counted ('unknown' is not an
// outcome of werkcron_job_outcomes_total).
func (rc *recorder) countOutcomes(ctx context.Context, q *db.Queries, recorded []outcome) error {
	var c db.CountOutcomesParams
	for _, r := range recorded {
		switch r.status {
		case "complete":
			c.Complete++
		case "failed":
			c.Failed++
		case "aborted":
			c.Aborted++
		case "expired":
			c.Expired++
		}
	}
	if c == (db.CountOutcomesParams{}) {
		return nil
	}
	if err := q.CountOutcomes(ctx, c); err != nil {
		return fmt.Errorf("count job outcomes: %w", err)
	}
	return nil
}

// noteRecorded counts what was recorded, says when jobs' rows were gone, and pauses
// the schedules whose newly recorded failures reach their pause_after_failures.
func (rc *recorder) noteRecorded(ctx context.Context, recorded []outcome) error {
	var failed []string
	seen := map[string]bool{}
	unknown := 0
	for _, r := range recorded {
		rc.Stats.Outcomes.Add(1)
		switch {
		case r.status == "unknown":
			unknown++
		case r.status == "failed" && !seen[r.name]:
			seen[r.name] = true
			failed = append(failed, r.name)
		}
	}
	if unknown > 0 {
		rc.log.Warn("jobs' rows were gone before their outcomes were recorded (TRUNCATE werk_jobs, or deleted before werkcron recorded outcomes); recorded as unknown",
			"jobs", unknown)
	}
	if len(failed) > 0 {
		if _, err := rc.pauseFailing(ctx, failed); err != nil {
			if rc.conn.IsClosed() {
				return err
			}
			// The ticker pauses them before their next job anyway (failureStreaks).
			rc.log.Warn("pause schedules after failures; trying again before their next job", "err", err)
		}
	}
	return nil
}
