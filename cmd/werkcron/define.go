package main

// add and edit: the definition of a schedule from flags. Both take the same flags; add
// creates or replaces (a flag not given is the column's default), edit changes only the
// flags given (werk_cron_alter). Neither writes a default of its own: a flag not given
// is NULL to the SQL function, and the table's DDL says what that means.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/pgwerk/werkcron/internal/jsonb"
	"github.com/pgwerk/werkcron/scheduler"
)

// defFlags are the definition flags of add and edit.
type defFlags struct {
	fs                                      *flag.FlagSet
	fn, cron, queue, tz, catchup, overlap   string
	args, kwargs, meta, startsAt, endsAt    string
	every, timeout, resultTTL, failureTTL   time.Duration
	catchupWindow, jitter                   time.Duration
	priority, maxAttempts, remaining, pause int
	paused                                  bool
	labels                                  map[string]string // --label, repeated
	startDeadline, maxRuntime               time.Duration
	excludeCalendar                         string
}

// fieldFlags maps a CronJob field to the flag that sets it, so that an error names what
// the user typed.
var fieldFlags = map[string]string{
	"Name": "NAME", "Func": "--func", "Queue": "--queue", "Args": "--args", "Kwargs": "--kwargs",
	"Cron": "--cron", "Interval": "--every", "Timezone": "--tz", "Timeout": "--timeout",
	"ResultTTL": "--result-ttl", "FailureTTL": "--failure-ttl", "Meta": "--meta",
	"Priority": "--priority", "MaxAttempts": "--max-attempts", "Catchup": "--catchup",
	"CatchupWindow": "--catchup-window", "Overlap": "--overlap", "StartsAt": "--starts-at",
	"EndsAt": "--ends-at", "Paused": "--paused", "Jitter": "--jitter",
	"RemainingRuns": "--remaining-runs", "PauseAfterFailures": "--pause-after-failures",
	"Labels":        "--label",
	"StartDeadline": "--start-deadline", "MaxRuntime": "--max-runtime", "ExcludeCalendar": "--exclude-calendar",
}

func newDefFlags(fs *flag.FlagSet) *defFlags {
	d := &defFlags{fs: fs}
	fs.StringVar(&d.fn, "func", "", "what the worker runs, e.g. myapp.tasks.report")
	fs.StringVar(&d.cron, "cron", "", "cron expression (5, 6 or 7 fields, or @daily ...)")
	fs.DurationVar(&d.every, "every", 0, "fixed interval instead of --cron, e.g. 30s or 5m")
	fs.StringVar(&d.queue, "queue", "", "target queue (omitted: the queue named default)")
	fs.StringVar(&d.tz, "tz", "", "IANA time zone the cron expression is read in (omitted: UTC)")
	fs.StringVar(&d.args, "args", "", "positional arguments, a JSON array (omitted: [])")
	fs.StringVar(&d.kwargs, "kwargs", "", "keyword arguments, a JSON object (omitted: {})")
	fs.StringVar(&d.meta, "meta", "", "metadata copied onto each job, a JSON object")
	fs.DurationVar(&d.timeout, "timeout", 0, "job timeout (omitted: none set)")
	fs.DurationVar(&d.resultTTL, "result-ttl", 0, "how long pgwerk keeps a result (omitted: pgwerk's)")
	fs.DurationVar(&d.failureTTL, "failure-ttl", 0, "how long pgwerk keeps a failure (omitted: pgwerk's)")
	fs.IntVar(&d.priority, "priority", 0, "job priority")
	fs.IntVar(&d.maxAttempts, "max-attempts", 0, "attempts per job (omitted: 1)")
	fs.BoolVar(&d.paused, "paused", false, "paused (add: applied to an existing schedule only when given)")
	fs.StringVar(&d.catchup, "catchup", "", "pending ticks after downtime: none, latest (omitted) or all")
	fs.DurationVar(&d.catchupWindow, "catchup-window", 0, "pending ticks older than this are missed (omitted: no limit)")
	fs.StringVar(&d.overlap, "overlap", "", "allow (omitted), skip, buffer_one or buffer_all")
	fs.StringVar(&d.startsAt, "starts-at", "", "nothing fires before this instant (RFC 3339)")
	fs.StringVar(&d.endsAt, "ends-at", "", "nothing fires after this instant (RFC 3339)")
	fs.DurationVar(&d.jitter, "jitter", 0, "delay each job by a fixed offset in [0, jitter) from the name and the tick")
	fs.IntVar(&d.remaining, "remaining-runs", 0, "end the schedule after this many enqueued runs (add: applied to an existing schedule only when given)")
	fs.IntVar(&d.pause, "pause-after-failures", 0, "pause the schedule after this many consecutive failed runs")
	fs.Func("label", "a label `KEY=VALUE` (may be repeated; edit: the labels given replace all)", func(v string) error {
		return addLabel(&d.labels, v)
	})
	fs.DurationVar(&d.startDeadline, "start-deadline", 0, "a job not started this long after its tick never starts (recorded expired; the schedule is late)")
	fs.DurationVar(&d.maxRuntime, "max-runtime", 0, "a run active longer than this makes the schedule overdue")
	fs.StringVar(&d.excludeCalendar, "exclude-calendar", "", "enqueue nothing on the days of this calendar (werkcron calendar), in the schedule's zone")
	return d
}

