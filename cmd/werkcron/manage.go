package main

// The management verbs: thin wrappers over the Go API (scheduler.Scheduler), which
// runs the same sqlc queries as everything else. Tables for people, --json for scripts.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/scheduler"
)

// connectTimeout bounds how long a management verb waits for the database.
const connectTimeout = 10 * time.Second

// openScheduler returns a Scheduler on a small pool to e.dsn, which connects on first
// use; appName is what pg_stat_activity shows for it, and lockTimeout, when not zero,
// bounds how long its statements wait for a lock.
func (e *env) openScheduler(ctx context.Context, appName string, lockTimeout time.Duration) (*scheduler.Scheduler, func(), error) {
	cfg, err := pgxpool.ParseConfig(e.dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("bad connection string: %v: %w", err, errUsage)
	}
	cfg.MaxConns = 2
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	if lockTimeout > 0 {
		// Set once connected rather than as a startup parameter, which poolers such as
		// PgBouncer refuse.
		cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			return db.New(conn).SetLockTimeout(ctx, fmt.Sprintf("%dms", lockTimeout.Milliseconds()))
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	e.pool = pool
	return scheduler.New(pool, scheduler.Options{}), pool.Close, nil
}

// dbVerb parses a management verb's flags (plus --dsn, --log-format and, when
// jsonFlag, --json), checks the number of positional arguments, and opens the
// Scheduler. want < 0: any number.
func (e *env) dbVerb(ctx context.Context, fs *flag.FlagSet, args []string, want int, what string) (*scheduler.Scheduler, []string, func(), error) {
	setup := e.dbFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if want >= 0 && len(pos) != want {
		return nil, nil, nil, fmt.Errorf("want %s, got %d arguments: %w", what, len(pos), errUsage)
	}
	if err := setup(); err != nil {
		return nil, nil, nil, err
	}
	s, done, err := e.openScheduler(ctx, "werkcron cli", 0)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, pos, done, nil
}

// jobJSON is a schedule as --json prints it: werk_cron_jobs's column names, so that a
// script reads the same names from the CLI as from SQL.
type jobJSON struct {
	Name               string          `json:"name"`
	State              string          `json:"state,omitempty"`
	Func               string          `json:"func"`
	Queue              string          `json:"queue"`
	Args               json.RawMessage `json:"args"`
	Kwargs             json.RawMessage `json:"kwargs"`
	Cron               *string         `json:"cron"`
	IntervalSecs       *int64          `json:"interval_secs"`
	Timezone           string          `json:"timezone"`
	TimeoutSecs        *int64          `json:"timeout_secs"`
	ResultTTL          *int64          `json:"result_ttl"`
	FailureTTL         *int64          `json:"failure_ttl"`
	Meta               json.RawMessage `json:"meta"`
	Priority           int             `json:"priority"`
	MaxAttempts        int             `json:"max_attempts"`
	Paused             bool            `json:"paused"`
	PausedReason       *string         `json:"paused_reason"`
	Catchup            string          `json:"catchup"`
	CatchupWindowSecs  *int64          `json:"catchup_window_secs"`
	Overlap            string          `json:"overlap"`
	StartsAt           *time.Time      `json:"starts_at"`
	EndsAt             *time.Time      `json:"ends_at"`
	JitterSecs         *int64          `json:"jitter_secs"`
	RemainingRuns      *int            `json:"remaining_runs"`
	PauseAfterFailures *int            `json:"pause_after_failures"`
	StartDeadlineSecs  *int64          `json:"start_deadline_secs"`
	MaxRuntimeSecs     *int64          `json:"max_runtime_secs"`
	ExcludeCalendar    *string         `json:"exclude_calendar"`
	NextRunAt          *time.Time      `json:"next_run_at"`
	PlannedAt          *time.Time      `json:"planned_at"`
	LastTickAt         *time.Time      `json:"last_tick_at"`
	LastJobID          *uuid.UUID      `json:"last_job_id"`
	LastError          *string         `json:"last_error"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	ChangedAt          time.Time       `json:"changed_at"`
	// show adds the schedule's health (werk_cron_status).
	Health      string     `json:"health,omitempty"`
	HealthSince *time.Time `json:"health_since,omitempty"`

	// Last: the labels, and the owner that keeps the schedule in a file.
	Labels    map[string]string `json:"labels"`
	ManagedBy *string           `json:"managed_by"`
}

// secs is d in whole seconds for JSON; nil (null) for none.
func secs(d time.Duration) *int64 {
	if d == 0 {
		return nil
	}
	v := int64(d / time.Second)
	return &v
}

func toJSON(j scheduler.CronJob) jobJSON {
	tp := timePtr
	out := jobJSON{
		Name: j.Name, Func: j.Func, Queue: j.Queue, Args: j.Args, Kwargs: j.Kwargs,
		IntervalSecs: secs(j.Interval), Timezone: j.Timezone, TimeoutSecs: secs(j.Timeout),
		ResultTTL: secs(j.ResultTTL), FailureTTL: secs(j.FailureTTL), Meta: j.Meta,
		Priority: j.Priority, MaxAttempts: j.MaxAttempts, Paused: j.Paused, Catchup: j.Catchup,
		CatchupWindowSecs: secs(j.CatchupWindow), Overlap: j.Overlap, StartsAt: tp(j.StartsAt),
		EndsAt: tp(j.EndsAt), NextRunAt: tp(j.NextRunAt), LastTickAt: tp(j.LastTickAt),
		PausedReason: strPtr(j.PausedReason), JitterSecs: secs(j.Jitter), RemainingRuns: j.RemainingRuns,
		PlannedAt: tp(j.PlannedAt), StartDeadlineSecs: secs(j.StartDeadline), MaxRuntimeSecs: secs(j.MaxRuntime),
		ExcludeCalendar: strPtr(j.ExcludeCalendar),
		CreatedAt:       j.CreatedAt, UpdatedAt: j.UpdatedAt, ChangedAt: j.ChangedAt,
		Labels: labelsOrEmpty(j.Labels), ManagedBy: strPtr(j.ManagedBy),
	}
	if j.Cron != "" {
		out.Cron = &j.Cron
	}
	if j.LastJobID != (uuid.UUID{}) {
		out.LastJobID = &j.LastJobID
	}
	if j.PauseAfterFailures != 0 {
		out.PauseAfterFailures = &j.PauseAfterFailures
	}
	if j.LastError != "" {
		out.LastError = &j.LastError
	}
	if out.Meta == nil {
		out.Meta = json.RawMessage("null")
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// ts formats an instant for a table: UTC, seconds, "-" for none.
func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// human formats a duration the way a person reads it at a glance: 3d4h, 2h5m, 4m10s,
// 42s, 1.5s, 120ms.
func human(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d < time.Second:
		return neg + d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return neg + d.Round(100*time.Millisecond).String()
	case d < time.Minute:
		return neg + d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%s%dm%ds", neg, d/time.Minute, d%time.Minute/time.Second)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%s%dh%dm", neg, d/time.Hour, d%time.Hour/time.Minute)
	default:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%s%dd%dh", neg, d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// scheduleText is how a schedule reads in a table.
func scheduleText(j scheduler.CronJob) string {
	if j.Cron != "" {
		return j.Cron
	}
	return "every " + durText(j.Interval)
}

// durText is d without trailing zero units: 1h, 10m, 1h30m, 90s reads 1m30s.
func durText(d time.Duration) string {
	s := d.String()
	s, _ = strings.CutSuffix(s, "m0s")
	if strings.HasSuffix(d.String(), "m0s") {
		s += "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// statusJSON is a werk_cron_status row as --json prints it: the view's column names,
// null for no instant, next_in in seconds.
type statusJSON struct {
	Name          string     `json:"name"`
	State         string     `json:"state"`
	Schedule      string     `json:"schedule"`
	Timezone      string     `json:"timezone"`
	Func          string     `json:"func"`
	Queue         string     `json:"queue"`
	NextRunAt     *time.Time `json:"next_run_at"`
	NextInSecs    *float64   `json:"next_in_secs"`
	LastTickAt    *time.Time `json:"last_tick_at"`
	LastJobStatus *string    `json:"last_job_status"`
	LastError     *string    `json:"last_error"`
	PausedReason  *string    `json:"paused_reason"`
	// The outcome columns of werk_cron_status.
	LastRunStatus       *string    `json:"last_run_status"`
	LastRunFinishedAt   *time.Time `json:"last_run_finished_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Failures24h         int        `json:"failures_24h"`
	// The policy columns.
	Overlap           string  `json:"overlap"`
	JitterSecs        *int64  `json:"jitter_secs"`
	RemainingRuns     *int    `json:"remaining_runs"`
	StartDeadlineSecs *int64  `json:"start_deadline_secs"`
	MaxRuntimeSecs    *int64  `json:"max_runtime_secs"`
	ExcludeCalendar   *string `json:"exclude_calendar"`
	// Health, and since when.
	Health      string    `json:"health"`
	HealthSince time.Time `json:"health_since"`
	// The last columns: labels and the owner.
	Labels    map[string]string `json:"labels"`
	ManagedBy *string           `json:"managed_by"`
}

func statusRows(rows []scheduler.ScheduleStatus) []statusJSON {
	out := make([]statusJSON, len(rows))
	for i, r := range rows {
		o := statusJSON{Name: r.Name, State: r.State, Schedule: r.Schedule, Timezone: r.Timezone,
			Func: r.Func, Queue: r.Queue, NextRunAt: timePtr(r.NextRunAt), LastTickAt: timePtr(r.LastTickAt),
			LastJobStatus: strPtr(r.LastJobStatus), LastError: strPtr(r.LastError), PausedReason: strPtr(r.PausedReason),
			LastRunStatus: strPtr(r.LastRunStatus), LastRunFinishedAt: timePtr(r.LastRunFinishedAt),
			ConsecutiveFailures: r.ConsecutiveFailures, Failures24h: r.Failures24h,
			Overlap: r.Overlap, JitterSecs: secs(r.Jitter), RemainingRuns: r.RemainingRuns,
			StartDeadlineSecs: secs(r.StartDeadline), MaxRuntimeSecs: secs(r.MaxRuntime), ExcludeCalendar: strPtr(r.ExcludeCalendar),
			Health: r.Health, HealthSince: r.HealthSince, Labels: labelsOrEmpty(r.Labels), ManagedBy: strPtr(r.ManagedBy)}
		if o.NextRunAt != nil {
			secs := r.NextIn.Seconds()
			o.NextInSecs = &secs
		}
		out[i] = o
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// printJob prints one schedule as aligned "field  value" lines, with its health when st
// is not nil.
func printJob(w io.Writer, j scheduler.CronJob, st *scheduler.ScheduleStatus) error {
	tw := newTable(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, clean(v)) }
	dur := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return durText(d)
	}
	row("name", j.Name)
	if st != nil {
		row("health", fmt.Sprintf("%s since %s", st.Health, ts(st.HealthSince)))
	}
	row("func", j.Func)
	row("queue", j.Queue)
	row("schedule", scheduleText(j))
	row("timezone", j.Timezone)
	row("args", string(j.Args))
	row("kwargs", string(j.Kwargs))
	row("meta", dash(string(j.Meta)))
	row("timeout", dur(j.Timeout))
	row("result ttl", dur(j.ResultTTL))
	row("failure ttl", dur(j.FailureTTL))
	row("priority", fmt.Sprint(j.Priority))
	row("max attempts", fmt.Sprint(j.MaxAttempts))
	row("paused", fmt.Sprint(j.Paused))
	if j.Paused {
		row("paused because", dash(j.PausedReason))
	}
	row("catchup", j.Catchup)
	row("catchup window", dur(j.CatchupWindow))
	row("overlap", j.Overlap)
	row("jitter", dur(j.Jitter))
	remaining := "unlimited"
	if j.RemainingRuns != nil {
		remaining = fmt.Sprint(*j.RemainingRuns)
	}
	row("remaining runs", remaining)
	pauseAfter := "never"
	if j.PauseAfterFailures > 0 {
		pauseAfter = fmt.Sprintf("%d failures in a row", j.PauseAfterFailures)
	}
	row("pause after", pauseAfter)
	row("start deadline", dur(j.StartDeadline))
	row("max runtime", dur(j.MaxRuntime))
	row("exclude calendar", dash(j.ExcludeCalendar))
	row("starts at", ts(j.StartsAt))
	row("ends at", ts(j.EndsAt))
	row("next run", ts(j.NextRunAt))
	row("planned", ts(j.PlannedAt))
	row("last tick", ts(j.LastTickAt))
	lastJob := "-"
	if j.LastJobID != (uuid.UUID{}) {
		lastJob = j.LastJobID.String()
	}
	row("last job", lastJob)
	row("last error", dash(j.LastError))
	row("updated", ts(j.UpdatedAt))
	row("labels", labelsText(j.Labels))
	row("managed by", or(j.ManagedBy, "- (written by hand)"))
	return tw.Flush()
}

// labelsOrEmpty is labels for JSON: {} rather than null for none, as the column is.
func labelsOrEmpty(l map[string]string) map[string]string {
	if l == nil {
		return map[string]string{}
	}
	return l
}

// labelsText is labels for a table: team=billing,tenant=42; "-" for none.
func labelsText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + l[k]
	}
	return dash(strings.Join(keys, ","))
}

