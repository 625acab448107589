package schedule

import (
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

func TestParseCacheSharesCronsAndZones(t *testing.T) {
	p := &parseCache{zones: map[string]*time.Location{}, crons: map[cronKey]weak.Pointer[cron.Expr]{}}
	a, err := p.cron("0 9 * * 1-5", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.cron("0 9 * * 1-5", "Europe/Berlin")
	c, _ := p.cron("0 9 * * 1-5", "America/New_York")
	d, _ := p.cron("30 9 * * 1-5", "Europe/Berlin")
	if a != b {
		t.Errorf("same expression and zone parsed twice")
	}
	if a == c || a == d {
		t.Errorf("different zone or expression shared one Cron")
	}
	if a.Location() != d.Location() {
		t.Errorf("Europe/Berlin loaded twice")
	}
	if _, err := p.cron("0 9 * * *", "PST"); err == nil || !strings.Contains(err.Error(), `"PST"`) {
		t.Errorf("zone Go does not know: %v", err)
	}
	if _, err := p.cron("61 * * * *", "UTC"); err == nil {
		t.Errorf("bad expression accepted")
	}
}