// addLabel adds KEY=VALUE to labels, refusing an empty key and a key given twice.
func addLabel(labels *map[string]string, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	switch {
	case !ok || k == "":
		return fmt.Errorf("%q: want KEY=VALUE", kv)
	case hasKey(*labels, k):
		return fmt.Errorf("%q: the label %q is given twice", kv, k)
	}
	if *labels == nil {
		*labels = map[string]string{}
	}
	(*labels)[k] = v
	return nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// given reports which flags were set on the command line.
func (d *defFlags) given() map[string]bool {
	set := map[string]bool{}
	d.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// instants parses --starts-at and --ends-at.
func (d *defFlags) instants(name string) (starts, ends time.Time, err error) {
	for _, f := range []struct {
		flag string
		s    string
		dst  *time.Time
	}{{"--starts-at", d.startsAt, &starts}, {"--ends-at", d.endsAt, &ends}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = time.Parse(time.RFC3339, f.s); err != nil {
			return starts, ends, fmt.Errorf("schedule %q: %s %q: want an RFC 3339 instant such as 2026-03-08T09:00:00Z: %w", name, f.flag, f.s, errUsage)
		}
	}
	return starts, ends, nil
}

// checkJSON refuses --args, --kwargs and --meta that are JSON but not jsonb (a number
// beyond numeric's range, a NUL, half a surrogate pair): a usage error naming the flag,
// found without the database, which would refuse them with a bare SQL error. Text that
// is not JSON at all is left to Validate, which names the flag too.
func (d *defFlags) checkJSON(name string) error {
	for _, f := range []struct{ flag, v string }{{"--args", d.args}, {"--kwargs", d.kwargs}, {"--meta", d.meta}} {
		if raw := []byte(f.v); json.Valid(raw) {
			if err := jsonb.Check(raw); err != nil {
				return fmt.Errorf("schedule %q: %s: %v: %w", name, f.flag, err, errUsage)
			}
		}
	}
	return nil
}

// job is the CronJob add registers.
func (d *defFlags) job(name string) (scheduler.CronJob, error) {
	j := scheduler.CronJob{
		Name: name, Func: d.fn, Cron: d.cron, Interval: d.every, Queue: d.queue, Timezone: d.tz,
		Timeout: d.timeout, ResultTTL: d.resultTTL, FailureTTL: d.failureTTL, Priority: d.priority,
		MaxAttempts: d.maxAttempts, Paused: d.paused, Catchup: d.catchup, CatchupWindow: d.catchupWindow,
		Overlap: d.overlap, Jitter: d.jitter, PauseAfterFailures: d.pause,
		StartDeadline: d.startDeadline, MaxRuntime: d.maxRuntime, ExcludeCalendar: d.excludeCalendar,
		Args: json.RawMessage(d.args), Kwargs: json.RawMessage(d.kwargs), Meta: json.RawMessage(d.meta),
		Labels: d.labels,
	}
	if d.given()["remaining-runs"] {
		j.RemainingRuns = &d.remaining
	}
	var err error
	j.StartsAt, j.EndsAt, err = d.instants(or(name, d.fn))
	return j, err
}

// changes is what edit changes: exactly the flags given, and --clear.
func (d *defFlags) changes(name string, clear string) (scheduler.Changes, error) {
	set := d.given()
	var c scheduler.Changes
	if err := d.checkJSON(name); err != nil {
		return c, err
	}
	str := func(flag string, v string) *string {
		if set[flag] {
			return &v
		}
		return nil
	}
	dur := func(flag string, v time.Duration) *time.Duration {
		if set[flag] {
			return &v
		}
		return nil
	}
	num := func(flag string, v int) *int {
		if set[flag] {
			return &v
		}
		return nil
	}
	c.Func, c.Cron, c.Queue, c.Timezone = str("func", d.fn), str("cron", d.cron), str("queue", d.queue), str("tz", d.tz)
	c.Catchup, c.Overlap = str("catchup", d.catchup), str("overlap", d.overlap)
	c.Interval, c.Timeout, c.ResultTTL, c.FailureTTL = dur("every", d.every), dur("timeout", d.timeout), dur("result-ttl", d.resultTTL), dur("failure-ttl", d.failureTTL)
	c.CatchupWindow, c.Jitter = dur("catchup-window", d.catchupWindow), dur("jitter", d.jitter)
	c.StartDeadline, c.MaxRuntime = dur("start-deadline", d.startDeadline), dur("max-runtime", d.maxRuntime)
	c.ExcludeCalendar = str("exclude-calendar", d.excludeCalendar)
	c.Priority, c.MaxAttempts = num("priority", d.priority), num("max-attempts", d.maxAttempts)
	c.RemainingRuns, c.PauseAfterFailures = num("remaining-runs", d.remaining), num("pause-after-failures", d.pause)
	if set["paused"] {
		c.Paused = &d.paused
	}
	if set["args"] {
		c.Args = json.RawMessage(d.args)
	}
	if set["kwargs"] {
		c.Kwargs = json.RawMessage(d.kwargs)
	}
	if set["meta"] {
		c.Meta = json.RawMessage(d.meta)
	}
	if set["label"] {
		c.Labels = d.labels
	}
	starts, ends, err := d.instants(name)
	if err != nil {
		return c, err
	}
	if set["starts-at"] {
		c.StartsAt = &starts
	}
	if set["ends-at"] {
		c.EndsAt = &ends
	}
	// The database refuses a column cleared twice or both given and cleared too, but
	// with its column names, and only once asked.
	cleared := map[string]bool{}
	for _, f := range strings.Split(clear, ",") {
		if f = strings.TrimPrefix(strings.TrimSpace(f), "--"); f == "" {
			continue
		}
		field := ""
		for k, v := range fieldFlags {
			if v == "--"+f {
				field = k
			}
		}
		switch {
		case field == "":
			return c, fmt.Errorf("schedule %q: --clear %s: no such flag: %w", name, f, errUsage)
		case cleared[f]:
			return c, fmt.Errorf("schedule %q: --clear %s: named twice: %w", name, f, errUsage)
		case set[f]:
			return c, fmt.Errorf("schedule %q: --%s is both given and cleared (--clear %s): give one: %w", name, f, f, errUsage)
		}
		cleared[f] = true
		c.Clear = append(c.Clear, field)
	}
	return c, nil
}

func cmdAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "add", "NAME --func FUNC (--cron EXPR | --every DURATION) [flags]", `
Creates the schedule NAME, or replaces its definition if it exists: a flag not given
goes back to the column's default. What the ticker recorded (the last tick, ...) is
kept, and a changed timing never backfills. The paused state and remaining runs of an
existing schedule are kept unless --paused or --remaining-runs is given. A running
ticker picks the change up at once. Durations are Go durations (90s, 5m, 1h30m) and must
be whole seconds; instants are RFC 3339. Prints the stored schedule. To change only some
fields of an existing schedule, use 'werkcron edit'.

Examples:
  werkcron add daily-report --func myapp.tasks.report --cron '0 9 * * 1-5' \
      --tz Europe/Berlin --queue reports --args '["sales"]' --kwargs '{"format": "pdf"}' \
      --start-deadline 30m --max-runtime 1h --exclude-calendar de-holidays
  werkcron add ping --func myapp.tasks.ping --every 30s --overlap skip
  werkcron add sync-42 --func myapp.tasks.sync --every 5m --label tenant=42 --label team=billing`)
	d := newDefFlags(fs)
	asJSON := fs.Bool("json", false, "print the schedule as JSON")
	setup := e.dbFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("want one schedule NAME, got %d arguments: %w", len(pos), errUsage)
	}
	name := d.fn
	if len(pos) == 1 {
		name = pos[0]
	}
	if d.fn == "" {
		return fmt.Errorf("schedule %q: --func is required: %w", name, errUsage)
	}
	if (d.cron == "") == (d.every == 0) {
		return fmt.Errorf("schedule %q: give exactly one of --cron and --every: %w", name, errUsage)
	}
	if err := d.checkJSON(name); err != nil {
		return err
	}
	j, err := d.job(name)
	if err != nil {
		return err
	}
	// Check before connecting, so that a typo is reported with the flag's name even
	// without a database.
	if err := j.Validate(); err != nil {
		return flagError(err)
	}
	if err := setup(); err != nil {
		return err
	}
	s, done, err := e.openScheduler(ctx, "werkcron cli", 0)
	if err != nil {
		return err
	}
	defer done()
	var opts []scheduler.RegisterOption
	set := d.given()
	if set["paused"] || set["remaining-runs"] {
		// Given: applied to an existing schedule too. ApplyState sets Paused either way,
		// so when only --remaining-runs is given the current paused state is carried.
		opts = append(opts, scheduler.ApplyState())
		if !set["paused"] {
			if cur, err := s.Get(ctx, name); err == nil {
				j.Paused = cur.Paused
			} else if !errors.Is(err, scheduler.ErrNotFound) {
				return err
			}
		}
	}
	stored, err := s.Register(ctx, j, opts...)
	if err != nil {
		return flagError(err)
	}
	if *asJSON {
		return writeJSON(e.stdout, toJSON(stored))
	}
	return printJob(e.stdout, stored, nil)
}

