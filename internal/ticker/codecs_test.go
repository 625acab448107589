package ticker

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// The codecs write what pgx's own encoding writes: the server reads the same instants
// (whole microseconds, truncated), the same ids, an empty array as empty and nil as NULL.
func TestCodecsEncodeAsPgxDoes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.MigratedDB(t)
	ctx := context.Background()
	ours, theirs := connect(t, dsn), connect(t, dsn)
	registerCodecs(ours.TypeMap())

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	times := []time.Time{
		{}, // year 1: the tick statement's stand-in for NULL
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 123_456_789, berlin),
		time.Now(),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
	}
	const show = `SELECT coalesce($1::timestamptz[]::text, 'NULL') || ' ' || coalesce($2::uuid[]::text, 'NULL')`
	for _, c := range []struct {
		name  string
		times []time.Time
	}{{"instants", times}, {"empty", []time.Time{}}, {"nil", nil}} {
		ids := dealIDs([]int{len(c.times)})[0]
		if c.times == nil {
			ids = nil
		}
		var got, want string
		if err := ours.QueryRow(ctx, show, c.times, ids).Scan(&got); err != nil {
			t.Fatalf("%s, registered codecs: %v", c.name, err)
		}
		if err := theirs.QueryRow(ctx, show, c.times, ids).Scan(&want); err != nil {
			t.Fatalf("%s, pgx's own: %v", c.name, err)
		}
		if got != want {
			t.Errorf("%s: the codecs sent %s; pgx's own %s", c.name, got, want)
		}
	}
	// And the codecs are the ones used: pgx's own would not take the fast path.
	if plan := ours.TypeMap().PlanEncode(pgtype.TimestamptzArrayOID, pgtype.BinaryFormatCode, times); plan == nil {
		t.Fatal("no plan to encode []time.Time")
	} else if _, ok := plan.(encodeTimes); !ok {
		t.Errorf("[]time.Time is encoded by %T, want encodeTimes", plan)
	}
}

// BenchmarkEncodeTimes: one of a tick statement's arrays of 10,000 instants, with the
// registered codec and with pgx's own.
func BenchmarkEncodeTimes(b *testing.B) {
	times := make([]time.Time, 10_000)
	for i := range times {
		times[i] = time.Now().Add(time.Duration(i) * time.Second)
	}
	for _, c := range []struct {
		name string
		m    *pgtype.Map
	}{{"codec", func() *pgtype.Map { m := pgtype.NewMap(); registerCodecs(m); return m }()}, {"pgx", pgtype.NewMap()}} {
		b.Run(c.name, func(b *testing.B) {
			plan := c.m.PlanEncode(pgtype.TimestamptzArrayOID, pgtype.BinaryFormatCode, times)
			buf := make([]byte, 0, 200_000)
			for b.Loop() {
				if _, err := plan.Encode(times, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
