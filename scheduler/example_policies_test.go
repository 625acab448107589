package scheduler_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

// Policies are fields of the schedule: at most one job running and one waiting, each
// job up to 30 s after its tick (the same offset on every ticker), and 24 runs in all.
func ExampleCronJob_policies() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})

	runs := 24
	job, err := s.Register(ctx, scheduler.CronJob{
		Name:          "sync-inventory",
		Func:          "myapp.tasks.sync",
		Cron:          "0 * * * *",
		Overlap:       scheduler.OverlapBufferOne,
		Jitter:        30 * time.Second,
		RemainingRuns: &runs,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.Overlap, job.Jitter, *job.RemainingRuns)
	// Output: buffer_one 30s 24
}

// Backfill enqueues the ticks of a past range that have no job yet: here the three
// hourly ticks before this hour of a schedule paused since it was created. The primary
// ticker carries the request out; Backfill waits for it.
func ExampleScheduler_Backfill() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "hourly", Func: "myapp.tasks.hourly", Cron: "0 * * * *", Paused: true}); err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = s.Run(runCtx) }()

	hour := time.Now().Truncate(time.Hour)
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for range 2 { // the second time, every tick has its job already
		b, err := s.Backfill(wait, "hourly", hour.Add(-3*time.Hour), hour.Add(-time.Second))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("enqueued %d, had a job already %d\n", b.Enqueued, b.Already)
	}
	// Output:
	// enqueued 3, had a job already 0
	// enqueued 0, had a job already 3
}
