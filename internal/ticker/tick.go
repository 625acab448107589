package ticker

import (
	"context"
	"time"

	"github.com/pgwerk/werkcron/internal/schedule"
)

// planned is one schedule's decision inside a tick statement.
type planned struct {
	e *entry
	d schedule.Decision
}

// lost is a decision that did not go through (see settleLost).
type lost struct {
	e      *entry
	newest time.Time // the newest tick of the decision
	dbNow  time.Time // the statement's start, by the database's clock
}

// tick decides the due entries and writes the decisions, in statements of at most
// maxTicksPerStatement ticks, split over the primary's connections (writeAll). Decisions
// that did not go through are settled once, after the last statement.
func (p *primary) tick(ctx context.Context, due []*entry, now time.Time) error {
	ahead := p.readAhead(ctx, due, now)
	defer ahead.stop() // taken below, unless the tick fails first
	var batch []planned
	var lostOnes []lost
	var stale []*entry
	failures, err := p.failureStreaks(ctx, due)
	if err != nil {
		return err
	}
	for _, e := range due {
		if e.sched == nil {
			// Not plannable (the planner wrote last_error); here only if the row changed
			// under a stale read. Read it again.
			lostOnes = append(lostOnes, lost{e: e})
			continue
		}
		if n := failures[e.name]; e.pauseAfter > 0 && n >= e.pauseAfter && !e.paused {
			// Failed often enough, and not paused yet (its row was held when the failure
			// was recorded, or paused just now by recording it): pause it before it gets
			// another job. Not paused here (its row still held, paused already, or a
			// success came in since it was read): read it again.
			paused, err := p.pauseFailing(ctx, []string{e.name})
			if err != nil {
				p.log.Warn("pause a schedule after failures", "schedule", e.name, "err", err)
			}
			if len(paused) == 0 {
				lostOnes = append(lostOnes, lost{e: e})
			}
			continue
		}
		if why := p.allow.refuses(e.fn, e.queue); why != "" {
			// Planned by a ticker with another allow-list: refused here, and said so.
			e.err, e.next = why, time.Time{}
			stale = append(stale, e)
			p.hz.drop(e.name)
			p.log.Warn("schedule cannot run", "schedule", e.name, "err", why)
			continue
		}
		d := schedule.LimitRuns(schedule.Decide(e.sched, e.window(p.opts.MisfireGrace), now), e.remaining)
		if x, ok := e.sched.(*schedule.ExcludingSchedule); ok && !d.Empty() {
			d.Excluded = schedule.ExcludedTicks(e.window(p.opts.MisfireGrace), x, d.Newest())
		}
		if d.Capped {
			p.log.Warn("schedule was down for very many ticks; missed counts are lower bounds", "schedule", e.name)
		}
		if d.Empty() {
			// Nothing pending after all: the row's plan was ahead of its definition (a
			// hand edit of next_run_at, say). Write the right one back.
			if !d.Next.Equal(e.next) {
				e.next = d.Next
				stale = append(stale, e)
			}
			e.retryAt = time.Time{}
			p.hz.offer(e)
			continue
		}
		batch = append(batch, planned{e, d})
	}
	var results [][]written
	if len(batch) > 0 {
		if results, err = p.writeAll(ctx, batch); err != nil {
			return err
		}
	}
	// The plan read beside the statements becomes the horizon before what came of them
	// is applied: applying offers the horizon each schedule's next run.
	if err := p.takeAhead(ctx, ahead); err != nil {
		return err
	}
	if err := p.applyAll(ctx, results, now, &lostOnes); err != nil {
		return err
	}
	if err := p.saveState(ctx, stale); err != nil {
		return err
	}
	if err := p.settleLost(ctx, lostOnes, now); err != nil {
		return err
	}
	return p.flushHoldups(ctx)
}