func cmdEdit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "edit", "NAME [flags] [--clear FLAG,...]", `
Changes only what the flags given say of the schedule NAME; everything else stays.
--clear puts fields back to their default (none for the optional ones), by flag name.
A changed timing (--cron, --every, --tz, --starts-at) never backfills; --paused=false
resumes from now on. Prints the stored schedule.

Examples:
  werkcron edit daily-report --cron '0 8 * * 1-5'
  werkcron edit daily-report --queue reports --clear timeout,ends-at
  werkcron edit sync-42 --label tenant=42 --label team=payments   # replaces all labels`)
	d := newDefFlags(fs)
	var clear []string // --clear may be given more than once
	fs.Func("clear", "comma-separated `flags` whose fields go back to their default, e.g. timeout,ends-at (may be repeated)", func(v string) error {
		clear = append(clear, v)
		return nil
	})
	asJSON := fs.Bool("json", false, "print the schedule as JSON")
	setup := e.dbFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one schedule NAME, got %d arguments: %w", len(pos), errUsage)
	}
	// Check before connecting, as add does: a usage error is reported with the flag's
	// name even without a database.
	c, err := d.changes(pos[0], strings.Join(clear, ","))
	if err != nil {
		return err
	}
	if err := setup(); err != nil {
		return err
	}
	s, done, err := e.openScheduler(ctx, "werkcron cli", 0)
	if err != nil {
		return err
	}
	defer done()
	stored, err := s.Update(ctx, pos[0], c)
	if err != nil {
		return notFound(flagError(err), pos[0])
	}
	if *asJSON {
		return writeJSON(e.stdout, toJSON(stored))
	}
	return printJob(e.stdout, stored, nil)
}

// flagError rewrites a *ValidationError to name the flag instead of the Go field.
func flagError(err error) error {
	var ve *scheduler.ValidationError
	if errors.As(err, &ve) {
		flag := fieldFlags[ve.Field]
		if flag == "" {
			flag = ve.Field
		}
		return fmt.Errorf("schedule %q: %s: %s", ve.Name, flag, ve.Reason)
	}
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
