package ticker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/schedule"
)

const (
	// MaxBackfillTicks is the most ticks one backfill request may cover.
	MaxBackfillTicks = 100_000
	// backfillChunk is how many ticks one backfill statement enqueues; the loop ticks
	// what is due between two of them.
	backfillChunk = 2000
	// backfillRetry: a backfill statement that met a lock another session holds (a job
	// key, a ledger row) is tried again after this.
	backfillRetry = time.Second
)

// fillState is what the primary knows of backfill requests (werk_cron_backfills).
type filler struct {
	*primary
	pacer
	// blocked holds the requests set aside because another session holds what their
	// next chunk needs, with when to try each again (host time): the others go on.
	blocked map[int64]time.Time
	// checked holds the requests this primary has found within MaxBackfillTicks, over
	// their whole range: whatever a request row says of its progress, every primary
	// counts its ticks before it enqueues any, and again whenever the range, or the
	// schedule's definition, is not the one it counted (a request widened after its
	// count, or deleted and inserted again under its id).
	checked map[int64]checkedRange
}

// checkedRange is what a request's count of ticks was made for.
type checkedRange struct {
	from, until, defined time.Time
}

func (c checkedRange) same(o checkedRange) bool {
	return c.from.Equal(o.from) && c.until.Equal(o.until) && c.defined.Equal(o.defined)
}

// skip returns the requests set aside until later than now, forgetting the others.
func (fl *filler) skip(now time.Time) []int64 {
	ids := []int64{}
	for id, at := range fl.blocked {
		if now.Before(at) {
			ids = append(ids, id)
		} else {
			delete(fl.blocked, id)
		}
	}
	return ids
}

// soonest is when the first request set aside may be tried again; zero for none.
func (fl *filler) soonest() time.Time {
	var s time.Time
	for _, at := range fl.blocked {
		if s.IsZero() || at.Before(s) {
			s = at
		}
	}
	return s
}

