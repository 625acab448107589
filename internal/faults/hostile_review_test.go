package faults

// The second hostile-input review's findings that need real `werkcron run` processes
// and their /healthz (the others are in scheduler/hostile_review_test.go).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// tickerRole creates a role with a ticker's rights (what `werkcron grant ROLE --apply`
// runs).
func tickerRole(t *testing.T, dsn string, pool *pgxpool.Pool) string {
	t.Helper()
	role := pgtest.NewRole(t, dsn, "ticker", "")
	pgtest.Exec(t, pool, `SELECT count(*) FROM werk_cron_grant($1)`, role)
	return role
}

// grantApp gives role an application's rights (`werkcron grant ROLE --app --apply`).
func grantApp(t *testing.T, pool *pgxpool.Pool, role string) {
	t.Helper()
	pgtest.Exec(t, pool, `SELECT count(*) FROM werk_cron_grant_app($1)`, role)
}

// healthNow is /healthz's status code and body; 0 while nothing answers there.
func healthNow(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// waitFor is pgtest.Eventually that, when it gives up, says what show() finds then.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool, show func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s; found %s", within, what, show())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listed is werk_cron_instances, one "pid role" per session.
func listed(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	return pgtest.QueryOne[string](t, pool, `SELECT coalesce(string_agg(pid || ' ' || role, ', '), 'none') FROM werk_cron_instances`)
}

// Finding 5 (medium), as a role with PostgreSQL's defaults only: advisory locks have no
// permissions, and a session that merely connected, named like a ticker, holding the
// membership key shared and queued on the leader lock, got the lock when the primary
// restarted; werk_cron_instances and `werkcron status` listed it as the primary, every
// ticker answered /healthz 200 'standby', and nothing ticked. Now it is listed as 'not a
// ticker' (its role may not write the ledger), every ticker's /healthz answers 503
// naming it, and `werkcron status` shows it; once it lets go, a ticker leads.
func TestHostileReviewNonTickerHoldingTheLeaderLockIsNamed(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	tdsn := pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool))
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('pulse', 'app.pulse', '* * * * * *')`)
	leaderKey := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_lock_key()`)
	memberKey := pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_member_key()`)

	addrA, addrB := httpAddr(t), httpAddr(t)
	a := startTicker(t, tdsn, "--no-migrate", "--http-addr", addrA)
	waitInstances(t, pool, 1, 10*time.Second)

	// The stranger: named like a ticker, a member like one, queued on the leader lock.
	stranger := pgtest.ConnAs(t, dsn, pgtest.NewRole(t, dsn, "stranger", ""))
	pgtest.Exec(t, stranger, `SET application_name = 'werkcron run/4242'`)
	pgtest.Exec(t, stranger, `SELECT pg_advisory_lock_shared($1)`, memberKey)
	strangerPid := pgtest.QueryOne[int32](t, stranger, `SELECT pg_backend_pid()`)
	granted := make(chan error, 1)
	go func() {
		_, err := stranger.Exec(ctx, `SELECT pg_advisory_lock($1)`, leaderKey)
		granted <- err
	}()
	pgtest.Eventually(t, 5*time.Second, "the stranger waiting for the leader lock", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted`,
			strangerPid) == 1
	})
	// A second ticker, queued behind the stranger.
	startTicker(t, tdsn, "--no-migrate", "--http-addr", addrB)
	pgtest.Eventually(t, 10*time.Second, "the second ticker standing by", func() bool {
		code, body := healthNow(addrB)
		return code == http.StatusOK && body == "ok standby"
	})

	// The primary restarts: the lock goes to the first in line, the stranger.
	a.kill(t)
	select {
	case err := <-granted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stranger did not get the leader lock when the primary died")
	}
	startTicker(t, tdsn, "--no-migrate", "--http-addr", addrA)

	waitFor(t, 10*time.Second, fmt.Sprintf("the stranger (pid %d) listed as not a ticker, no primary, two standbys", strangerPid), func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT count(*) FILTER (WHERE pid = $1 AND role = 'not a ticker') = 1
			AND count(*) FILTER (WHERE role = 'primary') = 0 AND count(*) FILTER (WHERE role = 'standby') = 2
			FROM werk_cron_instances`, strangerPid)
	}, func() string { return listed(t, pool) })
	for _, addr := range []string{addrA, addrB} {
		var code int
		var body string
		waitFor(t, 10*time.Second, "/healthz of "+addr+" naming the stranger", func() bool {
			code, body = healthNow(addr)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "not a werkcron ticker") &&
				strings.Contains(body, fmt.Sprintf("pid %d", strangerPid))
		}, func() string { return fmt.Sprintf("%d %q", code, body) })
	}
	out, err := exec.Command(werkcronBin, "status", "--dsn", dsn, "--json").Output()
	if err != nil {
		t.Fatalf("werkcron status: %v", err)
	}
	var st struct {
		Primary *struct{ PID int } `json:"primary"`
		Others  []struct {
			PID  int    `json:"pid"`
			Role string `json:"role"`
		} `json:"not_tickers"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("werkcron status --json: %v\n%s", err, out)
	}
	if st.Primary != nil || len(st.Others) != 1 || st.Others[0].PID != int(strangerPid) {
		t.Errorf("werkcron status --json: %s; want no primary, and the stranger among not_tickers", out)
	}
	out, err = exec.Command(werkcronBin, "status", "--dsn", dsn).Output()
	if err != nil || !strings.Contains(string(out), "not a ticker") || !strings.Contains(string(out), fmt.Sprintf("pid %d", strangerPid)) {
		t.Errorf("werkcron status: %v; want the stranger named, as not a ticker:\n%s", err, out)
	}

	// It lets go: a ticker leads, and ticks.
	if err := stranger.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, pool, 2, 10*time.Second)
	waitProgress(t, pool, 5*time.Second)
	for _, addr := range []string{addrA, addrB} {
		pgtest.Eventually(t, 5*time.Second, "/healthz of "+addr+" healthy again", func() bool {
			code, _ := healthNow(addr)
			return code == http.StatusOK
		})
	}
}

