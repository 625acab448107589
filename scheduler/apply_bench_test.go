package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// benchJobs are n schedules as a team's file would have them: cron in a zone or an
// interval, arguments, labels.
func benchJobs(n int) []scheduler.CronJob {
	jobs := make([]scheduler.CronJob, n)
	for i := range jobs {
		j := scheduler.CronJob{Name: fmt.Sprintf("tenant-%05d-sync", i), Func: "myapp.tasks.sync", Queue: "sync",
			Args:   json.RawMessage(fmt.Sprintf(`[%d, "full"]`, i)),
			Kwargs: json.RawMessage(`{"batch": 500, "dry_run": false}`),
			Labels: map[string]string{"tenant": fmt.Sprint(i), "team": "integrations"}}
		if i%2 == 0 {
			j.Cron, j.Timezone = fmt.Sprintf("%d 3 * * *", i%60), "Europe/Berlin"
		} else {
			j.Interval = time.Duration(300+i%60) * time.Second
		}
		jobs[i] = j
	}
	return jobs
}

func benchDB(b *testing.B) *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), pgtest.MigratedDB(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// Applying a file of 10,000 schedules to a database that has them all already: one
// comparison statement, nothing written.
func BenchmarkApplyUnchanged10k(b *testing.B) {
	pool := benchDB(b)
	ctx := context.Background()
	jobs := benchJobs(10000)
	if _, err := scheduler.Apply(ctx, pool, "integrations", jobs, scheduler.ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		plan, err := scheduler.Apply(ctx, pool, "integrations", jobs, scheduler.ApplyOptions{Prune: true})
		if err != nil {
			b.Fatal(err)
		}
		if !plan.Empty() || len(plan.Unchanged) != len(jobs) {
			b.Fatalf("not unchanged: %d created, %d changed", len(plan.Created), len(plan.Changed))
		}
	}
}

// Creating 10,000 schedules in one apply (each iteration on an emptied table).
func BenchmarkApplyCreate10k(b *testing.B) {
	pool := benchDB(b)
	ctx := context.Background()
	jobs := benchJobs(10000)
	for b.Loop() {
		b.StopTimer()
		pgtest.Exec(b, pool, `TRUNCATE werk_cron_jobs CASCADE`)
		b.StartTimer()
		plan, err := scheduler.Apply(ctx, pool, "integrations", jobs, scheduler.ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(plan.Created) != len(jobs) {
			b.Fatalf("%d created", len(plan.Created))
		}
	}
}

// Changing 100 of 10,000 schedules: the comparison, then 100 writes in one statement.
func BenchmarkApplyChange100Of10k(b *testing.B) {
	pool := benchDB(b)
	ctx := context.Background()
	jobs := benchJobs(10000)
	if _, err := scheduler.Apply(ctx, pool, "integrations", jobs, scheduler.ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	round := 0
	for b.Loop() {
		round++
		for i := 0; i < 100; i++ {
			jobs[i*100].Labels = map[string]string{"tenant": fmt.Sprint(i), "round": fmt.Sprint(round)}
		}
		plan, err := scheduler.Apply(ctx, pool, "integrations", jobs, scheduler.ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(plan.Changed) != 100 {
			b.Fatalf("%d changed", len(plan.Changed))
		}
	}
}
