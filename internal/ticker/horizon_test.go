package ticker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// A read cut off by its cap at one instant: at that instant the rows it holds tick
// before the plan is read again, and the read comes once they have gone; rows due before
// the end are never passed over for a read.
func TestHorizonTicksWhatItHoldsBeforeReadingAgain(t *testing.T) {
	read := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	instant := read.Add(time.Second)
	rows := make([]*entry, 10)
	for i := range rows {
		rows[i] = &entry{name: fmt.Sprintf("s%02d", i), next: instant, index: -1}
	}
	h := newHorizon(10)
	if !h.mustRead(read) {
		t.Fatal("a horizon never read must be read")
	}
	h.reset(rows, read.Add(5*time.Second), true) // full: more may be due at the instant
	if !h.stale(instant) {
		t.Fatalf("a full read at one instant must end before it; ends %s", h.end)
	}
	if h.mustRead(instant.Add(-time.Millisecond)) {
		t.Fatal("read again before its end")
	}
	if h.mustRead(instant) {
		t.Fatal("read again at the instant while holding its due rows: the first part would be read twice")
	}
	if due := h.popDue(instant, 4); len(due) != 4 {
		t.Fatalf("popped %d, want 4", len(due))
	}
	if h.mustRead(instant.Add(time.Millisecond)) {
		t.Fatal("read again with 6 rows still due")
	}
	if due := h.popDue(instant.Add(time.Millisecond), 100); len(due) != 6 {
		t.Fatalf("popped %d, want the other 6", len(due))
	}
	if !h.mustRead(instant.Add(time.Millisecond)) {
		t.Fatal("not read again once what it held had gone: the rest of the instant's rows would wait")
	}

	// A horizon that is not stale is not read, due rows or not.
	h.reset([]*entry{{name: "later", next: instant.Add(2 * time.Second), index: -1}}, instant.Add(5*time.Second), false)
	if h.mustRead(instant.Add(3 * time.Second)) {
		t.Fatal("read again within its end")
	}
	// Past its end, a row held that is not due yet does not hold up the read.
	h.reset([]*entry{{name: "later", next: instant.Add(9 * time.Second), index: -1}}, instant.Add(5*time.Second), false)
	if !h.mustRead(instant.Add(6 * time.Second)) {
		t.Fatal("past its end with nothing due, not read again")
	}
}

// A fan-out is decided ahead (fanoutLead, 1.6 s) only when the horizon holds an
// instant's rows, more are due then than it holds, and they can be read meanwhile; a
// horizon cut off at a later instant, or not cut off, is decided prepareLead ahead,
// which leaves the services their time between ticks. Rows past the horizon's end
// (pulled in by a row offered to a full horizon) are not decided ahead at all.
func TestLeadForAFanout(t *testing.T) {
	at := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	rows := func(instants ...time.Time) []*entry {
		var es []*entry
		for i, next := range instants {
			es = append(es, &entry{name: fmt.Sprintf("s%02d", i), next: next, index: -1})
		}
		return es
	}
	for _, c := range []struct {
		what     string
		rows     []*entry
		full     bool
		parallel int
		offer    time.Time // a row offered to the full horizon afterwards
		want     time.Duration
		decide   bool // its first row may be decided ahead
	}{
		{"one instant, cut off", rows(at, at, at), true, 2, time.Time{}, fanoutLead, true},
		{"one instant, all of it", rows(at, at, at), false, 2, time.Time{}, prepareLead, true},
		{"cut off at a later instant", rows(at, at, at.Add(time.Second)), true, 2, time.Time{}, prepareLead, true},
		{"nothing held", nil, false, 2, time.Time{}, prepareLead, false},
		// One connection: no read can be made while the first is decided.
		{"one instant, cut off, one connection", rows(at, at, at), true, 1, time.Time{}, prepareLead, true},
		// A row due before the instant offered to the full horizon: the instant's rows
		// wait for the plan to be read again, which finds that row first.
		{"cut off, a row due before offered", rows(at, at, at), true, 2, at.Add(-500 * time.Millisecond), prepareLead, false},
	} {
		p := &primary{Ticker: &Ticker{opts: Options{Parallel: c.parallel}}, hz: newHorizon(3)}
		p.hz.reset(c.rows, at.Add(5*time.Second), c.full)
		if !c.offer.IsZero() {
			p.hz.offer(&entry{name: "offered", next: c.offer, index: -1})
		}
		if got := p.lead(); got != c.want {
			t.Errorf("%s: lead %s, want %s", c.what, got, c.want)
		}
		if got := p.decidable(p.hz.next()); got != c.decide {
			t.Errorf("%s: decidable %v, want %v", c.what, got, c.decide)
		}
	}
}

// A fan-out larger than one read of the plan, due six seconds after the primary
// starts: it is decided read by read before its instant, up to aheadReads reads, each
// read leaving out the schedules decided already; the read after those is made beside
// their statements. Every schedule gets one job for the instant, none before it.
func TestFanoutReadsThePlanAhead(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	setup := connect(t, dsn)
	const cap = 100
	const n = (aheadReads+1)*cap + cap/2 // reads of 100 rows: aheadReads+2 of them
	// Time to start, plan and read before fanoutLead comes, on a busy machine too.
	at := dueTogetherIn(t, setup, n, 3600, 6)
	tk := runTicker(t, dsn, Options{Parallel: 2}, cap)

	pgtest.Eventually(t, 15*time.Second, "a job for every schedule at the instant", func() bool {
		var jobs int
		err := setup.QueryRow(ctx, `SELECT count(*) FROM werk_jobs WHERE scheduled_at = $1`, at).Scan(&jobs)
		return err == nil && jobs == n
	})
	var jobs, schedules, advanced, early int
	if err := setup.QueryRow(ctx, `SELECT count(*), count(DISTINCT cron_name),
		(SELECT count(*) FROM werk_cron_state WHERE last_tick_at = $1), count(*) FILTER (WHERE enqueued_at < $1)
		FROM werk_jobs`, at).Scan(&jobs, &schedules, &advanced, &early); err != nil {
		t.Fatal(err)
	}
	if jobs != n || schedules != n || advanced != n || early != 0 {
		t.Errorf("%d jobs of %d schedules, %d schedules advanced, %d jobs enqueued before the instant; want %d, %d, %d, 0",
			jobs, schedules, advanced, early, n, n, n)
	}
	st := tk.Stats.Snapshot()
	// The first read finds the plan (or nothing yet: the planner then offers the
	// horizon its rows); every later one is made ahead. A read ahead that took in the
	// schedules decided already would hold fewer of those still to write, and another
	// read would follow the statements.
	if st.ReadsBeforeInstant != aheadReads-1 {
		t.Errorf("%d reads of the plan taken before the instant, want %d (all but the first of %d decided ahead)",
			st.ReadsBeforeInstant, aheadReads-1, aheadReads)
	}
	// The round's statements, one per read here, all sent before the instant, each on a
	// connection of its own, and written in two lanes.
	if st.SentWhole != aheadReads {
		t.Errorf("%d statements sent whole before the instant, want %d", st.SentWhole, aheadReads)
	}
	if beside := st.ReadsAhead - st.ReadsBeforeInstant; beside < 1 {
		t.Errorf("%d reads of the plan made beside the statements, want at least 1 after the %d decided ahead", beside, aheadReads)
	}
	if after := st.HorizonReads - st.ReadsAhead; after > 1 {
		t.Errorf("%d reads of the plan, %d of them ahead: %d read after the statements, want only the first", st.HorizonReads, st.ReadsAhead, after)
	}
}
