package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/ticker"
)

// MaxBackfillTicks is the most ticks one backfill may cover.
const MaxBackfillTicks = ticker.MaxBackfillTicks

// ErrBackfillRefused is wrapped by Backfill's error when the primary ticker refused the
// request (a range of too many ticks, or reaching back beyond the ledger's retention, a
// schedule that cannot run here).
var ErrBackfillRefused = errors.New("backfill refused")

// Backfill is a backfill request and, once the primary ticker has carried it out, its
// result.
type Backfill struct {
	ID        int64
	Name      string
	From, To  time.Time // the range asked for (To no later than when it was asked)
	Requested time.Time
	By        string    // the role that asked
	Enqueued  int       // ticks that got a job
	Already   int       // ticks in the range that had a job already
	Done      time.Time // zero until it is done
	Error     string    // why it was refused; "" when it was not
}

// Backfill enqueues every tick of the schedule name in [from, to] that has no job yet:
// ticks recorded missed or skipped for overlap, or never decided (while it was paused,
// say). Each gets its usual job key and a ledger row 'backfilled', so a tick that has a
// job never gets a second one, and the same backfill run twice enqueues nothing the
// second time. last_tick_at never moves. Ticks the schedule is still to decide itself
// (from its first undecided tick on, while it runs) are left to it, and the range is
// cut to the schedule's starts_at and ends_at. A range that is reversed or begins in the
// future is an error; one that ends in the future ends now.
//
// Cron math lives in the ticker, so this records a request (werk_cron_backfill) that the
// primary ticker carries out within a second, and waits for it until ctx is done. The
// error then says so and names the request, which stays pending: a ticker carries it
// out when one runs. A request the ticker refused returns an error wrapping
// ErrBackfillRefused (more than MaxBackfillTicks ticks, or a range reaching back beyond
// the ledger's retention, where a tick may have run and left no record).
func (s *Scheduler) Backfill(ctx context.Context, name string, from, to time.Time) (Backfill, error) {
	b, err := s.RequestBackfill(ctx, name, from, to)
	if err != nil {
		return b, err
	}
	return s.WaitBackfill(ctx, b.ID)
}

// RequestBackfill records a backfill request, as Backfill does, and returns it pending
// without waiting for the primary ticker; WaitBackfill waits for it. The two apart let a
// caller bound the wait and not the asking.
func (s *Scheduler) RequestBackfill(ctx context.Context, name string, from, to time.Time) (Backfill, error) {
	id, err := s.q.RequestBackfill(ctx, db.RequestBackfillParams{Name: name, FromAt: from, ToAt: to})
	if err != nil {
		return Backfill{}, nameError("backfill", name, err)
	}
	return Backfill{ID: id, Name: name}, nil
}

// WaitBackfill waits until the primary ticker has carried out (or refused) backfill
// request id, or ctx is done; see Backfill for the errors.
func (s *Scheduler) WaitBackfill(ctx context.Context, id int64) (Backfill, error) {
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	name := ""
	for {
		r, err := s.q.GetBackfill(ctx, id)
		if err != nil && ctx.Err() != nil {
			return Backfill{ID: id, Name: name}, notDone(name, id, ctx.Err())
		}
		if err != nil {
			return Backfill{ID: id, Name: name}, fmt.Errorf("backfill request %d made, not known to be done: %w", id, err)
		}
		b := backfillOf(r)
		name = b.Name
		if !b.Done.IsZero() {
			if b.Error != "" {
				return b, fmt.Errorf("backfill %q (request %d): %w: %s", name, id, ErrBackfillRefused, b.Error)
			}
			return b, nil
		}
		select {
		case <-ctx.Done():
			return b, notDone(name, id, ctx.Err())
		case <-poll.C:
		}
	}
}

func notDone(name string, id int64, err error) error {
	if name == "" {
		return fmt.Errorf("backfill request %d is not done yet (is a ticker running?); it stays pending: %w", id, err)
	}
	return fmt.Errorf("backfill %q: request %d is not done yet (is a ticker running?); it stays pending: %w", name, id, err)
}

func backfillOf(r db.WerkCronBackfill) Backfill {
	b := Backfill{ID: r.ID, Name: r.Name, From: r.FromAt, To: r.ToAt, Requested: r.RequestedAt, By: r.RequestedBy,
		Enqueued: int(r.Enqueued), Already: int(r.Already), Done: deref(r.DoneAt), Error: deref(r.Error)}
	return b
}