// step carries out the next chunk of the oldest backfill request: the ticks of
// its schedule in its range that have no job yet get one (queries/backfill.sql). The
// progress is saved after each chunk, so a new primary goes on where this one stopped.
func (fl *filler) step(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if fl.blocked == nil {
		fl.blocked, fl.checked = map[int64]time.Time{}, map[int64]checkedRange{}
	}
	reqs, err := fl.q.NextBackfill(ctx, fl.skip(time.Now()))
	if err != nil {
		if err := fl.survive(err, "read backfill requests", "trying again shortly"); err != nil {
			return err
		}
		fl.notBefore = time.Now().Add(backfillRetry)
		return nil
	}
	if len(reqs) == 0 {
		// Nothing waits but what is set aside. The next look (on a notification) waits a
		// moment, as the planner's does: anyone may NOTIFY, and a flood must cost few looks.
		if again := fl.soonest(); !again.IsZero() {
			fl.notBefore = again
			return nil
		}
		fl.pending = false
		fl.notBefore = time.Now().Add(planCooldown)
		return nil
	}
	r := reqs[0]
	e, ticks, through, done, why, err := fl.backfillChunk(ctx, r)
	if err != nil {
		if err := fl.survive(err, "backfill", "trying again shortly", "id", r.ID); err != nil {
			return err
		}
		fl.notBefore = time.Now().Add(backfillRetry)
		return nil
	}
	if why != "" {
		fl.log.Warn("backfill refused", "id", r.ID, "schedule", logName(r.Name), "why", why)
		return fl.recordBackfill(ctx, r, db.RecordBackfillProgressParams{ThroughAt: through, Done: true, Error: cutBytes(why, maxErrorBytes)})
	}
	args := db.BackfillTicksParams{Name: r.Name, SeenUpdatedAt: e.definedAt, Func: e.fn, Queue: e.queue}
	for _, at := range ticks {
		args.Keys = append(args.Keys, jobKey(r.Name, at))
		args.TickAts = append(args.TickAts, at)
		args.JobIds = append(args.JobIds, uuid.Must(uuid.NewV7()))
	}
	// The chunk's jobs and the request's progress commit together: a crash between them
	// would count the chunk's jobs as had already when it is done again.
	var res db.BackfillTicksRow
	progress := db.RecordBackfillProgressParams{ID: r.ID, ThroughAt: through, Done: done}
	err = pgx.BeginFunc(ctx, fl.conn, func(tx pgx.Tx) error {
		q := fl.q.WithTx(tx)
		res = db.BackfillTicksRow{Found: true, Current: true}
		if len(ticks) > 0 {
			var err error
			if res, err = q.BackfillTicks(ctx, args); err != nil {
				return err
			}
		}
		switch {
		case !res.Found:
			progress.Done, progress.Error = true, "the schedule was deleted before its backfill was done"
		case !res.Current:
			return nil // changed since it was read: read again, check again, next step
		default:
			progress.Enqueued, progress.Already = res.Enqueued, int32(len(ticks))-res.Enqueued
		}
		return q.RecordBackfillProgress(ctx, progress)
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case fl.conn.IsClosed():
		return fmt.Errorf("backfill %s: %w", logName(r.Name), err)
	case errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable:
		// Another session holds a key or a ledger row of the range: this request later,
		// the others meanwhile.
		if _, again := fl.blocked[r.ID]; !again {
			fl.log.Warn("backfill blocked by another session; trying again, other requests meanwhile", "id", r.ID, "schedule", logName(r.Name), "err", err)
		}
		fl.blocked[r.ID] = time.Now().Add(backfillRetry)
		return nil
	default:
		return fl.recordBackfill(ctx, r, db.RecordBackfillProgressParams{ThroughAt: through, Done: true,
			Error: cutBytes(fmt.Sprintf("enqueue failed: %v", err), maxErrorBytes)})
	}
	if !res.Current {
		fl.log.Info("a schedule changed while its backfill was read; reading it again", "id", r.ID, "schedule", logName(r.Name))
		return nil
	}
	fl.Stats.Enqueued.Add(int64(res.Enqueued))
	if res.Enqueued > 0 {
		if err := notifyQueues(ctx, fl.conn, fl.log, []string{e.queue}); err != nil {
			return err
		}
		fl.recorder.expect()
		fl.watcher.poke() // with max_runtime_secs, a health check is set for the runs
	}
	if progress.Done && progress.Error == "" {
		fl.log.Info("backfill done", "id", r.ID, "schedule", logName(r.Name),
			"enqueued", r.Enqueued+progress.Enqueued, "already", r.Already+progress.Already)
	}
	return nil
}

// recordBackfill saves a request's progress, and logs when it is done.
func (fl *filler) recordBackfill(ctx context.Context, r db.NextBackfillRow, progress db.RecordBackfillProgressParams) error {
	progress.ID = r.ID
	if err := fl.q.RecordBackfillProgress(ctx, progress); err != nil {
		if err := fl.survive(err, "record backfill progress", "trying again shortly", "id", r.ID); err != nil {
			return err
		}
		fl.notBefore = time.Now().Add(backfillRetry)
		return nil
	}
	return nil
}

// backfillChunk returns the next ticks of request r to enqueue (at most backfillChunk),
// the instant up to which it has then come, whether that is the end of the range, and,
// when the request cannot be carried out, why not (err is for a failed read, which is
// tried again).
//
// The range is cut to the schedule's life (starts_at, ends_at) and to the ticks that are
// not the schedule's own to decide: for a schedule that runs, the ticks from its first
// undecided one on are decided by the ticker as usual (by its catch-up policy), so a
// backfill never races them. A paused (or ended) schedule decides nothing, so all of its
// past ticks in the range may be backfilled. A range reaching back beyond the ledger's
// retention is refused: a tick that old may have had a job and left no trace of it.
func (fl *filler) backfillChunk(ctx context.Context, r db.NextBackfillRow) (e *entry, ticks []time.Time, through time.Time, done bool, why string, err error) {
	through = r.ToAt
	rows, err := fl.q.GetSchedulesForTicker(ctx, []string{r.Name})
	if err != nil {
		return nil, nil, through, false, "", fmt.Errorf("read the schedule %s to backfill: %w", logName(r.Name), err)
	}
	if len(rows) == 0 {
		return nil, nil, through, true, "no such schedule (deleted since the request)", nil
	}
	e = newEntry(row(rows[0]))
	if err := fl.withCalendars(ctx, fl.q, []*entry{e}, false); err != nil {
		return nil, nil, through, false, "", err
	}
	if e.sched == nil {
		return e, nil, through, true, "the schedule cannot run: " + e.err, nil
	}
	// Judged on this read of the row; the statement enqueues only if the row is still
	// this one (its updated_at, func and queue).
	if why := fl.allow.refuses(e.fn, e.queue); why != "" {
		return e, nil, through, true, why, nil
	}
	if oldest := fl.now().Add(-fl.opts.Retention); r.FromAt.Before(oldest) {
		return e, nil, through, true, fmt.Sprintf("the range begins at %s, before the ledger's retention (%s, the ticker's --retention): "+
			"older ticks may have run and left no record, so they are never enqueued again",
			r.FromAt.UTC().Format(time.RFC3339), fl.opts.Retention), nil
	}
	from, until := r.FromAt, r.ToAt
	if !e.startsAt.IsZero() && e.startsAt.After(from) {
		from = e.startsAt
	}
	if !e.endsAt.IsZero() && e.endsAt.Before(until) {
		until = e.endsAt
	}
	if !e.paused && e.remaining != 0 {
		if own, ok := e.window(0).Upcoming(e.sched); ok && !own.After(until) {
			until = own.Add(-time.Nanosecond)
		}
	}
	s := schedule.ReachBack(e.sched, from)
	after := from.Add(-time.Nanosecond)
	if counted := (checkedRange{from, until, e.definedAt}); !fl.checked[r.ID].same(counted) {
		if n := schedule.CountTicks(s, after, until, MaxBackfillTicks+1); n > MaxBackfillTicks {
			return e, nil, through, true, fmt.Sprintf("the range holds more than %d ticks of the schedule; backfill a shorter range", MaxBackfillTicks), nil
		}
		fl.checked[r.ID] = counted
	}
	if r.ThroughAt != nil && r.ThroughAt.After(after) {
		after = *r.ThroughAt // the table keeps it within the range
	}
	for at, ok := s.Next(after); ok && !at.After(until); at, ok = s.Next(at) {
		ticks = append(ticks, at)
		if len(ticks) == backfillChunk {
			return e, ticks, at, false, "", nil
		}
	}
	return e, ticks, through, true, "", nil
}
