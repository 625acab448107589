package faults

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// newReplica makes a streaming replica of primary (pg_basebackup -R) on a free loopback
// port and starts it; it is removed when t ends.
func newReplica(t *testing.T, primary *pgtest.Cluster) *pgtest.Cluster {
	t.Helper()
	dir, err := pgtest.ClusterDir()
	if err != nil {
		t.Fatal(err)
	}
	var replica *pgtest.Cluster
	t.Cleanup(func() {
		if replica != nil {
			_ = replica.Remove(ctx)
		}
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := primary.Command(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port),
		"-U", "postgres", "-D", data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\n# replica\nport = %d\nunix_socket_directories = '%s'\nhot_standby = on\n", port, dir)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if replica, err = pgtest.Open(dir); err != nil {
		t.Fatal(err)
	}
	if replica.Port != port {
		t.Fatalf("replica port %d, want %d", replica.Port, port)
	}
	if err := replica.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return replica
}

// 9. Database failover: tickers given both hosts (target_session_attrs=read-write)
// follow the promotion of the streaming replica, and the ledger has no duplicate and,
// for catchup = 'all', no gap across the failover.
func TestDatabaseFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a replica and fails over")
	}
	t.Parallel()
	primary := newCluster(t)
	dsn := createDB(t, primary.DSN("postgres"), "werk")
	pool := migrate(t, dsn)
	addSchedules(t, pool, 10)
	replica := newReplica(t, primary)
	pgtest.Eventually(t, 20*time.Second, "the replica streams", func() bool {
		var n int64
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&n)
		return n == 1
	})

	both := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/werk?sslmode=disable&target_session_attrs=read-write",
		primary.Port, replica.Port)
	tickers(t, both, 3)
	waitInstances(t, pool, 3, 10*time.Second)
	waitProgress(t, pool, 3*time.Second)
	waitProgress(t, pool, 3*time.Second) // and again: jobs of every schedule on the old primary
	before := pgtest.QueryOne[int64](t, pool, `SELECT count(*) FROM werk_jobs`)

	if err := primary.Stop(ctx, "fast"); err != nil { // sends all WAL to the replica first
		t.Fatal(err)
	}
	stopped := time.Now()
	time.Sleep(time.Second) // no database to write to for a while is the fault under test
	if out, err := replica.Command(ctx, "pg_ctl", "promote", "-w", "-t", "60", "-D", filepath.Join(replica.Dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl promote: %v\n%s", err, out)
	}
	promoted := time.Now()
	rpool, err := pgxpool.New(ctx, replica.DSN("werk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rpool.Close)
	if n := pgtest.QueryOne[int64](t, rpool, `SELECT count(*) FROM werk_jobs`); n < before {
		t.Fatalf("the promoted replica has %d jobs, the primary had %d before it stopped", n, before)
	}
	watch := watchPrimaries(t, rpool)
	waitInstances(t, rpool, 3, 15*time.Second)
	back := time.Since(promoted)
	waitProgress(t, rpool, 5*time.Second)
	t.Logf("FAILOVER: primary stopped, replica promoted %s later; all 3 tickers on it %s after the promotion, schedules running %s after",
		ms(promoted.Sub(stopped)), ms(back), ms(time.Since(promoted)))
	watch()
	st := checkLedger(t, rpool)
	t.Logf("ledger on the promoted replica: %d jobs, %d missed rows, no duplicate, catchup all gap-free", st.Jobs, st.Missed)
}
