package scheduler

// The Go API: pgwerk's CronScheduler in Go idiom. Every call is a thin wrapper over one
// sqlc query (queries/api.sql); the Scheduler keeps no state of its own, so that Go
// programs, the CLI and people at a psql prompt always see the same schedules.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/ticker"
)

// Errors that Register, and the calls taking a schedule name, wrap. Test them with
// errors.Is; errors.As with a *ValidationError also gives the schedule and the field.
var (
	// ErrCronOrInterval: a schedule needs exactly one of Cron and Interval.
	ErrCronOrInterval = errors.New("exactly one of Cron and Interval must be set")
	// ErrUnknownZone: Timezone is not an IANA zone name.
	ErrUnknownZone = errors.New("unknown time zone")
	// ErrBadJSON: Args is not a JSON array, or Kwargs or Meta not a JSON object.
	ErrBadJSON = errors.New("invalid JSON")
	// ErrWholeSeconds: a duration the database keeps in seconds (Interval, Timeout,
	// ResultTTL, FailureTTL, CatchupWindow) is negative or has a fraction of a second.
	ErrWholeSeconds = errors.New("not a positive whole number of seconds")
	// ErrInvalid: any other bad field (blank Func, unknown Catchup, EndsAt before
	// StartsAt, ...).
	ErrInvalid = errors.New("invalid value")
	// ErrNotFound: no schedule has that name.
	ErrNotFound = errors.New("no such schedule")
)

