package ticker

import (
	"fmt"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/schedule"
)

// parts takes every schedule once, in order of falling due and then of name, cut into
// statements of at most maxTicksPerStatement ticks, and, with several connections, into
// at least as many parts as there are connections to write them.
func TestPartsCutsInDueAndNameOrder(t *testing.T) {
	at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	const n = 25000
	var batch []planned
	for i := range n {
		// Names out of order, two instants, and schedules of one and of three ticks.
		e := &entry{name: fmt.Sprintf("s%05d", (i*7919)%n), next: at.Add(time.Duration(i%2) * time.Second)}
		d := schedule.Decision{Enqueue: []time.Time{e.next}}
		if i%10 == 0 {
			d.Missed = []schedule.MissedRow{{At: e.next.Add(-2 * time.Second), Ticks: 1}, {At: e.next.Add(-time.Second), Ticks: 1}}
		}
		batch = append(batch, planned{e, d})
	}
	ticksOf := func(ps []planned) (n int) {
		for _, p := range ps {
			n += len(p.d.Missed) + len(p.d.Excluded) + len(p.d.Enqueue)
		}
		return n
	}
	for _, parallel := range []int{1, 2, 4} {
		ps := parts(batch, parallel)
		if parallel > 1 && len(ps) < parallel {
			t.Errorf("parallel %d: %d parts, want at least one per connection", parallel, len(ps))
		}
		seen := map[string]bool{}
		var prev *entry
		for i, p := range ps {
			if got := ticksOf(p); got > maxTicksPerStatement || got == 0 {
				t.Errorf("parallel %d: part %d has %d ticks, want 1..%d", parallel, i, got, maxTicksPerStatement)
			}
			for _, b := range p {
				if seen[b.e.name] {
					t.Fatalf("parallel %d: %s in two parts", parallel, b.e.name)
				}
				seen[b.e.name] = true
				if prev != nil && (b.e.due().Before(prev.due()) || b.e.due().Equal(prev.due()) && b.e.name < prev.name) {
					t.Fatalf("parallel %d: %s (due %s) after %s (due %s)", parallel, b.e.name, b.e.due(), prev.name, prev.due())
				}
				prev = b.e
			}
		}
		if len(seen) != n {
			t.Errorf("parallel %d: %d schedules in the parts, want %d", parallel, len(seen), n)
		}
	}
}

// A statement's job keys are jobKey's, tick by tick, whatever zone a tick is in and
// however the ticks of a batch alternate between instants.
func TestTickParamsKeysAreJobKeys(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	var batch []planned
	for i, tick := range []time.Time{at, at, at.Add(time.Second), at.In(berlin), at} {
		e := &entry{name: fmt.Sprintf("s%d", i), next: tick}
		batch = append(batch, planned{e, schedule.Decision{Enqueue: []time.Time{tick}}})
	}
	p := tickParams(batch, 0)
	for i, key := range p.TickKeys {
		if want := jobKey(p.TickNames[i], p.TickAts[i]); key != want {
			t.Errorf("tick %d: key %q, want %q", i, key, want)
		}
	}
}

// The parts of a round take their job ids in turn from one ascending run, so that their
// statements, running at once, all insert at the right edge of werk_jobs' primary key:
// each part's ids ascend, and between two of a part's ids lies one of every other
// part's (while it has any left).
func TestLayoutDealsJobIDsInTurn(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	var batch []planned
	for i := range 2500 {
		e := &entry{name: fmt.Sprintf("s%05d", i), next: at}
		batch = append(batch, planned{e, schedule.Decision{Enqueue: []time.Time{at}}})
	}
	ps := layoutAll([][]planned{batch[:1000], batch[1000:2000], batch[2000:]})
	var all []string
	for i := 0; len(all) < len(batch); i++ {
		for _, p := range ps {
			if i < len(p.ticks.JobIds) {
				all = append(all, p.ticks.JobIds[i].String())
			}
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i] <= all[i-1] {
			t.Fatalf("id %d (%s) not after id %d (%s) taking the parts in turn", i, all[i], i-1, all[i-1])
		}
	}
	for i, p := range ps {
		if len(p.ticks.JobIds) != len(p.usual) {
			t.Errorf("part %d: %d ids for %d ticks", i, len(p.ticks.JobIds), len(p.usual))
		}
	}
}
