package ticker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgwerk/werkcron/db"
	"github.com/pgwerk/werkcron/internal/leader"
)

// A large fan-out (many schedules due at once) is written by several connections of
// the primary's process at once, so that the database's cores share the work and the
// first jobs commit sooner. Each statement is its own transaction under the same
// compare-and-set as any other: the advisory lock decides who is primary; the
// compare-and-set, the ledger and the job key are what make a tick happen once. The
// leader's own session writes the first part; the others are fenced by it: their
// statements go through only while that session holds the leader lock (see
// queries/tick.sql), so that a primary whose session is gone (terminated, or cut off by
// a partition) writes nothing more through them either.
//
// A fan-out decided ahead of its instant with more statements than write at once (more
// than one read of the plan: 100,000 due are ten statements) is sent whole: every
// statement at once, each on a connection of its own, to wait for the instant in the
// database, so that each has taken in its arrays, been planned and read what it looks
// up by then. Sent one after another on --parallel connections, each statement after a
// connection's first did that between the writes (60-100 ms each, docs/benchmarks.md
// change 46). Once the instant has come they take turns in --parallel lanes, so that
// no more than that many write at once (more contend for WAL insertion and index
// pages, and on two cores took longer).
const (
	// DefaultParallel is how many connections write a fan-out at once. Measured with
	// 10,000 schedules due at once on a 2-core machine (docs/benchmarks.md): 2 wrote
	// it in about half the time of 1; 4 gained nothing more there (two cores), and on
	// more cores what bounds it is WAL insertion and werk_jobs' unique key index.
	DefaultParallel = 2
	// parallelMin: a fan-out is split only into parts of at least this many ticks; a
	// smaller one is written by the leader's session alone (another connection's round
	// trip and fence cost more than they save).
	parallelMin = 1000
	// helperIdle: the fan-out's other connections are closed after this long unused, so
	// that an idle primary holds one session.
	helperIdle = time.Minute
	// warmTimeout bounds warmHelpers' statement without ticks.
	warmTimeout = 5 * time.Second
)

// parts cuts batch (in the order its ticks fall due) into tick statements: at most
// maxTicksPerStatement ticks each, and, with parallel connections, at least that many
// parts of at least parallelMin ticks, so that each connection has work. Schedules due
// at the same instant are taken in name order (the order of their job keys): each
// statement then inserts its jobs' keys in order, a part's range of them after the
// last, instead of all over werk_jobs' key index.
func parts(batch []planned, parallel int) [][]planned {
	// Unstable, and the names compared only on a tie: names are unique, and this runs on
	// the tick's critical path (10,000 due: 8 ms as a stable sort of both keys, 2 ms so).
	slices.SortFunc(batch, func(a, b planned) int {
		if c := a.e.due().Compare(b.e.due()); c != 0 {
			return c
		}
		return strings.Compare(a.e.name, b.e.name)
	})
	total := 0
	for _, b := range batch {
		total += len(b.d.Missed) + len(b.d.Excluded) + len(b.d.Enqueue)
	}
	size := maxTicksPerStatement
	if n := min(parallel, total/parallelMin); n > 1 {
		size = min(size, (total+n-1)/n)
	}
	var out [][]planned // each part a run of batch, in order
	start, ticks := 0, 0
	for i, b := range batch {
		n := len(b.d.Missed) + len(b.d.Excluded) + len(b.d.Enqueue)
		if ticks+n > size && i > start {
			out = append(out, batch[start:i:i])
			start, ticks = i, 0
		}
		ticks += n
	}
	if start < len(batch) {
		out = append(out, batch[start:])
	}
	return out
}

