package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

// A read of the plan made ahead of a fan-out leaves out the schedules decided already,
// up to 100,000 names: it hashes them once (a hashed subplan) rather than comparing
// each row with every name, even in a session whose work_mem is too small for that
// hash, once RaiseWorkMem has given it the fan-out connections' least (16 MB).
func TestListDueSchedulesHashesWhatItLeavesOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.MigratedDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	skip := make([]string, 100000)
	for i := range skip {
		skip[i] = fmt.Sprintf("fanout-schedule-%06d", i)
	}
	plan := func() string {
		rows, err := conn.Query(ctx, "EXPLAIN "+db.ListDueSchedulesSQL, time.Now(), skip, int32(20001))
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	if _, err := conn.Exec(ctx, "SET work_mem = '1MB'"); err != nil {
		t.Fatal(err)
	}
	if p := plan(); strings.Contains(p, "hashed SubPlan") {
		t.Fatalf("with work_mem 1MB the names were hashed already; the test shows nothing:\n%s", p)
	}
	if err := db.New(conn).RaiseWorkMem(ctx, "16MB"); err != nil {
		t.Fatal(err)
	}
	if p := plan(); !strings.Contains(p, "hashed SubPlan") {
		t.Errorf("after RaiseWorkMem the 100,000 names left out are not hashed:\n%s", p)
	}
	// A larger setting stays as it is.
	if _, err := conn.Exec(ctx, "SET work_mem = '64MB'"); err != nil {
		t.Fatal(err)
	}
	if err := db.New(conn).RaiseWorkMem(ctx, "16MB"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SHOW work_mem").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "64MB" {
		t.Errorf("RaiseWorkMem(16MB) over 64MB left work_mem at %s", got)
	}
}
