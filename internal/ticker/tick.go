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

// round is one tick's decisions, made before they are written: the statements laid
// out (part by part), the decisions that did not get that far, the entries to offer
// the horizon back (nothing pending after all), and the read of the plan made beside
// them.
type round struct {
	now      time.Time // the instant decided at
	parts    []part
	lostOnes []lost
	stale    []*entry
	offers   []*entry
	ahead    *ahead
}

// join adds next, a later read's decisions at the same instant, to r: its read made
// ahead replaces r's, which was taken to make next.
func (r *round) join(next *round) {
	r.parts = append(r.parts, next.parts...)
	r.lostOnes = append(r.lostOnes, next.lostOnes...)
	r.stale = append(r.stale, next.stale...)
	r.offers = append(r.offers, next.offers...)
	r.ahead = next.ahead
}

// tick decides the due entries at now and writes the decisions (write).
func (p *primary) tick(ctx context.Context, due []*entry, now time.Time) error {
	r, err := p.decide(ctx, due, now, nil)
	if err != nil {
		return err
	}
	return p.write(ctx, r)
}

// tickAt decides the entries due at the instant at, at most lead() away, and sends
// their statements ahead of it (sendLeadFor); they write at the instant, by the
// database's clock. Deciding 10,000 and laying out their statements takes 15-25 ms,
// and the database takes in and plans a statement of 5,000 in as much again: both
// would otherwise come between the instant and the writes. The decisions are those of
// the instant itself, as a ticker on time would make them; anything that changes a
// row meanwhile fails its compare-and-set like any change mid-statement. Nothing else
// runs on the loop meanwhile (the wait is shorter than the lead). A shutdown
// during the primary's wait writes nothing: the next primary ticks them; statements
// already sent, waiting in the database, write at the instant (the shutdown's grace
// is longer than their wait; of a large fan-out sent whole, those still waiting for
// their lane's turn when it ends are cancelled, and the next primary ticks them).
//
// A fan-out larger than one read of the plan is decided read by read (decideAhead)
// while there is time before the statements are sent (sendLeadFor), and written as
// one round; one with more statements than write at once is sent whole (sentWhole) as
// soon as it is decided, or wholeLead before its instant if that is later.
func (p *primary) tickAt(ctx, work context.Context, at time.Time) error {
	if now := p.now(); now.After(at) {
		at = now // the loop got here late (a slow read of the plan): decide as of now
	}
	r, err := p.decideAhead(ctx, work, at)
	if err != nil {
		return err
	}
	// Sent ahead, the usual statements wait for the instant in the database. The
	// general ones are held back in execute until restAfter: sent as soon as this
	// host's estimate says the instant has come, one could reach a database whose
	// clock has not, advance nothing, and the round would be written again. So that
	// wait also covers how far the estimate may be ahead.
	restAfter := time.Now().Add(at.Add(wakeMargin + p.slack).Sub(p.now()))
	for i := range r.parts {
		r.parts[i].at, r.parts[i].restAfter = at, restAfter
	}
	lead := sendLeadFor(r.parts)
	if sentWhole(r.parts, p.opts.Parallel) {
		lead = max(lead, wholeLead)
	}
	if err := p.waitUntil(ctx, at.Add(-lead)); err != nil {
		r.ahead.stop()
		return nil
	}
	return p.write(work, r)
}

// decideAhead decides what the horizon holds due at the instant at, and, while the
// read made beside it finds more due then, takes that read and decides it too (the
// schedules decided already, whose rows still show the instant, left out of each
// read), until aheadReads are decided, or the next read and its decisions (taking as
// long as the last) would come too late to send the statements on time, or the ticker
// is stopping (ctx is done; work is what its statements run on).
func (p *primary) decideAhead(ctx, work context.Context, at time.Time) (*round, error) {
	started := time.Now()
	due := p.hz.popDue(at, p.hz.max)
	r, err := p.decide(work, due, at, nil)
	if err != nil {
		return nil, err
	}
	var decided []string
	reads := 1
	defer func() {
		if reads > 1 {
			p.log.Debug("decided a fan-out ahead of its instant", "reads", reads, "schedules", len(decided)+len(due),
				"before_instant", at.Sub(p.now()).Round(time.Millisecond))
		}
	}()
	for ; r.ahead != nil && reads < aheadReads && ctx.Err() == nil; reads++ {
		// What the read may still take, the next decisions taking as long as the last.
		left := at.Add(-sendLeadFor(r.parts)).Sub(p.now()) - time.Since(started)
		if left <= 0 || !r.ahead.waitFor(left) {
			break // write what is decided; the read is taken after the statements
		}
		started = time.Now()
		a := r.ahead
		r.ahead = nil
		if err := p.takeAhead(work, a); err != nil {
			return nil, err
		}
		for _, e := range due {
			decided = append(decided, e.name)
		}
		if due = p.hz.popDue(at, p.hz.max); len(due) == 0 {
			break
		}
		p.Stats.ReadsBeforeInstant.Add(1)
		next, err := p.decide(work, due, at, decided)
		if err != nil {
			return nil, err
		}
		r.join(next)
	}
	return r, nil
}

