package ticker

import (
	"context"
	"time"

	"github.com/pgwerk/werkcron/db"
)

// pruner deletes ledger rows older than the retention (and backfill requests as old),
// a batch at a time when the primary has nothing else to do, once an hour.
type pruner struct {
	*primary
	last time.Time // host time the last pass finished (or failed)
}

func (pr *pruner) due(now time.Time) bool    { return now.Sub(pr.last) > time.Hour }
func (pr *pruner) wakeAt() (time.Time, bool) { return pr.last.Add(time.Hour), true }

// pruneBatch is how many ledger rows one prune statement deletes.
const pruneBatch = 10000

// prune deletes ledger rows older than the retention, a batch at a time between ticks.
// A failure is logged and retried at the next hour: pruning can wait, ticks cannot.
func (pr *pruner) step(ctx context.Context) error {
	started := time.Now()
	defer func() { pr.log.Debug("pruned", "took", time.Since(started)) }()
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := pr.dropSpentRounds(ctx); err != nil {
		return err
	}
	n, err := pr.q.PruneTicks(ctx, db.PruneTicksParams{Before: pr.now().Add(-pr.opts.Retention), MaxRows: pruneBatch})
	if err != nil {
		if err := pr.survive(err, "prune werk_cron_ledger", "trying again in an hour"); err != nil {
			return err
		}
		pr.last = time.Now()
		return nil
	}
	if n > 0 {
		pr.log.Info("pruned werk_cron_ledger", "rows", n, "older_than", pr.opts.Retention)
	}
	if n < pruneBatch {
		// The ledger is done; backfill requests as old go with it (few: no batches).
		if _, err := pr.q.PruneBackfills(ctx, pr.now().Add(-pr.opts.Retention)); err != nil {
			if err := pr.survive(err, "prune werk_cron_backfills", "trying again in an hour"); err != nil {
				return err
			}
		}
		pr.last = time.Now() // done; otherwise the next batch follows at the next idle moment
	}
	return nil
}
