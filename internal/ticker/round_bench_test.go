package ticker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The primary's own work for one round of a fan-out larger than one read, between the
// statements of the round before and its own: 20,000 interval schedules due at one
// instant, from the rows of a read of the plan to the statements' arrays. The database
// sits idle meanwhile, so this is on the fan-out's critical path (docs/benchmarks.md).
func BenchmarkRound(b *testing.B) {
	at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	changed := at.Add(-24 * time.Hour)
	secs := int32(60)
	rows := make([]row, horizonRows)
	for i := range rows {
		last, id := at.Add(-time.Minute), uuid.Must(uuid.NewV7())
		rows[i] = row{Name: fmt.Sprintf("bench-%08d", i), Func: "bench.task", Queue: "bench", IntervalSecs: &secs,
			Timezone: "UTC", Catchup: "latest", Overlap: "allow", StartsAt: &changed, ChangedAt: changed,
			DefinedAt: changed, LastTickAt: &last, NextRunAt: &at, LastJobID: &id, LastJobAt: &last, UpdatedAt: changed}
	}
	p := &primary{Ticker: &Ticker{opts: Options{Parallel: 2, MisfireGrace: DefaultMisfireGrace},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}, hz: newHorizon(horizonRows)}
	ctx := context.Background()
	for b.Loop() {
		es, _ := newEntries(rows, horizonRows)
		p.hz.reset(es, at.Add(time.Second), false)
		r, err := p.decide(ctx, p.hz.popDue(at, horizonRows), at, nil)
		if err != nil || len(r.parts) != 2 {
			b.Fatalf("%d parts, err %v", len(r.parts), err)
		}
	}
}
