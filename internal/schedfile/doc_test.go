package schedfile

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The files docs/schedules-as-code.md shows are files Parse reads.
func TestDocExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../../docs/schedules-as-code.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	n := 0
	for _, b := range blocks {
		if !regexp.MustCompile(`(?m)^schedules:`).MatchString(b[1]) {
			continue // not a schedules file (the CI workflow)
		}
		n++
		jobs, err := Parse("doc.yaml", []byte(b[1]))
		if err != nil {
			t.Errorf("%v\n%s", err, b[1])
			continue
		}
		if len(jobs) == 0 || strings.Count(b[1], "func:") != len(jobs) {
			t.Errorf("%d schedules read from:\n%s", len(jobs), b[1])
		}
	}
	if n < 2 {
		t.Errorf("found %d schedules files in the doc", n)
	}
}
