package scheduler

// Schedules as code: Apply makes the schedules an owner keeps in a file what the file
// says, in one transaction, over the same SQL write path as Register and Unregister
// (werk_cron_schedule and werk_cron_unschedule, called once per schedule from one
// statement each); Export reads schedules back the way a file lists them. The
// comparison is the database's (queries/apply.sql): what werk_cron_schedule would
// write against what the table holds, so that Go never restates a default.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/jsonb"
)

// ApplyOptions change what Apply does.
type ApplyOptions struct {
	// Prune deletes the schedules the owner manages that jobs does not list. Without
	// it they stay, and Plan.Unlisted names them.
	Prune bool
	// DryRun only plans: it changes nothing, and takes no lock.
	DryRun bool
	// Adopt takes over the listed schedules written by hand (no owner): they become
	// the owner's. Without it such a schedule is refused.
	Adopt bool
}

// Plan is what Apply did, or with DryRun would do: the schedules created, changed
// (field by field), removed and unchanged, each list by name.
type Plan struct {
	Owner     string   `json:"owner"`
	DryRun    bool     `json:"dry_run"`
	Created   []string `json:"created"`
	Changed   []Change `json:"changed"`
	Removed   []string `json:"removed"`
	Unchanged []string `json:"unchanged"`
	// Unlisted are the owner's schedules that jobs does not list and, without Prune,
	// were kept.
	Unlisted []string `json:"unlisted"`
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Created) == 0 && len(p.Changed) == 0 && len(p.Removed) == 0
}

// Change is one schedule that Apply changes, and how.
type Change struct {
	Name   string        `json:"name"`
	Fields []FieldChange `json:"fields"`
}

// FieldChange is one column of a changed schedule: its name (as in werk_cron_jobs
// and in a file: "queue", "labels", "managed_by" for an adopted schedule, ...), and its
// value before and after, as JSON (null for none).
type FieldChange struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old"`
	New   json.RawMessage `json:"new"`
}

// Errors of Apply, for errors.Is.
var (
	// ErrManagedByAnother: a listed schedule is managed by another owner. Nothing was
	// applied.
	ErrManagedByAnother = errors.New("managed by another owner")
	// ErrWrittenByHand: a listed schedule exists without an owner and Adopt was not
	// given. Nothing was applied.
	ErrWrittenByHand = errors.New("written by hand (no owner)")
	// ErrDuplicate: two of the schedules given have the same name.
	ErrDuplicate = errors.New("listed more than once")
	// ErrOwner: the owner is blank, or longer than 200 bytes.
	ErrOwner = errors.New("invalid owner")
)

// Conflict is one listed schedule that Apply may not write: ManagedBy is its owner,
// "" for one written by hand.
type Conflict struct {
	Name, ManagedBy string
}

// ConflictError lists the schedules Apply refused, every one of them; nothing was
// applied. It wraps ErrManagedByAnother, ErrWrittenByHand or both.
type ConflictError struct {
	Owner     string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "owner %q may not write %d listed schedule(s): ", e.Owner, len(e.Conflicts))
	for i, c := range e.Conflicts {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Conflicts)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if c.ManagedBy == "" {
			fmt.Fprintf(&b, "%q is written by hand (adopt it to take it over)", clip(c.Name, 200))
		} else {
			fmt.Fprintf(&b, "%q is managed by %q", clip(c.Name, 200), clip(c.ManagedBy, 200))
		}
	}
	return b.String()
}

func (e *ConflictError) Unwrap() []error {
	var errs []error
	for _, c := range e.Conflicts {
		err := ErrManagedByAnother
		if c.ManagedBy == "" {
			err = ErrWrittenByHand
		}
		if !slices.Contains(errs, err) {
			errs = append(errs, err)
		}
	}
	return errs
}

