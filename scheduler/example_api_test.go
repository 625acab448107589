package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
	"github.com/pgwerk/werkcron/scheduler/cron"
)

// exampleDB returns a pool on a fresh, migrated throwaway database (in a real program:
// your DATABASE_URL, migrated by scheduler.Migrate or `werkcron migrate`) and a function
// that drops it.
func exampleDB() (*pgxpool.Pool, func()) {
	ctx := context.Background()
	dsn, drop, err := pgtest.MigratedTempDB(ctx)
	if err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	return pool, func() { pool.Close(); drop() }
}

// The seed's CronScheduler example in Go: register two schedules at start-up (again at
// every start: registering an unchanged schedule changes nothing), then run the ticker.
func Example() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()

	s := scheduler.New(pool, scheduler.Options{})
	args, _ := json.Marshal([]any{"sales"})
	kwargs, _ := json.Marshal(map[string]any{"format": "pdf"})
	if _, err := s.Register(ctx, scheduler.CronJob{
		Name:     "daily-report",
		Func:     "myapp.tasks.report",
		Cron:     "0 9 * * 1-5",
		Timezone: "Europe/Berlin",
		Queue:    "reports",
		Args:     args,
		Kwargs:   kwargs,
		Timeout:  10 * time.Minute,
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Register(ctx, scheduler.CronJob{Func: "myapp.tasks.ping", Interval: 30 * time.Second}); err != nil {
		log.Fatal(err)
	}

	// Run the ticker until ctx is done (here: until the first job is enqueued, or 10 s).
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(runCtx) }()
	ticked := func() bool {
		j, err := s.Get(ctx, "myapp.tasks.ping")
		if err != nil {
			log.Fatal(err)
		}
		return !j.LastTickAt.IsZero()
	}
wait:
	for deadline := time.After(10 * time.Second); !ticked(); {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			fmt.Println("no tick within 10 s") // not in the Output below: the example fails rather than hangs
			break wait
		}
	}
	stop()
	if err := <-errc; err != nil {
		log.Fatal(err)
	}

	jobs, err := s.Jobs(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Printf("%s: cron %q every %s in %s, ticked %v\n", j.Name, j.Cron, j.Interval, j.Timezone, !j.LastTickAt.IsZero())
	}
	// Output:
	// daily-report: cron "0 9 * * 1-5" every 0s in Europe/Berlin, ticked false
	// myapp.tasks.ping: cron "" every 30s in UTC, ticked true
}

func ExampleScheduler_Register_validation() {
	pool, done := exampleDB()
	defer done()
	s := scheduler.New(pool, scheduler.Options{})

	_, err := s.Register(context.Background(), scheduler.CronJob{Func: "app.tasks.x", Cron: "*/5 * * * *", Interval: time.Minute})
	fmt.Println(err)
	fmt.Println(errors.Is(err, scheduler.ErrCronOrInterval))

	_, err = s.Register(context.Background(), scheduler.CronJob{Name: "typo", Func: "app.tasks.x", Cron: "0 25 * * *"})
	var ve *scheduler.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Name, ve.Field, errors.Is(err, cron.ErrInvalid))
	}
	// Output:
	// schedule "app.tasks.x": Cron: both Cron ("*/5 * * * *") and Interval (1m0s) are set; set exactly one
	// true
	// typo Cron true
}

func ExampleScheduler_Trigger() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "cleanup", Func: "app.tasks.cleanup", Cron: "@daily"}); err != nil {
		log.Fatal(err)
	}
	id, err := s.Trigger(ctx, "cleanup") // run it once now, outside its schedule
	if err != nil {
		log.Fatal(err)
	}
	var key string
	if err := pool.QueryRow(ctx, `SELECT key FROM werk_jobs WHERE id = $1`, id).Scan(&key); err != nil {
		log.Fatal(err)
	}
	fmt.Println(key == "cron:cleanup:manual:"+id.String())
	// Output: true
}

func ExampleScheduler_Pause() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "sync", Func: "app.tasks.sync", Interval: time.Hour}); err != nil {
		log.Fatal(err)
	}
	if err := s.Pause(ctx, "sync"); err != nil {
		log.Fatal(err)
	}
	j, _ := s.Get(ctx, "sync")
	fmt.Println("paused:", j.Paused)
	if err := s.Resume(ctx, "sync"); err != nil { // from now on; nothing is backfilled
		log.Fatal(err)
	}
	if err := s.Unregister(ctx, "sync"); err != nil {
		log.Fatal(err)
	}
	ok, _ := s.Has(ctx, "sync")
	n, _ := s.Len(ctx)
	fmt.Println("has:", ok, "len:", n)
	// Output:
	// paused: true
	// has: false len: 0
}
