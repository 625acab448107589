package scheduler_test

// Hostile and odd input: what another database user can create — a row, a role, a
// schema, a function, a lock, a notification — stops, splits or owns nothing.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// An infinite instant has no meaning for a schedule, and one such row stopped every
// schedule once: the table refuses them, with a message that says which.
func TestHostileInfiniteInstantsRefused(t *testing.T) {
	t.Parallel()
	_, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('ok', 'app.ok', 60)`)
	for _, tc := range []struct{ sql, constraint string }{
		{`INSERT INTO werk_cron_jobs (func, interval_secs, ends_at) VALUES ('f', 5, 'infinity')`, "ends_at_must_be_finite"},
		{`INSERT INTO werk_cron_jobs (func, interval_secs, starts_at) VALUES ('f', 5, '-infinity')`, "starts_at_must_be_finite"},
		{`UPDATE werk_cron_jobs SET ends_at = 'infinity'`, "ends_at_must_be_finite"},
		{`UPDATE werk_cron_state SET last_tick_at = 'infinity'`, "last_tick_at_must_be_finite"},
		{`UPDATE werk_cron_state SET next_run_at = '-infinity'`, "next_run_at_must_be_finite"},
	} {
		if _, err := pool.Exec(context.Background(), tc.sql); err == nil || !strings.Contains(err.Error(), tc.constraint) {
			t.Errorf("%s: %v, want a violation of %s", tc.sql, err, tc.constraint)
		}
	}
}

// Sizes every tick can copy: the table refuses more, naming the limit; through Go the
// refusal names the field.
func TestHostileSizesRefused(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	big := `["` + strings.Repeat("x", 70_000) + `"]`
	for _, tc := range []struct{ sql, constraint string }{
		{`INSERT INTO werk_cron_jobs (func, interval_secs, args) VALUES ('f', 5, '` + big + `')`, "args_must_be_at_most_64_kb"},
		{`INSERT INTO werk_cron_jobs (func, interval_secs, kwargs) VALUES ('f', 5, '{"k": "` + strings.Repeat("x", 70_000) + `"}')`, "kwargs_must_be_at_most_64_kb"},
		{`INSERT INTO werk_cron_jobs (func, interval_secs, meta) VALUES ('f', 5, '{"k": "` + strings.Repeat("x", 70_000) + `"}')`, "meta_must_be_at_most_64_kb"},
		{`INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('n', '` + strings.Repeat("f", 2000) + `', 5)`, "func_must_be_at_most_1_kb"},
		{`INSERT INTO werk_cron_jobs (func, cron) VALUES ('f', '` + strings.Repeat("1,", 200) + `1 * * * *')`, "cron_must_be_at_most_256_bytes"},
	} {
		if _, err := pool.Exec(context.Background(), tc.sql); err == nil || !strings.Contains(err.Error(), tc.constraint) {
			t.Errorf("%s...: %v, want a violation of %s", tc.sql[:60], err, tc.constraint)
		}
	}
	_, err := s.Register(context.Background(), scheduler.CronJob{Name: "big", Func: "app.big", Interval: time.Minute, Args: []byte(big)})
	var ve *scheduler.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Args" || !strings.Contains(ve.Reason, "64 kb") {
		t.Errorf("Register with 70 KB of args: %v, want a ValidationError on Args", err)
	}
}

// Look-alikes of built-ins with exact argument types, created where werkcron lives by a
// role allowed to CREATE there, would win overload resolution over the built-ins (which
// take any type) and run as whoever called: the ticker, or the owner running
// werk_cron_grant (CVE-2018-1058's pattern). None of them ever runs: werkcron's
// functions and the ticker's statements call those built-ins as pg_catalog.f, and the
// ticker's session resolves pg_catalog first.
func TestHostileLookAlikeFunctionsNeverRun(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	mallory := pgtest.NewRole(t, dsn, "mallory", "")
	pgtest.Exec(t, pool, `GRANT CREATE ON SCHEMA public TO `+mallory)
	m := pgtest.ConnAs(t, dsn, mallory)
	lookAlikes := `
		CREATE TABLE public.mallory_log (who text, what text);
		GRANT INSERT ON public.mallory_log TO PUBLIC;
		CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'unnest(text[])'); SELECT pg_catalog.unnest($1) $$;
		CREATE FUNCTION public.unnest(timestamptz[]) RETURNS SETOF timestamptz LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'unnest(timestamptz[])'); SELECT pg_catalog.unnest($1) $$;
		CREATE FUNCTION public.unnest(uuid[]) RETURNS SETOF uuid LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'unnest(uuid[])'); SELECT pg_catalog.unnest($1) $$;
		CREATE FUNCTION public.unnest(integer[]) RETURNS SETOF integer LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'unnest(integer[])'); SELECT pg_catalog.unnest($1) $$;
		CREATE FUNCTION public.unnest(boolean[]) RETURNS SETOF boolean LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'unnest(boolean[])'); SELECT pg_catalog.unnest($1) $$;
		CREATE FUNCTION public.jsonb_build_object(text, jsonb, text, jsonb) RETURNS jsonb LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'jsonb_build_object'); SELECT pg_catalog.jsonb_build_object($1, $2, $3, $4) $$;
		CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'format(text, text)'); SELECT pg_catalog.format($1, $2) $$;
		CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'format(text, text, text)'); SELECT pg_catalog.format($1, $2, $3) $$;
		CREATE FUNCTION public.array_remove(text[], text) RETURNS text[] LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'array_remove'); SELECT pg_catalog.array_remove($1, $2) $$;
		CREATE FUNCTION public.array_cat(text[], text[]) RETURNS text[] LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'array_cat'); SELECT pg_catalog.array_cat($1, $2) $$;
		CREATE FUNCTION public.array_to_string(text[], text) RETURNS text LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'array_to_string'); SELECT pg_catalog.array_to_string($1, $2) $$;
		CREATE FUNCTION public.concat_ws(text, text, text) RETURNS text LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'concat_ws'); SELECT pg_catalog.concat_ws($1, $2, $3) $$;
		CREATE FUNCTION public.jsonb_populate_record(public.werk_cron_jobs, jsonb) RETURNS public.werk_cron_jobs LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, 'jsonb_populate_record'); SELECT pg_catalog.jsonb_populate_record($1, $2) $$;
		CREATE FUNCTION public.mallory_textcat(text, bigint) RETURNS text LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, '|| (text, bigint)'); SELECT $1 OPERATOR(pg_catalog.||) $2::text $$;
		CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = public.mallory_textcat);
		CREATE FUNCTION public.mallory_roweq(public.werk_cron_jobs, public.werk_cron_jobs) RETURNS boolean LANGUAGE sql AS
			$$ INSERT INTO public.mallory_log VALUES (current_user, '= (werk_cron_jobs)'); SELECT $1::text OPERATOR(pg_catalog.=) $2::text $$;
		CREATE OPERATOR public.= (LEFTARG = public.werk_cron_jobs, RIGHTARG = public.werk_cron_jobs, FUNCTION = public.mallory_roweq);`
	if _, err := m.Exec(ctx, lookAlikes); err != nil {
		t.Fatal(err)
	}
	logged := func() []string {
		return queryList[string](t, pool, `SELECT who || ': ' || what FROM public.mallory_log`)
	}
	// The test can fail: an unqualified call from a session whose path has public finds them.
	pgtest.Exec(t, pool, `SELECT unnest(ARRAY['a'])`)
	if got := logged(); len(got) != 1 {
		t.Fatalf("the look-alikes are not reachable, so this test proves nothing: %v", got)
	}
	pgtest.Exec(t, pool, `TRUNCATE public.mallory_log`)

	// What the owner does: manage schedules with SQL and Go, grant a ticker role.
	s := scheduler.New(pool, scheduler.Options{})
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('sql', 'app.sql', '* * * * * *', args => '["a"]', catchup => 'all')`)
	pgtest.Exec(t, pool, `SELECT werk_cron_alter('sql', queue => 'q2', clear => '{meta}')`)
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET kwargs = '{"k": 1}' WHERE name = 'sql'`)
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "go", Func: "app.go", Interval: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "go", scheduler.Changes{Queue: ptr("q3")}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `SELECT werk_cron_pause('go', 'a moment'), werk_cron_resume('go'), werk_cron_trigger('go')`)
	ticker := pgtest.NewRole(t, dsn, "ticker", "")
	if _, err := s.Grant(ctx, ticker, true); err != nil {
		t.Fatal(err)
	}
	// Tickers as the owner, then as the least-privilege role: both plan and tick.
	for _, who := range []string{"", ticker} {
		tdsn := dsn
		if who != "" {
			tdsn = pgtest.AsRole(t, dsn, who)
		}
		tk := startTicker(t, tdsn, scheduler.TickerOptions{})
		tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
		before := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'sql'`)
		pgtest.Eventually(t, 5*time.Second, "the ticker ticking", func() bool {
			return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'sql'`) >= before+2
		})
		tk.stop()
	}
	if got := logged(); len(got) != 0 {
		t.Errorf("look-alike functions ran: %v", got)
	}
}

// A schema named after the ticker's role (first in PostgreSQL's default search_path,
// "$user") changes neither the lock key nor the channel: a ticker running as that role
// and one running as the owner elect one primary between them, and whichever leads
// hears new schedules.
func TestHostilePerUserSchemaDoesNotSplitTheElection(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	role := pgtest.NewRole(t, dsn, "tick", "")
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.Grant(ctx, role, true); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `CREATE SCHEMA `+role+` AUTHORIZATION `+role)
	r := pgtest.ConnAs(t, dsn, role)
	var key, ownerKey int64
	if err := r.QueryRow(ctx, `SELECT werk_cron_lock_key()`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	ownerKey = pgtest.QueryOne[int64](t, pool, `SELECT werk_cron_lock_key()`)
	if key != ownerKey {
		t.Fatalf("lock key as %s (with a schema of its own) %d, as the owner %d", role, key, ownerKey)
	}

	a := startTicker(t, dsn, scheduler.TickerOptions{})
	b := startTicker(t, pgtest.AsRole(t, dsn, role), scheduler.TickerOptions{})
	pgtest.Eventually(t, 5*time.Second, "two tickers, one primary", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_instances`) == 2 &&
			pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_instances WHERE role = 'primary'`) == 1
	})
	primary, standby := a, b
	if b.Role() == scheduler.RolePrimary {
		primary, standby = b, a
	}
	heard := func(name string) {
		t.Helper()
		pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ($1, 'app.h', 3600)`, name)
		pgtest.Eventually(t, 2*time.Second, name+" planned and run by the primary", func() bool {
			return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = $1`, name) == 1
		})
	}
	heard("heard-first")
	primary.stop()
	standby.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	heard("heard-after-failover")
}

// A schema named after the ticker's role but created by someone else (anyone with
// CREATE on the database may) comes first in PostgreSQL's default search_path
// ("$user"). Its look-alikes of werkcron's own functions must never run in the ticker's
// session: the ticker leaves "$user" out of its path unless that schema is the role's
// own, before it calls any werkcron function.
func TestHostileSchemaNamedAfterTheTickerRole(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	role := pgtest.NewRole(t, dsn, "named", "")
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.Grant(ctx, role, true); err != nil {
		t.Fatal(err)
	}
	// The owner here stands for the other role: the schema is not the ticker role's.
	pgtest.Exec(t, pool, `CREATE TABLE public.impostor_log (who text, what text)`)
	pgtest.Exec(t, pool, `GRANT INSERT ON public.impostor_log TO PUBLIC`)
	pgtest.Exec(t, pool, `CREATE SCHEMA `+role)
	pgtest.Exec(t, pool, `GRANT USAGE ON SCHEMA `+role+` TO PUBLIC`)
	for _, f := range []struct{ sig, returns, value string }{
		{"werk_cron_schema()", "text", "'public'"},
		{"werk_cron_lock_key()", "bigint", "42"},
		{"werk_cron_lock_held()", "boolean", "true"},
		{"werk_cron_member_key()", "bigint", "43"},
		{"werk_cron_listen()", "text", "'elsewhere'"},
	} {
		pgtest.Exec(t, pool, `CREATE FUNCTION `+role+`.`+f.sig+` RETURNS `+f.returns+` LANGUAGE sql AS
			$$ INSERT INTO public.impostor_log VALUES (current_user, '`+f.sig+`'); SELECT `+f.value+` $$`)
	}
	// The test can fail: as the role, with the default path, the look-alikes answer.
	if key := pgtest.QueryOne[int64](t, pgtest.ConnAs(t, dsn, role), `SELECT werk_cron_lock_key()`); key != 42 {
		t.Fatalf("the look-alike lock key is not reachable (got %d), so this test proves nothing", key)
	}
	pgtest.Exec(t, pool, `TRUNCATE public.impostor_log`)

	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('n', 'app.n', 1)`)
	owner := startTicker(t, dsn, scheduler.TickerOptions{})
	owner.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	tk := startTicker(t, pgtest.AsRole(t, dsn, role), scheduler.TickerOptions{})
	pgtest.Eventually(t, 5*time.Second, "two tickers, one primary", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_instances`) == 2 &&
			pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_instances WHERE role = 'primary'`) == 1
	})
	if tk.Role() != scheduler.RoleStandby {
		t.Fatalf("the role's ticker is %s while the owner's leads: it took another lock key", tk.Role())
	}
	owner.stop()
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs) VALUES ('after', 'app.after', 3600)`)
	pgtest.Eventually(t, 5*time.Second, "the role's ticker hears and runs a new schedule", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'after'`) == 1
	})
	if got := queryList[string](t, pool, `SELECT who || ': ' || what FROM public.impostor_log`); len(got) != 0 {
		t.Errorf("look-alikes in a schema named after the ticker's role ran: %v", got)
	}
}

