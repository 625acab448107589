package scheduler

// The ticker lives in internal/ticker (the loop), internal/leader (the election),
// internal/schedule (the schedule math) and scheduler/cron (cron expressions); this
// file is its public face.

import (
	"context"
	"log/slog"

	"github.com/pgwerk/werkcron/internal/leader"
	"github.com/pgwerk/werkcron/internal/migrate"
	"github.com/pgwerk/werkcron/internal/schedule"
	"github.com/pgwerk/werkcron/internal/ticker"
)

// TickerOptions configure a Ticker; zero values take the defaults.
type TickerOptions = ticker.Options

// TickerStats are a ticker's counters at one instant (Ticker.Stats).
type TickerStats = ticker.Snapshot

// Ticker is the scheduling loop: one dedicated connection that stands by for the
// leader lock and, once it holds it, enqueues every schedule's due ticks. Its zero
// value is not usable: make one with NewTicker (or Scheduler.Ticker).
type Ticker struct{ t *ticker.Ticker }

// NewTicker prepares a ticker for the database at dsn; Run starts it.
func NewTicker(dsn string, opts TickerOptions) (*Ticker, error) {
	t, err := ticker.New(dsn, opts)
	if err != nil {
		return nil, err
	}
	return &Ticker{t}, nil
}

// Run stands by, leads when it gets the leader lock, and survives lost connections and
// database restarts by reconnecting with backoff. It returns nil when ctx is done (after
// releasing the lock, so that a standby takes over at once), and an error only when
// leading is impossible (ErrLockNotSession).
func (t *Ticker) Run(ctx context.Context) error { return t.t.Run(ctx) }

// Stats reads the ticker's counters, safe at any time, Run running or not.
func (t *Ticker) Stats() TickerStats { return t.t.Stats.Snapshot() }

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

// LatenessBuckets are the upper bounds of TickerStats.Lateness's buckets.
var LatenessBuckets = ticker.LatenessBuckets

// ErrLockNotSession: the leader lock was granted, but not to this session (a
// transaction-pooling proxy); the ticker refuses to lead.
var ErrLockNotSession = leader.ErrLockNotSession

// MigrationsTable is where goose records which of werkcron's migrations ran.
const MigrationsTable = migrate.MigrationsTable

// Migrate brings the schema of the database at dsn up to date: werk_cron_jobs,
// werk_cron_ticks, their triggers and views, and pgwerk's werk_jobs if it is missing.
// Several processes may call it at once: exactly one migrates, the others wait and then
// find nothing to do.
func Migrate(ctx context.Context, dsn string, log *slog.Logger) error {
	return migrate.Up(ctx, dsn, log)
}
