package main

import (
	"os"
	"strings"
	"testing"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

// docs/security.md shows the statements `werkcron grant` and `werkcron grant --app`
// print, for roles named werkcron_ticker and myapp in schema public: every line of
// them, so that the page cannot fall behind what werkcron grants.
func TestSecurityDocShowsTheGrants(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	dsn := migrated(t)
	for _, c := range []struct {
		as   string
		args []string
	}{{"werkcron_ticker", []string{"grant"}}, {"myapp", []string{"grant", "--app"}}} {
		role := pgtest.NewRole(t, dsn, c.as, "")
		out := mustCLI(t, dsn, append(c.args, role)...).stdout
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line = strings.ReplaceAll(line, role, c.as); !strings.Contains(string(doc), line) {
				t.Errorf("docs/security.md lacks what `werkcron %s` prints:\n%s", strings.Join(c.args, " "), line)
			}
		}
	}
}