// PUBLIC and unknown roles get no ticker rights, and a ticker role reads only the
// columns of werk_jobs a tick looks at (never a job's payload).
func TestHostileGrantRefusesPublicAndStaysNarrow(t *testing.T) {
	t.Parallel()
	s, pool, dsn := newScheduler(t)
	ctx := context.Background()
	for _, role := range []string{"public", "PUBLIC", "no_such_role_at_all"} {
		if _, err := s.Grant(ctx, role, true); err == nil {
			t.Errorf("Grant(%q) succeeded", role)
		}
	}
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM information_schema.role_table_grants
		WHERE grantee = 'PUBLIC' AND table_name LIKE 'werk_%'`); n != 0 {
		t.Errorf("%d table privileges were granted to PUBLIC", n)
	}
	role := pgtest.NewRole(t, dsn, "narrow", "")
	if _, err := s.Grant(ctx, role, true); err != nil {
		t.Fatal(err)
	}
	r := pgtest.ConnAs(t, dsn, role)
	var pgErr *pgconn.PgError
	if _, err := r.Exec(ctx, `SELECT payload FROM werk_jobs`); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("the ticker role read werk_jobs.payload: %v", err)
	}
	if _, err := r.Exec(ctx, `SELECT id, key, function, status, cron_name FROM werk_jobs`); err != nil {
		t.Errorf("the ticker role cannot read what a tick looks at: %v", err)
	}
}

// Anyone may NOTIFY the ticker's channel. A flood of distinct payloads is a flood of
// hints to look at the unplanned rows, which costs a bounded number of looks (planning
// rests at least 50 ms after a look that found nothing), and the schedules tick on time.
func TestHostileNotificationStorm(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron) VALUES ('pulse', 'app.pulse', '* * * * * *')`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 3*time.Second, "the pulse ticking", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`) >= 1
	})
	channel := pgtest.QueryOne[string](t, pool, `SELECT werk_cron_channel()`)
	stranger := pgtest.ConnAs(t, dsn, pgtest.NewRole(t, dsn, "stranger", ""))
	from := dbNow(t, pool)
	lookedBefore := tk.Stats().PlanLooks
	var sent atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		batch := &pgx.Batch{}
		for range 200 {
			batch.Queue(`SELECT pg_notify($1, $2)`, channel, uuid.NewString())
		}
		if err := stranger.SendBatch(ctx, batch).Close(); err != nil {
			t.Fatal(err)
		}
		sent.Add(200)
	}
	looks := tk.Stats().PlanLooks - lookedBefore
	to := dbNow(t, pool).Add(-time.Second)
	t.Logf("%d notifications in 3 s: %d looks at the unplanned rows", sent.Load(), looks)
	if looks > 3*int64(time.Second/(50*time.Millisecond))+10 {
		t.Errorf("%d notifications made the ticker look %d times in 3 s", sent.Load(), looks)
	}
	checkOnTime(t, pool, "pulse", from.Truncate(time.Second).Add(time.Second), to.Truncate(time.Second))
}

// Advisory locks have no permissions: any session may take the leader lock, or the
// membership key. A session holding the leader lock without being a ticker is shown as
// such in werk_cron_instances and reported by the standbys (no ticker can lead while it
// lasts); one holding the membership key does not keep a ticker from standing by and
// leading.
func TestHostileLockHoldersAreShownAndDoNotStopTickers(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	ctx := context.Background()
	squatter := pgtest.ConnAs(t, dsn, pgtest.NewRole(t, dsn, "squatter", ""))
	if _, err := squatter.Exec(ctx, `SELECT pg_advisory_lock(werk_cron_lock_key()), pg_advisory_lock(werk_cron_member_key())`); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	tk := startTicker(t, dsn, scheduler.TickerOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tk.waitRole(t, scheduler.RoleStandby, 5*time.Second)
	pgtest.Eventually(t, 5*time.Second, "the squatter listed as not a ticker, and reported", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_instances WHERE role = 'not a ticker'`) == 1 &&
			strings.Contains(logs.String(), "not a werkcron ticker")
	})
	if !strings.Contains(logs.String(), "membership key") {
		t.Errorf("the ticker did not say it could not join werk_cron_instances:\n%s", logs.String())
	}
	if _, err := squatter.Exec(ctx, `SELECT pg_advisory_unlock(werk_cron_lock_key())`); err != nil {
		t.Fatal(err)
	}
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
}