// Finding 8 (low), as an application role (werk_cron_grant_app gives it UPDATE on the
// definition, so it may hold schedules: a change of their definitions left uncommitted
// holds their state rows): /healthz said 200 while every schedule's row was held for
// 80 s and nothing ticked. Now a primary that has ticked nothing for
// --owed-after (a minute in production) while others hold every due schedule answers
// 503 'stalled', and is healthy again once they let go.
func TestHostileReviewHealthzSaysStalledWhileRowsAreHeld(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	app := pgtest.NewRole(t, dsn, "app", "")
	grantApp(t, pool, app)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron)
		SELECT 'held' || i, 'app.held', '* * * * * *' FROM generate_series(1, 3) i`)
	addr := httpAddr(t)
	startTicker(t, pgtest.AsRole(t, dsn, tickerRole(t, dsn, pool)), "--no-migrate", "--http-addr", addr, "--owed-after", "2s")
	waitInstances(t, pool, 1, 10*time.Second)
	// Planned first: rows held before the planner saw them are not owed (nothing of them
	// is due), and a primary that owes nothing is healthy.
	pgtest.Eventually(t, 10*time.Second, "the schedules planned", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT bool_and(planned_at IS NOT NULL) FROM werk_cron_state`)
	})
	pgtest.Eventually(t, 10*time.Second, "/healthz healthy before the rows are held", func() bool {
		code, body := healthOf(t, addr)
		return code == http.StatusOK && body == "ok primary"
	})

	tx, err := pgtest.ConnAs(t, dsn, app).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pgtest.Exec(t, tx, `UPDATE werk_cron_jobs SET meta = '{"held": true}'`)
	var code int
	var body string
	waitFor(t, 15*time.Second, "/healthz failing while every schedule is held", func() bool {
		code, body = healthOf(t, addr)
		return code == http.StatusServiceUnavailable
	}, func() string { return fmt.Sprintf("%d %q", code, body) })
	if !strings.HasPrefix(body, "stalled") {
		t.Errorf("/healthz while every schedule is held: %q; want it to say the primary is stalled", body)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 10*time.Second, "/healthz healthy again once the rows are let go", func() bool {
		code, body = healthOf(t, addr)
		return code == http.StatusOK && body == "ok primary"
	})
	waitProgress(t, pool, 5*time.Second)
}
