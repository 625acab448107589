package pgtest

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// NewRole creates a login role for t, named prefix_<8 random hex digits> since roles are
// the cluster's, not a database's, and tests (and test processes sharing a
// WERK_TEST_DATABASE_URL server) run at once. attrs are more role options, e.g.
// "CREATEDB" ("" for none). dsn is a superuser's (or a role that may create roles); when
// t ends, what the role owns in dsn's database is dropped, then the role.
func NewRole(t testing.TB, dsn, prefix, attrs string) string {
	t.Helper()
	role := prefix + "_" + uuid.NewString()[:8]
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE ROLE `+role+` LOGIN `+attrs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Registered after the database's own cleanup (NewDB, MigratedDB), so this runs
		// first, while the database that holds the role's grants and objects is there.
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP OWNED BY `+role+` CASCADE`)
		if _, err := c.Exec(context.Background(), `DROP ROLE `+role); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	return role
}

// AsRole is dsn (a URL or a key=value string) connecting as role, without a password:
// the test clusters trust local connections.
func AsRole(t testing.TB, dsn, role string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// key=value form: a later key wins.
		return dsn + " user=" + role + " password=''"
	}
	u.User = url.User(role)
	return u.String()
}

// ConnAs opens a connection to dsn's database as role, closed when t ends.
func ConnAs(t testing.TB, dsn, role string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), AsRole(t, dsn, role))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