// A job row inserted beforehand with the key of a future tick is not this schedule's
// job: the tick gets no job of its own, and the schedule shows an error naming the key,
// rather than a quiet duplicate.
func TestHostileForeignJobKeyIsAnError(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	// catchup = 'all': however late the ticker starts, it decides the tick whose key is
	// taken rather than recording it missed.
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, cron, catchup) VALUES ('victim', 'app.victim', '* * * * * *', 'all')`)
	tick := nextWholeSecond(t, pool, time.Second)
	pgtest.Exec(t, pool, `INSERT INTO werk_jobs (key, function, cron_name, scheduled_at) VALUES ($1, 'app.other', 'someone', $2)`, keyOf("victim", tick), tick)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	// The error lasts until the schedule's next decision goes through (a second here):
	// the status view's state and message are read together.
	pgtest.Eventually(t, 5*time.Second, "the foreign key reported on the schedule", func() bool {
		var msg *string
		var state string
		if err := pool.QueryRow(context.Background(), `SELECT last_error, state FROM werk_cron_status WHERE name = 'victim'`).Scan(&msg, &state); err != nil {
			t.Fatal(err)
		}
		return state == "error" && msg != nil && strings.Contains(*msg, keyOf("victim", tick)) && strings.Contains(*msg, "werkcron did not make")
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE key = $1`, keyOf("victim", tick)); n != 1 {
		t.Errorf("%d jobs with the taken key", n)
	}
	// The ledger keeps it: 'foreign', naming the job that holds the key.
	if ok := pgtest.QueryOne[bool](t, pool, `SELECT t.outcome = 'foreign' AND t.job_id = j.id
		FROM werk_cron_ticks t JOIN werk_jobs j ON j.key = $2 WHERE t.name = 'victim' AND t.tick_at = $1`, tick, keyOf("victim", tick)); !ok {
		t.Error("the ledger row of the taken tick is not 'foreign' naming the job that holds its key")
	}
}

