package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// The scale measurement: what a ticker costs with N schedules, none of them
// due but one 1 s "pulse" schedule, on one database:
//
//   - one INSERT of N schedules before any ticker runs, and how long a primary takes to
//     plan them (from its start to the last planned_at);
//   - peak RSS of the primary and of a standby once everything is planned;
//   - the primary SIGKILLed: from the kill to the first job the standby commits, and
//     how late after its tick that job was;
//   - on the promoted ticker, one more INSERT of N schedules in one statement while the
//     pulse runs: the pulse's worst lateness from the INSERT's start until planning is
//     done, and how soon a schedule inserted right after gets its first job;
//   - the promoted ticker's peak RSS after all of that.
//
// Instants are the server's: commit timestamps (track_commit_timestamp) and
// clock_timestamp() just before a signal, so the bench's polling does not blur them.

type scaleResult struct {
	n                      int
	insert, plan           time.Duration
	primaryHWM, standbyHWM int64
	killToJob, killLate    time.Duration
	bulkInsert, bulkPlan   time.Duration
	pulseWorst             time.Duration
	pulseTicks             int
	pulseMissing           int
	afterFirstJob          time.Duration
	promotedHWM            int64
}

// insertScaleSchedules creates n idle schedules (prefix-00000001, ...): half interval
// schedules starting in a month, half cron expressions firing once a year, 1,440
// distinct ones, so that a planner parses expressions and a fan-out of them would not.
const insertScaleSchedules = `
INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at, cron)
SELECT $2 || lpad(i::text, 8, '0'), 'bench.task', 'bench',
       CASE WHEN i % 2 = 0 THEN 3600 END,
       CASE WHEN i % 2 = 0 THEN now() + interval '30 days' END,
       CASE WHEN i % 2 = 1 THEN format('%s %s 1 %s *', i % 60, (i / 60) % 24,
                                       (extract(month FROM now())::int + 5) % 12 + 1) END
FROM generate_series(1, $1::int) i`

