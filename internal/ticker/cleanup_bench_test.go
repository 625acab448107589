package ticker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// pgwerk's clean-up of finished jobs, 100,000 werkcron jobs in batches of 1,000 (one
// statement each), with werkcron's delete trigger (which records each job's outcome
// when the primary has not yet) and without it. Either the jobs' ledger rows await
// their outcomes (awaiting=true), the trigger's most expensive case: each deleted row is
// a probe of the ledger's primary key (from the job's key), its update, and the update
// of the schedule's run summary; or the primary recorded them already (awaiting=false),
// the usual case when pgwerk deletes a job its result_ttl after it ended: the probe
// alone. Reported per deleted job.
//
//	go test -run '^$' -bench Cleanup -benchtime 1x ./internal/ticker/
func BenchmarkCleanupOfCronJobs(b *testing.B) {
	const jobs, batch, schedules = 100_000, 1000, 1000
	for _, c := range []struct{ trigger, awaiting bool }{{true, true}, {true, false}, {false, true}} {
		trigger, awaiting := c.trigger, c.awaiting
		outcome := "NULL, NULL, NULL, NULL" // job_status, job_started_at, job_finished_at, job_attempts
		if !awaiting {
			outcome = "'complete', tick, tick + interval '1 s', 1" // as the jobs below ended
		}
		b.Run(fmt.Sprintf("trigger=%v/awaiting=%v", trigger, awaiting), func(b *testing.B) {
			dsn := pgtest.MigratedDB(b)
			ctx := context.Background()
			conn := connect(b, dsn)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for _, s := range []string{
					`TRUNCATE werk_jobs, werk_cron_ledger, werk_cron_jobs CASCADE`,
					fmt.Sprintf(`INSERT INTO werk_cron_jobs (name, func, interval_secs) SELECT 's' || i, 'app.s', 60 FROM generate_series(1, %d) i`, schedules),
					fmt.Sprintf(`WITH t AS (SELECT gen_random_uuid() AS id, 's' || (n %% %d + 1) AS name,
					                              '2026-01-01T00:00:00Z'::timestamptz + (n / %d) * interval '1 minute' AS tick
					                       FROM generate_series(0, %d - 1) n),
					      j AS (INSERT INTO werk_jobs (id, key, function, queue, status, payload, scheduled_at, cron_name,
					                                   started_at, completed_at, attempts)
					            SELECT id, 'cron:' || name || ':' || to_char(tick AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
					                   'app.s', 'default', 'complete', '{}', tick, name, tick, tick + interval '1 s', 1 FROM t)
					 INSERT INTO werk_cron_ledger (name, tick_at, outcome, job_id, job_status, job_started_at, job_finished_at, job_attempts)
					 SELECT name, tick, 'enqueued', id, %s FROM t`,
						schedules, schedules, jobs, outcome),
					`VACUUM ANALYZE werk_jobs, werk_cron_ledger`,
				} {
					if _, err := conn.Exec(ctx, s); err != nil {
						b.Fatal(err)
					}
				}
				if !trigger {
					if _, err := conn.Exec(ctx, `ALTER TABLE werk_jobs DISABLE TRIGGER werk_jobs_record_cron_outcome_on_delete`); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := time.Now()
				for deleted := int64(-1); deleted != 0; {
					tag, err := conn.Exec(ctx, `DELETE FROM werk_jobs WHERE id IN (
						SELECT id FROM werk_jobs WHERE status = 'complete' ORDER BY completed_at LIMIT $1)`, batch)
					if err != nil {
						b.Fatal(err)
					}
					deleted = tag.RowsAffected()
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/jobs, "µs/job")
				b.StopTimer()
				if trigger {
					var left int64
					if err := conn.QueryRow(ctx, `SELECT count(*) FROM werk_cron_ledger WHERE job_status IS NULL`).Scan(&left); err != nil || left != 0 {
						b.Fatalf("%d outcomes not recorded by the trigger (%v)", left, err)
					}
				} else if _, err := conn.Exec(ctx, `ALTER TABLE werk_jobs ENABLE TRIGGER werk_jobs_record_cron_outcome_on_delete`); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