// Apply makes the schedules that owner keeps what jobs says, in one transaction: it
// creates the listed schedules that do not exist, replaces those that differ (a field
// left zero goes back to the column's default, as with Register), leaves those that do
// not differ unwritten (their UpdatedAt and plan stay), and with Prune deletes the
// owner's schedules that jobs does not list. Paused and RemainingRuns are applied to a
// new schedule only (Paused to an existing one too with ApplyPaused), as Register does:
// an operator's pause and the runs left survive. What the ticker recorded survives a
// change.
//
// Every job is checked (CronJob.Check) before the database is asked; a bad one, or two
// with one name, fails the whole apply with every problem found (errors.Join of
// *ValidationError). A listed schedule managed by another owner, or written by hand
// without Adopt, fails it with a *ConflictError. Applies of one owner take turns;
// applies that create or adopt schedules take turns whatever their owner.
//
// It returns the plan it carried out (with DryRun: would carry out).
func Apply(ctx context.Context, pool *pgxpool.Pool, owner string, jobs []CronJob, opts ApplyOptions) (Plan, error) {
	plan := Plan{Owner: owner, DryRun: opts.DryRun}
	if err := checkOwner(owner); err != nil {
		return plan, err
	}
	checked, byName, err := checkJobs(jobs)
	if err != nil {
		return plan, err
	}
	entries, err := applyEntries(checked, func(string) bool { return false })
	if err != nil {
		return plan, err
	}
	txOpts := pgx.TxOptions{}
	if opts.DryRun {
		txOpts.AccessMode = pgx.ReadOnly
	}
	tx, err := pool.BeginTx(ctx, txOpts)
	if err != nil {
		return plan, fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	q := db.New(tx)
	// Instants compare, and print, the same in every session.
	if _, err := tx.Exec(ctx, "SET LOCAL TimeZone = 'UTC'"); err != nil {
		return plan, fmt.Errorf("apply: %w", err)
	}
	if !opts.DryRun {
		if err := q.ApplyLockOwner(ctx, owner); err != nil {
			return plan, fmt.Errorf("apply: wait for other applies of owner %q: %w", owner, err)
		}
	}
	rows, err := q.ApplyPlan(ctx, db.ApplyPlanParams{Entries: entries, Owner: owner})
	if err != nil {
		return plan, applyError(err)
	}
	plan, conflicts := planOf(owner, rows, opts)
	if !opts.DryRun && claims(rows, opts.Adopt) {
		// Creating or adopting takes a name: wait for any other apply that does, then
		// look again at what it may have written meanwhile.
		if err := q.ApplyLockClaims(ctx); err != nil {
			return plan, fmt.Errorf("apply: wait for other applies that create schedules: %w", err)
		}
		if rows, err = q.ApplyPlan(ctx, db.ApplyPlanParams{Entries: entries, Owner: owner}); err != nil {
			return plan, applyError(err)
		}
		plan, conflicts = planOf(owner, rows, opts)
	}
	if len(conflicts) > 0 {
		return plan, &ConflictError{Owner: owner, Conflicts: conflicts}
	}
	if opts.DryRun || plan.Empty() {
		return plan, nil
	}

	if len(plan.Removed) > 0 {
		if _, err := q.ApplyUnschedule(ctx, plan.Removed); err != nil {
			return plan, applyError(err)
		}
	}
	created := make(map[string]bool, len(plan.Created))
	var write []checkedJob
	for _, n := range plan.Created {
		created[n] = true
		write = append(write, checked[byName[n]])
	}
	for _, c := range plan.Changed {
		write = append(write, checked[byName[c.Name]])
	}
	if len(write) > 0 {
		entries, err := applyEntries(write, func(name string) bool { return created[name] })
		if err != nil {
			return plan, err
		}
		if _, err := q.ApplyUpsert(ctx, db.ApplyUpsertParams{Entries: entries, Owner: owner}); err != nil {
			return plan, applyError(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return plan, applyError(err)
	}
	return plan, nil
}

// Apply is the package's Apply on the Scheduler's pool.
func (s *Scheduler) Apply(ctx context.Context, owner string, jobs []CronJob, opts ApplyOptions) (Plan, error) {
	return Apply(ctx, s.pool, owner, jobs, opts)
}

// checkOwner refuses what the managed_by column would.
func checkOwner(owner string) error {
	switch {
	case strings.Trim(owner, " ") == "":
		return fmt.Errorf("%w: an owner must not be blank", ErrOwner)
	case len(owner) > 200:
		return fmt.Errorf("%w: %q is longer than 200 bytes", ErrOwner, clip(owner, 40))
	case !utf8.ValidString(owner) || containsNUL(owner):
		return fmt.Errorf("%w: %q is not valid UTF-8 text without NUL", ErrOwner, owner)
	}
	return nil
}

// checkedJob is a job that passed Check, with its arguments for werk_cron_schedule.
type checkedJob struct {
	job CronJob
	p   db.UpsertScheduleParams
}

// checkJobs checks every job and that no two share a name, reporting every problem;
// it returns the jobs with their arguments, and their index by name.
func checkJobs(jobs []CronJob) ([]checkedJob, map[string]int, error) {
	out := make([]checkedJob, len(jobs))
	byName := make(map[string]int, len(jobs))
	var errs []error
	for i, j := range jobs {
		p, err := j.check()
		if err != nil {
			errs = append(errs, err)
		}
		if _, dup := byName[j.name()]; dup {
			errs = append(errs, &ValidationError{Name: j.name(), Field: "Name", Reason: "listed more than once", Err: ErrDuplicate})
		}
		byName[j.name()] = i
		out[i] = checkedJob{job: j, p: p}
	}
	return out, byName, errors.Join(errs...)
}

// applyEntry is one schedule as werk_cron_schedule's arguments, as queries/apply.sql
// reads them: only what is given.
type applyEntry struct {
	Name               string          `json:"name"`
	Func               string          `json:"func"`
	Schedule           string          `json:"schedule"`
	Queue              *string         `json:"queue,omitempty"`
	Args               json.RawMessage `json:"args,omitempty"`
	Kwargs             json.RawMessage `json:"kwargs,omitempty"`
	Timezone           *string         `json:"timezone,omitempty"`
	TimeoutSecs        *int32          `json:"timeout_secs,omitempty"`
	ResultTTL          *int32          `json:"result_ttl,omitempty"`
	FailureTTL         *int32          `json:"failure_ttl,omitempty"`
	Meta               json.RawMessage `json:"meta,omitempty"`
	Priority           *int32          `json:"priority,omitempty"`
	MaxAttempts        *int32          `json:"max_attempts,omitempty"`
	Paused             *bool           `json:"paused,omitempty"`
	Catchup            *string         `json:"catchup,omitempty"`
	CatchupWindowSecs  *int32          `json:"catchup_window_secs,omitempty"`
	Overlap            *string         `json:"overlap,omitempty"`
	StartsAt           *time.Time      `json:"starts_at,omitempty"`
	EndsAt             *time.Time      `json:"ends_at,omitempty"`
	JitterSecs         *int32          `json:"jitter_secs,omitempty"`
	RemainingRuns      *int32          `json:"remaining_runs,omitempty"`
	PauseAfterFailures *int32          `json:"pause_after_failures,omitempty"`
	Labels             json.RawMessage `json:"labels,omitempty"`
	StartDeadlineSecs  *int32          `json:"start_deadline_secs,omitempty"`
	MaxRuntimeSecs     *int32          `json:"max_runtime_secs,omitempty"`
	ExcludeCalendar    *string         `json:"exclude_calendar,omitempty"`
}

// applyEntries is jobs as a JSON array of werk_cron_schedule's arguments. Paused and
// RemainingRuns go in for the jobs isNew says are new, and Paused with ApplyPaused.
func applyEntries(jobs []checkedJob, isNew func(name string) bool) ([]byte, error) {
	out := make([]applyEntry, len(jobs))
	for i, c := range jobs {
		j, p := c.job, c.p
		e := applyEntry{Name: p.Name, Func: p.Func, Schedule: p.Schedule, Queue: p.Queue, Args: p.Args,
			Kwargs: p.Kwargs, Timezone: p.Timezone, TimeoutSecs: p.TimeoutSecs, ResultTTL: p.ResultTtl,
			FailureTTL: p.FailureTtl, Meta: p.Meta, Priority: p.Priority, MaxAttempts: p.MaxAttempts,
			Catchup: p.Catchup, CatchupWindowSecs: p.CatchupWindowSecs, Overlap: p.Overlap, StartsAt: p.StartsAt,
			EndsAt: p.EndsAt, JitterSecs: p.JitterSecs, PauseAfterFailures: p.PauseAfterFailures, Labels: p.Labels,
			StartDeadlineSecs: p.StartDeadlineSecs, MaxRuntimeSecs: p.MaxRuntimeSecs, ExcludeCalendar: p.ExcludeCalendar}
		switch {
		case j.ApplyPaused:
			e.Paused = ptr(j.Paused)
		case isNew(p.Name):
			e.Paused = p.Paused
		}
		if isNew(p.Name) {
			e.RemainingRuns = p.RemainingRuns
		}
		out[i] = e
	}
	return json.Marshal(out)
}

// claims reports whether the plan's rows take a name: a listed schedule that does not
// exist, or (adopting) one without an owner.
func claims(rows []db.ApplyPlanRow, adopt bool) bool {
	for _, r := range rows {
		if r.Listed && (!r.Found || (adopt && r.ManagedBy == nil)) {
			return true
		}
	}
	return false
}

// planOf turns ApplyPlan's rows into the plan, and the listed schedules owner may not
// write.
func planOf(owner string, rows []db.ApplyPlanRow, opts ApplyOptions) (Plan, []Conflict) {
	plan := Plan{Owner: owner, DryRun: opts.DryRun, Created: []string{}, Changed: []Change{}, Removed: []string{},
		Unchanged: []string{}, Unlisted: []string{}}
	var conflicts []Conflict
	for _, r := range rows {
		switch {
		case !r.Listed && opts.Prune:
			plan.Removed = append(plan.Removed, r.Name)
		case !r.Listed:
			plan.Unlisted = append(plan.Unlisted, r.Name)
		case !r.Found:
			plan.Created = append(plan.Created, r.Name)
		case r.ManagedBy != nil && *r.ManagedBy != owner:
			conflicts = append(conflicts, Conflict{Name: r.Name, ManagedBy: *r.ManagedBy})
		case r.ManagedBy == nil && !opts.Adopt:
			conflicts = append(conflicts, Conflict{Name: r.Name})
		default:
			fields := fieldChanges(r.Changes)
			if r.ManagedBy == nil {
				to, _ := json.Marshal(owner)
				fields = append(fields, FieldChange{Field: "managed_by", Old: json.RawMessage("null"), New: to})
			}
			if len(fields) == 0 {
				plan.Unchanged = append(plan.Unchanged, r.Name)
			} else {
				plan.Changed = append(plan.Changed, Change{Name: r.Name, Fields: fields})
			}
		}
	}
	return plan, conflicts
}

// fileColumns are the columns a file (and Apply) sets, in the table's order.
var fileColumns = []string{"func", "queue", "args", "kwargs", "cron", "interval_secs", "timezone",
	"timeout_secs", "result_ttl", "failure_ttl", "meta", "priority", "max_attempts", "paused",
	"catchup", "catchup_window_secs", "overlap", "starts_at", "ends_at", "jitter_secs",
	"remaining_runs", "pause_after_failures", "labels", "start_deadline_secs", "max_runtime_secs",
	"exclude_calendar"}

// fieldChanges reads ApplyPlan's {"column": [old, new]}, in the table's column order.
func fieldChanges(raw []byte) []FieldChange {
	var m map[string][2]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil
	}
	out := make([]FieldChange, 0, len(m))
	for k, v := range m {
		out = append(out, FieldChange{Field: k, Old: v[0], New: v[1]})
	}
	rank := func(f string) int {
		if i := slices.Index(fileColumns, f); i >= 0 {
			return i
		}
		return len(fileColumns)
	}
	slices.SortFunc(out, func(a, b FieldChange) int {
		if d := rank(a.Field) - rank(b.Field); d != 0 {
			return d
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}

// applyError names the schedule and field in the database's refusal of a write, where
// it can: a constraint's row begins with the schedule's name.
func applyError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("apply: %w", err)
	}
	name := ""
	if row, ok := strings.CutPrefix(pgErr.Detail, "Failing row contains ("); ok {
		name, _, _ = strings.Cut(row, ", ")
	}
	if e := dbError(name, err); e != err {
		return fmt.Errorf("apply: nothing was applied: %w", e)
	}
	return fmt.Errorf("apply: nothing was applied: %w", err)
}

// zeroParams sets the fields job.Zero names to zero, where the field itself is zero.
func (job CronJob) zeroParams(p *db.UpsertScheduleParams) error {
	for _, f := range job.Zero {
		switch f {
		case "ResultTTL":
			if job.ResultTTL == 0 {
				p.ResultTtl = ptr(int32(0))
			}
		case "FailureTTL":
			if job.FailureTTL == 0 {
				p.FailureTtl = ptr(int32(0))
			}
		case "Jitter":
			if job.Jitter == 0 {
				p.JitterSecs = ptr(int32(0))
			}
		default:
			return &ValidationError{Name: job.name(), Field: "Zero", Reason: fmt.Sprintf("%q: want ResultTTL, FailureTTL or Jitter", f), Err: ErrInvalid}
		}
	}
	return nil
}

// Check is Validate and also what the table's constraints say of each value alone
// (sizes, ranges, policies, blank text, JSON types, labels) and of StartDeadline
// against Jitter (the deadline must be longer), so that a whole set of
// schedules is checked before any is written, as Apply does. The database's
// constraints stay the final word. Problems are reported as a *ValidationError.
func (job CronJob) Check() error {
	_, err := job.check()
	return err
}

// check is Check, returning the arguments of werk_cron_schedule.
func (job CronJob) check() (db.UpsertScheduleParams, error) {
	p, err := job.params()
	if err != nil {
		return p, err
	}
	name := job.name()
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{Name: name, Field: field, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	for _, t := range []struct {
		field, v string
		set      bool // "" is a value, not "not set"
		max      int
	}{
		{"Name", name, true, 200}, {"Func", job.Func, true, 1024}, {"Queue", job.Queue, false, 58},
		{"Cron", job.Cron, false, 256}, {"Timezone", job.Timezone, false, 64},
		{"ExcludeCalendar", job.ExcludeCalendar, false, 200},
	} {
		switch {
		case !utf8.ValidString(t.v) || containsNUL(t.v):
			return p, bad(t.field, ErrInvalid, "not valid UTF-8 text without NUL")
		case (t.set || t.v != "") && strings.Trim(t.v, " ") == "":
			return p, bad(t.field, ErrInvalid, "must not be blank")
		case len(t.v) > t.max:
			return p, bad(t.field, ErrInvalid, "%d bytes: at most %d", len(t.v), t.max)
		}
	}
	for _, j := range []struct {
		field string
		raw   json.RawMessage
		kind  byte // '[' array, '{' object
	}{{"Args", job.Args, '['}, {"Kwargs", job.Kwargs, '{'}, {"Meta", job.Meta, '{'}} {
		raw := bytes.TrimSpace(j.raw)
		if len(raw) == 0 {
			continue
		}
		if err := jsonb.Check(raw); err != nil {
			return p, bad(j.field, ErrBadJSON, "%v", err)
		}
		if raw[0] != j.kind {
			want := "a JSON array"
			if j.kind == '{' {
				want = "a JSON object"
			}
			return p, bad(j.field, ErrBadJSON, "must be %s", want)
		}
		if len(raw) > 65536 {
			return p, bad(j.field, ErrBadJSON, "%d bytes: at most 64 KB", len(raw))
		}
	}
	if l, _ := labelsJSON(job.Labels); len(l) > 65536 {
		return p, bad("Labels", ErrInvalid, "%d bytes: at most 64 KB", len(l))
	}
	if job.Catchup != "" && !slices.Contains([]string{CatchupNone, CatchupLatest, CatchupAll}, job.Catchup) {
		return p, bad("Catchup", ErrInvalid, "%q: want none, latest or all", job.Catchup)
	}
	if job.Overlap != "" && !slices.Contains([]string{OverlapAllow, OverlapSkip, OverlapBufferOne, OverlapBufferAll}, job.Overlap) {
		return p, bad("Overlap", ErrInvalid, "%q: want allow, skip, buffer_one or buffer_all", job.Overlap)
	}
	for _, n := range []struct {
		field string
		v     int
	}{{"MaxAttempts", job.MaxAttempts}, {"PauseAfterFailures", job.PauseAfterFailures}} {
		if n.v < 0 {
			return p, bad(n.field, ErrInvalid, "%d: must be positive", n.v)
		}
	}
	if job.RemainingRuns != nil && *job.RemainingRuns < 0 {
		return p, bad("RemainingRuns", ErrInvalid, "%d: must not be negative", *job.RemainingRuns)
	}
	if !job.StartsAt.IsZero() && !job.EndsAt.IsZero() && !job.EndsAt.After(job.StartsAt) {
		return p, bad("EndsAt", ErrInvalid, "%s: must be after StartsAt (%s)", job.EndsAt.Format(time.RFC3339), job.StartsAt.Format(time.RFC3339))
	}
	// A job due after its start deadline would never start: the jitter must end first.
	if job.StartDeadline != 0 && job.Jitter >= job.StartDeadline {
		return p, bad("StartDeadline", ErrInvalid, "%d seconds: must be longer than the jitter (%d seconds)",
			job.StartDeadline/time.Second, job.Jitter/time.Second)
	}
	return p, nil
}

// Export returns the schedules owner manages ("" for every schedule), or of those only
// the ones named (none: all), by name, each as the CronJob that Apply (or Register)
// would turn into the same definition: a field at the table's default is zero. So
// applying what Export returns, as the same owner, changes nothing. State is left out:
// Paused, RemainingRuns and what the ticker records. A name that no schedule has (of
// owner's) is an error wrapping ErrNotFound.
func Export(ctx context.Context, pool *pgxpool.Pool, owner string, names ...string) ([]CronJob, error) {
	rows, err := db.New(pool).ExportSchedules(ctx, db.ExportSchedulesParams{Owner: owner, Names: append([]string{}, names...)})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	jobs := make([]CronJob, 0, len(rows))
	found := make(map[string]bool, len(rows))
	for _, r := range rows {
		j := exportedJob(r.WerkCronJob, r.AtDefault)
		found[j.Name] = true
		jobs = append(jobs, j)
	}
	for _, n := range names {
		if !found[n] {
			if owner != "" {
				return nil, fmt.Errorf("export schedule %q of owner %q: %w", n, owner, ErrNotFound)
			}
			return nil, fmt.Errorf("export schedule %q: %w", n, ErrNotFound)
		}
	}
	return jobs, nil
}

// Export is the package's Export on the Scheduler's pool.
func (s *Scheduler) Export(ctx context.Context, owner string, names ...string) ([]CronJob, error) {
	return Export(ctx, s.pool, owner, names...)
}

// exportedJob is the row as a definition: without state, and with the fields whose
// columns are at their default zero.
func exportedJob(r db.WerkCronJob, atDefault []string) CronJob {
	full := fromRow(r)
	j := CronJob{Name: full.Name, Func: full.Func, Queue: full.Queue, Args: full.Args, Kwargs: full.Kwargs,
		Cron: full.Cron, Interval: full.Interval, Timezone: full.Timezone, Timeout: full.Timeout,
		ResultTTL: full.ResultTTL, FailureTTL: full.FailureTTL, Meta: full.Meta, Priority: full.Priority,
		MaxAttempts: full.MaxAttempts, Catchup: full.Catchup, CatchupWindow: full.CatchupWindow,
		Overlap: full.Overlap, StartsAt: full.StartsAt, EndsAt: full.EndsAt, Jitter: full.Jitter,
		PauseAfterFailures: full.PauseAfterFailures, Labels: full.Labels, StartDeadline: full.StartDeadline,
		MaxRuntime: full.MaxRuntime, ExcludeCalendar: full.ExcludeCalendar, ManagedBy: full.ManagedBy}
	v := reflect.ValueOf(&j).Elem()
	for _, col := range atDefault {
		if f, ok := columnFields[col]; ok {
			v.FieldByName(f).SetZero()
		}
	}
	// A zero that is a value of its column (result_ttl = 0), not its default (NULL).
	for _, z := range []struct {
		field string
		col   *int32
	}{{"ResultTTL", r.ResultTtl}, {"FailureTTL", r.FailureTtl}, {"Jitter", r.JitterSecs}} {
		if z.col != nil && *z.col == 0 && !slices.Contains(atDefault, fieldColumns[z.field]) {
			j.Zero = append(j.Zero, z.field)
		}
	}
	return j
}
