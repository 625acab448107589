package main

// apply and export: schedules as code. A thin wrapper over scheduler.Apply and
// scheduler.Export, and internal/schedfile for the file.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pgwerk/werkcron/internal/schedfile"
	"github.com/pgwerk/werkcron/scheduler"
)

func cmdApply(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "apply", "--owner NAME [--dry-run] [--prune] [--adopt] [--json] FILE", `
Makes the schedules that FILE lists what it says, in one transaction, for the owner
NAME (a team, a repository, an app: whoever keeps the file). FILE is YAML (or JSON);
'-' reads standard input:

  schedules:
    - name: daily-report
      func: myapp.tasks.report
      cron: "0 9 * * 1-5"
      timezone: Europe/Berlin
      kwargs: {format: pdf}
      labels: {team: billing}
    - name: ping
      func: myapp.tasks.ping
      interval_secs: 30

Keys are werk_cron_jobs's column names: name, func, cron or interval_secs, timezone,
queue, args, kwargs, timeout_secs, result_ttl, failure_ttl, meta, priority,
max_attempts, paused, catchup, catchup_window_secs, overlap, starts_at, ends_at,
jitter_secs, remaining_runs, pause_after_failures, start_deadline_secs,
max_runtime_secs, exclude_calendar, labels. A key left out is the
column's default, except paused (left out, a schedule keeps the pause an operator
set) and remaining_runs (applied to a new schedule only: a deploy does not refill
runs). The whole file is checked first: every problem is printed with its line, and
nothing is applied.

It prints the plan on stdout, one line per schedule created (+), changed (~, with each
field's old and new value) or removed (-), and a count of those unchanged, then
applies it. An unchanged schedule is not written at all: applying the same file twice
changes nothing. --dry-run prints the plan and changes nothing.

The file is the truth for the owner's schedules. A listed schedule that another owner
manages is refused; one written by hand (werkcron add, SQL, Register) is refused unless
--adopt takes it over. --prune deletes the owner's schedules that the file no longer
lists, and never another owner's or one written by hand. Applies of one owner take
turns. Exit status: 0 applied (or planned), 1 refused or failed, 2 usage.

Examples:
  werkcron apply --owner billing --dry-run schedules.yaml     # in review
  werkcron apply --owner billing --prune schedules.yaml       # on deploy
  werkcron export --owner billing > schedules.yaml            # what is there now
  werkcron export daily-report ping | werkcron apply --owner billing --adopt -`)
	owner := fs.String("owner", "", "who keeps these schedules (required; recorded in managed_by)")
	dryRun := fs.Bool("dry-run", false, "print the plan, change nothing")
	prune := fs.Bool("prune", false, "delete the owner's schedules that FILE does not list")
	adopt := fs.Bool("adopt", false, "take over the listed schedules written by hand (no owner)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	setup := e.dbFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one FILE ('-' for standard input), got %d arguments: %w", len(pos), errUsage)
	}
	if *owner == "" {
		return fmt.Errorf("--owner is required: the name of whoever keeps this file (a team, a repository): %w", errUsage)
	}
	name, data, err := readFile(pos[0])
	if err != nil {
		return err
	}
	// The file is checked before connecting, so that a mistake is reported even
	// without a database (in review, say).
	jobs, err := schedfile.Parse(name, data)
	if err != nil {
		var fe *schedfile.Error
		if errors.As(err, &fe) {
			return fmt.Errorf("%s: %d problem(s), nothing applied:\n%w", name, len(fe.Problems), err)
		}
		return err
	}
	if err := setup(); err != nil {
		return err
	}
	s, done, err := e.openScheduler(ctx, "werkcron apply", 0)
	if err != nil {
		return err
	}
	defer done()
	plan, err := s.Apply(ctx, *owner, jobs, scheduler.ApplyOptions{DryRun: *dryRun, Prune: *prune, Adopt: *adopt})
	if err != nil {
		return applyErr(err, *owner)
	}
	if *asJSON {
		if err := writeJSON(e.stdout, plan); err != nil {
			return err
		}
	} else if err := printPlan(e.stdout, plan); err != nil {
		return err
	}
	msg := "applied"
	if plan.DryRun {
		msg = "dry run: nothing applied"
	}
	e.log.Info(msg, "owner", *owner, "file", name, "created", len(plan.Created), "changed", len(plan.Changed),
		"removed", len(plan.Removed), "unchanged", len(plan.Unchanged), "unlisted", len(plan.Unlisted))
	return nil
}

