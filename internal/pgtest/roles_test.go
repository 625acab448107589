package pgtest

import (
	"fmt"
	"strings"
	"testing"
)

// NewRole's role logs in through AsRole and ConnAs, from a URL or a key=value string,
// and is gone, with what it owned, when its test ends.
func TestNewRoleAsRoleConnAs(t *testing.T) {
	t.Parallel()
	dsn := NewDB(t)
	var role string
	t.Run("role", func(t *testing.T) {
		role = NewRole(t, dsn, "werk_roletest", "CREATEDB")
		if !strings.HasPrefix(role, "werk_roletest_") {
			t.Errorf("role %q does not start with its prefix", role)
		}
		if !QueryOne[bool](t, connect(t, dsn), "SELECT rolcanlogin AND rolcreatedb FROM pg_roles WHERE rolname = $1", role) {
			t.Errorf("%s cannot log in or create databases", role)
		}
		conn := ConnAs(t, dsn, role)
		if who := QueryOne[string](t, conn, "SELECT current_user"); who != role {
			t.Errorf("ConnAs: current_user %s, want %s", who, role)
		}
		Exec(t, connect(t, dsn), "CREATE SCHEMA AUTHORIZATION "+role)
		Exec(t, conn, "CREATE TABLE "+role+".owned (x int)")

		u := mustURL(t, dsn)
		kv := fmt.Sprintf("host=%s port=%s dbname=%s user=postgres sslmode=disable", u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"))
		if who := QueryOne[string](t, connect(t, AsRole(t, kv, role)), "SELECT current_user"); who != role {
			t.Errorf("AsRole of a key=value string: current_user %s, want %s", who, role)
		}
	})
	conn := connect(t, dsn)
	if n := QueryOne[int](t, conn, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role); n != 0 {
		t.Errorf("%s outlived its test", role)
	}
	if n := QueryOne[int](t, conn, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", role); n != 0 {
		t.Errorf("the role's schema outlived it")
	}
}
