// Command werkcron runs the werkcron ticker and manages its schedules.
//
//	werkcron run        migrate, then schedule (one primary; the others stand by)
//	werkcron migrate    only migrate
//	werkcron next EXPR  print the next fire times of a cron expression or schedule
//	werkcron add NAME   create or replace a schedule (edit, ls, show, pause, resume,
//	                    rm, trigger, history, status, calendar and grant manage and
//	                    inspect)
//	werkcron apply FILE make the schedules a file lists what it says (export prints them)
//
// Run `werkcron help` for every verb.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	_ "time/tzdata" // zones work on hosts without a tz database

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks an error in how the command was called (exit code 2).
var errUsage = errors.New("usage")

// verb is one subcommand.
type verb struct {
	name, args, summary string
	run                 func(ctx context.Context, env *env, args []string) error
}

// env is what every verb gets: where to write, and the database settings.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	dsn            string // from --dsn or DATABASE_URL
	redact         func(string) string
	// pool is the pool the last openScheduler opened, for the rare read the Go API has
	// no method for (a backfill request not waited for).
	pool *pgxpool.Pool
}

func verbs() []verb {
	return []verb{
		{"run", "[flags]", "migrate (unless --no-migrate) and run the ticker until SIGTERM/SIGINT", cmdRun},
		{"migrate", "[flags]", "create or update werkcron's tables, then exit", cmdMigrate},
		{"add", "NAME --func FUNC (--cron EXPR | --every DURATION) [flags]", "create or replace a schedule", cmdAdd},
		{"edit", "NAME [flags] [--clear FLAG,...]", "change only the given fields of a schedule", cmdEdit},
		{"ls", "[--json]", "list schedules with their state, health, next run and last job", cmdLs},
		{"show", "NAME [--json]", "print every field of one schedule", cmdShow},
		{"pause", "NAME [--reason TEXT]", "stop a schedule enqueueing (it stays registered)", cmdPause},
		{"resume", "NAME", "let a paused schedule enqueue again, from now on", cmdResume},
		{"rm", "NAME", "delete a schedule", cmdRm},
		{"apply", "--owner NAME FILE", "make the schedules a file lists what it says (schedules as code)", cmdApply},
		{"export", "[--owner NAME] [NAME...]", "print schedules in the file format apply reads", cmdExport},
		{"trigger", "NAME", "enqueue one job of a schedule now, outside its schedule", cmdTrigger},
		{"backfill", "NAME --from INSTANT [--to INSTANT]", "enqueue the ticks of a past range that have no job yet", cmdBackfill},
		{"next", "EXPR|NAME [--tz ZONE] [--from INSTANT] [-n N]", "print the next fire times, one RFC 3339 instant per line", cmdNext},
		{"history", "NAME [-n N]", "print a schedule's recent ticks and their outcomes", cmdHistory},
		{"status", "[--check] [--json]", "print the tickers, tick lag, schedules in error; --check: exit 1 if any is failing, late or overdue", cmdStatus},
		{"calendar", "add|rm|ls ...", "keep the holiday calendars whose days schedules skip", cmdCalendar},
		{"grant", "ROLE [--apply]", "print (or apply) the least-privilege GRANTs for a ticker role", cmdGrant},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, dsn: os.Getenv("DATABASE_URL"), redact: func(s string) string { return s }}
	e.setLogger("text", "info")
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, v := range verbs() {
		if v.name != args[0] {
			continue
		}
		err := v.run(ctx, e, args[1:])
		switch {
		case err == nil || errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "werkcron %s: %s\n", v.name, controlsEscaped(e.redact(strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))))
			fmt.Fprintf(stderr, "Run 'werkcron %s --help' for usage.\n", v.name)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "werkcron %s: %s\n", v.name, controlsEscaped(e.redact(err.Error())))
			return exitFailure
		}
	}
	fmt.Fprintf(stderr, "werkcron: unknown command %q\nRun 'werkcron help' for usage.\n", args[0])
	return exitUsage
}

// controlsEscaped writes the control and formatting characters of an error message (a
// schedule's name or a database message may hold ESC, which would drive the terminal)
// as Go escapes, keeping its line breaks and tabs.
func controlsEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '\n' || r == '\t' || strconv.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func usage(w io.Writer) {
	fmt.Fprint(w, `werkcron enqueues recurring jobs for pgwerk from schedules kept in PostgreSQL.

Usage:
  werkcron <command> [arguments]

Commands:
`)
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-9s %s\n", v.name, v.summary)
	}
	fmt.Fprint(w, `
The database comes from DATABASE_URL or --dsn. Schedules are rows of werk_cron_jobs:

  INSERT INTO werk_cron_jobs (func, cron) VALUES ('myapp.tasks.report', '0 9 * * 1-5');

Run 'werkcron <command> --help' for a command's flags and an example.
`)
}

