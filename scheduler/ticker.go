package scheduler

// The ticker lives in internal/ticker (the loop), internal/leader (the election) and
// scheduler/cron (the schedule math); these names keep it reachable from this package.

import (
	"context"
	"log/slog"

	"github.com/pgwerk/werkcron/internal/leader"
	"github.com/pgwerk/werkcron/internal/migrate"
	"github.com/pgwerk/werkcron/internal/schedule"
	"github.com/pgwerk/werkcron/internal/ticker"
	"github.com/pgwerk/werkcron/scheduler/cron"
)

type (
	// Ticker is the scheduling loop: one dedicated connection that stands by for the
	// leader lock and, once it holds it, enqueues every schedule's due ticks.
	Ticker = ticker.Ticker
	// TickerOptions configure a Ticker; zero values take the defaults.
	TickerOptions = ticker.Options
	// Stats are a ticker's counters since it started.
	Stats = ticker.Stats
	// Histogram counts durations into LatenessBuckets.
	Histogram = ticker.Histogram
)

// Defaults of TickerOptions.
const (
	DefaultStandbyRetry = ticker.DefaultStandbyRetry
	DefaultMisfireGrace = ticker.DefaultMisfireGrace
	DefaultHeartbeat    = ticker.DefaultHeartbeat
	DefaultRetention    = ticker.DefaultRetention
	DefaultParallel     = ticker.DefaultParallel
)

// Roles a ticker reports through TickerOptions.OnRole.
const (
	RoleStandby = ticker.RoleStandby
	RolePrimary = ticker.RolePrimary
	RoleStopped = ticker.RoleStopped
)

// Catch-up policies (CronJob.Catchup, werk_cron_jobs.catchup).
const (
	CatchupNone   = schedule.CatchupNone   // only ticks at most the misfire grace late
	CatchupLatest = schedule.CatchupLatest // only the newest pending tick
	CatchupAll    = schedule.CatchupAll    // every pending tick, oldest first
)

// MaxCatchupAll bounds what catchup = 'all' enqueues after one outage when the schedule
// sets no catchup_window_secs: the newest this many pending ticks; older ones are
// recorded missed.
const MaxCatchupAll = schedule.MaxCatchupAll

// LatenessBuckets are the upper bounds of Histogram's buckets.
var LatenessBuckets = ticker.LatenessBuckets

// ErrLockNotSession: the leader lock was granted, but not to this session (a
// transaction-pooling proxy); the ticker refuses to lead.
var ErrLockNotSession = leader.ErrLockNotSession

// NewTicker prepares a ticker for the database at dsn; Run starts it.
func NewTicker(dsn string, opts TickerOptions) (*Ticker, error) { return ticker.New(dsn, opts) }

// Cron expressions, kept here under their first names; new code uses package cron.
type (
	// Cron is cron.Expr.
	Cron = cron.Expr
	// CronError is cron.Error.
	CronError = cron.Error
	// Schedule is cron.Schedule.
	Schedule = cron.Schedule
	// Interval is cron.Interval.
	Interval = cron.Interval
)

// ErrBadCron is cron.ErrInvalid; ErrNeverFires is cron.ErrNeverFires.
var (
	ErrBadCron    = cron.ErrInvalid
	ErrNeverFires = cron.ErrNeverFires
)

// ParseCron is cron.Parse.
var ParseCron = cron.Parse

// MigrationsTable is where goose records which of werkcron's migrations ran.
const MigrationsTable = migrate.MigrationsTable

// Migrate brings the schema of the database at dsn up to date: werk_cron_jobs,
// werk_cron_ticks, their triggers and views, and pgwerk's werk_jobs if it is missing.
// Several processes may call it at once: exactly one migrates, the others wait and then
// find nothing to do.
func Migrate(ctx context.Context, dsn string, log *slog.Logger) error {
	return migrate.Up(ctx, dsn, log)
}