// ValidationError says which field of which schedule is wrong, and why. It wraps one of
// the sentinel errors above, or for a bad cron expression a *CronError (which wraps
// ErrBadCron).
type ValidationError struct {
	Name   string // the schedule
	Field  string // the CronJob field: "Cron", "Interval", "Timezone", "Args", ...
	Reason string
	Err    error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("schedule %q: %s: %s", e.Name, e.Field, e.Reason)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// CronJob is one schedule: a row of werk_cron_jobs. The zero value of an optional field
// means "not set": the column's default (Queue "default", Timezone "UTC", Args [],
// Kwargs {}, MaxAttempts 1, Catchup "latest", Overlap "allow") or NULL (Timeout,
// ResultTTL, FailureTTL, Meta, CatchupWindow, StartsAt, EndsAt; pgwerk's defaults apply
// to the job).
//
// Args, Kwargs and Meta are raw JSON, stored and handed to the worker byte for byte
// (json.RawMessage rather than Go values, so that a round trip through the database
// never turns an integer into a float64); build them with json.Marshal.
type CronJob struct {
	Name     string          // unique; defaults to Func
	Func     string          // what the worker runs, e.g. "myapp.tasks.cleanup"
	Queue    string          // target queue
	Args     json.RawMessage // positional arguments: a JSON array
	Kwargs   json.RawMessage // keyword arguments: a JSON object
	Cron     string          // a cron expression (see ParseCron), or
	Interval time.Duration   // a fixed interval, in whole seconds
	Timezone string          // the IANA zone Cron is read in

	Timeout    time.Duration   // copied onto each job, whole seconds
	ResultTTL  time.Duration   // copied onto each job, whole seconds
	FailureTTL time.Duration   // copied onto each job, whole seconds
	Meta       json.RawMessage // copied onto each job: a JSON object
	Priority   int             // copied onto each job (a smallint)
	// MaxAttempts is copied onto each job.
	MaxAttempts int

	Paused        bool          // registered but enqueueing nothing
	Catchup       string        // CatchupNone, CatchupLatest or CatchupAll
	CatchupWindow time.Duration // pending ticks older than this are missed; whole seconds
	Overlap       string        // OverlapAllow or OverlapSkip
	StartsAt      time.Time     // nothing fires before it
	EndsAt        time.Time     // nothing fires after it

	// Written by the database and the ticker; Register ignores them.
	NextRunAt  time.Time // the next tick the ticker will enqueue; zero: none planned
	LastTickAt time.Time // the newest tick decided
	LastJobID  uuid.UUID // the job of the newest enqueued tick
	LastError  string    // why the ticker cannot schedule this row; "" when fine
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// ChangedAt is when the timing last changed or the schedule was resumed: no tick
	// before it is ever enqueued, and an interval schedule's ticks count from it.
	ChangedAt time.Time
}

// Values of CronJob.Overlap.
const (
	OverlapAllow = "allow" // enqueue every tick
	OverlapSkip  = "skip"  // no new job while the previous one is queued or running
)

// Options configure a Scheduler.
type Options struct {
	// DSN is where Run's ticker opens its one dedicated connection. It must reach
	// PostgreSQL directly or through a session-pooling proxy: the leader lock is a
	// session lock, which transaction pooling breaks. Default: the pool's connection
	// settings (the ticker opens a connection of its own; a pool is no place for a
	// session lock).
	DSN string
	// Ticker configures Run's ticker.
	Ticker TickerOptions
}

// Scheduler manages schedules through a pool, and runs the ticker with Run. It keeps
// no state of its own: every call reads or writes the database, and it is safe for
// concurrent use.
type Scheduler struct {
	pool *pgxpool.Pool
	q    *db.Queries
	opts Options

	mu     sync.Mutex
	ticker *Ticker
}

// New returns a Scheduler on pool, whose database must be migrated (see Migrate).
func New(pool *pgxpool.Pool, opts Options) *Scheduler {
	return &Scheduler{pool: pool, q: db.New(pool), opts: opts}
}

// Register creates the schedule job, or replaces the definition of the schedule with
// the same name (every definition field: a zero field resets the column to its
// default). What the ticker recorded (LastTickAt, ...) survives a replace, so
// registering the same definition at every start of a program changes nothing, and a
// changed timing never backfills ticks from before the change. It returns the schedule
// as stored. Invalid fields are reported before anything is written, as a
// *ValidationError.
func (s *Scheduler) Register(ctx context.Context, job CronJob) (CronJob, error) {
	p, err := job.params()
	if err != nil {
		return CronJob{}, err
	}
	row, err := s.q.UpsertSchedule(ctx, p)
	if err != nil {
		return CronJob{}, fmt.Errorf("register schedule %q: %w", p.Name, err)
	}
	return fromRow(row), nil
}

// Validate reports the first invalid field of job as a *ValidationError, as Register
// would, without touching the database.
func (job CronJob) Validate() error {
	_, err := job.params()
	return err
}

// NextRuns returns the schedule's next at most n fire instants after from, as the
// ticker sees them: in Timezone, not before the schedule's start (ChangedAt, StartsAt),
// not after EndsAt. It ignores Paused, and the ticks the ticker has already decided.
func (job CronJob) NextRuns(from time.Time, n int) ([]time.Time, error) {
	var sched Schedule
	if job.Cron != "" {
		loc, err := time.LoadLocation(or(job.Timezone, "UTC"))
		if err != nil {
			return nil, &ValidationError{Name: job.Name, Field: "Timezone", Reason: err.Error(), Err: ErrUnknownZone}
		}
		c, err := ParseCron(job.Cron, loc)
		if err != nil {
			return nil, &ValidationError{Name: job.Name, Field: "Cron", Reason: err.Error(), Err: err}
		}
		sched = c
	} else {
		if job.Interval <= 0 || job.Interval%time.Second != 0 {
			return nil, &ValidationError{Name: job.Name, Field: "Interval", Reason: job.Interval.String(), Err: ErrWholeSeconds}
		}
		sched = Interval{Anchor: ticker.StartBound(true, job.ChangedAt, job.StartsAt), Every: job.Interval}
	}
	// Nothing before the start bound: ask from just before it.
	if start := ticker.StartBound(job.Cron == "", job.ChangedAt, job.StartsAt); from.Before(start) {
		from = start.Add(-time.Nanosecond)
	}
	var out []time.Time
	for len(out) < n {
		t, ok := sched.Next(from)
		if !ok || (!job.EndsAt.IsZero() && t.After(job.EndsAt)) {
			break
		}
		out = append(out, t)
		from = t
	}
	return out, nil
}

// Unregister deletes the schedule name. Its jobs stay in werk_jobs; its ledger rows in
// werk_cron_ticks stay until the ticker prunes them.
func (s *Scheduler) Unregister(ctx context.Context, name string) error {
	if _, err := s.q.UnscheduleByName(ctx, name); err != nil {
		return nameError("unregister", name, err)
	}
	return nil
}

// Pause keeps the schedule registered but stops it enqueueing. Pausing a paused
// schedule is not an error.
func (s *Scheduler) Pause(ctx context.Context, name string) error {
	if _, err := s.q.PauseByName(ctx, name); err != nil {
		return nameError("pause", name, err)
	}
	return nil
}

// Resume lets a paused schedule enqueue again, from now on: ticks that fell into the
// pause are never backfilled. Resuming a running schedule is not an error.
func (s *Scheduler) Resume(ctx context.Context, name string) error {
	if _, err := s.q.ResumeByName(ctx, name); err != nil {
		return nameError("resume", name, err)
	}
	return nil
}

// Trigger enqueues one job of the schedule now, outside its schedule, and returns the
// job's id. Its key is cron:<name>:manual:<id>, apart from every tick's key; the
// schedule's own state (LastTickAt, NextRunAt, the tick ledger) does not change. It
// works on a paused schedule too.
func (s *Scheduler) Trigger(ctx context.Context, name string) (uuid.UUID, error) {
	id, err := s.q.TriggerByName(ctx, name)
	if err != nil {
		return uuid.UUID{}, nameError("trigger", name, err)
	}
	return id, nil
}

// Jobs returns every schedule, by name.
func (s *Scheduler) Jobs(ctx context.Context) ([]CronJob, error) {
	rows, err := s.q.ListSchedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	jobs := make([]CronJob, len(rows))
	for i, r := range rows {
		jobs[i] = fromRow(r)
	}
	return jobs, nil
}

// Get returns the schedule name; the error wraps ErrNotFound when there is none.
func (s *Scheduler) Get(ctx context.Context, name string) (CronJob, error) {
	row, err := s.q.GetSchedule(ctx, name)
	if err != nil {
		return CronJob{}, nameError("get", name, err)
	}
	return fromRow(row), nil
}

// Len returns how many schedules there are.
func (s *Scheduler) Len(ctx context.Context) (int, error) {
	n, err := s.q.CountSchedules(ctx)
	if err != nil {
		return 0, fmt.Errorf("count schedules: %w", err)
	}
	return int(n), nil
}

// Has reports whether a schedule is called name.
func (s *Scheduler) Has(ctx context.Context, name string) (bool, error) {
	ok, err := s.q.ScheduleExists(ctx, name)
	if err != nil {
		return false, fmt.Errorf("look up schedule %q: %w", name, err)
	}
	return ok, nil
}

// Ticker returns the ticker Run runs, creating it on first use, so that a program can
// read its Stats (say for metrics) before and while Run runs.
func (s *Scheduler) Ticker() (*Ticker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ticker != nil {
		return s.ticker, nil
	}
	if s.opts.DSN != "" {
		t, err := NewTicker(s.opts.DSN, s.opts.Ticker)
		if err != nil {
			return nil, err
		}
		s.ticker = t
		return t, nil
	}
	// The pool's parsed settings, not its connection string: that one may carry
	// pool_* keys the server rejects, or be empty for a pool configured in code.
	s.ticker = ticker.NewConfig(s.pool.Config().ConnConfig.Copy(), s.opts.Ticker)
	return s.ticker, nil
}

// Run runs the ticker until ctx is done: it stands by while another ticker is
// primary, and enqueues every schedule's ticks while it is. See Ticker.Run.
func (s *Scheduler) Run(ctx context.Context) error {
	t, err := s.Ticker()
	if err != nil {
		return err
	}
	return t.Run(ctx)
}

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

// Instance is one running ticker, from werk_cron_instances.
type Instance struct {
	PID             int       `json:"pid"`
	Role            string    `json:"role"`  // RolePrimary or RoleStandby
	Since           time.Time `json:"since"` // primary since, or connected since
	ApplicationName string    `json:"application_name"`
	ClientAddr      string    `json:"client_addr,omitempty"`
	BackendStart    time.Time `json:"backend_start"`
}

// ScheduleStatus is one row of werk_cron_status.
type ScheduleStatus struct {
	Name          string
	State         string // active, paused, error, ended or pending
	Schedule      string // the cron expression, or "every <n>s"
	Timezone      string
	Func          string
	Queue         string
	NextRunAt     time.Time // zero: none planned
	NextIn        time.Duration
	LastTickAt    time.Time
	LastJobStatus string // status of the last job in werk_jobs; "" when gone or none
	LastError     string
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
		st.Instances[i] = Instance{PID: int(r.Pid), Role: r.Role, Since: r.Since,
			ApplicationName: r.ApplicationName, ClientAddr: r.ClientAddr, BackendStart: r.BackendStart}
	}
	rows, err := s.q.ListStatus(ctx)
	if err != nil {
		return st, fmt.Errorf("status: list schedules: %w", err)
	}
	st.Schedules = make([]ScheduleStatus, len(rows))
	for i, r := range rows {
		ss := ScheduleStatus{Name: r.Name, State: r.State, Timezone: r.Timezone, Func: r.Func,
			Queue: r.Queue, NextRunAt: deref(r.NextRunAt), LastTickAt: deref(r.LastTickAt)}
		ss.Schedule = strOr(r.Schedule, "")
		ss.LastJobStatus = strOr(r.LastJobStatus, "")
		ss.LastError = strOr(r.LastError, "")
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
// (active, paused, error, ended, pending); states without schedules are absent.
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

// Grant gives role what a ticker needs once an owner has migrated, and nothing more
// (no DDL, no DELETE on werk_jobs); the ticker then runs with --no-migrate as role. It
// returns the GRANT statements; with apply false it only returns them. It runs as the
// pool's role, which must own the tables (or be allowed to grant on them).
func (s *Scheduler) Grant(ctx context.Context, role string, apply bool) ([]string, error) {
	stmts, err := s.q.GrantTicker(ctx, db.GrantTickerParams{Role: role, Apply: apply})
	if err != nil {
		return nil, fmt.Errorf("grant the ticker's rights to role %q: %w", role, err)
	}
	return stmts, nil
}

// nameError wraps err of an operation on the schedule name, turning "no such schedule"
// (from the SQL functions, or no row) into ErrNotFound.
func nameError(op, name string, err error) error {
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pgErr) && pgErr.Code == "P0002") {
		return fmt.Errorf("%s schedule %q: %w", op, name, ErrNotFound)
	}
	return fmt.Errorf("%s schedule %q: %w", op, name, err)
}

