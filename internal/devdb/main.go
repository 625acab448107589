// Command devdb is `make run`'s helper: without DATABASE_URL it boots a throwaway
// PostgreSQL cluster in .devdb/ (git-ignored; kept between runs so your schedules
// stay), prints how to reach it, and runs `werkcron run` against it in the foreground.
// Ctrl-C stops the ticker and the cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: devdb path/to/werkcron [run flags]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

func run(bin string, args []string) int {
	ctx := context.Background()
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		return ticker(bin, args, dsn)
	}
	dir, _ := filepath.Abs(".devdb")
	c, err := pgtest.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "devdb: creating a throwaway PostgreSQL cluster in %s\n", dir)
		c, err = pgtest.Init(ctx, dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "devdb: %v\n", err)
		return 1
	}
	if !c.Running(ctx) {
		if err := c.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "devdb: %v\n", err)
			return 1
		}
	}
	defer func() {
		if err := c.Stop(context.Background(), "fast"); err != nil {
			fmt.Fprintf(os.Stderr, "devdb: %v\n", err)
		}
	}()
	dsn := c.DSN("postgres")
	fmt.Fprintf(os.Stderr, `
  werkcron is running against a throwaway PostgreSQL (stopped with Ctrl-C; data kept in .devdb/).

  Connect:      psql '%s'
  Add a job:    INSERT INTO werk_cron_jobs (func, interval_secs) VALUES ('app.tasks.ping', 5);
  Watch it:     SELECT key, status, scheduled_at, enqueued_at FROM werk_jobs ORDER BY scheduled_at DESC LIMIT 5;
  Schedules:    SELECT * FROM werk_cron_jobs;

`, dsn)
	return ticker(bin, args, dsn)
}

// ticker runs werkcron run in the foreground, passing on Ctrl-C and SIGTERM.
func ticker(bin string, args []string, dsn string) int {
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "devdb: %v\n", err)
		return 1
	}
	go func() {
		for s := range sig {
			_ = cmd.Process.Signal(s)
		}
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		return 1
	}
	return 0
}
