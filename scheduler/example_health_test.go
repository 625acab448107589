package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/scheduler"
)

// An alert without polling: post each change of a schedule's health to a webhook (a
// chat's incoming webhook takes {"text": ...}), for as long as the program runs. (Not
// run as a test: it waits for ever.)
func ExampleScheduler_WatchHealth() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	s := scheduler.New(pool, scheduler.Options{})
	err = s.WatchHealth(ctx, func(c scheduler.HealthChange) {
		text := fmt.Sprintf("werkcron: %s is %s (was %s) since %s", c.Name, c.Health, c.Previous, c.Since.Format(time.RFC3339))
		body, _ := json.Marshal(map[string]string{"text": text})
		if resp, err := http.Post(os.Getenv("ALERT_WEBHOOK"), "application/json", bytes.NewReader(body)); err == nil {
			resp.Body.Close()
		}
	})
	log.Fatal(err)
}

// A holiday calendar: a report on weekdays at 09:00 in Berlin, but not on the days of
// the calendar de-holidays, which are dates in Berlin.
func ExampleScheduler_AddCalendarDays() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	s := scheduler.New(pool, scheduler.Options{})

	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	if _, err := s.AddCalendarDays(ctx, "de-holidays",
		scheduler.CalendarDay{Day: day("2037-12-24"), Note: "Heiligabend"},
		scheduler.CalendarDay{Day: day("2037-12-25"), Note: "1. Weihnachtstag"}); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Register(ctx, scheduler.CronJob{
		Name: "daily-report", Func: "myapp.tasks.report", Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin",
		ExcludeCalendar: "de-holidays", StartDeadline: 30 * time.Minute, MaxRuntime: time.Hour,
	}); err != nil {
		log.Fatal(err)
	}
	runs, err := s.NextRuns(ctx, "daily-report", day("2037-12-22"), 3)
	if err != nil {
		log.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, r := range runs {
		fmt.Println(r.In(berlin).Format("Mon 2006-01-02 15:04"))
	}
	// Output:
	// Tue 2037-12-22 09:00
	// Wed 2037-12-23 09:00
	// Mon 2037-12-28 09:00
}
