package schedule

import (
	"time"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

// Catch-up policies (werk_cron_jobs.catchup): what to do with the ticks that are pending
// when the ticker looks at a schedule.
const (
	CatchupNone   = "none"   // only ticks at most the misfire grace late
	CatchupLatest = "latest" // only the newest pending tick
	CatchupAll    = "all"    // every pending tick, oldest first
)

// Limits that keep one decision bounded however long the ticker was away.
const (
	// MaxEnqueuePerDecision caps the ticks of one schedule enqueued by one statement
	// with catchup = 'all'; the rest follow in the next statements, oldest first.
	MaxEnqueuePerDecision = 500
	// MaxMissedRows caps the 'missed' ledger rows one decision writes for one schedule:
	// the newest misses get rows, and the oldest row's ticks column also counts the
	// earlier misses that got none.
	MaxMissedRows = 10
	// maxWalk caps how many ticks of one schedule a decision steps through. Beyond it
	// (a one-second cron down for more than a day) the missed count is a lower bound.
	maxWalk = 100_000
	// MaxCatchupAll bounds what catchup = 'all' enqueues after one outage when the
	// schedule sets no catchup_window_secs: the newest this many pending ticks; older
	// ones are recorded missed. (A one-second schedule down for a day would otherwise
	// enqueue 86,400 jobs at once.) A window, when set, is the bound instead.
	MaxCatchupAll = 1000
)

// Window is where a schedule may fire: ticks T with T > after, T >= from, and (when
// until is set) T <= until. It also carries what the catch-up decision needs.
type Window struct {
	After   time.Time // the newest decided tick (last_tick_at), or zero
	From    time.Time // earliest allowed tick, inclusive (see StartBound)
	Until   time.Time // ends_at, or zero for no end
	Catchup string
	// MaxAge, when > 0, turns every pending tick older than it into a miss (for 'all'
	// and 'latest': catchup_window_secs; for 'none': the misfire grace).
	MaxAge time.Duration
	// Deadline, when > 0 (start_deadline_secs), turns every pending tick whose start
	// deadline has passed into a miss, whatever the policy: its job could never start.
	Deadline time.Duration
}

// Decision is what the ticker does with one schedule now.
type Decision struct {
	Enqueue []time.Time // oldest first
	Missed  []MissedRow // oldest first, at most maxMissedRows
	Next    time.Time   // the first tick after everything decided; zero: none
	Capped  bool        // the walk hit maxWalk; missed counts are lower bounds

	// Excluded: ticks up to the newest decided on days the schedule's calendar lists
	// (see ExcludedTicks), oldest first, at most MaxMissedRows.
	Excluded []MissedRow
}

type MissedRow struct {
	At    time.Time
	Ticks int // this tick and the missed ticks after it that get no row of their own
}

// Newest is the Newest tick the decision settles, which becomes last_tick_at.
func (d Decision) Newest() time.Time {
	var n time.Time
	if len(d.Enqueue) > 0 {
		n = d.Enqueue[len(d.Enqueue)-1]
	}
	if len(d.Missed) > 0 && d.Missed[len(d.Missed)-1].At.After(n) {
		n = d.Missed[len(d.Missed)-1].At
	}
	return n
}

// Empty reports whether there is nothing to write now.
func (d Decision) Empty() bool { return len(d.Enqueue) == 0 && len(d.Missed) == 0 }

// StartBound returns the instant before which nothing of a schedule ever fires.
// Intervals run at anchor + k*every with anchor = greatest(starts_at,
// date_trunc('second', changed_at)), first tick at the anchor; cron ticks must be
// strictly after changed_at and not before starts_at. The returned bound is inclusive.
func StartBound(isInterval bool, changedAt, startsAt time.Time) time.Time {
	if isInterval {
		anchor := changedAt.Truncate(time.Second)
		if startsAt.After(anchor) {
			anchor = startsAt
		}
		return anchor
	}
	from := changedAt.Add(time.Nanosecond)
	if startsAt.After(from) {
		from = startsAt
	}
	return from
}

// FirstAfter returns the first tick of s in w strictly after t.
func (w Window) FirstAfter(s cron.Schedule, t time.Time) (time.Time, bool) {
	if !w.From.IsZero() && t.Before(w.From) {
		t = w.From.Add(-time.Nanosecond)
	}
	if !w.After.IsZero() && t.Before(w.After) {
		t = w.After
	}
	n, ok := s.Next(t)
	if !ok || (!w.Until.IsZero() && n.After(w.Until)) {
		return time.Time{}, false
	}
	return n, true
}

// Upcoming is the first tick that is not yet decided (pending or future).
func (w Window) Upcoming(s cron.Schedule) (time.Time, bool) {
	return w.FirstAfter(s, time.Time{})
}

// Decide applies the catch-up policy to the ticks of s pending at now.
func Decide(s cron.Schedule, w Window, now time.Time) Decision {
	var d Decision
	t, ok := w.Upcoming(s)
	if !ok {
		return d
	}
	if t.After(now) {
		d.Next = t
		return d
	}
	var m misses
	walked := 0
	step := func() {
		if walked++; walked >= maxWalk {
			d.Capped = true
		}
		t, ok = w.FirstAfter(s, t)
	}

	// Ticks older than the cutoff are misses, whatever the policy: the window (or the
	// misfire grace), or for 'all' without a window the oldest of its newest
	// MaxCatchupAll pending ticks.
	var cutoff time.Time
	if w.MaxAge > 0 {
		cutoff = now.Add(-w.MaxAge)
	} else if w.Catchup == CatchupAll {
		cutoff, _ = OldestOfNewest(s, w, now, MaxCatchupAll)
	}
	if w.Deadline > 0 {
		// A tick at its deadline or older: its job would expire as it is enqueued.
		if dl := now.Add(-w.Deadline + time.Nanosecond); cutoff.IsZero() || dl.After(cutoff) {
			cutoff = dl
		}
	}
	if !cutoff.IsZero() {
		for ok && t.Before(cutoff) && !d.Capped {
			m.add(t)
			step()
		}
		if d.Capped && ok && t.Before(cutoff) {
			// Too many to step through: skip to the cutoff; the count is a lower bound.
			t, ok = w.FirstAfter(s, cutoff.Add(-time.Nanosecond))
		}
	}

	// The rest up to now are candidates.
	switch w.Catchup {
	case CatchupLatest:
		var newest time.Time
		for ok && !t.After(now) && !d.Capped {
			if !newest.IsZero() {
				m.add(newest)
			}
			newest = t
			step()
		}
		if d.Capped && ok && !t.After(now) {
			// A long outage of a frequent schedule: jump to the newest pending tick.
			if n, found := newestPending(s, w, now); found {
				if !newest.IsZero() {
					m.add(newest)
				}
				newest = n
			}
			t, ok = w.FirstAfter(s, newest)
		}
		if !newest.IsZero() {
			d.Enqueue = []time.Time{newest}
		}
	default: // all, and none (whose maxAge is the misfire grace)
		for ok && !t.After(now) && len(d.Enqueue) < MaxEnqueuePerDecision {
			d.Enqueue = append(d.Enqueue, t)
			step()
		}
		// Anything left pending is decided by the next statement, right away.
	}
	d.Missed = m.rows()
	if ok {
		d.Next = t
	}
	return d
}

// misses counts missed ticks and keeps the newest few, which get ledger rows.
type misses struct {
	kept  []time.Time
	total int
}

func (m *misses) add(t time.Time) {
	m.total++
	m.kept = append(m.kept, t)
	if len(m.kept) > 2*MaxMissedRows {
		m.kept = append(m.kept[:0], m.kept[len(m.kept)-MaxMissedRows:]...)
	}
}

// rows turns the misses into at most maxMissedRows ledger rows: the oldest row also
// stands for every earlier miss that gets no row of its own.
func (m *misses) rows() []MissedRow {
	kept := m.kept
	if len(kept) > MaxMissedRows {
		kept = kept[len(kept)-MaxMissedRows:]
	}
	rows := make([]MissedRow, len(kept))
	for i, t := range kept {
		rows[i] = MissedRow{At: t, Ticks: 1}
	}
	if len(rows) > 0 {
		rows[0].Ticks += m.total - len(rows)
	}
	return rows
}

// newestPending finds the newest tick of s in w that is not after now, without stepping
// through every tick since w.after: it looks back from now over doubling spans until a
// span holds a tick, then steps through that span only.
func newestPending(s cron.Schedule, w Window, now time.Time) (time.Time, bool) {
	for span := time.Second; span < 200*365*24*time.Hour; span *= 2 {
		t, ok := w.FirstAfter(s, now.Add(-span))
		if !ok {
			return time.Time{}, false
		}
		if t.After(now) {
			continue
		}
		for {
			n, ok := w.FirstAfter(s, t)
			if !ok || n.After(now) {
				return t, true
			}
			t = n
		}
	}
	return time.Time{}, false
}

// OldestOfNewest returns the oldest of the newest n pending ticks of s at now, when more
// than n are pending. It counts back from now over doubling spans, so that it steps
// through about 2n ticks, not through every pending one.
func OldestOfNewest(s cron.Schedule, w Window, now time.Time, n int) (time.Time, bool) {
	first, ok := w.Upcoming(s)
	if !ok || first.After(now) {
		return time.Time{}, false
	}
	for span := time.Second; ; span *= 2 {
		from := now.Add(-span)
		if !from.After(first) || span > 200*365*24*time.Hour {
			return time.Time{}, false // the span reaches back over every pending tick: few enough
		}
		// The newest n ticks in (from, now], if there are more than n. The ring grows as
		// ticks are found: a span usually holds a tick or two (a fan-out decides each
		// schedule's one pending tick this way), and n slots made up front were 24 KB a
		// decision, most of a large fan-out's garbage.
		var ring []time.Time
		count := 0
		for t, ok := w.FirstAfter(s, from); ok && !t.After(now) && count < maxWalk; t, ok = w.FirstAfter(s, t) {
			if len(ring) < n {
				ring = append(ring, t)
			} else {
				ring[count%n] = t
			}
			count++
		}
		if count > n {
			return ring[count%n], true // the oldest kept
		}
	}
}

// LimitRuns applies remaining_runs (-1: no limit) to d: at most that many ticks are
// enqueued, the oldest; the schedule ends with the last of them, so the later pending
// ticks are left undecided (nothing will decide them) rather than recorded as missed.
func LimitRuns(d Decision, remaining int) Decision {
	if remaining < 0 || len(d.Enqueue) <= remaining {
		return d
	}
	d.Enqueue = d.Enqueue[:remaining]
	d.Next = time.Time{}
	if len(d.Enqueue) > 0 {
		// Misses newer than the last run are not decided either.
		last := d.Enqueue[len(d.Enqueue)-1]
		kept := d.Missed[:0]
		for _, m := range d.Missed {
			if !m.At.After(last) {
				kept = append(kept, m)
			}
		}
		d.Missed = kept
	}
	return d
}