// catchup = 'all' after an hour's outage of a one-second schedule with no window: the
// newest MaxCatchupAll ticks get jobs, the older ones are recorded missed.
func TestHostileCatchupAllIsBounded(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	now := pgtest.QueryOne[time.Time](t, pool, `SELECT date_trunc('second', now())`)
	hourAgo := now.Add(-time.Hour)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup) VALUES ('flood', 'app.f', 1, 'all')`)
	backdate(t, pool, "flood", hourAgo, &hourAgo)
	tk := startTicker(t, dsn, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 10*time.Second, "the outage decided", func() bool {
		return pgtest.QueryOne[bool](t, pool, `SELECT last_tick_at >= $1 FROM werk_cron_state`, now)
	})
	// The first decision, at the database's now D, finds the ticks (hourAgo, D] pending:
	// it records all but the newest MaxCatchupAll missed, and those (and every tick
	// after them) get one job each.
	var firstDecision, newestMissed time.Time
	if err := pool.QueryRow(context.Background(), `SELECT min(decided_at), (SELECT max(tick_at) FROM werk_cron_ticks WHERE outcome = 'missed')
		FROM werk_cron_ticks`).Scan(&firstDecision, &newestMissed); err != nil {
		t.Fatal(err)
	}
	missed := pgtest.QueryOne[int64](t, pool, `SELECT sum(ticks) FROM werk_cron_ticks WHERE outcome = 'missed'`)
	if want := int64(newestMissed.Sub(hourAgo) / time.Second); missed != want {
		t.Errorf("%d ticks recorded missed, want every one up to %s: %d", missed, newestMissed, want)
	}
	// (The ticker decided by its estimate of the database's clock, a moment before its
	// statement began: under load, possibly in the second before.)
	if got := newestMissed.Add(time.Duration(scheduler.MaxCatchupAll) * time.Second); got.After(firstDecision) || !got.After(firstDecision.Add(-2*time.Second)) {
		t.Errorf("the newest missed tick %s is not %d ticks before the first decision at %s", newestMissed, scheduler.MaxCatchupAll, firstDecision)
	}
	last := pgtest.QueryOne[time.Time](t, pool, `SELECT last_tick_at FROM werk_cron_state`)
	checkEveryTickOnce(t, pool, "flood", newestMissed.Add(time.Second), last)
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE scheduled_at <= $1`, newestMissed); n != 0 {
		t.Errorf("%d jobs for ticks recorded missed", n)
	}
	checkJobs(t, pool)
}