func cmdLs(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ls", "[--label KEY=VALUE ...] [--json]", `
Lists every schedule with its state (active, paused, error, ended, unplanned), its
health (ok, failing, late, overdue, paused, error, ended), schedule, zone, next run
and how soon, last tick, how its last run ended, the policies that shape what it
enqueues (overlap other than allow, jitter, runs left, start deadline, run-time limit,
the calendar whose days it skips), and why it cannot run or is paused (from the
werk_cron_status view). --label lists only the schedules that carry the label; given
more than once, all of them.

Examples:
  werkcron ls
  werkcron ls --label tenant=42 --label team=billing
  werkcron ls --json | jq -r '.[] | select(.health == "late") | .name'`)
	asJSON := fs.Bool("json", false, "print JSON (an array of werk_cron_status rows)")
	var labels map[string]string
	fs.Func("label", "only schedules with the label `KEY=VALUE` (may be repeated: all of them)", func(v string) error {
		return addLabel(&labels, v)
	})
	s, _, done, err := e.dbVerb(ctx, fs, args, 0, "no arguments")
	if err != nil {
		return err
	}
	defer done()
	var st scheduler.Status
	if labels != nil {
		st.Schedules, err = s.StatusByLabels(ctx, labels)
	} else {
		st, err = s.Status(ctx)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, statusRows(st.Schedules))
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "NAME\tSTATE\tHEALTH\tSCHEDULE\tTZ\tNEXT RUN\tIN\tLAST TICK\tLAST RUN\tPOLICY\tNOTE")
	for _, r := range st.Schedules {
		in := "-"
		if !r.NextRunAt.IsZero() {
			in = human(r.NextIn)
		}
		// NOTE: why it is in error, or why it is paused.
		note := r.LastError
		if note == "" && r.PausedReason != "" {
			note = "paused: " + r.PausedReason
		}
		// LAST RUN: how the newest finished run ended, and failures in a row.
		lastRun := r.LastRunStatus
		if r.ConsecutiveFailures > 1 {
			lastRun = fmt.Sprintf("%s (%d in a row)", lastRun, r.ConsecutiveFailures)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(r.Name), r.State, r.Health, clean(r.Schedule), clean(r.Timezone),
			ts(r.NextRunAt), in, ts(r.LastTickAt), dash(lastRun), dash(policy(r)), dash(clean(oneLine(note, 60))))
	}
	return tw.Flush()
}

// policy sums up what shapes a schedule's jobs beyond its timing, leaving out defaults:
// "buffer_one, jitter 30s, 3 runs left, deadline 5m, max runtime 1h, skips holidays".
func policy(r scheduler.ScheduleStatus) string {
	var p []string
	if r.Overlap != "" && r.Overlap != scheduler.OverlapAllow {
		p = append(p, r.Overlap)
	}
	if r.Jitter > 0 {
		p = append(p, "jitter "+durText(r.Jitter))
	}
	if r.RemainingRuns != nil {
		p = append(p, fmt.Sprintf("%d runs left", *r.RemainingRuns))
	}
	if r.StartDeadline > 0 {
		p = append(p, "deadline "+durText(r.StartDeadline))
	}
	if r.MaxRuntime > 0 {
		p = append(p, "max runtime "+durText(r.MaxRuntime))
	}
	if r.ExcludeCalendar != "" {
		p = append(p, "skips "+clean(r.ExcludeCalendar))
	}
	return strings.Join(p, ", ")
}

// clean makes a value from the database safe to print on a terminal: anything not
// printable (control characters such as ESC, which would drive the terminal; tabs and
// newlines, which would break the table; Unicode format characters such as bidi
// overrides, which reorder what is shown) makes it print quoted, with escapes.
// --json output needs no such care: JSON escapes them.
func clean(s string) string {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// oneLine shortens s to n runes on one line, for a table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func cmdShow(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "show", "NAME [--json]", `
Prints every field of the schedule NAME, its health and since when, and what the
ticker last recorded for it.

Example:
  werkcron show daily-report --json`)
	asJSON := fs.Bool("json", false, "print JSON (the werk_cron_jobs row, with health and health_since)")
	s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one schedule NAME")
	if err != nil {
		return err
	}
	defer done()
	j, err := s.Get(ctx, pos[0])
	if err != nil {
		return notFound(err, pos[0])
	}
	st, err := s.StatusOf(ctx, pos[0])
	if err != nil {
		return notFound(err, pos[0])
	}
	if *asJSON {
		out := toJSON(j)
		out.Health, out.HealthSince = st.Health, &st.HealthSince
		return writeJSON(e.stdout, out)
	}
	return printJob(e.stdout, j, &st)
}

// notFound shortens "get schedule "x": no such schedule" for the CLI.
func notFound(err error, name string) error {
	if errors.Is(err, scheduler.ErrNotFound) {
		return fmt.Errorf("schedule %q: no such schedule (see werkcron ls)", name)
	}
	return err
}

// nameVerb builds pause, resume and rm: one NAME, one API call, a one-line report.
func nameVerb(name, help string, op func(s *scheduler.Scheduler, ctx context.Context, name string) error, did string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, name, "NAME [--json]", help)
		asJSON := fs.Bool("json", false, `print JSON: {"name": ..., "`+did+`": true}`)
		s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one schedule NAME")
		if err != nil {
			return err
		}
		defer done()
		if err := op(s, ctx, pos[0]); err != nil {
			return notFound(err, pos[0])
		}
		if *asJSON {
			return writeJSON(e.stdout, map[string]any{"name": pos[0], did: true})
		}
		fmt.Fprintf(e.stdout, "%s %s\n", did, pos[0])
		return nil
	}
}

var (
	cmdResume = nameVerb("resume", `
Resumes the schedule NAME from now on: ticks that fell into the pause are never
backfilled. Resuming a running schedule is not an error.

Example:
  werkcron resume daily-report`, (*scheduler.Scheduler).Resume, "resumed")
	cmdRm = nameVerb("rm", `
Deletes the schedule NAME. Jobs it enqueued stay in werk_jobs; its tick history stays
until the ticker prunes it.

Example:
  werkcron rm daily-report`, (*scheduler.Scheduler).Unregister, "removed")
)

func cmdPause(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "pause", "NAME [--reason TEXT] [--json]", `
Pauses the schedule NAME: it stays registered but enqueues nothing until resumed. The
reason, if given, is kept (werkcron show, ls, werk_cron_status) until the resume.
Pausing a paused schedule is not an error (a new reason replaces the old one).

Example:
  werkcron pause daily-report --reason 'the reports database is being migrated'`)
	reason := fs.String("reason", "", "why, for whoever looks next")
	asJSON := fs.Bool("json", false, `print JSON: {"name": ..., "paused": true}`)
	s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one schedule NAME")
	if err != nil {
		return err
	}
	defer done()
	if err := s.PauseBecause(ctx, pos[0], *reason); err != nil {
		return notFound(err, pos[0])
	}
	if *asJSON {
		return writeJSON(e.stdout, map[string]any{"name": pos[0], "paused": true})
	}
	fmt.Fprintf(e.stdout, "paused %s\n", pos[0])
	return nil
}

func cmdTrigger(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "trigger", "NAME [--json]", `
Enqueues one job of the schedule NAME now, outside its schedule, and prints the job's
id. Its key is cron:NAME:manual:<id>, apart from the ticks' keys; the schedule's next
tick comes as planned. Works on a paused schedule too.

Example:
  werkcron trigger daily-report`)
	asJSON := fs.Bool("json", false, `print JSON: {"name": ..., "job_id": ...}`)
	s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one schedule NAME")
	if err != nil {
		return err
	}
	defer done()
	id, err := s.Trigger(ctx, pos[0])
	if err != nil {
		return notFound(err, pos[0])
	}
	if *asJSON {
		return writeJSON(e.stdout, map[string]any{"name": pos[0], "job_id": id})
	}
	fmt.Fprintln(e.stdout, id)
	return nil
}

func cmdHistory(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "history", "NAME [-n N] [--json]", `
Prints the newest ticks of the schedule NAME from werk_cron_ticks, newest first: the
tick, what was decided (enqueued, duplicate, foreign, skipped_overlap, missed; excluded
for a day of its calendar; triggered for a manual run, backfilled for a tick enqueued by
werkcron backfill), how late that was, and for a tick that got a job how the job ended
(complete, failed, aborted; expired when not started by its start deadline; "-" while
it waits or runs), how long it ran, its attempts and the first line of its error. The
ledger keeps outcomes after pgwerk deletes the jobs. --json prints everything, the
job's id and whole error too.

Example:
  werkcron history daily-report -n 5`)
	n := fs.Int("n", 20, "how many ticks")
	asJSON := fs.Bool("json", false, "print JSON (an array of werk_cron_ticks rows)")
	s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one schedule NAME")
	if err != nil {
		return err
	}
	defer done()
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1: %w", *n, errUsage)
	}
	ticks, err := s.History(ctx, pos[0], *n)
	if err != nil {
		return err
	}
	if len(ticks) == 0 {
		if ok, err := s.Has(ctx, pos[0]); err != nil {
			return err
		} else if !ok {
			return notFound(scheduler.ErrNotFound, pos[0])
		}
	}
	if *asJSON {
		return writeJSON(e.stdout, ticks)
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "TICK\tDECIDED\tLATE\tRESULT\tTOOK\tATTEMPTS\tERROR")
	for _, t := range ticks {
		decided := t.Outcome
		if t.Ticks > 1 {
			decided = fmt.Sprintf("%s (%d ticks)", t.Outcome, t.Ticks)
		}
		took, attempts := "-", "-"
		if d := t.Duration(); d > 0 {
			took = human(d)
		}
		if t.JobAttempts > 0 {
			attempts = fmt.Sprint(t.JobAttempts)
		}
		firstLine, _, _ := strings.Cut(t.JobError, "\n")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ts(t.At), decided, human(t.DecidedAt.Sub(t.At)),
			dash(t.JobStatus), took, attempts, dash(clean(oneLine(firstLine, 80))))
	}
	return tw.Flush()
}

// overdueAfter: an active schedule whose next run is this far in the past has a
// ticker problem (none running, or one stuck), not just a busy moment.
const overdueAfter = 5 * time.Second

func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "[--check] [--json]", `
Prints the running tickers (which one is primary, since when, the standbys), the
newest tick and how late it was decided, schedules by state and by health, schedules
behind (past their next run by more than 5s: is a ticker running?), schedules in
error, and schedules that did not do their job: failing (the last run failed), late
(the newest tick's job was not started by its start deadline) or overdue (a run active
longer than its max runtime).

With --check it prints only those failing, late or overdue, and exits 1 when there is
one (0 when there is none), for monitoring and CI.

Examples:
  werkcron status
  werkcron status --check || notify-oncall`)
	asJSON := fs.Bool("json", false, "print JSON")
	check := fs.Bool("check", false, "print the schedules failing, late or overdue; exit 1 when there is one")
	s, _, done, err := e.dbVerb(ctx, fs, args, 0, "no arguments")
	if err != nil {
		return err
	}
	defer done()
	if *check {
		return statusCheck(ctx, e, s, *asJSON)
	}
	st, err := s.Status(ctx)
	if err != nil {
		return err
	}
	states, health := map[string]int{}, map[string]int{}
	var overdue, failing, unhealthy []scheduler.ScheduleStatus
	for _, r := range st.Schedules {
		states[r.State]++
		health[r.Health]++
		if isUnhealthy(r.Health) {
			unhealthy = append(unhealthy, r)
		}
		if r.State == "active" && !r.NextRunAt.IsZero() && st.Now.Sub(r.NextRunAt) > overdueAfter {
			overdue = append(overdue, r)
		}
		if r.State == "error" {
			failing = append(failing, r)
		}
	}
	if *asJSON {
		o := struct {
			Now       time.Time            `json:"now"`
			Primary   *scheduler.Instance  `json:"primary"`
			Standbys  []scheduler.Instance `json:"standbys"`
			Others    []scheduler.Instance `json:"not_tickers"`
			Newest    *scheduler.Tick      `json:"newest_tick"`
			LagSecs   *float64             `json:"newest_tick_lag_secs"`
			Count     int                  `json:"schedule_count"`
			States    map[string]int       `json:"schedules_by_state"`
			Health    map[string]int       `json:"schedules_by_health"`
			Overdue   []statusJSON         `json:"overdue"`
			InError   []statusJSON         `json:"in_error"`
			Unhealthy []statusJSON         `json:"failing_late_overdue"`
			Schedules []statusJSON         `json:"schedules"`
		}{Now: st.Now, Standbys: []scheduler.Instance{}, Others: []scheduler.Instance{}, Newest: st.NewestTick, Count: len(st.Schedules),
			States: states, Health: health, Overdue: statusRows(overdue), InError: statusRows(failing),
			Unhealthy: statusRows(unhealthy), Schedules: statusRows(st.Schedules)}
		if st.NewestTick != nil {
			lag := st.Lag.Seconds()
			o.LagSecs = &lag
		}
		for i, in := range st.Instances {
			switch in.Role {
			case scheduler.RolePrimary:
				o.Primary = &st.Instances[i]
			case scheduler.RoleStandby:
				o.Standbys = append(o.Standbys, in)
			default: // a session holding a ticker's lock without a ticker's rights
				o.Others = append(o.Others, in)
			}
		}
		return writeJSON(e.stdout, o)
	}

	tw := newTable(e.stdout)
	if len(st.Instances) == 0 {
		fmt.Fprintln(tw, "tickers\tnone running: nothing is being enqueued")
	}
	for _, in := range st.Instances {
		since := "-"
		if !in.Since.IsZero() {
			since = fmt.Sprintf("%s (%s)", ts(in.Since), human(st.Now.Sub(in.Since)))
		}
		fmt.Fprintf(tw, "%s\tpid %d, %s, role %s, since %s\n", in.Role, in.PID, dash(clean(in.ApplicationName)), dash(clean(in.User)), since)
	}
	if t := st.NewestTick; t != nil {
		fmt.Fprintf(tw, "newest tick\t%s at %s, %s, decided %s late\n", clean(t.Name), ts(t.At), t.Outcome, human(st.Lag))
	} else {
		fmt.Fprintln(tw, "newest tick\tnone yet")
	}
	var parts []string
	for _, k := range []string{"active", "unplanned", "paused", "ended", "error"} {
		if states[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", states[k], k))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	fmt.Fprintf(tw, "schedules\t%s\n", strings.Join(parts, ", "))
	parts = nil
	for _, k := range []string{scheduler.HealthOK, scheduler.HealthFailing, scheduler.HealthLate, scheduler.HealthOverdue,
		scheduler.HealthPaused, scheduler.HealthError, scheduler.HealthEnded} {
		if health[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", health[k], k))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(tw, "health\t%s\n", strings.Join(parts, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(overdue) > 0 {
		fmt.Fprintf(e.stdout, "\nbehind (next run more than %s ago):\n", overdueAfter)
		tw = newTable(e.stdout)
		for _, r := range overdue {
			fmt.Fprintf(tw, "  %s\t%s\t%s late\n", clean(r.Name), ts(r.NextRunAt), human(st.Now.Sub(r.NextRunAt)))
		}
		tw.Flush()
	}
	if len(failing) > 0 {
		fmt.Fprintln(e.stdout, "\nin error:")
		tw = newTable(e.stdout)
		for _, r := range failing {
			fmt.Fprintf(tw, "  %s\t%s\n", clean(r.Name), clean(oneLine(r.LastError, 120)))
		}
		tw.Flush()
	}
	if len(unhealthy) > 0 {
		fmt.Fprintln(e.stdout, "\nfailing, late or overdue:")
		printUnhealthy(e.stdout, st.Now, unhealthy, "  ")
	}
	return nil
}

// isUnhealthy: the healths that mean a schedule did not do its job.
func isUnhealthy(health string) bool {
	return health == scheduler.HealthFailing || health == scheduler.HealthLate || health == scheduler.HealthOverdue
}

// statusCheck is status --check: the schedules failing, late or overdue, and exit 1
// when there is one.
func statusCheck(ctx context.Context, e *env, s *scheduler.Scheduler, asJSON bool) error {
	bad, err := s.Unhealthy(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(e.stdout, map[string]any{"ok": len(bad) == 0, "schedules": statusRows(bad)}); err != nil {
			return err
		}
	} else if len(bad) == 0 {
		fmt.Fprintln(e.stdout, "ok: no schedule is failing, late or overdue")
	} else {
		printUnhealthy(e.stdout, time.Now(), bad, "")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d %s failing, late or overdue", len(bad), plural(len(bad), "schedule is", "schedules are"))
	}
	return nil
}

// printUnhealthy lists schedules failing, late or overdue: name, health, since when, and
// what it is about.
func printUnhealthy(w io.Writer, now time.Time, rows []scheduler.ScheduleStatus, indent string) {
	tw := newTable(w)
	for _, r := range rows {
		var why string
		switch r.Health {
		case scheduler.HealthFailing:
			why = "the last run failed"
			if r.ConsecutiveFailures > 1 {
				why = fmt.Sprintf("the last %d runs failed", r.ConsecutiveFailures)
			}
		case scheduler.HealthLate:
			why = "the newest tick's job was not started within its start deadline (" + durText(r.StartDeadline) + ")"
		case scheduler.HealthOverdue:
			why = "a run has been active longer than its max runtime (" + durText(r.MaxRuntime) + ")"
		}
		fmt.Fprintf(tw, "%s%s\t%s\tsince %s (%s)\t%s\n", indent, clean(r.Name), r.Health, ts(r.HealthSince),
			human(now.Sub(r.HealthSince)), why)
	}
	tw.Flush()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func cmdGrant(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "grant", "ROLE [--app] [--apply]", `
Prints the GRANT statements that let ROLE do one job and nothing more.

A ticker (the default): read the schedules and write only the ticker's own columns of
werk_cron_jobs (next_run_at, planned_at, last_tick_at, last_job_id, last_error,
remaining_runs); insert jobs and read only the columns of werk_jobs a tick looks at;
keep the tick ledger, the hold-ups and the backfill requests' progress; read the views,
the calendars and the outcome counters; run werkcron's functions (the election, pausing
a schedule for its failures, looking at its health). No DDL, no deletes of jobs, no
edits of definitions or calendars. The ticker then runs as ROLE with --no-migrate.

