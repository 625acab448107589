package scheduler

// A schedule as Go sees it (CronJob), what may change of it (Changes), and how the
// database's verdict on a bad value becomes a ValidationError that names the field.
//
// Validation lives where psql users meet it too: the table's constraints and triggers
// (sql/). Go checks only what SQL cannot: cron syntax (the ticker's parser), zones this
// binary's time zone database lacks, and the conversions of Go values to columns (a
// duration with a fraction of a second, an int out of a column's range, invalid JSON).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/schedule"
	"github.com/pgwerk/werkcron/scheduler/cron"
)

// Errors that Register, Update, and the calls taking a schedule name, wrap. Test them
// with errors.Is; errors.As with a *ValidationError also gives the schedule and field.
var (
	// ErrCronOrInterval: a schedule needs exactly one of Cron and Interval.
	ErrCronOrInterval = errors.New("exactly one of Cron and Interval must be set")
	// ErrUnknownZone: Timezone is not an IANA zone name.
	ErrUnknownZone = errors.New("unknown time zone")
	// ErrBadJSON: Args is not a JSON array, or Kwargs or Meta not a JSON object.
	ErrBadJSON = errors.New("invalid JSON")
	// ErrWholeSeconds: a duration the database keeps in seconds (Interval, Timeout,
	// ResultTTL, FailureTTL, CatchupWindow, Jitter, StartDeadline, MaxRuntime) is
	// negative or has a fraction of a second.
	ErrWholeSeconds = errors.New("not a positive whole number of seconds")
	// ErrInvalid: any other bad field (blank Func, unknown Catchup, EndsAt before
	// StartsAt, ...).
	ErrInvalid = errors.New("invalid value")
	// ErrNotFound: no schedule has that name.
	ErrNotFound = errors.New("no such schedule")
)

// ValidationError says which field of which schedule is wrong, and why. It wraps one of
// the sentinel errors above, or for a bad cron expression a *cron.Error (which wraps
// cron.ErrInvalid).
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
// ResultTTL, FailureTTL, Meta, CatchupWindow, StartsAt, EndsAt, Jitter, RemainingRuns,
// PauseAfterFailures, StartDeadline, MaxRuntime, ExcludeCalendar; pgwerk's defaults
// apply to the job). The defaults themselves are
// the table's, written once in its DDL.
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
	Cron     string          // a cron expression (see package cron), or
	Interval time.Duration   // a fixed interval, in whole seconds
	Timezone string          // the IANA zone Cron is read in

	Timeout    time.Duration   // copied onto each job, whole seconds
	ResultTTL  time.Duration   // copied onto each job, whole seconds
	FailureTTL time.Duration   // copied onto each job, whole seconds
	Meta       json.RawMessage // copied onto each job: a JSON object
	Priority   int             // copied onto each job (a smallint)
	// MaxAttempts is copied onto each job.
	MaxAttempts int

	// Paused: registered but enqueueing nothing. Register applies it to a new
	// schedule; an existing one keeps its own (see ApplyState).
	Paused        bool
	Catchup       string        // CatchupNone, CatchupLatest or CatchupAll
	CatchupWindow time.Duration // pending ticks older than this are missed; whole seconds
	Overlap       string        // OverlapAllow, OverlapSkip, OverlapBufferOne or OverlapBufferAll
	StartsAt      time.Time     // nothing fires before it
	EndsAt        time.Time     // nothing fires after it
	// Jitter delays each job by a fixed offset in [0, Jitter) derived from the name and
	// the tick (whole seconds); the key and the ledger keep the tick.
	Jitter time.Duration
	// RemainingRuns, when not nil, is counted down by each enqueued tick; at 0 the
	// schedule has ended. Like Paused, Register applies it to a new schedule only.
	RemainingRuns *int
	// PauseAfterFailures, when > 0: after that many consecutive failed runs the ticker
	// pauses the schedule, with PausedReason saying why.
	PauseAfterFailures int
	// StartDeadline, when > 0: a tick's job not started within this long of its tick
	// never starts (it gets pgwerk's expires_at, and its run is recorded expired); a
	// pending tick already that old is missed. Whole seconds, longer than Jitter.
	StartDeadline time.Duration
	// MaxRuntime, when > 0: a run still active this long after it started makes the
	// schedule's health overdue. Whole seconds.
	MaxRuntime time.Duration
	// ExcludeCalendar names a calendar (see Scheduler.AddCalendarDays): a tick whose
	// local date in Timezone is one of its days gets no job and is recorded excluded.
	ExcludeCalendar string

	// Written by the database and the ticker; Register ignores them.
	PausedReason string    // why it is paused (werk_cron_pause, or failures)
	NextRunAt    time.Time // when the ticker looks at it next; zero: nothing planned
	PlannedAt    time.Time // when the ticker planned it; zero: not yet
	LastTickAt   time.Time // the newest tick decided
	LastJobID    uuid.UUID // the job of the newest enqueued tick
	LastError    string    // why the ticker cannot schedule this row; "" when fine
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// ChangedAt is when the timing last changed or the schedule was resumed: no tick
	// before it is ever enqueued, and an interval schedule's ticks count from it.
	ChangedAt time.Time

	// Labels group schedules for people and tools ({"team": "billing", "tenant":
	// "42"}): part of the definition, never read by the tick. Nil or empty: none.
	Labels map[string]string
	// Zero names fields whose zero value is meant as a value rather than "not set":
	// "ResultTTL", "FailureTTL" and "Jitter", whose columns hold 0 apart from NULL (a
	// file's result_ttl: 0). Export sets it where a schedule has such a zero.
	Zero []string
	// ApplyPaused makes Apply give an existing schedule Paused too, true or false (a
	// file that says paused:); without it Apply, like Register, applies Paused to a new
	// schedule only, and an existing one keeps the pause an operator set.
	ApplyPaused bool
	// ManagedBy is the owner whose Apply keeps this schedule ("": written by hand).
	// Written by Apply; Register keeps it.
	ManagedBy string
}

