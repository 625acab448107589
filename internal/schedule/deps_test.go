package schedule

import (
	"os/exec"
	"strings"
	"testing"
)

// The schedule math stays apart from the database: it imports neither pgx nor the
// generated queries, so that it can be read, tested and fuzzed alone.
func TestNoDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/jackc/") || p == "github.com/pgwerk/werkcron/db" {
			t.Errorf("internal/schedule depends on %s", p)
		}
	}
}