func (b *bench) scale(ctx context.Context, n int) (scaleResult, error) {
	r := scaleResult{n: n}
	fmt.Fprintf(os.Stderr, "bench: scale with %d schedules\n", n)
	name := fmt.Sprintf("scale_%d", n)
	dsn, err := b.newDB(ctx, name)
	if err != nil {
		return r, err
	}
	defer b.dropDB(ctx, name)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.Background())

	start := time.Now()
	if _, err := conn.Exec(ctx, insertScaleSchedules, n, "idle-"); err != nil {
		return r, err
	}
	r.insert = time.Since(start)
	if _, err := conn.Exec(ctx, `INSERT INTO werk_cron_jobs (name, func, queue, interval_secs, starts_at)
		VALUES ('pulse', 'bench.task', 'pulse', 1, date_trunc('second', now()) + interval '1 s')`); err != nil {
		return r, err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE werk_cron_jobs"); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "bench:   inserted in %s; starting a primary and a standby\n", dur(r.insert))

	start = time.Now()
	primary, err := b.startTicker(ctx, name+"-a", dsn)
	if err != nil {
		return r, err
	}
	defer primary.stop()
	if err := waitReady(ctx, conn, primary, n+1, time.Hour); err != nil {
		return r, err
	}
	r.plan = time.Since(start)
	standby, err := b.startTicker(ctx, name+"-b", dsn)
	if err != nil {
		return r, err
	}
	defer standby.stop()
	if err := waitStandby(ctx, conn, 2); err != nil {
		return r, err
	}
	if err := sleep(ctx, 3*time.Second); err != nil { // a few pulse ticks on the primary
		return r, err
	}
	pa, err := readProc(primary.pid())
	if err != nil {
		return r, err
	}
	pb, err := readProc(standby.pid())
	if err != nil {
		return r, err
	}
	r.primaryHWM, r.standbyHWM = pa.hwm, pb.hwm
	fmt.Fprintf(os.Stderr, "bench:   planned in %s; peak RSS primary %s, standby %s; killing the primary\n",
		dur(r.plan), mb(r.primaryHWM), mb(r.standbyHWM))

	// SIGKILL mid-second, so that the next pulse tick comes half a second after the kill.
	now, err := dbNow(ctx, conn)
	if err != nil {
		return r, err
	}
	if err := sleepUntil(ctx, now.Truncate(time.Second).Add(1500*time.Millisecond)); err != nil {
		return r, err
	}
	killed, err := dbNow(ctx, conn)
	if err != nil {
		return r, err
	}
	_ = primary.cmd.Process.Signal(syscall.SIGKILL)
	var killToJob, killLate float64
	deadline := time.Now().Add(time.Minute)
	for {
		err := conn.QueryRow(ctx, `
			SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - $1) * 1000,
			       extract(epoch FROM pg_xact_commit_timestamp(xmin) - scheduled_at) * 1000
			FROM werk_jobs WHERE cron_name = 'pulse' AND pg_xact_commit_timestamp(xmin) > $1
			ORDER BY pg_xact_commit_timestamp(xmin) LIMIT 1`, killed).Scan(&killToJob, &killLate)
		if err == nil {
			break
		}
		if err != pgx.ErrNoRows {
			return r, err
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("no pulse job within a minute of the SIGKILL:\n%s", standby.tail())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return r, err
		}
	}
	r.killToJob, r.killLate = ms(killToJob), ms(killLate)
	fmt.Fprintf(os.Stderr, "bench:   first job %s after the SIGKILL (%s after its tick); bulk INSERT of %d more\n",
		dur(r.killToJob), dur(r.killLate), n)

	// The bulk INSERT, while the promoted standby ticks the pulse.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return r, err
	}
	bulkStart, err := dbNow(ctx, conn)
	if err != nil {
		return r, err
	}
	var bulkXid string
	if err := conn.QueryRow(ctx, `WITH i AS (`+insertScaleSchedules[1:]+` RETURNING xmin) SELECT min(xmin::text) FROM i`,
		n, "bulk-").Scan(&bulkXid); err != nil {
		return r, err
	}
	var bulkCommit time.Time
	if err := conn.QueryRow(ctx, `SELECT pg_xact_commit_timestamp($1::xid)`, bulkXid).Scan(&bulkCommit); err != nil {
		return r, err
	}
	r.bulkInsert = bulkCommit.Sub(bulkStart)
	// Right after: one schedule that runs at once.
	var afterXid string
	if err := conn.QueryRow(ctx, `INSERT INTO werk_cron_jobs (name, func, queue, interval_secs)
		VALUES ('after', 'bench.task', 'after', 3600) RETURNING xmin::text`).Scan(&afterXid); err != nil {
		return r, err
	}
	deadline = time.Now().Add(time.Hour)
	var afterJob float64
	afterSeen := false
	for {
		if !afterSeen {
			err := conn.QueryRow(ctx, `SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - pg_xact_commit_timestamp($1::xid)) * 1000
				FROM werk_jobs WHERE cron_name = 'after'`, afterXid).Scan(&afterJob)
			if err == nil {
				afterSeen = true
				r.afterFirstJob = ms(afterJob)
				fmt.Fprintf(os.Stderr, "bench:   the schedule inserted right after got its first job %s after its INSERT\n", dur(r.afterFirstJob))
			} else if err != pgx.ErrNoRows {
				return r, err
			}
		}
		var left int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM werk_cron_state WHERE planned_at IS NULL`).Scan(&left); err != nil {
			return r, err
		}
		if left == 0 && afterSeen {
			break
		}
		if standby.exited() {
			return r, fmt.Errorf("the promoted ticker exited:\n%s", standby.tail())
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%d schedules unplanned an hour after the bulk INSERT", left)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return r, err
		}
	}
	var planned time.Time
	if err := conn.QueryRow(ctx, `SELECT max(planned_at) FROM werk_cron_state WHERE name LIKE 'bulk-%'`).Scan(&planned); err != nil {
		return r, err
	}
	r.bulkPlan = planned.Sub(bulkCommit)
	if err := sleepUntil(ctx, time.Now().Add(2*time.Second)); err != nil {
		return r, err
	}
	// The pulse from the bulk INSERT's start to two seconds after planning finished.
	var worst float64
	var ticks, expected int
	if err := conn.QueryRow(ctx, `
		SELECT coalesce(max(extract(epoch FROM pg_xact_commit_timestamp(xmin) - scheduled_at)) * 1000, 0), count(*),
		       (SELECT count(*) FROM generate_series(date_trunc('second', $1::timestamptz) + interval '1 s', $2::timestamptz, interval '1 s'))
		FROM werk_jobs WHERE cron_name = 'pulse' AND scheduled_at > $1 AND scheduled_at <= $2`,
		bulkStart, planned.Add(time.Second)).Scan(&worst, &ticks, &expected); err != nil {
		return r, err
	}
	r.pulseWorst, r.pulseTicks, r.pulseMissing = ms(worst), ticks, expected-ticks
	p, err := readProc(standby.pid())
	if err != nil {
		return r, err
	}
	r.promotedHWM = p.hwm
	return r, nil
}

// waitStandby waits until werk_cron_instances lists want tickers.
func waitStandby(ctx context.Context, conn *pgx.Conn, want int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM werk_cron_instances`).Scan(&n); err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d tickers in werk_cron_instances after a minute", n, want)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

