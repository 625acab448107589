package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// healthChanges listens on werk_cron_health in a session of its own.
type healthChanges struct {
	t       *testing.T
	pool    *pgxpool.Pool
	got     chan string
	markers int
}

func listenHealthChanges(t *testing.T, dsn string, pool *pgxpool.Pool) *healthChanges {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	conn, err := pgx.Connect(lctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(lctx, `LISTEN werk_cron_health`); err != nil {
		t.Fatal(err)
	}
	h := &healthChanges{t: t, pool: pool, got: make(chan string, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(lctx)
			if err != nil {
				return
			}
			h.got <- n.Payload
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close(context.Background())
	})
	return h
}

// drain returns the changes announced by every transaction committed before it was
// called (it reads up to a marker of its own: notifications arrive in commit order),
// as "name: previous->health" sorted, and the changes themselves.
func (h *healthChanges) drain() (string, []scheduler.HealthChange) {
	h.t.Helper()
	h.markers++
	marker := fmt.Sprintf("marker %d", h.markers)
	pgtest.Exec(h.t, h.pool, `SELECT pg_notify('werk_cron_health', $1)`, marker)
	var lines []string
	var out []scheduler.HealthChange
	for {
		select {
		case p := <-h.got:
			if p == marker {
				slices.Sort(lines)
				return strings.Join(lines, "; "), out
			}
			c, err := scheduler.ParseHealthChange(p)
			if err != nil {
				h.t.Fatalf("not a health change: %q", p)
			}
			lines = append(lines, fmt.Sprintf("%s: %s->%s", c.Name, c.Previous, c.Health))
			out = append(out, c)
		case <-time.After(10 * time.Second):
			h.t.Fatalf("marker %q did not arrive", marker)
		}
	}
}

// No health change is lost across a failover, nor announced twice: while no ticker is
// primary (killed with SIGKILL), a job waits past its start deadline, a run fails, and
// a schedule is paused; nothing can announce those then. The ticker started next finds
// them and announces each once, the late one since its deadline passed, not since it
// was found. A third ticker, after that one is killed too, finds nothing to announce.
func TestHealthChangesSurviveFailover(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	changes := listenHealthChanges(t, dsn, pool)
	start := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', clock_timestamp()) + interval '1 s'`)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, starts_at, start_deadline_secs)
		VALUES ('late', 'app.late', 3600, $1, 2)`, start)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('fails', 'app.fails', '@yearly'),
		('stopped', 'app.stopped', '@yearly')`)

	a := startTicker(t, dsn)
	waitInstances(t, pool, 1, 10*time.Second)
	var job uuid.UUID
	pgtest.Eventually(t, 10*time.Second, "the tick's job of late", func() bool {
		return pool.QueryRow(ctx, `SELECT id FROM werk_jobs WHERE cron_name = 'late'`).Scan(&job) == nil
	})
	expires := pgtest.QueryOne[time.Time](t, pool, `SELECT expires_at FROM werk_jobs WHERE id = $1`, job)
	run := pgtest.QueryOne[uuid.UUID](t, pool, `SELECT werk_cron_trigger('fails')`)
	a.signal(syscall.SIGKILL)
	a.wait(t, 10*time.Second)
	waitGone(t, pool, a.pid(), 15*time.Second)
	if now := pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`); !now.Before(expires) {
		t.Fatalf("the primary died at %s, after the deadline %s: raise it", now, expires)
	}

	// No ticker runs: the deadline passes, the run fails (its row stays, as pgwerk keeps a
	// failed job), a schedule is paused.
	pgtest.Exec(t, pool, `UPDATE werk_jobs SET status = 'active', started_at = now(), attempts = 1 WHERE id = $1`, run)
	pgtest.Exec(t, pool, `UPDATE werk_jobs SET status = 'failed', completed_at = now(), error = 'boom' WHERE id = $1`, run)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET paused = true WHERE name = 'stopped'`)
	pgtest.Eventually(t, 10*time.Second, "the deadline passed", func() bool {
		return !pgtest.QueryOne[time.Time](t, pool, `SELECT clock_timestamp()`).Before(expires.Add(100 * time.Millisecond))
	})
	if got, _ := changes.drain(); got != "" {
		t.Fatalf("announced with no ticker running: %s", got)
	}

	b := startTicker(t, dsn)
	pgtest.Eventually(t, 15*time.Second, "the new primary's view of the three", func() bool {
		got := map[string]string{}
		rows, err := pool.Query(ctx, `SELECT name, health FROM werk_cron_status`)
		if err != nil {
			return false
		}
		for rows.Next() {
			var n, h string
			if rows.Scan(&n, &h) == nil {
				got[n] = h
			}
		}
		return got["late"] == "late" && got["fails"] == "failing" && got["stopped"] == "paused"
	})
	got, cs := changes.drain()
	if want := "fails: ok->failing; late: ok->late; stopped: ok->paused"; got != want {
		t.Errorf("the new primary announced %q, want %q", got, want)
	}
	for _, c := range cs {
		if c.Name == "late" && (!c.Since.Equal(expires) || c.Job == nil || *c.Job != job || c.Tick == nil || !c.Tick.Equal(start)) {
			t.Errorf("late announced %+v; want since its deadline %s, its tick %s and job %s", c, expires, start, job)
		}
	}

	// Another failover with nothing changed: nothing to announce. The new primary looks
	// at every schedule not ok, and at the health checks due, before its loop first goes
	// to sleep (its debug log says when).
	b.kill(t)
	waitGone(t, pool, b.pid(), 15*time.Second)
	c := startTicker(t, dsn)
	pgtest.Eventually(t, 15*time.Second, "the third ticker leads and goes to sleep", func() bool {
		return strings.Contains(c.out.String(), "primary: this ticker now schedules") && strings.Contains(c.out.String(), "msg=sleep")
	})
	if got, _ := changes.drain(); got != "" {
		t.Errorf("a takeover with nothing changed announced %s", got)
	}
}
