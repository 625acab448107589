package ticker

import (
	"time"

	"github.com/google/uuid"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/schedule"
	"github.com/pgwerk/werkcron/scheduler/cron"
)

// row is what the ticker reads of a schedule (its definition in werk_cron_jobs, its
// state in werk_cron_state): what a decision needs, never args, kwargs or meta. Every
// query of queries/plan.sql that feeds the ticker returns these columns, so their
// generated row types convert to this one.
type row = db.ListDueSchedulesRow

// entry is one schedule the ticker holds in memory: a row due within the primary's
// horizon (see window), or one set aside to be retried.
type entry struct {
	name      string
	fn, queue string // for the allow-list
	cron      string // "" for interval schedules
	interval  time.Duration
	timezone  string
	paused    bool
	catchup   string
	// overlap is 'skip' or 'buffer_one': only the oldest enqueue tick of a decision can
	// get a job (and only if the schedule has none waiting, or running for 'skip').
	overlapOne    bool
	catchupWindow time.Duration // catchup_window_secs; 0: no limit
	startsAt      time.Time
	endsAt        time.Time
	pauseAfter    int // pause_after_failures; 0: never
	remaining     int // remaining_runs; -1: no limit
	changedAt     time.Time
	definedAt     time.Time // the definition version the compare-and-set checks (werk_cron_state.defined_at)
	lastTick      time.Time
	// The schedule's newest enqueued tick whose ledger row is still to be written (with
	// its outcome); zero lastJobAt when there is none.
	lastJobID uuid.UUID
	lastJobAt time.Time
	// deadline is start_deadline_secs (0: none): pending ticks that old are missed.
	deadline time.Duration
	// watched: start_deadline_secs or max_runtime_secs is set, so a tick that enqueues
	// may change its health.
	watched bool
	// calendar is exclude_calendar ("" for none): sched then skips its days (calendar.go).
	calendar string

	sched cron.Schedule // nil when the row cannot be scheduled
	err   string        // why not (last_error); "" when fine

	next    time.Time // when to look at it: next_run_at as planned; zero: never
	retryAt time.Time // set aside (a lock, a failed statement): not before this

	// Set aside because another session holds what its decision needs (see block).
	blocked      string        // why; "" when not
	blockedSince time.Time     // since when (database time)
	backoff      time.Duration // the last retry interval

	index int // position in the window's heap; -1 when not in it
}

// newEntry builds the ticker's view of r. The parsed expression is shared with every
// other schedule of the same expression and zone (parsing is the expensive part).
func newEntry(r row) *entry {
	e := &entry{
		name:       r.Name,
		fn:         r.Func,
		queue:      r.Queue,
		timezone:   r.Timezone,
		paused:     r.Paused,
		catchup:    r.Catchup,
		overlapOne: r.Overlap == "skip" || r.Overlap == "buffer_one",
		changedAt:  r.ChangedAt,
		definedAt:  r.DefinedAt,
		lastJobAt:  deref(r.LastJobAt),
		startsAt:   deref(r.StartsAt),
		endsAt:     deref(r.EndsAt),
		lastTick:   deref(r.LastTickAt),
		next:       deref(r.NextRunAt),
		pauseAfter: int(r.PauseAfterFailures),
		remaining:  -1,
		index:      -1,
		watched:    r.StartDeadlineSecs != nil || r.MaxRuntimeSecs != nil,
	}
	if r.ExcludeCalendar != nil {
		e.calendar = *r.ExcludeCalendar
	}
	if r.StartDeadlineSecs != nil {
		e.deadline = time.Duration(*r.StartDeadlineSecs) * time.Second
	}
	if r.RemainingRuns != nil {
		e.remaining = int(*r.RemainingRuns)
	}
	if r.LastJobID != nil {
		e.lastJobID = *r.LastJobID
	}
	if r.Cron != nil {
		e.cron = *r.Cron
	}
	if r.IntervalSecs != nil {
		e.interval = time.Duration(*r.IntervalSecs) * time.Second
	}
	if r.CatchupWindowSecs != nil {
		e.catchupWindow = time.Duration(*r.CatchupWindowSecs) * time.Second
	}
	e.sched, e.err = schedule.Parse(e.cron, e.interval, e.timezone, e.changedAt, e.startsAt)
	return e
}

// plan is what the planner writes for a row: when to look at it (its first undecided
// tick, which may already be due; zero: never) and why it cannot run ("" when fine).
func (e *entry) plan(allow allowList) (next time.Time, lastError string) {
	if e.paused {
		return time.Time{}, ""
	}
	if e.sched == nil {
		return time.Time{}, e.err
	}
	if why := allow.refuses(e.fn, e.queue); why != "" {
		return time.Time{}, why
	}
	if e.remaining == 0 {
		return time.Time{}, "" // ended: its runs are used up
	}
	if n, ok := e.window(0).Upcoming(e.sched); ok {
		return n, ""
	}
	if e.cron != "" && e.endsAt.IsZero() {
		return time.Time{}, "the cron expression matches no instant after the last tick: it will never fire again"
	}
	return time.Time{}, "" // ended
}

// window is where and how the schedule may fire now; grace is the ticker's misfire
// grace, the age limit of catchup = 'none'.
func (e *entry) window(grace time.Duration) schedule.Window {
	w := schedule.Window{
		After:   e.lastTick,
		From:    schedule.StartBound(e.cron == "", e.changedAt, e.startsAt),
		Until:   e.endsAt,
		Catchup: e.catchup,
		MaxAge:  e.catchupWindow,
	}
	if e.catchup == schedule.CatchupNone {
		w.MaxAge = grace
	}
	w.Deadline = e.deadline
	return w
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
