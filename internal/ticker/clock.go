package ticker

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// clock is the primary's estimate of the database's clock, which decides every tick:
// the database's time read at the last trusted heartbeat, and the host's monotonic
// time at that instant.
type clock struct {
	dbAt     time.Time     // the database's clock at the last trusted heartbeat
	hostAt   time.Time     // the host's clock (opts.Now, monotonic) at that instant
	offset   time.Duration // database clock minus host clock (for the logs)
	lastBeat time.Time     // host time of the last heartbeat
	// slack: half the round trip of the heartbeat the estimate comes from, how far it
	// may run ahead of the database's clock (the server read its clock somewhere in
	// that round trip, not necessarily halfway).
	slack time.Duration
}

// now is the database's time as this host estimates it: the database clock read at the
// last heartbeat plus the time elapsed since on the host's monotonic clock. A step of
// the host's wall clock (NTP, an operator) between heartbeats changes nothing; read as
// wall clock plus offset instead, a step forward would make the ticker decide ticks that
// the database still considers future, and classify the current ones as missed.
func (p *primary) now() time.Time { return p.dbAt.Add(p.opts.Now().Sub(p.hostAt)) }

// errLostLock: the heartbeat found the leader lock no longer held by this session.
var errLostLock = errors.New("this session no longer holds the leader lock; rejoining as a standby")

// maxClockRTT: a heartbeat whose round trip took longer (a stalled network, a frozen
// process) does not update the clock estimate, which is only as good as half of it.
const maxClockRTT = 500 * time.Millisecond

// heartbeat checks that this session still holds the lock, and reads the database
// clock (assuming the server read it halfway through the round trip). It reads no
// table, so that nothing another session locks can hold it up.
func (p *primary) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	before := p.opts.Now()
	hb, err := p.q.LeaderHeartbeat(ctx)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	after := p.opts.Now()
	if !hb.Held {
		// Not fatal by itself: stop scheduling and start over as a standby. If a proxy
		// is switching our server session, the next election's checks say so and stop.
		return errLostLock
	}
	p.backend = hb.BackendPid
	if rtt := after.Sub(before); rtt <= maxClockRTT || p.dbAt.IsZero() {
		p.hostAt = before.Add(rtt / 2)
		p.dbAt = hb.Now
		p.slack = rtt / 2
		p.offset = p.dbAt.Sub(p.hostAt.Round(0))
	} else {
		p.log.Warn("heartbeat round trip too slow to read the database clock; keeping the last reading", "rtt", rtt)
	}
	p.lastBeat = time.Now()
	return nil
}
