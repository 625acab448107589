// Command riverbench is the River side of werkcron's bench (internal/bench, section
// "river"): River's periodic jobs, run the way River's documentation sets them up, in
// a process of its own. It is a Go module of its own so that River never enters
// werkcron's go.mod; the bench builds it with `go build` in this directory and runs it
// as a subprocess.
//
//	riverbench migrate -dsn URL
//	riverbench run -dsn URL -n N -anchor 2026-01-02T03:04:05.5Z -every 10s
//
// run starts one River client (river.Config.PeriodicJobs, leader election on, every
// interval at River's default) with N periodic jobs whose schedule is due on the
// instants anchor + k*every, all N on the same instants, like N werkcron interval
// schedules sharing one starts_at. The jobs go into a queue no client works
// (sinkQueue), so that only their insertion is measured. River runs its leader elector
// and its periodic job enqueuer only in a client that works at least one queue, so the
// client also works the otherwise empty default queue with one worker slot. The
// process runs until SIGTERM or SIGINT, or until its standard input closes (the bench
// holds it open: if the bench dies, so does this), and then stops the client
// gracefully, which gives up the leadership.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// sinkQueue is the queue the periodic jobs are inserted into; no client works it.
const sinkQueue = "bench_sink"

// TaskArgs is the job every periodic job inserts. Like the jobs of the werkcron side
// (payload {"args": [], "kwargs": {}}), it carries no arguments.
type TaskArgs struct{}

// Kind is the job's kind; werkcron's jobs of the bench call function bench.task.
func (TaskArgs) Kind() string { return "bench.task" }

// taskWorker makes the kind known to the client. It never runs: nothing works
// sinkQueue.
type taskWorker struct {
	river.WorkerDefaults[TaskArgs]
}

func (*taskWorker) Work(context.Context, *river.Job[TaskArgs]) error { return nil }

// everySchedule is due on anchor + k*every for every whole k: the schedule of a
// werkcron interval schedule with starts_at anchor and interval_secs every.
type everySchedule struct {
	anchor time.Time
	every  time.Duration
}

// Next is the first instant of the schedule after t. River calls it with the current
// time when its enqueuer starts, and with the instant it has just run at afterwards.
func (s everySchedule) Next(t time.Time) time.Time {
	if t.Before(s.anchor) {
		return s.anchor
	}
	k := int64(t.Sub(s.anchor)/s.every) + 1
	return s.anchor.Add(time.Duration(k) * s.every)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: riverbench migrate|run -dsn URL [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "migrate":
		err = migrate(args)
	case "run":
		err = run(args)
	default:
		fmt.Fprintf(os.Stderr, "riverbench: unknown command %q (want migrate or run)\n", cmd)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "riverbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// migrate applies River's migrations with rivermigrate.
func migrate(args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ExitOnError)
	dsn := fs.String("dsn", "", "database URL")
	_ = fs.Parse(args)
	if *dsn == "" {
		return errors.New("-dsn is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return err
	}
	fmt.Printf("applied %d River migrations\n", len(res.Versions))
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dsn := fs.String("dsn", "", "database URL")
	n := fs.Int("n", 1, "periodic jobs")
	anchorFlag := fs.String("anchor", "", "first instant the jobs are due (RFC 3339)")
	every := fs.Duration("every", 0, "the jobs' period")
	id := fs.String("id", "riverbench", "River client ID")
	_ = fs.Parse(args)
	anchor, err := time.Parse(time.RFC3339Nano, *anchorFlag)
	switch {
	case *dsn == "":
		return errors.New("-dsn is required")
	case err != nil:
		return fmt.Errorf("-anchor: %w", err)
	case *every <= 0:
		return errors.New("-every must be positive")
	case *n < 1:
		return errors.New("-n must be positive")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	cfg, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = *id
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	sched := everySchedule{anchor: anchor, every: *every}
	jobs := make([]*river.PeriodicJob, *n)
	for i := range jobs {
		jobs[i] = river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			return TaskArgs{}, &river.InsertOpts{Queue: sinkQueue}
		}, nil)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &taskWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:           *id,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		PeriodicJobs: jobs,
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers:      workers,
	})
	if err != nil {
		return err
	}
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	fmt.Printf("started %d periodic jobs due on %s + k*%s\n", *n, anchor.Format(time.RFC3339Nano), *every)
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Stop(stopCtx)
}
