package scheduler

// What operators read: the tick ledger, the running tickers, each schedule's state.

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pgwerk/werkcron/db"
)

// Tick is one row of the tick ledger, werk_cron_ticks: what was decided for a tick and,
// for one that got a job, how the job ended (kept after pgwerk deletes the job).
type Tick struct {
	Name    string    `json:"name"`
	At      time.Time `json:"tick_at"`
	Outcome string    `json:"outcome"` // enqueued, duplicate, foreign (key held by another's job), skipped_overlap, missed, excluded (a calendar's day), triggered (a manual run) or backfilled
	JobID   uuid.UUID `json:"job_id"`  // zero for missed and skipped ticks
	// DecidedAt is when the ticker decided the tick (for a manual run, when it was
	// triggered).
	DecidedAt time.Time `json:"decided_at"`
	// Ticks is how many ticks the row stands for: 1, except on the oldest missed row
	// of a long outage.
	Ticks int `json:"ticks"`

	// The job's outcome once it reached a final status and was recorded (by the primary
	// ticker about a second later, or when pgwerk deleted the job); "" and zero before
	// (or without a job).
	JobStatus     string    `json:"job_status,omitempty"` // complete, failed, aborted; expired: not started by its start deadline; unknown: the job's row vanished unrecorded
	JobStartedAt  time.Time `json:"job_started_at,omitzero"`
	JobFinishedAt time.Time `json:"job_finished_at,omitzero"`
	JobAttempts   int       `json:"job_attempts,omitempty"`
	JobError      string    `json:"job_error,omitempty"` // its first 2,000 characters
}

// tickOf is the Tick of a ledger row.
func tickOf(r db.WerkCronTick) Tick {
	return Tick{Name: r.Name, At: r.TickAt, Outcome: r.Outcome, JobID: deref(r.JobID), DecidedAt: r.DecidedAt,
		Ticks: int(r.Ticks), JobStatus: deref(r.JobStatus), JobStartedAt: deref(r.JobStartedAt),
		JobFinishedAt: deref(r.JobFinishedAt), JobAttempts: int(deref(r.JobAttempts)), JobError: deref(r.JobError)}
}

// Duration is how long the tick's job ran (zero until it finished).
func (t Tick) Duration() time.Duration {
	if t.JobStartedAt.IsZero() || t.JobFinishedAt.IsZero() {
		return 0
	}
	return t.JobFinishedAt.Sub(t.JobStartedAt)
}

// History returns the newest at most limit ledger rows of the schedule name, newest
// first. A schedule without rows (or an unknown name) gives none.
func (s *Scheduler) History(ctx context.Context, name string, limit int) ([]Tick, error) {
	rows, err := s.q.ListTicks(ctx, db.ListTicksParams{Name: name, MaxRows: int32(min(max(limit, 0), math.MaxInt32))})
	if err != nil {
		return nil, fmt.Errorf("history of schedule %q: %w", name, err)
	}
	ticks := make([]Tick, len(rows))
	for i, r := range rows {
		ticks[i] = tickOf(r)
	}
	return ticks, nil
}

// Instance is one running ticker, from werk_cron_instances. What pg_stat_activity
// hides of another role's session (to a viewer without pg_read_all_stats) is zero.
type Instance struct {
	PID  int    `json:"pid"`
	Role string `json:"role"` // RolePrimary, RoleStandby or RoleNotATicker
	// Since is when it became primary (by the database's clock), or connected.
	Since           time.Time `json:"since,omitzero"`
	ApplicationName string    `json:"application_name,omitempty"`
	ClientAddr      string    `json:"client_addr,omitempty"` // none over a Unix socket
	BackendStart    time.Time `json:"backend_start,omitzero"`
	User            string    `json:"user,omitempty"` // the session's role
}

// RoleNotATicker is the role werk_cron_instances gives a session that holds the leader
// lock without being a ticker (advisory locks have no permissions): while it does, no
// ticker can lead.
const RoleNotATicker = "not a ticker"