// readFile reads path, or standard input for "-"; name is how messages call it.
func readFile(path string) (name string, data []byte, err error) {
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
		if err != nil {
			return "<stdin>", nil, fmt.Errorf("read standard input: %w", err)
		}
		return "<stdin>", data, nil
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return path, nil, err
	}
	return path, data, nil
}

// applyErr words Apply's refusals for the command line.
func applyErr(err error, owner string) error {
	var ce *scheduler.ConflictError
	if !errors.As(err, &ce) {
		return flagError(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d listed schedule(s) are not owner %q's to write; nothing applied:", len(ce.Conflicts), owner)
	for _, c := range ce.Conflicts {
		if c.ManagedBy == "" {
			fmt.Fprintf(&b, "\n  %s: written by hand (not managed by any owner): --adopt takes it over", clean(c.Name))
		} else {
			fmt.Fprintf(&b, "\n  %s: managed by %s: leave it out of this file, or have owner %s release it", clean(c.Name), clean(c.ManagedBy), clean(c.ManagedBy))
		}
	}
	return errors.New(b.String())
}

// printPlan prints a plan for people: a line per schedule created, changed (and its
// fields), removed, or kept though not listed, then the counts.
func printPlan(w io.Writer, p scheduler.Plan) error {
	var b strings.Builder
	for _, n := range p.Created {
		fmt.Fprintf(&b, "+ %s\n", clean(n))
	}
	for _, c := range p.Changed {
		fmt.Fprintf(&b, "~ %s\n", clean(c.Name))
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "    %s: %s -> %s\n", f.Field, jsonText(f.Old), jsonText(f.New))
		}
	}
	for _, n := range p.Removed {
		fmt.Fprintf(&b, "- %s\n", clean(n))
	}
	for _, n := range p.Unlisted {
		fmt.Fprintf(&b, "  %s (not in the file; kept without --prune)\n", clean(n))
	}
	what := "applied"
	if p.DryRun {
		what = "dry run, nothing applied"
	}
	fmt.Fprintf(&b, "%d to create, %d to change, %d to remove, %d unchanged (owner %s; %s)\n",
		len(p.Created), len(p.Changed), len(p.Removed), len(p.Unchanged), clean(p.Owner), what)
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonText is a JSON value from the database for a terminal: unprintable characters
// escaped, and at most 200 bytes.
func jsonText(raw []byte) string {
	s := schedfile.PrintableJSON(raw)
	if len(s) > 200 {
		return fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(s[:200], ""), len(s))
	}
	return s
}

func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "[--owner NAME] [NAME...]", `
Prints schedules in the format 'werkcron apply' reads: every schedule, those the owner
NAME manages (--owner), or those named. Only what defines a schedule is printed, and
of that only what is not at its default; never the ticker's state, the pause, or the
runs left. Applying the output as the same owner changes nothing, which makes export
the way to put existing schedules into a file: export them, commit the file, and
apply it once with --adopt.

Examples:
  werkcron export --owner billing > schedules.yaml
  werkcron export daily-report ping > schedules.yaml
  werkcron apply --owner billing --adopt --dry-run schedules.yaml`)
	owner := fs.String("owner", "", "only the schedules this owner manages")
	s, pos, done, err := e.dbVerb(ctx, fs, args, -1, "")
	if err != nil {
		return err
	}
	defer done()
	jobs, err := s.Export(ctx, *owner, pos...)
	if err != nil {
		if errors.Is(err, scheduler.ErrNotFound) {
			return fmt.Errorf("%s (see werkcron ls)", err)
		}
		return err
	}
	return schedfile.Write(e.stdout, jobs)
}
