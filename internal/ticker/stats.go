package ticker

import (
	"sync/atomic"
	"time"
)

// Stats are the ticker's counters since it started. Safe to read at any time.
type Stats struct {
	Enqueued, Duplicates, Missed, SkippedOverlap, Statements, Promotions atomic.Int64
	// Excluded counts the ledger rows of ticks a calendar excluded (one may stand for
	// many ticks); HealthChanges the changes of schedules' health this ticker wrote, and
	// HealthLooks its looks for health checks that came due.
	Excluded, HealthChanges, HealthLooks atomic.Int64
	// LedgerRows counts the ledger rows tick statements wrote (a tick at its usual pace
	// writes none: its row is written with its outcome).
	LedgerRows atomic.Int64
	// Planned counts rows the planner planned; PlanLooks its looks for rows to plan
	// (batches, empty ones too); PlanCutoffs the planning statements cut off by their
	// bound to let due ticks go first; HorizonReads the reads of the plan, ReadsAhead
	// those of them made beside a fan-out's statements or its decisions, and
	// ReadsBeforeInstant those of them a fan-out's decisions took before its instant.
	Planned, PlanLooks, PlanCutoffs, HorizonReads, ReadsAhead, ReadsBeforeInstant atomic.Int64
	// SentWhole counts the tick statements sent before their instant with all the
	// others of their fan-out, each on a connection of its own (writeAll).
	SentWhole atomic.Int64
	// Outcomes counts the job outcomes the primary recorded (outcomes.go), and
	// OutcomeLooks its statements looking for them.
	Outcomes, OutcomeLooks atomic.Int64
	Primary                atomic.Bool
	// Lateness is how long after its instant each enqueued tick was committed
	// (database time): the scheduler's own delay, before any worker picks the job up.
	Lateness Histogram
	// lastProgress is when the loop last went round (Unix nanoseconds, host clock).
	lastProgress atomic.Int64
	// overdue is, as of the primary's last round, how long the oldest tick it owes has
	// been due (nanoseconds; 0 when it owes none).
	overdue atomic.Int64
	// held is how many schedules the primary held in memory at its last round.
	held atomic.Int64
	// stalled: see Stalled. intruder: see Intruder.
	stalled  atomic.Int64
	intruder atomic.Value
	// failedLeads and lastFailure: see FailingAsPrimary.
	failedLeads atomic.Int64
	lastFailure atomic.Value
}

// FailingAsPrimary reports how many sessions in a row became primary and then failed
// before scheduling anything, and the last error: a primary that keeps failing (a
// database refusing what it must do) while reconnecting looks alive otherwise.
func (s *Stats) FailingAsPrimary() (int, string) {
	msg, _ := s.lastFailure.Load().(string)
	return int(s.failedLeads.Load()), msg
}

// Overdue is how long the oldest tick the primary owes had been due at its last round
// (a tick it could not write: a table locked, a statement refused); 0 when it owes none,
// and on a standby.
func (s *Stats) Overdue() time.Duration { return time.Duration(s.overdue.Load()) }

// Stalled is, as of the primary's last round, how long it has had due ticks that other
// sessions keep it from writing (rows or job keys held) while not one schedule ticked;
// 0 when it ticks, owes nothing held up, or is a standby. A primary stalled for long is
// not doing its job although its loop goes round.
func (s *Stats) Stalled() time.Duration { return time.Duration(s.stalled.Load()) }

// Intruder describes the session that holds the leader lock without being a ticker, as
// a standby last found it; "" when there is none (and on a primary).
func (s *Stats) Intruder() string {
	who, _ := s.intruder.Load().(string)
	return who
}

// Held is how many schedules the primary held in memory at its last round: those due
// within its horizon and those set aside, never more than the horizon's row cap plus
// the set-aside ones, whatever the table holds; 0 on a standby.
func (s *Stats) Held() int { return int(s.held.Load()) }

// progress records that the loop went round.
func (s *Stats) progress() { s.lastProgress.Store(time.Now().UnixNano()) }

// LastProgress is when the ticker's loop last went round (as primary: between two
// decisions or sleeps; as standby: at each retry of the leader lock); zero before it
// started. A loop stuck anywhere stops moving it.
func (s *Stats) LastProgress() time.Time {
	if n := s.lastProgress.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Snapshot is what Stats count at one instant, as plain values.
type Snapshot struct {
	// Ticks decided, by what came of them (Excluded: ledger rows of ticks a calendar
	// excluded, one of which may stand for many).
	Enqueued, Duplicates, Missed, SkippedOverlap, Excluded int64
	// HealthChanges: changes of schedules' health this ticker wrote; HealthLooks its
	// looks for health checks that came due.
	HealthChanges, HealthLooks int64
	// Statements are the tick statements that went through; LedgerRows the ledger
	// rows they wrote.
	Statements, LedgerRows int64
	// Promotions: how often this ticker became primary.
	Promotions int64
	// Planned, PlanLooks, PlanCutoffs, HorizonReads, ReadsAhead, ReadsBeforeInstant,
	// SentWhole, Outcomes, OutcomeLooks: see Stats.
	Planned, PlanLooks, PlanCutoffs, HorizonReads, ReadsAhead, ReadsBeforeInstant int64
	SentWhole, Outcomes, OutcomeLooks                                             int64
	// Primary: the ticker leads now.
	Primary bool
	// Lateness holds cumulative counts per bucket of LatenessBuckets, the last one +Inf
	// (so the total); LatenessSum the sum of the observations.
	Lateness    []int64
	LatenessSum time.Duration
	// LastProgress, Overdue, Stalled, Held, Intruder: see the methods of Stats.
	LastProgress     time.Time
	Overdue, Stalled time.Duration
	Held             int
	Intruder         string
	// FailedLeads is how many sessions in a row became primary and then failed before
	// scheduling anything; LastFailure the last of their errors.
	FailedLeads int
	LastFailure string
}

// Snapshot reads every counter once.
func (s *Stats) Snapshot() Snapshot {
	v := Snapshot{
		Enqueued: s.Enqueued.Load(), Duplicates: s.Duplicates.Load(), Missed: s.Missed.Load(),
		Excluded: s.Excluded.Load(), HealthChanges: s.HealthChanges.Load(), HealthLooks: s.HealthLooks.Load(),
		SkippedOverlap: s.SkippedOverlap.Load(), Statements: s.Statements.Load(), LedgerRows: s.LedgerRows.Load(),
		Promotions: s.Promotions.Load(), Planned: s.Planned.Load(), PlanLooks: s.PlanLooks.Load(),
		PlanCutoffs: s.PlanCutoffs.Load(), HorizonReads: s.HorizonReads.Load(), ReadsAhead: s.ReadsAhead.Load(),
		ReadsBeforeInstant: s.ReadsBeforeInstant.Load(), SentWhole: s.SentWhole.Load(), Outcomes: s.Outcomes.Load(),
		OutcomeLooks: s.OutcomeLooks.Load(), Primary: s.Primary.Load(), LastProgress: s.LastProgress(),
		Overdue: s.Overdue(), Stalled: s.Stalled(), Held: s.Held(), Intruder: s.Intruder(),
	}
	v.Lateness, v.LatenessSum = s.Lateness.Snapshot()
	v.FailedLeads, v.LastFailure = s.FailingAsPrimary()
	return v
}