// waitUntil sleeps until the database's clock, as this host estimates it, passes at
// (a short wait: tickAt's). Only ctx's end cuts it short.
func (p *primary) waitUntil(ctx context.Context, at time.Time) error {
	// A clock that does not move (a test's) ends it too, prepareLead late.
	limit := time.Now().Add(max(at.Sub(p.now()), 0) + prepareLead)
	for d := at.Sub(p.now()); d > 0 && time.Now().Before(limit); d = at.Sub(p.now()) {
		if err := sleepFor(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// sendLeadFor is how long before their instant a round's parts are sent: sendLead per
// sendLeadTicks ticks at their usual pace of the largest (the database takes in and
// plans a statement in time with its ticks).
func sendLeadFor(ps []part) time.Duration {
	n := 0
	for _, pt := range ps {
		n = max(n, len(pt.usual))
	}
	return sendLead * time.Duration(max(1, (n+sendLeadTicks-1)/sendLeadTicks))
}

// sleepFor sleeps for d (not at all when d is not positive); only ctx's end cuts it
// short, and is returned.
func sleepFor(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decide decides the due entries at now and lays the decisions out as tick statements,
// in parts of at most maxTicksPerStatement ticks to be written by the primary's
// connections (writeAll). It starts the read of the plan due next beside them
// (readAhead), which write takes; that read leaves out the schedules of due and
// those decided at now already and not yet written (unwritten).
func (p *primary) decide(ctx context.Context, due []*entry, now time.Time, unwritten []string) (*round, error) {
	r := &round{now: now, ahead: p.readAhead(ctx, due, unwritten, now)}
	failures, err := p.failureStreaks(ctx, due)
	if err != nil {
		r.ahead.stop()
		return nil, err
	}
	batch := make([]planned, 0, len(due))
	for _, e := range due {
		if e.sched == nil {
			// Not plannable (the planner wrote last_error); here only if the row changed
			// under a stale read. Read it again.
			r.lostOnes = append(r.lostOnes, lost{e: e})
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
				r.lostOnes = append(r.lostOnes, lost{e: e})
			}
			continue
		}
		if why := p.allow.refuses(e.fn, e.queue); why != "" {
			// Planned by a ticker with another allow-list: refused here, and said so.
			e.err, e.next = why, time.Time{}
			r.stale = append(r.stale, e)
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
				r.stale = append(r.stale, e)
			}
			// Offered back once the round's last read is the horizon (write): that read
			// leaves it out.
			e.retryAt = time.Time{}
			r.offers = append(r.offers, e)
			continue
		}
		batch = append(batch, planned{e, d})
	}
	if len(batch) > 0 {
		r.parts = layoutAll(parts(batch, p.opts.Parallel))
	}
	return r, nil
}

// write writes a round's statements, split over the primary's connections (writeAll),
// and applies what came of them; decisions that did not go through are settled once,
// after the last statement.
func (p *primary) write(ctx context.Context, r *round) error {
	defer r.ahead.stop() // taken below, unless the tick fails first
	var results [][]written
	if len(r.parts) > 0 {
		var err error
		if results, err = p.writeAll(ctx, r.parts); err != nil {
			return err
		}
	}
	// The plan read beside the statements becomes the horizon before what came of them
	// is applied: applying offers the horizon each schedule's next run. A read that has
	// not come in shortly after them is dropped, not waited for (it leaves out up to
	// 100,000 names, which a session with little work_mem does not hash): the horizon
	// stays stale, and the loop reads the plan again, leaving out only what is set aside.
	if r.ahead != nil && !r.ahead.waitFor(aheadGrace) {
		p.log.Debug("a read of the plan made ahead did not come in; reading it again")
		r.ahead.stop()
		r.ahead = nil
	}
	if err := p.takeAhead(ctx, r.ahead); err != nil {
		return err
	}
	for _, e := range r.offers {
		p.hz.offer(e)
	}
	if err := p.applyAll(ctx, results, r.now, &r.lostOnes); err != nil {
		return err
	}
	if err := p.saveState(ctx, r.stale); err != nil {
		return err
	}
	if err := p.settleLost(ctx, r.lostOnes, r.now); err != nil {
		return err
	}
	if err := p.flushHoldups(ctx); err != nil {
		return err
	}
	if onRounds(r.parts) {
		return p.dropSpentRounds(ctx)
	}
	return nil
}

// onRounds reports whether a round's statements may have put schedules on rounds, and
// so moved others off the rounds they were on (EnqueueUsualTicks).
func onRounds(ps []part) bool {
	for _, pt := range ps {
		if len(pt.usual) >= roundMin {
			return true
		}
	}
	return false
}

// dropSpentRounds deletes the rounds due by now that no schedule is on any more: a
// fan-out's, once its schedules have ticked and moved on to the next. Until then the
// plan's reads go through their names (and skip them one by one). A failure is logged:
// the next fan-out, or the hourly prune, deletes them.
func (p *primary) dropSpentRounds(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	started := time.Now()
	n, err := p.q.DropSpentRounds(ctx, p.now())
	if err != nil {
		return p.survive(err, "delete spent werk_cron_rounds", "trying again after the next fan-out")
	}
	p.log.Debug("deleted spent rounds", "rounds", n, "took", time.Since(started))
	return nil
}