// writeAll writes the parts of a round and returns what came of them, part by part
// (apply them in that order: see applyAll). The parts are written by up to
// opts.Parallel connections at once, in order of falling due; a round sent whole
// (sentWhole) has them all sent at once, up to the pool's connections, and written in
// opts.Parallel lanes. A part whose connection failed is written again by the leader's
// session (a statement that did go through then loses its compare-and-set, and is read
// back like any other).
func (p *primary) writeAll(ctx context.Context, ps []part) ([][]written, error) {
	results := make([][]written, len(ps))
	failed := make([]error, len(ps))
	writers := p.opts.Parallel
	if sentWhole(ps, p.opts.Parallel) {
		// Part i in lane i mod Parallel: the parts are taken in order, so those in flight
		// at once are consecutive and cover every lane.
		for i := range ps {
			ps[i].lane = int32(i%p.opts.Parallel) + 1
		}
		writers = max(p.opts.Parallel, wholeConns-1) // one of the pool's reads beside them
	}
	next := make(chan int, len(ps))
	for i := range ps {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(writers, len(ps)) - 1 {
		wg.Go(func() {
			p.onHelper(ctx, func(conn *pgx.Conn) {
				for i := range next {
					if failed[i] = p.execute(ctx, conn, p.backend, ps[i], &results[i]); failed[i] != nil {
						return // this connection is gone: the leader takes the rest
					}
				}
			})
		})
	}
	var err error
	for i := range next {
		if err = p.execute(ctx, p.conn, 0, ps[i], &results[i]); err != nil {
			break
		}
	}
	wg.Wait()
	if err != nil {
		return nil, err // the leader's own session failed
	}
	return p.writeFailed(ctx, ps, results, failed)
}

// sentWhole reports whether a round's parts are sent at once, each on a connection of
// its own, ahead of their instant: a fan-out decided ahead (its parts have an instant)
// with more parts than write at once. Each statement then takes in its arrays, is
// planned and reads what it looks up before the instant, where otherwise every part
// after a connection's first would do that between the writes; once the instant has
// come, the lanes (werk_cron_wait_turn) keep to parallel statements writing at once.
func sentWhole(ps []part, parallel int) bool {
	return parallel > 1 && len(ps) > parallel && !ps[0].at.IsZero()
}

// writeFailed writes again, on the leader's session, the parts whose connection failed.
func (p *primary) writeFailed(ctx context.Context, ps []part, results [][]written, failed []error) ([][]written, error) {
	for i := range ps {
		if failed[i] != nil {
			p.log.Warn("a fan-out connection failed; its part is written by the leader's session", "err", failed[i])
			results[i] = nil
			if err := p.execute(ctx, p.conn, 0, ps[i], &results[i]); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// applyAll applies what came of writeAll's parts, in order, on the primary's goroutine.
func (p *primary) applyAll(ctx context.Context, results [][]written, now time.Time, lostOnes *[]lost) error {
	for _, rs := range results {
		for _, w := range rs {
			if err := p.apply(ctx, w, now, lostOnes); err != nil {
				return err
			}
		}
	}
	return nil
}

// onHelper runs fn with one of the fan-out's connections, opening the pool on first
// use; without one (the database refuses another connection, say), fn does not run and
// the leader's session writes everything.
func (p *primary) onHelper(ctx context.Context, fn func(conn *pgx.Conn)) {
	pool, err := p.helperPool(ctx)
	if err != nil {
		p.log.Warn("no connection for the fan-out; the leader's session writes it alone", "err", err)
		return
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		p.log.Warn("no connection for the fan-out; the leader's session writes it alone", "err", err)
		return
	}
	defer c.Release()
	fn(c.Conn())
}

// warmHelpers opens the fan-out's connections that are not open, up to want, ahead of a
// fan-out large enough to split (the plan is read two seconds before its instant; one
// larger than a read may be sent whole, a connection per statement), and has each
// describe the statement of ticks at their usual pace by running it without ticks. The
// tick then finds them ready instead of connecting and preparing a session, and the
// statement's description cached, on its critical path (an hourly fan-out finds them
// closed: they close after helperIdle unused). Runs beside the primary's loop, until
// the helpers close (closeHelpers cancels it first); leader is the leader session's
// backend, which fences the statement as it fences the fan-out's.
func (p *primary) warmHelpers(leader int32, want int) {
	ctx := p.warming
	if ctx == nil {
		return // not a leading session's primary
	}
	pool, err := p.helperPool(ctx)
	if err != nil {
		return // the fan-out will say so
	}
	want = min(want, int(pool.Config().MaxConns))
	if int(pool.Stat().TotalConns()) >= want {
		return
	}
	// Each connection is held until all are warm, so that each goroutine warms its
	// own; they open at once, so that a network's round trips add up only once.
	var wg sync.WaitGroup
	held := make([]*pgxpool.Conn, want)
	for i := range held {
		wg.Go(func() {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return
			}
			held[i] = c
			sctx, cancel := context.WithTimeout(ctx, warmTimeout)
			defer cancel()
			if _, err := db.New(customPlan{c.Conn()}).EnqueueUsualTicks(sctx, usualParams(tickParams(nil, leader), false)); err != nil {
				p.log.Debug("warm a fan-out connection", "err", err)
			}
		})
	}
	wg.Wait()
	for _, c := range held {
		if c != nil {
			c.Release()
		}
	}
}

// helperPool returns the pool of the fan-out's connections, opening it on first use:
// sessions prepared as the leader's is (search_path, TCP settings) and bounded by the
// same lock_timeout.
func (p *primary) helperPool(ctx context.Context) (*pgxpool.Pool, error) {
	p.helpersMu.Lock()
	defer p.helpersMu.Unlock()
	if p.helpers != nil {
		return p.helpers, nil
	}
	if p.helpersClosed {
		return nil, errors.New("this session no longer leads")
	}
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig = p.cfg.Copy()
	cfg.ConnConfig.RuntimeParams["application_name"] = cutBytes(p.opts.ApplicationName+" fan-out", 63)
	// Parallel-1 connections write parts of a fan-out beside the leader's session, and
	// one reads the plan ahead meanwhile (readAhead); a round sent whole takes one per
	// statement (wholeConns in all), of which Parallel write at once.
	cfg.MaxConns = int32(max(p.opts.Parallel, wholeConns))
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = helperIdle
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		registerCodecs(conn.TypeMap())
		if err := leader.Prepare(ctx, conn); err != nil {
			return err
		}
		if err := db.New(conn).SetLockTimeout(ctx, fmt.Sprintf("%dms", lockTimeout.Milliseconds())); err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p.helpers = pool
	return pool, nil
}

// closeHelpers closes the fan-out's connections (when this session stops leading).
func (p *primary) closeHelpers() {
	if p.stopWarming != nil {
		p.stopWarming() // a connection warmHelpers holds is released at once
	}
	p.helpersMu.Lock()
	defer p.helpersMu.Unlock()
	p.helpersClosed = true
	if p.helpers != nil {
		p.helpers.Close()
		p.helpers = nil
	}
}