// params validates job and turns it into the upsert's parameters, applying defaults.
func (job CronJob) params() (db.UpsertScheduleParams, error) {
	name := job.Name
	if name == "" {
		name = job.Func
	}
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{Name: name, Field: field, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	p := db.UpsertScheduleParams{
		Name:        name,
		Func:        job.Func,
		Queue:       or(job.Queue, "default"),
		Timezone:    or(job.Timezone, "UTC"),
		Paused:      job.Paused,
		Catchup:     or(job.Catchup, CatchupLatest),
		Overlap:     or(job.Overlap, OverlapAllow),
		MaxAttempts: 1,
	}
	if strings.TrimSpace(job.Func) == "" {
		return p, bad("Func", ErrInvalid, "must not be blank")
	}
	if strings.TrimSpace(name) == "" {
		return p, bad("Name", ErrInvalid, "must not be blank")
	}
	if strings.TrimSpace(p.Queue) == "" {
		return p, bad("Queue", ErrInvalid, "must not be blank")
	}

	// The zone first: the cron expression is read in it.
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil || p.Timezone == "Local" { // "Local" is this host's zone, not a name
		return p, bad("Timezone", ErrUnknownZone, "%q is not an IANA zone name (use e.g. UTC or Europe/Berlin)", p.Timezone)
	}
	switch {
	case job.Cron != "" && job.Interval != 0:
		return p, bad("Cron", ErrCronOrInterval, "both Cron (%q) and Interval (%s) are set; set exactly one", job.Cron, job.Interval)
	case job.Cron == "" && job.Interval == 0:
		return p, bad("Cron", ErrCronOrInterval, "neither Cron nor Interval is set; set exactly one")
	case job.Cron != "":
		if _, err := ParseCron(job.Cron, loc); err != nil {
			return p, bad("Cron", err, "%v", err)
		}
		p.Cron = &job.Cron
	default:
		secs, err := wholeSeconds(job.Interval)
		if err != nil || secs == nil {
			return p, bad("Interval", ErrWholeSeconds, "%s: want a positive whole number of seconds", job.Interval)
		}
		p.IntervalSecs = secs
	}

	for _, d := range []struct {
		field string
		v     time.Duration
		dst   **int32
	}{
		{"Timeout", job.Timeout, &p.TimeoutSecs},
		{"ResultTTL", job.ResultTTL, &p.ResultTtl},
		{"FailureTTL", job.FailureTTL, &p.FailureTtl},
		{"CatchupWindow", job.CatchupWindow, &p.CatchupWindowSecs},
	} {
		secs, err := wholeSeconds(d.v)
		if err != nil {
			return p, bad(d.field, ErrWholeSeconds, "%s: want a positive whole number of seconds (or zero: not set)", d.v)
		}
		*d.dst = secs
	}

	if p.Args, err = jsonOf(job.Args, '[', "[]"); err != nil {
		return p, bad("Args", ErrBadJSON, "%v: want a JSON array such as [\"sales\", 3]", err)
	}
	if p.Kwargs, err = jsonOf(job.Kwargs, '{', "{}"); err != nil {
		return p, bad("Kwargs", ErrBadJSON, "%v: want a JSON object such as {\"format\": \"pdf\"}", err)
	}
	if p.Meta, err = jsonOf(job.Meta, '{', ""); err != nil {
		return p, bad("Meta", ErrBadJSON, "%v: want a JSON object", err)
	}

	if job.Priority < math.MinInt16 || job.Priority > math.MaxInt16 {
		return p, bad("Priority", ErrInvalid, "%d: want %d to %d", job.Priority, math.MinInt16, math.MaxInt16)
	}
	p.Priority = int16(job.Priority)
	switch {
	case job.MaxAttempts < 0 || job.MaxAttempts > math.MaxInt32:
		return p, bad("MaxAttempts", ErrInvalid, "%d: want a positive number (or zero: 1)", job.MaxAttempts)
	case job.MaxAttempts > 0:
		p.MaxAttempts = int32(job.MaxAttempts)
	}
	if p.Catchup != CatchupNone && p.Catchup != CatchupLatest && p.Catchup != CatchupAll {
		return p, bad("Catchup", ErrInvalid, "%q: want none, latest or all", p.Catchup)
	}
	if p.Overlap != OverlapAllow && p.Overlap != OverlapSkip {
		return p, bad("Overlap", ErrInvalid, "%q: want allow or skip", p.Overlap)
	}
	if !job.StartsAt.IsZero() {
		p.StartsAt = &job.StartsAt
	}
	if !job.EndsAt.IsZero() {
		if !job.StartsAt.IsZero() && !job.EndsAt.After(job.StartsAt) {
			return p, bad("EndsAt", ErrInvalid, "%s is not after StartsAt %s",
				job.EndsAt.Format(time.RFC3339), job.StartsAt.Format(time.RFC3339))
		}
		p.EndsAt = &job.EndsAt
	}
	return p, nil
}

// wholeSeconds converts d to seconds for an integer column: nil for zero (not set), an
// error for a negative value, a fraction of a second, or more than an int32 holds.
func wholeSeconds(d time.Duration) (*int32, error) {
	if d == 0 {
		return nil, nil
	}
	if d < 0 || d%time.Second != 0 || d/time.Second > math.MaxInt32 {
		return nil, ErrWholeSeconds
	}
	secs := int32(d / time.Second)
	return &secs, nil
}

// jsonOf checks that raw is valid JSON of the kind opening with open ('[' or '{') and
// returns it compacted; empty (or JSON null) gives def, nil for "".
func jsonOf(raw json.RawMessage, open byte, def string) ([]byte, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		if def == "" {
			return nil, nil
		}
		return []byte(def), nil
	}
	if !json.Valid(trimmed) {
		return nil, errors.New("not valid JSON")
	}
	if trimmed[0] != open {
		kind := "an array"
		if open == '{' {
			kind = "an object"
		}
		return nil, fmt.Errorf("%s is not %s", clip(string(trimmed), 40), kind)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fromRow is the CronJob of a werk_cron_jobs row.
func fromRow(r db.WerkCronJob) CronJob {
	j := CronJob{
		Name:        r.Name,
		Func:        r.Func,
		Queue:       r.Queue,
		Args:        json.RawMessage(r.Args),
		Kwargs:      json.RawMessage(r.Kwargs),
		Cron:        strOr(r.Cron, ""),
		Interval:    secsOf(r.IntervalSecs),
		Timezone:    r.Timezone,
		Timeout:     secsOf(r.TimeoutSecs),
		ResultTTL:   secsOf(r.ResultTtl),
		FailureTTL:  secsOf(r.FailureTtl),
		Priority:    int(r.Priority),
		MaxAttempts: int(r.MaxAttempts),
		Paused:      r.Paused,
		Catchup:     r.Catchup,
		Overlap:     r.Overlap,
		StartsAt:    deref(r.StartsAt),
		EndsAt:      deref(r.EndsAt),
		NextRunAt:   deref(r.NextRunAt),
		LastTickAt:  deref(r.LastTickAt),
		LastError:   strOr(r.LastError, ""),
		CreatedAt:   r.CreatedAt,
		UpdatedAt:   r.UpdatedAt,
		ChangedAt:   r.ChangedAt,

		CatchupWindow: secsOf(r.CatchupWindowSecs),
	}
	if r.Meta != nil {
		j.Meta = json.RawMessage(r.Meta)
	}
	if r.LastJobID != nil {
		j.LastJobID = *r.LastJobID
	}
	return j
}

func secsOf(v *int32) time.Duration {
	if v == nil {
		return 0
	}
	return time.Duration(*v) * time.Second
}

func strOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// clip shortens s to at most n bytes for an error message, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