// newFlags returns a flag set for a verb whose --help prints synopsis, the flags and an
// example; errors go to stderr and make the verb exit with code 2.
func newFlags(e *env, name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print a parse error and the whole help; run() prints the
	// error once, on stderr, with a pointer to --help. Help itself goes to stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: werkcron %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(help))
		fs.SetOutput(e.stdout)
		fmt.Fprintln(e.stdout, "\nFlags:")
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags that may stand before, between or after positional arguments
// (Go's flag package alone stops at the first positional one) and returns the
// positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	// fs.Usage prints the help; the flag package also calls it on a parse error, where
	// only the error should be printed. So help is handled here, and fs.Usage is muted.
	help := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = help }()
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			help()
			return nil, flag.ErrHelp
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%v: %w", err, errUsage)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dbFlags adds --dsn and the logging flags shared by verbs that talk to the database.
func (e *env) dbFlags(fs *flag.FlagSet) func() error {
	dsn := fs.String("dsn", "", "PostgreSQL connection string (default $DATABASE_URL)")
	format := fs.String("log-format", "text", "log format on stderr: text or json")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	return func() error {
		if *dsn != "" {
			e.dsn = *dsn
		}
		if e.dsn == "" {
			return fmt.Errorf("no database: set DATABASE_URL or pass --dsn: %w", errUsage)
		}
		cfg, err := pgx.ParseConfig(e.dsn)
		if err != nil {
			return fmt.Errorf("bad connection string: %v: %w", err, errUsage)
		}
		if pw := cfg.Password; pw != "" {
			forms := passwordForms(e.dsn, pw)
			e.redact = func(s string) string {
				for _, f := range forms {
					s = strings.ReplaceAll(s, f, "xxxxx")
				}
				return s
			}
		}
		return e.setLogger(*format, *level)
	}
}

// setLogger logs to stderr in format (text or json), never printing the password.
func (e *env) setLogger(format, level string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error: %w", level, errUsage)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindAny || a.Value.Kind() == slog.KindString {
			if s := a.Value.String(); e.redact(s) != s {
				return slog.String(a.Key, e.redact(s))
			}
		}
		return a
	}}
	switch format {
	case "text":
		e.log = slog.New(slog.NewTextHandler(e.stderr, opts))
	case "json":
		e.log = slog.New(slog.NewJSONHandler(e.stderr, opts))
	default:
		return fmt.Errorf("--log-format %q: want text or json: %w", format, errUsage)
	}
	return nil
}

// passwordForms lists every way the password pw may be spelled in something printed:
// decoded, as written in dsn itself (a URL's userinfo or query, or a key=value string,
// quoted and escaped), and as Go's URL encoders and an every-byte percent-encoding
// write it. Longer forms first, so that one containing another is replaced whole.
func passwordForms(dsn, pw string) []string {
	var every, everyLower strings.Builder
	for _, b := range []byte(pw) {
		fmt.Fprintf(&every, "%%%02X", b)
		fmt.Fprintf(&everyLower, "%%%02x", b)
	}
	userinfo := strings.TrimPrefix(url.UserPassword("", pw).String(), ":")
	forms := []string{pw, url.QueryEscape(pw), strings.ReplaceAll(url.QueryEscape(pw), "+", "%20"),
		url.PathEscape(pw), userinfo, every.String(), everyLower.String(),
		strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)}
	// As written: between "user:" and the last "@" in a URL, after "password=" in a
	// query or a key=value string (to the next separator, or the closing quote).
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				forms = append(forms, rest[c+1:at])
			}
		}
	}
	if i := strings.Index(dsn, "password"); i >= 0 {
		v, isKey := strings.CutPrefix(strings.TrimLeft(dsn[i+len("password"):], " "), "=")
		v = strings.TrimLeft(v, " ")
		if !isKey {
			// "password" in a user or database name, say: no value follows.
		} else if quoted, ok := strings.CutPrefix(v, "'"); ok {
			for j := 0; j < len(quoted); j++ {
				if quoted[j] == '\\' {
					j++
				} else if quoted[j] == '\'' {
					forms = append(forms, quoted[:j])
					break
				}
			}
		} else if j := strings.IndexAny(v, " &"); j >= 0 {
			forms = append(forms, v[:j])
		} else {
			forms = append(forms, v)
		}
	}
	var out []string
	for _, f := range forms {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
