package schedule

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/pgwerk/werkcron/scheduler/cron"
)

// Parse is a schedule's timing as its definition gives it: a cron expression in its
// zone, or an interval of every from its anchor (see StartBound). It returns why not
// ("" when fine): a definition from psql may be anything.
func Parse(expr string, every time.Duration, zone string, changedAt, startsAt time.Time) (cron.Schedule, string) {
	if expr == "" {
		if every <= 0 {
			return nil, "needs cron or a positive interval_secs"
		}
		return cron.Interval{Anchor: StartBound(true, changedAt, startsAt), Every: every}, ""
	}
	c, err := parsed.cron(expr, zone)
	if err != nil {
		return nil, err.Error()
	}
	return c, ""
}

// parsed shares what schedules have in common: a zone is loaded once (a *Location
// carries its whole transition table, kilobytes each), and schedules with the same
// expression and zone share one parsed cron.Expr (safe: it is immutable), forgotten
// once no entry uses it.
var parsed = &parseCache{zones: map[string]*time.Location{}, crons: map[cronKey]weak.Pointer[cron.Expr]{}}

type cronKey struct{ expr, zone string }

type parseCache struct {
	mu    sync.Mutex
	zones map[string]*time.Location // never shrinks: there are only so many zones
	crons map[cronKey]weak.Pointer[cron.Expr]
}

func (p *parseCache) cron(expr, zone string) (*cron.Expr, error) {
	key := cronKey{expr, zone}
	p.mu.Lock()
	if c := p.crons[key].Value(); c != nil {
		p.mu.Unlock()
		return c, nil
	}
	loc, ok := p.zones[zone]
	p.mu.Unlock()
	if !ok {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil || zone == "Local" {
			// PostgreSQL accepts zones Go does not know, such as bare abbreviations (PST).
			return nil, fmt.Errorf("time zone %q: not an IANA zone name that werkcron knows (use e.g. America/Los_Angeles)", zone)
		}
	}
	c, err := cron.Parse(expr, loc)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.zones[zone] = loc
	if shared := p.crons[key].Value(); shared != nil {
		return shared, nil
	}
	p.crons[key] = weak.Make(c)
	runtime.AddCleanup(c, func(k cronKey) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.crons[k].Value() == nil {
			delete(p.crons, k)
		}
	}, key)
	return c, nil
}
