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

// Tick is one row of the tick ledger, werk_cron_ticks.
type Tick struct {
	Name      string    `json:"name"`
	At        time.Time `json:"tick_at"`
	Outcome   string    `json:"outcome"` // enqueued, duplicate, skipped_overlap or missed
	JobID     uuid.UUID `json:"job_id"`  // zero for missed and skipped ticks
	DecidedAt time.Time `json:"decided_at"`
	// Ticks is how many ticks the row stands for: 1, except on the oldest missed row
	// of a long outage.
	Ticks int `json:"ticks"`
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
		ticks[i] = Tick{Name: r.Name, At: r.TickAt, Outcome: r.Outcome, DecidedAt: r.DecidedAt, Ticks: int(r.Ticks)}
		if r.JobID != nil {
			ticks[i].JobID = *r.JobID
		}
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
	Name          string
	State         string // active, paused, error, ended or unplanned
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
		ss := ScheduleStatus{Name: r.Name, State: r.State, Timezone: r.Timezone, Func: r.Func,
			Queue: r.Queue, NextRunAt: deref(r.NextRunAt), LastTickAt: deref(r.LastTickAt)}
		ss.Schedule = deref(r.Schedule)
		ss.LastJobStatus = deref(r.LastJobStatus)
		ss.LastError = deref(r.LastError)
		ss.PausedReason = deref(r.PausedReason)
		if r.NextIn.Valid {
			ss.NextIn = time.Duration(r.NextIn.Microseconds)*time.Microsecond +
				time.Duration(r.NextIn.Days)*24*time.Hour
		}
		st.Schedules[i] = ss
	}
	newest, err := s.q.NewestTick(ctx)
	if err != nil {
		return st, fmt.Errorf("status: newest tick: %w", err)
	}
	for _, r := range newest {
		st.NewestTick = &Tick{Name: r.Name, At: r.TickAt, Outcome: r.Outcome, DecidedAt: r.DecidedAt, Ticks: int(r.Ticks)}
		if r.JobID != nil {
			st.NewestTick.JobID = *r.JobID
		}
		st.Lag = time.Duration(r.LagSecs * float64(time.Second))
	}
	return st, nil
}

// CountByState returns how many schedules are in each state of werk_cron_status
// (active, paused, error, ended, unplanned); states without schedules are absent.
func (s *Scheduler) CountByState(ctx context.Context) (map[string]int, error) {
	rows, err := s.q.CountSchedulesByState(ctx)
	if err != nil {
		return nil, fmt.Errorf("count schedules by state: %w", err)
	}
	m := make(map[string]int, len(rows))
	for _, r := range rows {
		m[r.State] = int(r.Schedules)
	}
	return m, nil
}
