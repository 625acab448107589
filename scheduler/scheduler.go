package scheduler

// The Go API: pgwerk's CronScheduler in Go idiom. Every call is one query on the same
// tables and through the same SQL functions as psql users and the CLI (queries/api.sql),
// and the Scheduler keeps no state of its own, so Go programs, the CLI and people at a
// psql prompt always see the same schedules.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/ticker"
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

// RegisterOption changes what Register does with an existing schedule.
type RegisterOption func(*registerOptions)

type registerOptions struct{ applyState bool }

// ApplyState makes Register set Paused (true or false) and RemainingRuns (when not nil)
// of an existing schedule too. Without it, an existing schedule keeps its paused state
// (an operator's pause survives a program that registers its schedules at every start)
// and its remaining runs (a restart does not refill them).
func ApplyState() RegisterOption { return func(o *registerOptions) { o.applyState = true } }

// Register creates the schedule job, or replaces the definition of the schedule with
// the same name: every definition field, a zero field going back to the column's
// default. Paused and RemainingRuns apply to a new schedule; an existing one keeps its
// own unless ApplyState is given. What the ticker recorded (LastTickAt, ...) survives
// a replace, so registering the same definition at every start of a program changes
// nothing, and a changed timing never backfills ticks from before the change. It
// returns the schedule as stored. Invalid fields are reported as a *ValidationError.
func (s *Scheduler) Register(ctx context.Context, job CronJob, opts ...RegisterOption) (CronJob, error) {
	var o registerOptions
	for _, opt := range opts {
		opt(&o)
	}
	p, err := job.params()
	if err != nil {
		return CronJob{}, err
	}
	p.KeepState = !o.applyState
	if o.applyState && p.Paused == nil {
		p.Paused = ptr(false) // applied either way
	}
	row, err := s.q.UpsertSchedule(ctx, p)
	if err != nil {
		return CronJob{}, fmt.Errorf("register schedule %q: %w", p.Name, dbError(p.Name, err))
	}
	return s.stored(ctx, row), nil
}

// Update changes only what c names of the schedule name (werk_cron_alter), and returns
// the schedule as stored. A changed timing never backfills ticks from before the change.
// Invalid values are reported as a *ValidationError; an unknown name wraps ErrNotFound.
func (s *Scheduler) Update(ctx context.Context, name string, c Changes) (CronJob, error) {
	p, err := c.alterParams(name)
	if err != nil {
		return CronJob{}, err
	}
	row, err := s.q.AlterSchedule(ctx, p)
	if err != nil {
		return CronJob{}, fmt.Errorf("update schedule %q: %w", name, dbError(name, err))
	}
	return s.stored(ctx, row), nil
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
	return s.PauseBecause(ctx, name, "")
}

// PauseBecause is Pause with a reason, kept in PausedReason (and the status view)
// until the schedule is resumed.
func (s *Scheduler) PauseBecause(ctx context.Context, name, reason string) error {
	if _, err := s.q.PauseByName(ctx, db.PauseByNameParams{Name: name, Reason: reason}); err != nil {
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
// schedule's own state (LastTickAt, NextRunAt) does not change. It works on a paused
// schedule too.
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
		jobs[i] = withState(fromRow(r.WerkCronJob), r.NextRunAt, r.PlannedAt, r.LastTickAt, r.LastError, r.LastJobID, r.RunsLeft)
	}
	return jobs, nil
}

// Get returns the schedule name; the error wraps ErrNotFound when there is none.
func (s *Scheduler) Get(ctx context.Context, name string) (CronJob, error) {
	r, err := s.q.GetSchedule(ctx, name)
	if err != nil {
		return CronJob{}, nameError("get", name, err)
	}
	return withState(fromRow(r.WerkCronJob), r.NextRunAt, r.PlannedAt, r.LastTickAt, r.LastError, r.LastJobID, r.RunsLeft), nil
}

// stored is the schedule just written, with what the ticker recorded of it (which
// lives in werk_cron_state, beside the definition); if that read fails, or the
// schedule is already gone again, the definition alone.
func (s *Scheduler) stored(ctx context.Context, row db.WerkCronJob) CronJob {
	if r, err := s.q.GetSchedule(ctx, row.Name); err == nil && r.WerkCronJob.UpdatedAt.Equal(row.UpdatedAt) {
		return withState(fromRow(r.WerkCronJob), r.NextRunAt, r.PlannedAt, r.LastTickAt, r.LastError, r.LastJobID, r.RunsLeft)
	}
	return fromRow(row)
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
	t, err := ticker.NewConfig(s.pool.Config().ConnConfig.Copy(), s.opts.Ticker)
	if err != nil {
		return nil, err
	}
	s.ticker = &Ticker{t}
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

// GrantApp returns the GRANT statements that give role what an application needs to
// manage schedules, ask for backfills and trigger runs through werkcron, and nothing
// that writes the ledger, a backfill's progress or the ticker's columns (see
// werk_cron_grant_app); with apply it also runs them, as the owner of werkcron's tables.
func (s *Scheduler) GrantApp(ctx context.Context, role string, apply bool) ([]string, error) {
	stmts, err := s.q.GrantApp(ctx, db.GrantAppParams{Role: role, Apply: apply})
	if err != nil {
		return nil, fmt.Errorf("grant an application's rights to role %q: %w", role, err)
	}
	return stmts, nil
}

// nameError wraps err of an operation on the schedule name, turning "no such schedule"
// (from the SQL functions, or no row) into ErrNotFound.
func nameError(op, name string, err error) error {
	if e := dbError(name, err); errors.Is(e, ErrNotFound) {
		return fmt.Errorf("%s schedule %q: %w", op, name, ErrNotFound)
	}
	return fmt.Errorf("%s schedule %q: %w", op, name, err)
}
