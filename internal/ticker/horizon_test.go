package ticker

import (
	"fmt"
	"testing"
	"time"
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