// A schema name too long for a notification channel (which holds 63 bytes) still works.
func TestHostileLongSchemaName(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	schema := "tenant_" + strings.Repeat("x", 56) // 63 bytes, the longest name there is
	pgtest.Exec(t, pool, `CREATE SCHEMA `+schema)
	long := dsn + "&options=-csearch_path%3D" + schema
	if err := scheduler.Migrate(context.Background(), long, nil); err != nil {
		t.Fatal(err)
	}
	tk := startTicker(t, long, scheduler.TickerOptions{})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Exec(t, pool, `INSERT INTO `+schema+`.werk_cron_jobs (name, func, interval_secs) VALUES ('l', 'app.l', 3600)`)
	pgtest.Eventually(t, 2*time.Second, "a job in the long-named schema", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM `+schema+`.werk_jobs`) == 1
	})
}

// The ticker's allow-list: a schedule whose function or queue is outside it gets
// last_error and no job; the others run.
func TestHostileAllowList(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, queue, interval_secs) VALUES
		('ok', 'app.tasks.ok', 'default', 1), ('evil', 'os.system', 'default', 1), ('elsewhere', 'app.tasks.x', 'admin', 1)`)
	tk := startTicker(t, dsn, scheduler.TickerOptions{AllowFuncs: []string{"app.tasks.*"}, AllowQueues: []string{"default"}})
	tk.waitRole(t, scheduler.RolePrimary, 5*time.Second)
	pgtest.Eventually(t, 3*time.Second, "ok ticking, the others refused", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name = 'ok'`) >= 2 &&
			pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_state WHERE last_error LIKE '%allow-list%'`) == 2
	})
	if n := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name <> 'ok'`); n != 0 {
		t.Errorf("%d jobs of schedules outside the allow-list", n)
	}
	if msg := pgtest.QueryOne[string](t, pool, `SELECT last_error FROM werk_cron_state WHERE name = 'evil'`); !strings.Contains(msg, `"os.system"`) {
		t.Errorf("last_error %q does not name the function", msg)
	}
}

// syncBuffer collects log output from the ticker's goroutine.
type syncBuffer = pgtest.SyncBuffer
