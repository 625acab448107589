package faults

import (
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// A job key held by a job werkcron did not make (another scheduler enqueuing the same
// schedule, or a job made by hand with werkcron's key) fails the statement of ticks at
// their usual pace that meets it: that statement is undone and written again, looking
// for held keys first. In a fan-out written by two connections, each part meeting such
// a key on another tick, every other tick gets its one job, the held ticks are recorded
// 'foreign' naming the other job, and only the first held key costs a statement: the
// ticker says so once and then looks for held keys first.
func TestFanoutMeetsKeysHeldByOtherJobs(t *testing.T) {
	t.Parallel()
	dsn, pool := migratedDB(t)
	const n, every = 3000, 2
	addFanout(t, pool, "k", n, every, 2)
	tk := startTicker(t, dsn, "--parallel", "2")
	anchor := anchorFanout(t, pool, "k", 5*time.Second)
	ticks := ticksFrom(anchor, every, 2)
	// Two more schedules of the same fan-out, each with one tick's key held: the names
	// sort before and after k*, so that they fall in the two connections' parts.
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, catchup, starts_at, ends_at)
		SELECT name, 'app.fan', $1, 'all', $2, $3 FROM unnest(ARRAY['a-held', 'z-held']) name`,
		every, anchor, ticks[1])
	keyOf := `'cron:' || $1::text || ':' || to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`
	held := map[string]string{} // "name tick" -> the other job's id
	for _, h := range []struct {
		name string
		tick time.Time
	}{{"a-held", ticks[0]}, {"z-held", ticks[1]}} {
		held[h.name+" "+h.tick.UTC().Format(time.RFC3339)] = pgtest.QueryOne[string](t, pool,
			`INSERT INTO werk_jobs (key, function, scheduled_at) VALUES (`+keyOf+`, 'app.other', $2) RETURNING id::text`,
			h.name, h.tick)
	}

	waitPlanned(t, pool, "_-held", anchor)
	waitJobs(t, pool, "k", n, ticks, time.Until(ticks[1])+60*time.Second)
	pgtest.Eventually(t, 10*time.Second, "both ticks of the two schedules decided", func() bool {
		return pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_cron_ticks WHERE name LIKE '_-held'`) == 4
	})
	checkFanout(t, pool, "k", n, ticks)

	rows, err := pool.Query(ctx, `SELECT t.name, t.tick_at, t.outcome, coalesce(t.job_id::text, ''),
			coalesce((SELECT j.cron_name FROM werk_jobs j WHERE j.id = t.job_id), '')
		FROM werk_cron_ticks t WHERE t.name LIKE '_-held' ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, outcome, job, cronName string
		var at time.Time
		if err := rows.Scan(&name, &at, &outcome, &job, &cronName); err != nil {
			t.Fatal(err)
		}
		if other, ok := held[name+" "+at.UTC().Format(time.RFC3339)]; ok {
			if outcome != "foreign" || job != other {
				t.Errorf("%s@%s: %s, job %q; want foreign, naming the other job %s", name, at, outcome, job, other)
			}
		} else if outcome != "enqueued" || cronName != name {
			t.Errorf("%s@%s: %s, job %q of %q; want enqueued with a job of its own", name, at, outcome, job, cronName)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if d := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs WHERE cron_name LIKE '_-held'`); d != 2 {
		t.Errorf("%d jobs of the two schedules; want one each (their other tick's key is another job's)", d)
	}
	// a-held's tick failed the first part's statement, which the ticker says; z-held's,
	// a tick later in the other part, was left out by the look it kept on.
	if out := tk.out.String(); strings.Count(out, "look for held keys first") != 1 {
		t.Errorf("the ticker said it looks for held keys first %d times; want once:\n%s",
			strings.Count(out, "look for held keys first"), tail(out, 30))
	}
}