// leaderStamp is what a primary appends to its application_name when it takes over:
// " leader@<unix time>" (see werk_cron_list_instances).
var leaderStamp = regexp.MustCompile(` leader@([0-9]+)$`)

// instanceOf reads one row of ListInstances.
func instanceOf(r db.ListInstancesRow) Instance {
	in := Instance{PID: int(r.Pid), Role: r.Role, ApplicationName: deref(r.ApplicationName),
		BackendStart: deref(r.BackendStart), User: deref(r.Usename), Since: deref(r.BackendStart)}
	if r.ClientAddr != nil {
		in.ClientAddr = r.ClientAddr.String()
	}
	if m := leaderStamp.FindStringSubmatch(in.ApplicationName); m != nil {
		in.ApplicationName = strings.TrimSuffix(in.ApplicationName, m[0])
		if secs, err := strconv.ParseInt(m[1], 10, 64); err == nil && r.Role != RoleStandby {
			in.Since = time.Unix(secs, 0)
		}
	}
	return in
}

// ScheduleStatus is one row of werk_cron_status.
type ScheduleStatus struct {
	Name  string
	State string // active, paused, error, ended or unplanned
	// Health is one word for whether the schedule does its job (HealthOK, HealthFailing,
	// HealthLate, HealthOverdue, HealthPaused, HealthError, HealthEnded), kept by the
	// primary ticker; HealthSince is since when.
	Health        string
	HealthSince   time.Time
	Schedule      string // the cron expression, or "every <n>s"
	Timezone      string
	Func          string
	Queue         string
	NextRunAt     time.Time // zero: none planned
	NextIn        time.Duration
	LastTickAt    time.Time
	LastJobStatus string // status of the last job in werk_jobs; "" when gone or none
	LastError     string
	PausedReason  string // why it is paused; "" when not, or no reason was given

	LastRunStatus       string    // how its newest finished run ended: complete, failed, aborted; "" if none
	LastRunFinishedAt   time.Time // when that run finished
	ConsecutiveFailures int       // its newest finished runs that failed, in a row
	Failures24h         int       // its runs that failed among the ticks of the last 24 hours

	// The policies that shape what it enqueues (see CronJob).
	Overlap       string
	Jitter        time.Duration
	RemainingRuns *int // nil: no limit
	// What watches it, and the calendar whose days it skips (see CronJob).
	StartDeadline   time.Duration
	MaxRuntime      time.Duration
	ExcludeCalendar string

	Labels    map[string]string // see CronJob.Labels
	ManagedBy string            // the owner whose Apply keeps it; "": written by hand
}

// Status is the state of an installation at one instant, for operators.
type Status struct {
	Now       time.Time // the database's clock
	Instances []Instance
	Schedules []ScheduleStatus
	// NewestTick is the most recently decided tick of any schedule (nil: none yet),
	// and Lag how long after its instant it was decided.
	NewestTick *Tick
	Lag        time.Duration
}

// Status reads the running tickers, every schedule's state and the newest tick.
func (s *Scheduler) Status(ctx context.Context) (Status, error) {
	var st Status
	var err error
	if st.Now, err = s.q.DatabaseNow(ctx); err != nil {
		return st, fmt.Errorf("status: read the database clock: %w", err)
	}
	inst, err := s.q.ListInstances(ctx)
	if err != nil {
		return st, fmt.Errorf("status: list tickers: %w", err)
	}
	st.Instances = make([]Instance, len(inst))
	for i, r := range inst {
		st.Instances[i] = instanceOf(r)
	}
	rows, err := s.q.ListStatus(ctx)
	if err != nil {
		return st, fmt.Errorf("status: list schedules: %w", err)
	}
	st.Schedules = make([]ScheduleStatus, len(rows))
	for i, r := range rows {
		st.Schedules[i] = statusOf(r)
	}
	newest, err := s.q.NewestTick(ctx)
	if err != nil {
		return st, fmt.Errorf("status: newest tick: %w", err)
	}
	for _, r := range newest {
		st.NewestTick = &Tick{Name: r.Name, At: r.TickAt, Outcome: r.Outcome, JobID: deref(r.JobID), DecidedAt: r.DecidedAt, Ticks: int(r.Ticks)}
		st.Lag = time.Duration(r.LagSecs * float64(time.Second))
	}
	return st, nil
}

