package ticker

import (
	"context"
	"fmt"

	"github.com/pgwerk/werkcron/db"
)

// pause_after_failures: before a due schedule with that policy gets another job, its
// runs that ended are recorded and its failures in a row counted; reaching the policy,
// it is paused instead (werk_cron_pause_failing).

// failureStreaks reads the failed runs in a row of the due schedules that pause after
// failures (none read when no due schedule has that policy).
func (p *primary) failureStreaks(ctx context.Context, due []*entry) (map[string]int, error) {
	var names []string
	var last []lastRun
	for _, e := range due {
		if e.pauseAfter > 0 {
			names = append(names, e.name)
			if !e.lastJobAt.IsZero() {
				last = append(last, lastRun{e.name, e.lastJobAt, e.lastJobID})
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	// Their runs that ended since the last pass count: record them first (their newest
	// ticks', and those awaiting in the ledger; even when the last pass found nothing
	// awaiting: a manual run may have come in since, its notification not read yet).
	err := p.recorder.recordLastRuns(ctx, outcomeDueBound, last)
	if err == nil {
		_, err = p.recorder.recordOutcomes(ctx, outcomeDueBound, db.RecordOutcomesParams{Names: names, MaxRows: outcomeChunk})
	}
	if err != nil {
		if err := p.survive(err, "record the job outcomes of schedules that pause after failures", "deciding on those recorded"); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rows, err := p.q.FailureStreaks(ctx, names)
	if err != nil {
		if err := p.survive(err, "read failures in a row", "deciding without them this time"); err != nil {
			return nil, err
		}
		return nil, nil
	}
	m := make(map[string]int, len(rows))
	for _, r := range rows {
		m[r.Name] = int(r.Failures)
	}
	return m, nil
}

// pauseFailing pauses those of names whose failures in a row reach their
// pause_after_failures (werk_cron_pause_failing, which counts them again and never
// waits for a row another session holds) and returns them.
func (p *primary) pauseFailing(ctx context.Context, names []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	paused, err := p.q.PauseFailingSchedules(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("pause schedules after failures: %w", err)
	}
	for _, name := range paused {
		p.log.Warn("paused a schedule after failures in a row", "schedule", name)
		p.hz.drop(name) // unplanned now (its definition changed): the planner takes it
	}
	return paused, nil
}