An application (--app): write schedules' definitions (werk_cron_jobs, and
werk_cron_schedule, werk_cron_alter, werk_cron_pause, werk_cron_resume,
werk_cron_unschedule) and the holiday calendars (werk_cron_calendars), ask for backfills
(werk_cron_backfill) and trigger runs (werk_cron_trigger, with INSERT on werk_jobs,
which a pgwerk producer holds anyway), read the ledger, the backfill requests and the
views. Nothing that writes the ledger, a backfill's progress, the ticker's columns or a
schedule's health: it cannot forge a run's outcome or suppress a tick.

With --apply it also runs them (as the owner of the tables, after 'werkcron migrate').
The statements name this installation's schema. ROLE must exist; PUBLIC is refused. Run
it again after every upgrade: a migration may add tables or functions.

Example:
  DATABASE_URL=postgres://owner@db/app werkcron grant werkcron_ticker --apply
  DATABASE_URL=postgres://werkcron_ticker@db/app werkcron run --no-migrate
  DATABASE_URL=postgres://owner@db/app werkcron grant myapp --app --apply`)
	apply := fs.Bool("apply", false, "run the statements, not only print them")
	app := fs.Bool("app", false, "an application's rights instead of a ticker's")
	s, pos, done, err := e.dbVerb(ctx, fs, args, 1, "one ROLE")
	if err != nil {
		return err
	}
	defer done()
	grant := s.Grant
	if *app {
		grant = s.GrantApp
	}
	stmts, err := grant(ctx, pos[0], *apply)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		fmt.Fprintln(e.stdout, st)
	}
	if *apply {
		e.log.Info("granted", "role", pos[0], "statements", len(stmts))
	}
	return nil
}