func printScale(rs []scaleResult) {
	fmt.Println("Scale: N idle schedules and one 1 s schedule (the pulse) in one database; a primary and a standby")
	fmt.Printf("  %10s %9s %9s %10s %10s %10s %9s %10s %9s %11s %11s %10s\n",
		"N", "INSERT", "plan", "RSS prim.", "RSS stby", "kill->job", "(late)", "bulk INS.", "its plan", "pulse worst", "after: job", "RSS prom.")
	for _, r := range rs {
		missing := ""
		if r.pulseMissing > 0 {
			missing = fmt.Sprintf(" (%d ticks without a job!)", r.pulseMissing)
		}
		fmt.Printf("  %10d %9s %9s %10s %10s %10s %9s %10s %9s %11s %11s %10s%s\n",
			r.n, dur(r.insert), dur(r.plan), mb(r.primaryHWM), mb(r.standbyHWM), dur(r.killToJob), dur(r.killLate),
			dur(r.bulkInsert), dur(r.bulkPlan), dur(r.pulseWorst), dur(r.afterFirstJob), mb(r.promotedHWM), missing)
	}
	fmt.Println("  RSS: peak (VmHWM). kill->job: SIGKILL of the primary (half a second before a pulse tick) to the first job committed after it;")
	fmt.Println("  late: that job's commit minus its tick. bulk INSERT: one statement of N more, while the pulse runs; its plan: commit to")
	fmt.Println("  the last planned_at; pulse worst: the pulse's worst commit-minus-tick from the INSERT's start to 1 s after planning;")
	fmt.Println("  after: a schedule inserted right after the bulk INSERT, its INSERT commit to its first job's commit.")
	for _, r := range rs {
		if r.n >= 1_000_000 {
			hwm := max(r.primaryHWM, r.standbyHWM, r.promotedHWM)
			fmt.Printf("  goals at %d: peak RSS ≤ 100 MB: %s (%s); first job ≤ 1 s after SIGKILL: %s (%s); "+
				"bulk INSERT delays no tick > 1 s: %s (%s); inserted after: first job ≤ 1 s: %s (%s)\n",
				r.n, verdict(hwm <= 100<<20), mb(hwm), verdict(r.killToJob <= time.Second), dur(r.killToJob),
				verdict(r.pulseWorst <= time.Second && r.pulseMissing == 0), dur(r.pulseWorst),
				verdict(r.afterFirstJob <= time.Second), dur(r.afterFirstJob))
		}
	}
	fmt.Println()
}
