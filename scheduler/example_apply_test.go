package scheduler_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/pgwerk/werkcron/internal/schedfile"
	"github.com/pgwerk/werkcron/scheduler"
)

// Schedules as code: the schedules a team keeps (in its repository, read from a file
// by `werkcron apply`; here in Go) are made true in one transaction. Applying again
// after a change writes only the change; applying the same set writes nothing.
func ExampleApply() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()

	jobs := []scheduler.CronJob{
		{Name: "daily-report", Func: "myapp.tasks.report", Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin",
			Labels: map[string]string{"team": "billing"}},
		{Name: "ping", Func: "myapp.tasks.ping", Interval: 30 * time.Second},
	}
	plan, err := scheduler.Apply(ctx, pool, "billing", jobs, scheduler.ApplyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", plan.Created)

	// The file changes: a new time for the report, and ping is gone.
	jobs[0].Cron = "0 8 * * 1-5"
	plan, err = scheduler.Apply(ctx, pool, "billing", jobs[:1], scheduler.ApplyOptions{Prune: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range plan.Changed {
		for _, f := range c.Fields {
			fmt.Printf("changed %s: %s %s -> %s\n", c.Name, f.Field, f.Old, f.New)
		}
	}
	fmt.Println("removed:", plan.Removed)

	// Again: nothing to do, and nothing is written.
	plan, err = scheduler.Apply(ctx, pool, "billing", jobs[:1], scheduler.ApplyOptions{Prune: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("unchanged:", plan.Unchanged, "empty:", plan.Empty())
	// Output:
	// created: [daily-report ping]
	// changed daily-report: cron "0 9 * * 1-5" -> "0 8 * * 1-5"
	// removed: [ping]
	// unchanged: [daily-report] empty: true
}

// Export prints schedules as a file lists them: only what is not at its default, and
// no state. Applying its output as the same owner changes nothing.
func ExampleExport() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "daily-report", Func: "myapp.tasks.report",
		Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin", Queue: "reports", Timeout: 10 * time.Minute,
		Labels: map[string]string{"team": "billing"}}); err != nil {
		log.Fatal(err)
	}
	jobs, err := scheduler.Export(ctx, pool, "")
	if err != nil {
		log.Fatal(err)
	}
	if err := schedfile.Write(os.Stdout, jobs); err != nil {
		log.Fatal(err)
	}
	// Output:
	// schedules:
	//   - name: daily-report
	//     func: myapp.tasks.report
	//     cron: "0 9 * * 1-5"
	//     timezone: Europe/Berlin
	//     queue: reports
	//     timeout_secs: 600
	//     labels:
	//       team: billing
}
