package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The binary links no test code: the ticker's test signals take an interface of their
// own, not a testing.TB, and test hooks of the CLI live in _test files.
func TestBinaryLinksNoTestCode(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages; it read nothing", len(deps))
	}
	for _, p := range []string{"testing", "github.com/pgwerk/werkcron/internal/pgtest"} {
		if slices.Contains(deps, p) {
			t.Errorf("werkcron's binary links %s", p)
		}
	}
}
