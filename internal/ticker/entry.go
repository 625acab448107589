package ticker

import (
	"container/heap"
	"fmt"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/pgwerk/werkcron/scheduler/cron"

	"github.com/pgwerk/werkcron/db"
)

// entry is the ticker's in-memory view of one werk_cron_jobs row: what it needs to
// decide ticks, and what it last wrote back, so that it writes only changes.
type entry struct {
	name          string
	cron          string // "" for interval schedules
	interval      time.Duration
	timezone      string
	paused        bool
	catchup       string
	overlapSkip   bool          // overlap = 'skip': only the oldest tick of a decision can be enqueued
	catchupWindow time.Duration // catchup_window_secs; 0: no limit
	startsAt      time.Time
	endsAt        time.Time
	changedAt     time.Time
	updatedAt     time.Time // the definition version the compare-and-set checks
	lastTick      time.Time

	sched cron.Schedule // nil when the row cannot be scheduled
	err   string        // why not (last_error); "" when fine

	next    time.Time // the first undecided tick; zero: none
	retryAt time.Time // after a failed statement: not before this

	// What the row holds now, to skip writes that change nothing.
	dbNext time.Time
	dbErr  string

	index int // position in the heap; -1 when not in it
}

// newEntry builds the ticker's view of row. When old describes the same schedule
// (expression, zone and start unchanged), its parsed schedule is reused: parsing is
// the expensive part and happens once per change, not per tick.
func newEntry(row db.WerkCronJob, old *entry) *entry {
	e := &entry{
		name:        row.Name,
		timezone:    row.Timezone,
		paused:      row.Paused,
		catchup:     row.Catchup,
		overlapSkip: row.Overlap == "skip",
		changedAt:   row.ChangedAt,
		updatedAt:   row.UpdatedAt,
		index:       -1,
	}
	if row.Cron != nil {
		e.cron = *row.Cron
	}
	if row.IntervalSecs != nil {
		e.interval = time.Duration(*row.IntervalSecs) * time.Second
	}
	if row.CatchupWindowSecs != nil {
		e.catchupWindow = time.Duration(*row.CatchupWindowSecs) * time.Second
	}
	e.startsAt = deref(row.StartsAt)
	e.endsAt = deref(row.EndsAt)
	e.lastTick = deref(row.LastTickAt)
	e.dbNext = deref(row.NextRunAt)
	if row.LastError != nil {
		e.dbErr = *row.LastError
	}

	if old != nil && old.sched != nil && old.cron == e.cron && old.interval == e.interval &&
		old.timezone == e.timezone && old.changedAt.Equal(e.changedAt) && old.startsAt.Equal(e.startsAt) {
		e.sched = old.sched
		return e
	}
	e.sched, e.err = parseSchedule(e)
	return e
}

func parseSchedule(e *entry) (cron.Schedule, string) {
	if e.cron == "" {
		if e.interval <= 0 {
			return nil, "needs cron or a positive interval_secs"
		}
		return cron.Interval{Anchor: StartBound(true, e.changedAt, e.startsAt), Every: e.interval}, ""
	}
	c, err := parsed.cron(e.cron, e.timezone)
	if err != nil {
		return nil, err.Error()
	}
	return c, ""
}

// parsed shares what schedules have in common: a zone is loaded once (a *Location
// carries its whole transition table, kilobytes each), and schedules with the same
// expression and zone share one parsed Cron (safe: Cron is immutable), which at
// 100,000 schedules is most of the ticker's memory.
var parsed = &parseCache{zones: map[string]*time.Location{}, crons: map[cronKey]weak.Pointer[cron.Expr]{}}

type cronKey struct{ expr, zone string }

type parseCache struct {
	mu    sync.Mutex
	zones map[string]*time.Location // never shrinks: there are only so many zones
	crons map[cronKey]weak.Pointer[cron.Expr]
}

func (p *parseCache) cron(expr, zone string) (*cron.Expr, error) {
	key := cronKey{expr, zone}
	p.mu.Lock()
	if c := p.crons[key].Value(); c != nil {
		p.mu.Unlock()
		return c, nil
	}
	loc, ok := p.zones[zone]
	p.mu.Unlock()
	if !ok {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil {
			// PostgreSQL accepts zones Go does not know, such as bare abbreviations (PST).
			return nil, fmt.Errorf("time zone %q: not an IANA zone name that werkcron knows (use e.g. America/Los_Angeles)", zone)
		}
	}
	c, err := cron.Parse(expr, loc)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.zones[zone] = loc
	if shared := p.crons[key].Value(); shared != nil {
		return shared, nil
	}
	p.crons[key] = weak.Make(c)
	// Forget the key once no schedule uses the expression any more.
	runtime.AddCleanup(c, func(k cronKey) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.crons[k].Value() == nil {
			delete(p.crons, k)
		}
	}, key)
	return c, nil
}

// window is where and how the schedule may fire now; grace is the ticker's misfire
// grace, the age limit of catchup = 'none'.
func (e *entry) window(grace time.Duration) window {
	w := window{
		after:   e.lastTick,
		from:    StartBound(e.cron == "", e.changedAt, e.startsAt),
		until:   e.endsAt,
		catchup: e.catchup,
		maxAge:  e.catchupWindow,
	}
	if e.catchup == CatchupNone {
		w.maxAge = grace
	}
	return w
}

// refresh recomputes the first undecided tick, and the error for a cron expression
// that will never fire again.
func (e *entry) refresh() {
	e.next = time.Time{}
	if e.sched == nil || e.paused {
		return
	}
	n, ok := e.window(0).upcoming(e.sched)
	if ok {
		e.next = n
	} else if e.cron != "" && e.endsAt.IsZero() {
		e.err = "the cron expression matches no instant after the last tick: it will never fire again"
	}
}

// due is when the ticker should next look at the entry; zero: never.
func (e *entry) due() time.Time {
	if e.next.IsZero() || e.retryAt.Before(e.next) {
		return e.next
	}
	return e.retryAt
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// dueQueue is a min-heap of entries by due(): the ticker sleeps until the top one.
type dueQueue []*entry

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due().Before(q[j].due()) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *dueQueue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

// set puts e in the queue at its due time, or takes it out when it has none.
func (q *dueQueue) set(e *entry) {
	switch {
	case e.due().IsZero() && e.index >= 0:
		heap.Remove(q, e.index)
	case e.due().IsZero():
	case e.index >= 0:
		heap.Fix(q, e.index)
	default:
		heap.Push(q, e)
	}
}

func (q *dueQueue) remove(e *entry) {
	if e.index >= 0 {
		heap.Remove(q, e.index)
	}
}

// peek returns the earliest due time; zero when the queue is empty.
func (q dueQueue) peek() time.Time {
	if len(q) == 0 {
		return time.Time{}
	}
	return q[0].due()
}

// popDue takes out every entry due at or before now.
func (q *dueQueue) popDue(now time.Time) []*entry {
	var due []*entry
	for len(*q) > 0 && !(*q)[0].due().After(now) {
		due = append(due, heap.Pop(q).(*entry))
	}
	return due
}
