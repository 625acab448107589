package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

func numCPU() int { return runtime.NumCPU() }

// tickerProc is one `werkcron run` process (or another process the bench runs, such
// as River's side of the comparison).
type tickerProc struct {
	cmd   *exec.Cmd
	log   string
	done  chan struct{}
	stdin io.WriteCloser // non-nil: held open until stop, so the process sees EOF if the bench dies
}

// startTicker runs the binary against dsn, logging into the scratch directory.
func (b *bench) startTicker(ctx context.Context, name, dsn string) (*tickerProc, error) {
	return b.startProc(name, false, b.bin, "run", "--no-migrate", "--dsn", dsn, "--log-level", b.cfg.tickerLogLevel)
}

// startProc runs path with args, logging into the scratch directory as name.log. With
// holdStdin its standard input is a pipe the bench holds open until stop.
func (b *bench) startProc(name string, holdStdin bool, path string, args ...string) (*tickerProc, error) {
	logPath := filepath.Join(b.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C meant for the bench reaches the bench, which
	// then stops the process itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t := &tickerProc{cmd: cmd, log: logPath, done: make(chan struct{})}
	if holdStdin {
		if t.stdin, err = cmd.StdinPipe(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(t.done)
	}()
	b.mu.Lock()
	b.tickers = append(b.tickers, t)
	b.mu.Unlock()
	return t, nil
}

func (t *tickerProc) pid() int { return t.cmd.Process.Pid }

func (t *tickerProc) exited() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (the ticker releases its lock and exits), then SIGKILL after 10 s.
func (t *tickerProc) stop() {
	if t.stdin != nil {
		defer t.stdin.Close()
	}
	if t.exited() {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(10 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}

// logLine is the first line of the process's log (log/slog's text format) logged at
// or after since that contains what, if any.
func (t *tickerProc) logLine(since time.Time, what string) (string, bool) {
	b, _ := os.ReadFile(t.log)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, what) {
			continue
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		if at, err := time.Parse(time.RFC3339Nano, stamp); err == nil && !at.Before(since) {
			return line, true
		}
	}
	return "", false
}

// tail is the end of the ticker's log, for error messages.
func (t *tickerProc) tail() string {
	b, _ := os.ReadFile(t.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// procStat is what /proc says about a process.
type procStat struct {
	cpu      time.Duration // user + system
	rss, hwm int64         // bytes: resident now, and the peak (VmHWM)
}

func readProc(pid int) (procStat, error) {
	var s procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	// USER_HZ is 100 on every Linux the kernel ABI promises userspace.
	s.cpu = time.Duration(utime+stime) * 10 * time.Millisecond
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			s.hwm = kb(v)
		}
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.rss = kb(v)
		}
	}
	return s, nil
}

func kb(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	return n * 1024
}

// newDB creates and migrates a database of the run; the tables are the product's.
func (b *bench) newDB(ctx context.Context, name string) (string, error) {
	b.mu.Lock()
	_, err := b.admin.Exec(ctx, "CREATE DATABASE "+name)
	b.mu.Unlock()
	if err != nil {
		return "", err
	}
	dsn := pgtest.WithDatabase(b.cluster.DSN("postgres"), name)
	if err := scheduler.Migrate(ctx, dsn, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return "", err
	}
	return dsn, nil
}

// dropDB removes a finished measurement's database, so that its tables do not occupy
// shared buffers or the checkpointer during the next one.
func (b *bench) dropDB(ctx context.Context, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, _ = b.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// waitReady waits until the ticker has planned want schedules: it has computed their
// next tick and written it to next_run_at.
func waitReady(ctx context.Context, conn *pgx.Conn, t *tickerProc, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM werk_cron_state WHERE planned_at IS NOT NULL").Scan(&n); err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if t.exited() {
			return fmt.Errorf("the ticker exited:\n%s", t.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the ticker planned %d of %d schedules in %s:\n%s", n, want, timeout, t.tail())
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// dbNow is the server's clock.
func dbNow(ctx context.Context, conn *pgx.Conn) (time.Time, error) {
	var now time.Time
	err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&now)
	return now, err
}

// sleepUntil sleeps until the server clock reads at (the bench and server share a host,
// so the host clock stands in for it).
func sleepUntil(ctx context.Context, at time.Time) error {
	if d := time.Until(at); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

var errTimeout = errors.New("timed out")