// StatusOf returns the row of werk_cron_status of the schedule name; the error wraps
// ErrNotFound when there is none.
func (s *Scheduler) StatusOf(ctx context.Context, name string) (ScheduleStatus, error) {
	r, err := s.q.GetStatus(ctx, name)
	if err != nil {
		return ScheduleStatus{}, nameError("status of", name, err)
	}
	return statusOf(r), nil
}

// statusOf is the ScheduleStatus of a werk_cron_status row.
func statusOf(r db.WerkCronStatus) ScheduleStatus {
	ss := ScheduleStatus{Name: r.Name, State: r.State, Health: r.Health, HealthSince: r.HealthSince,
		Timezone: r.Timezone, Func: r.Func, Queue: r.Queue, NextRunAt: deref(r.NextRunAt), LastTickAt: deref(r.LastTickAt)}
	ss.Schedule = deref(r.Schedule)
	ss.LastJobStatus = deref(r.LastJobStatus)
	ss.LastError = deref(r.LastError)
	ss.PausedReason = deref(r.PausedReason)
	ss.LastRunStatus, ss.LastRunFinishedAt = deref(r.LastRunStatus), deref(r.LastRunFinishedAt)
	ss.ConsecutiveFailures, ss.Failures24h = int(r.ConsecutiveFailures), int(r.Failures24h)
	ss.Overlap, ss.Jitter = r.Overlap, secsOf(r.JitterSecs)
	if r.RemainingRuns != nil {
		ss.RemainingRuns = ptr(int(*r.RemainingRuns))
	}
	ss.StartDeadline, ss.MaxRuntime, ss.ExcludeCalendar = secsOf(r.StartDeadlineSecs), secsOf(r.MaxRuntimeSecs), deref(r.ExcludeCalendar)
	if r.NextIn.Valid {
		ss.NextIn = time.Duration(r.NextIn.Microseconds)*time.Microsecond +
			time.Duration(r.NextIn.Days)*24*time.Hour
	}
	ss.Labels, ss.ManagedBy = labelsOf(r.Labels), deref(r.ManagedBy)
	return ss
}

// CountByState returns how many schedules are in each state of werk_cron_status
// (active, paused, error, ended, unplanned; states without schedules are absent), and
// how many have a last run that failed.
func (s *Scheduler) CountByState(ctx context.Context) (byState map[string]int, lastRunFailed int, err error) {
	rows, err := s.q.CountSchedulesByState(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("count schedules by state: %w", err)
	}
	byState = make(map[string]int, len(rows))
	for _, r := range rows {
		byState[r.State] = int(r.Schedules)
		lastRunFailed += int(r.LastRunFailed)
	}
	return byState, lastRunFailed, nil
}

// JobOutcomes are how many runs of werkcron's jobs have ended so far, by outcome: the
// counters advanced as outcomes are recorded (never reset, and counting an outcome
// whose transaction rolled back too). Expired counts jobs not started by their start
// deadline.
type JobOutcomes struct {
	Complete, Failed, Aborted, Expired int64
}

// JobOutcomes reads the outcome counters.
func (s *Scheduler) JobOutcomes(ctx context.Context) (JobOutcomes, error) {
	r, err := s.q.JobOutcomeCounts(ctx)
	if err != nil {
		return JobOutcomes{}, fmt.Errorf("read job outcome counters: %w", err)
	}
	return JobOutcomes{Complete: r.Complete, Failed: r.Failed, Aborted: r.Aborted, Expired: r.Expired}, nil
}