// Values of CronJob.Overlap.
const (
	OverlapAllow = "allow" // enqueue every tick
	OverlapSkip  = "skip"  // no new job while the previous one is queued or running
	// OverlapBufferOne: at most one job running and one waiting (pgwerk's group_key);
	// the other ticks are recorded skipped_overlap.
	OverlapBufferOne = "buffer_one"
	// OverlapBufferAll: every tick is enqueued, and they run one at a time.
	OverlapBufferAll = "buffer_all"
)

// Validate reports what Go can tell is wrong with job before the database sees it, as a
// *ValidationError: the cron syntax, a zone this binary does not know, a duration with
// a fraction of a second, a number out of its column's range, invalid JSON. The rest
// (blank names, unknown policies, ...) the database refuses, and Register reports it
// the same way.
func (job CronJob) Validate() error {
	_, err := job.params()
	return err
}

// name is the schedule's name as the database will store it.
func (job CronJob) name() string {
	if job.Name == "" {
		return job.Func
	}
	return job.Name
}

// params checks job and turns it into the arguments of werk_cron_schedule: zero fields
// are NULL, which the function turns into the column's default.
func (job CronJob) params() (db.UpsertScheduleParams, error) {
	name := job.name()
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{Name: name, Field: field, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	p := db.UpsertScheduleParams{Name: name, Func: job.Func}
	var err error
	if p.Schedule, err = timingArg(name, job.Cron, job.Interval, job.Timezone); err != nil {
		return p, err
	}
	p.Queue, p.Timezone, p.Catchup, p.Overlap = nonEmpty(job.Queue), nonEmpty(job.Timezone), nonEmpty(job.Catchup), nonEmpty(job.Overlap)
	for _, d := range []struct {
		field string
		v     time.Duration
		dst   **int32
	}{
		{"Timeout", job.Timeout, &p.TimeoutSecs},
		{"ResultTTL", job.ResultTTL, &p.ResultTtl},
		{"FailureTTL", job.FailureTTL, &p.FailureTtl},
		{"CatchupWindow", job.CatchupWindow, &p.CatchupWindowSecs},
		{"Jitter", job.Jitter, &p.JitterSecs},
		{"StartDeadline", job.StartDeadline, &p.StartDeadlineSecs},
		{"MaxRuntime", job.MaxRuntime, &p.MaxRuntimeSecs},
	} {
		if *d.dst, err = wholeSeconds(d.v); err != nil {
			return p, bad(d.field, ErrWholeSeconds, "%s: %s (or zero: not set)", d.v, secondsWant(d.v))
		}
	}
	for _, j := range []struct {
		field string
		raw   json.RawMessage
		dst   *[]byte
	}{{"Args", job.Args, &p.Args}, {"Kwargs", job.Kwargs, &p.Kwargs}, {"Meta", job.Meta, &p.Meta}} {
		if *j.dst, err = jsonOf(j.raw); err != nil {
			return p, bad(j.field, ErrBadJSON, "%v", err)
		}
	}
	if job.Priority < math.MinInt16 || job.Priority > math.MaxInt16 {
		return p, bad("Priority", ErrInvalid, "%d: want %d to %d", job.Priority, math.MinInt16, math.MaxInt16)
	}
	if job.Priority != 0 {
		p.Priority = ptr(int32(job.Priority))
	}
	for _, n := range []struct {
		field string
		v     int
		dst   **int32
	}{{"MaxAttempts", job.MaxAttempts, &p.MaxAttempts}, {"PauseAfterFailures", job.PauseAfterFailures, &p.PauseAfterFailures}} {
		if n.v < math.MinInt32 || n.v > math.MaxInt32 {
			return p, bad(n.field, ErrInvalid, "%d: out of range", n.v)
		}
		if n.v != 0 {
			*n.dst = ptr(int32(n.v))
		}
	}
	if job.RemainingRuns != nil {
		if *job.RemainingRuns < math.MinInt32 || *job.RemainingRuns > math.MaxInt32 {
			return p, bad("RemainingRuns", ErrInvalid, "%d: out of range", *job.RemainingRuns)
		}
		p.RemainingRuns = ptr(int32(*job.RemainingRuns))
	}
	if job.Paused {
		p.Paused = ptr(true)
	}
	if !job.StartsAt.IsZero() {
		p.StartsAt = ptr(job.StartsAt)
	}
	if !job.EndsAt.IsZero() {
		p.EndsAt = ptr(job.EndsAt)
	}
	if err := job.zeroParams(&p); err != nil {
		return p, err
	}
	if p.Labels, err = labelsJSON(job.Labels); err != nil {
		return p, bad("Labels", ErrInvalid, "%v", err)
	}
	p.ExcludeCalendar = nonEmpty(job.ExcludeCalendar)
	return p, nil
}

// timingArg checks a timing and turns it into werk_cron_schedule's schedule argument: the
// cron expression, or the interval as "<n> seconds".
func timingArg(name, expr string, every time.Duration, zone string) (string, error) {
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{Name: name, Field: field, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	// The zone first: the cron expression is read in it.
	loc := time.UTC
	if zone != "" {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil || zone == "Local" { // "Local" is this host's zone, not a name
			return "", bad("Timezone", ErrUnknownZone, "%q is not an IANA zone name (use e.g. UTC or Europe/Berlin)", zone)
		}
	}
	switch {
	case expr != "" && every != 0:
		return "", bad("Cron", ErrCronOrInterval, "both Cron (%q) and Interval (%s) are set; set exactly one", expr, every)
	case expr == "" && every == 0:
		return "", bad("Cron", ErrCronOrInterval, "neither Cron nor Interval is set; set exactly one")
	case expr != "":
		if _, err := cron.Parse(expr, loc); err != nil {
			return "", bad("Cron", err, "%v", err)
		}
		return expr, nil
	default:
		secs, err := wholeSeconds(every)
		if err != nil || secs == nil || *secs <= 0 {
			return "", bad("Interval", ErrWholeSeconds, "%s: want a positive whole number of seconds", every)
		}
		return fmt.Sprintf("%d seconds", *secs), nil
	}
}

// NextRuns returns the schedule's next at most n fire instants after from, as the
// ticker sees them: in Timezone, not before the schedule's start (ChangedAt, StartsAt),
// not after EndsAt. It ignores Paused, the ticks the ticker has already decided, and
// ExcludeCalendar (Scheduler.NextRuns skips its days).
func (job CronJob) NextRuns(from time.Time, n int) ([]time.Time, error) {
	return job.nextRuns(from, n, nil)
}

// nextRuns is NextRuns without the days of cal (nil: none).
func (job CronJob) nextRuns(from time.Time, n int, cal *schedule.Calendar) ([]time.Time, error) {
	var sched cron.Schedule
	if job.Cron != "" {
		loc, err := time.LoadLocation(or(job.Timezone, "UTC"))
		if err != nil {
			return nil, &ValidationError{Name: job.Name, Field: "Timezone", Reason: err.Error(), Err: ErrUnknownZone}
		}
		c, err := cron.Parse(job.Cron, loc)
		if err != nil {
			return nil, &ValidationError{Name: job.Name, Field: "Cron", Reason: err.Error(), Err: err}
		}
		sched = c
	} else {
		if job.Interval <= 0 || job.Interval%time.Second != 0 {
			return nil, &ValidationError{Name: job.Name, Field: "Interval", Reason: job.Interval.String(), Err: ErrWholeSeconds}
		}
		sched = cron.Interval{Anchor: schedule.StartBound(true, job.ChangedAt, job.StartsAt), Every: job.Interval}
	}
	if cal != nil {
		loc, err := time.LoadLocation(or(job.Timezone, "UTC"))
		if err != nil {
			return nil, &ValidationError{Name: job.Name, Field: "Timezone", Reason: err.Error(), Err: ErrUnknownZone}
		}
		sched = &schedule.ExcludingSchedule{Schedule: sched, Loc: loc, Calendar: cal}
	}
	// Nothing before the start bound: ask from just before it.
	if start := schedule.StartBound(job.Cron == "", job.ChangedAt, job.StartsAt); from.Before(start) {
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

// Changes are what Update changes of a schedule: a nil field (or nil JSON) keeps the
// current value. Clear lists fields that go back to their default (NULL for the optional
// ones), by their CronJob names: "Timeout", "EndsAt", "RemainingRuns", ...
type Changes struct {
	Func               *string
	Cron               *string        // replaces the timing (and Interval), or
	Interval           *time.Duration // replaces the timing (and Cron)
	Queue              *string
	Args, Kwargs, Meta json.RawMessage
	Timezone           *string
	Timeout            *time.Duration
	ResultTTL          *time.Duration
	FailureTTL         *time.Duration
	Priority           *int
	MaxAttempts        *int
	Paused             *bool
	Catchup            *string
	CatchupWindow      *time.Duration
	Overlap            *string
	StartsAt, EndsAt   *time.Time
	Jitter             *time.Duration
	RemainingRuns      *int
	PauseAfterFailures *int
	StartDeadline      *time.Duration
	MaxRuntime         *time.Duration
	ExcludeCalendar    *string
	Clear              []string
	// Labels, when not nil, replaces every label (empty: none).
	Labels map[string]string
}

// alterParams checks c and turns it into the arguments of werk_cron_alter.
func (c Changes) alterParams(name string) (db.AlterScheduleParams, error) {
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{Name: name, Field: field, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	p := db.AlterScheduleParams{Name: name, Func: c.Func, Queue: c.Queue, Timezone: c.Timezone, Paused: c.Paused,
		Catchup: c.Catchup, Overlap: c.Overlap, StartsAt: c.StartsAt, EndsAt: c.EndsAt,
		ExcludeCalendar: c.ExcludeCalendar, Clear: []string{}}
	if c.Cron != nil || c.Interval != nil {
		zone := ""
		if c.Timezone != nil {
			zone = *c.Timezone
		}
		s, err := timingArg(name, deref(c.Cron), derefDur(c.Interval), zone)
		if err != nil {
			return p, err
		}
		p.Schedule = &s
	} else if c.Timezone != nil {
		if _, err := timingArg(name, "", time.Second, *c.Timezone); err != nil {
			return p, err
		}
	}
	for _, d := range []struct {
		field string
		v     *time.Duration
		dst   **int32
	}{
		{"Timeout", c.Timeout, &p.TimeoutSecs},
		{"ResultTTL", c.ResultTTL, &p.ResultTtl},
		{"FailureTTL", c.FailureTTL, &p.FailureTtl},
		{"CatchupWindow", c.CatchupWindow, &p.CatchupWindowSecs},
		{"Jitter", c.Jitter, &p.JitterSecs},
		{"StartDeadline", c.StartDeadline, &p.StartDeadlineSecs},
		{"MaxRuntime", c.MaxRuntime, &p.MaxRuntimeSecs},
	} {
		if d.v == nil {
			continue
		}
		secs, err := wholeSeconds(*d.v)
		if err != nil {
			return p, bad(d.field, ErrWholeSeconds, "%s: %s", *d.v, secondsWant(*d.v))
		}
		if secs == nil {
			secs = ptr(int32(0)) // the database says whether zero is allowed
		}
		*d.dst = secs
	}
	var err error
	for _, j := range []struct {
		field string
		raw   json.RawMessage
		dst   *[]byte
	}{{"Args", c.Args, &p.Args}, {"Kwargs", c.Kwargs, &p.Kwargs}, {"Meta", c.Meta, &p.Meta}} {
		if *j.dst, err = jsonOf(j.raw); err != nil {
			return p, bad(j.field, ErrBadJSON, "%v", err)
		}
	}
	for _, n := range []struct {
		field  string
		v      *int
		lo, hi int
		dst    **int32
	}{
		{"Priority", c.Priority, math.MinInt16, math.MaxInt16, &p.Priority},
		{"MaxAttempts", c.MaxAttempts, math.MinInt32, math.MaxInt32, &p.MaxAttempts},
		{"RemainingRuns", c.RemainingRuns, math.MinInt32, math.MaxInt32, &p.RemainingRuns},
		{"PauseAfterFailures", c.PauseAfterFailures, math.MinInt32, math.MaxInt32, &p.PauseAfterFailures},
	} {
		if n.v == nil {
			continue
		}
		if *n.v < n.lo || *n.v > n.hi {
			return p, bad(n.field, ErrInvalid, "%d: want %d to %d", *n.v, n.lo, n.hi)
		}
		*n.dst = ptr(int32(*n.v))
	}
	if c.Labels != nil {
		if p.Labels, err = labelsJSON(c.Labels); err != nil {
			return p, bad("Labels", ErrInvalid, "%v", err)
		}
		if p.Labels == nil {
			p.Labels = []byte("{}")
		}
	}
	for _, f := range c.Clear {
		col, ok := fieldColumns[f]
		if !ok {
			return p, bad(f, ErrInvalid, "Clear: no such field")
		}
		p.Clear = append(p.Clear, col)
	}
	return p, nil
}

// fieldColumns maps CronJob fields to werk_cron_jobs columns, and columnFields back.
var (
	fieldColumns = map[string]string{
		"Name": "name", "Func": "func", "Queue": "queue", "Args": "args", "Kwargs": "kwargs",
		"Cron": "cron", "Interval": "interval_secs", "Timezone": "timezone", "Timeout": "timeout_secs",
		"ResultTTL": "result_ttl", "FailureTTL": "failure_ttl", "Meta": "meta", "Priority": "priority",
		"MaxAttempts": "max_attempts", "Paused": "paused", "Catchup": "catchup",
		"CatchupWindow": "catchup_window_secs", "Overlap": "overlap", "StartsAt": "starts_at",
		"EndsAt": "ends_at", "Jitter": "jitter_secs", "RemainingRuns": "remaining_runs",
		"PauseAfterFailures": "pause_after_failures", "Labels": "labels", "ManagedBy": "managed_by",
		"StartDeadline": "start_deadline_secs", "MaxRuntime": "max_runtime_secs", "ExcludeCalendar": "exclude_calendar",
	}
	columnFields = func() map[string]string {
		m := make(map[string]string, len(fieldColumns))
		for f, c := range fieldColumns {
			m[c] = f
		}
		return m
	}()
)

// dbError turns the database's refusal of a schedule into a *ValidationError naming the
// field, when it is one: a constraint of werk_cron_jobs (named as a sentence:
// werk_cron_jobs_args_must_be_a_json_array), an unknown zone (the trigger), a bad
// argument of the SQL functions. Anything else is returned as it is.
func dbError(name string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "23514" && strings.HasPrefix(pgErr.ConstraintName, "werk_cron_jobs_"):
		rule := strings.TrimPrefix(pgErr.ConstraintName, "werk_cron_jobs_")
		if strings.HasPrefix(rule, "needs_exactly_one_of_cron_or_interval") {
			return &ValidationError{Name: name, Field: "Cron", Reason: "set exactly one of Cron and Interval", Err: ErrCronOrInterval}
		}
		field, sentinel := "", ErrInvalid
		for col, f := range columnFields {
			if strings.HasPrefix(rule, col+"_must") && len(col) > len(fieldColumns[field]) {
				field = f
			}
		}
		if field == "" {
			return err
		}
		switch field {
		case "Args", "Kwargs", "Meta":
			sentinel = ErrBadJSON
		case "Interval", "Timeout", "ResultTTL", "FailureTTL", "CatchupWindow", "Jitter", "StartDeadline", "MaxRuntime":
			sentinel = ErrWholeSeconds
		}
		if strings.Contains(rule, "_less_than_") {
			sentinel = ErrInvalid // a bound another field sets (jitter_secs < start_deadline_secs)
		}
		reason := strings.ReplaceAll(strings.TrimPrefix(rule, fieldColumns[field]+"_"), "_", " ")
		return &ValidationError{Name: name, Field: field, Reason: reason + " (" + pgErr.ConstraintName + ")", Err: sentinel}
	case pgErr.Code == "23514" && strings.Contains(pgErr.Message, "unknown time zone"):
		return &ValidationError{Name: name, Field: "Timezone", Reason: pgErr.Message, Err: ErrUnknownZone}
	case pgErr.Code == "23514" && strings.Contains(pgErr.Message, ": schedule "):
		return &ValidationError{Name: name, Field: "Interval", Reason: pgErr.Message, Err: ErrWholeSeconds}
	case pgErr.Code == "23514" && strings.Contains(pgErr.Message, ": clear: "):
		return &ValidationError{Name: name, Field: "Clear", Reason: pgErr.Message, Err: ErrInvalid}
	case pgErr.Code == "23502": // not_null_violation: a required field
		return &ValidationError{Name: name, Field: columnFields[pgErr.ColumnName], Reason: pgErr.Message, Err: ErrInvalid}
	case pgErr.Code == "P0002":
		return ErrNotFound
	}
	return err
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

// secondsWant says what is wrong with d, which wholeSeconds refused.
func secondsWant(d time.Duration) string {
	if d < 0 {
		return "must not be negative"
	}
	return "want a whole number of seconds"
}

// jsonOf checks that raw is valid JSON and returns it compacted; empty gives nil (not
// set). Whether it is an array or an object is the database's to say.
func jsonOf(raw json.RawMessage) ([]byte, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}

// fromRow is the CronJob of a werk_cron_jobs row: its definition.
func fromRow(r db.WerkCronJob) CronJob {
	j := CronJob{
		Name:               r.Name,
		Func:               r.Func,
		Queue:              r.Queue,
		Args:               json.RawMessage(r.Args),
		Kwargs:             json.RawMessage(r.Kwargs),
		Cron:               deref(r.Cron),
		Interval:           secsOf(r.IntervalSecs),
		Timezone:           r.Timezone,
		Timeout:            secsOf(r.TimeoutSecs),
		ResultTTL:          secsOf(r.ResultTtl),
		FailureTTL:         secsOf(r.FailureTtl),
		Priority:           int(r.Priority),
		MaxAttempts:        int(r.MaxAttempts),
		Paused:             r.Paused,
		PausedReason:       deref(r.PausedReason),
		Catchup:            r.Catchup,
		CatchupWindow:      secsOf(r.CatchupWindowSecs),
		Overlap:            r.Overlap,
		StartsAt:           deref(r.StartsAt),
		EndsAt:             deref(r.EndsAt),
		Jitter:             secsOf(r.JitterSecs),
		PauseAfterFailures: int(deref(r.PauseAfterFailures)),
		StartDeadline:      secsOf(r.StartDeadlineSecs),
		MaxRuntime:         secsOf(r.MaxRuntimeSecs),
		ExcludeCalendar:    deref(r.ExcludeCalendar),
		CreatedAt:          r.CreatedAt,
		UpdatedAt:          r.UpdatedAt,
		ChangedAt:          r.ChangedAt,
	}
	if r.Meta != nil {
		j.Meta = json.RawMessage(r.Meta)
	}
	if r.RemainingRuns != nil {
		j.RemainingRuns = ptr(int(*r.RemainingRuns))
	}
	j.Labels = labelsOf(r.Labels)
	j.ManagedBy = deref(r.ManagedBy)
	return j
}

// withState is j with what the ticker keeps of it (werk_cron_state): its plan, its
// newest tick and job, why it cannot run, and the runs it has left.
func withState(j CronJob, nextRunAt, plannedAt, lastTickAt *time.Time, lastError *string, lastJobID *uuid.UUID, runsLeft *int32) CronJob {
	j.NextRunAt, j.PlannedAt, j.LastTickAt, j.LastError = deref(nextRunAt), deref(plannedAt), deref(lastTickAt), deref(lastError)
	j.LastJobID = deref(lastJobID)
	j.RemainingRuns = nil
	if runsLeft != nil {
		j.RemainingRuns = ptr(int(*runsLeft))
	}
	return j
}

func secsOf(v *int32) time.Duration {
	if v == nil {
		return 0
	}
	return time.Duration(*v) * time.Second
}

func ptr[T any](v T) *T { return &v }

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefDur(p *time.Duration) time.Duration { return deref(p) }

// nonEmpty is &s, or nil for "".
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// clip shortens s to at most n bytes for an error message, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
