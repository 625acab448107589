package ticker

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgwerk/werkcron/db"
)

// The tick statement's write path: a batch of decisions laid out as the statement's
// arrays (one element per tick), run, and what the database says dealt with (decided
// again, split, or set aside) without touching the ticker's state, so that several
// connections may write at once (fanout.go); apply.go applies what came of it.

// SQLSTATEs the tick path tells apart.
const (
	uniqueViolation  = "23505"
	lockNotAvailable = "55P03" // lock_timeout: a row, key or table another session holds
	untrustedTrigger = "WC001" // werk_cron_trusted_triggers: a write would run another role's code
)

const (
	// uniqueRetries: a batch that meets a unique violation (a ledger row committed by
	// someone else after the statement's snapshot) is decided again this many times,
	// each seeing what the last ran into, before it is split.
	uniqueRetries = 3
	// keyCheckFor: after a statement of ticks at their usual pace met a job key held by
	// another job, the statements of the next this long look for held keys first (see
	// EnqueueUsualTicks): a job holding one tick's key often comes with jobs holding the
	// next ticks' (another scheduler enqueuing the same schedule), and each statement
	// undone by one costs as much as the statement.
	keyCheckFor = 10 * time.Minute
	// splitWays: a batch that waited too long on a key is split this many ways, so that
	// the schedules not involved commit at once and the blocked one is found in a few
	// rounds (10,000 ticks: four rounds of lockTimeout).
	splitWays = 16
)

// written is one tick statement's batch and what came of it: its rows, when it went
// through; otherwise tableLocked, or err for a batch of one schedule the database
// refused (split until the schedule involved stands alone).
type written struct {
	batch       []planned
	params      db.EnqueueDueTicksParams
	rows        []db.EnqueueDueTicksRow
	tableLocked bool
	err         error
}

// part is one tick statement's share of a round, laid out before it is written: the
// ticks at their usual pace with their statement's arrays (element i is usual[i]'s;
// the fence is set by the connection that writes it), and every other decision.
type part struct {
	usual []planned
	ticks db.EnqueueDueTicksParams
	rest  []planned
	// A round decided ahead (tickAt) is sent before its instant, at: the usual
	// statement waits for it in the database (@wait_until), and the general statement,
	// which goes by its transaction's start, is not sent before restAfter (the host's
	// time when its estimate of the database's clock is past at, with the margin that
	// estimate needs). Both zero for a round decided when due.
	at, restAfter time.Time
	// lane is the fan-out lane whose turn the usual statement waits for once its
	// instant has come (0: none): a round sent whole ahead of its instant (writeAll).
	lane int32
}

// layoutAll lays the batches of a round out as its parts. The ticks at their usual pace
// get their job ids from one ascending run of time-ordered ids, dealt out to the parts
// in turn: the parts' statements, running at once, then all insert near the right edge
// of werk_jobs' primary key, as one statement would. Given a range each (the first
// part the lowest ids), all but the last would insert in the middle of the index,
// where a full page splits in halves instead of leaving a full page behind.
func layoutAll(batches [][]planned) []part {
	ps := make([]part, len(batches))
	counts := make([]int, len(batches))
	for i, b := range batches {
		ps[i].usual, ps[i].rest = splitUsual(b)
		counts[i] = len(ps[i].usual) // one tick each, to enqueue
	}
	ids := dealIDs(counts)
	for i := range ps {
		if len(ps[i].usual) > 0 {
			ps[i].ticks = tickParamsWith(ps[i].usual, 0, ids[i])
		}
	}
	return ps
}

// dealIDs makes one ascending run of time-ordered job ids, counts[i] of them for part
// i, dealt out to the parts in turn.
func dealIDs(counts []int) [][]uuid.UUID {
	out := make([][]uuid.UUID, len(counts))
	total := 0
	for i, n := range counts {
		out[i] = make([]uuid.UUID, 0, n)
		total += n
	}
	random := idRandom()
	for total > 0 {
		for i, n := range counts {
			if len(out[i]) < n {
				out[i] = append(out[i], uuid.Must(uuid.NewV7FromReader(random)))
				total--
			}
		}
	}
	return out
}

// idRandom is where job ids draw their random bits from: a buffer, one read of the
// system's random source per 400 ids rather than one per id.
func idRandom() io.Reader { return bufio.NewReaderSize(rand.Reader, 4096) }

// execute writes a part on conn, without touching the ticker's state (it may run on
// several connections at once; the results are applied afterwards, in order). Ticks at
// their usual pace go through EnqueueUsualTicks first; whatever it did not take, and
// every other decision, through EnqueueDueTicks (executeDue). Only a failure of the
// connection itself is returned.
func (p *primary) execute(ctx context.Context, conn *pgx.Conn, leader int32, pt part, out *[]written) error {
	rest := pt.rest[:len(pt.rest):len(pt.rest)] // a part written again appends afresh
	if pt.lane > 0 && p.now().Before(pt.at) {
		p.Stats.SentWhole.Add(1)
	}
	if len(pt.usual) > 0 {
		notTaken, err := p.executeUsual(ctx, conn, leader, pt, out)
		if err != nil {
			return err
		}
		rest = append(rest, notTaken...)
	}
	if len(rest) == 0 {
		return nil
	}
	if err := sleepFor(ctx, time.Until(pt.restAfter)); err != nil {
		return err
	}
	return p.executeDue(ctx, conn, leader, rest, out)
}

// usual reports whether a decision is a tick at its usual pace (see EnqueueUsualTicks in
// queries/tick.sql): one tick, to enqueue, of a schedule whose overlap policy gives
// every tick its job. The statement checks the policy again against the definition. A
// schedule with an error, or set aside after a lock or a refusal, goes the general way:
// what went wrong before is likely to again, and there it is isolated without undoing
// the statement of every other tick at its usual pace.
func (b planned) usual() bool {
	return len(b.d.Enqueue) == 1 && len(b.d.Missed) == 0 && len(b.d.Excluded) == 0 && !b.e.overlapOne &&
		b.e.err == "" && b.e.blocked == ""
}

// splitUsual parts batch into the decisions that are ticks at their usual pace and the
// others, each in batch's order.
func splitUsual(batch []planned) (usual, rest []planned) {
	n := 0
	for _, b := range batch {
		if b.usual() {
			n++
		}
	}
	if n == len(batch) {
		return batch, nil
	}
	usual = make([]planned, 0, n)
	for _, b := range batch {
		if b.usual() {
			usual = append(usual, b)
		} else {
			rest = append(rest, b)
		}
	}
	return usual, rest
}

// roundMin is how many of a usual statement's ticks must share their next instant for
// those schedules to go on a round (werk_cron_rounds) instead of the plan's index: a
// round is one row however many it names, and their state rows are then rewritten in
// place, with no index entry. Fewer, and a round saves less than it costs to write and
// delete (a schedule ticking alone keeps its plan_at, as before rounds).
const roundMin = 64

// usualParams are EnqueueUsualTicks' parameters: those of EnqueueDueTicks it takes (one
// tick per schedule, each to enqueue, needs no more), and checkKeys, whether to look for
// the keys held already first.
func usualParams(p db.EnqueueDueTicksParams, checkKeys bool) db.EnqueueUsualTicksParams {
	return db.EnqueueUsualTicksParams{
		TickNames: p.TickNames, TickKeys: p.TickKeys, TickAts: p.TickAts, JobIds: p.JobIds,
		PrevTickAts: p.PrevTickAts, SeenDefinedAts: p.SeenDefinedAts, NextRunAts: p.NextRunAts,
		PrevJobIds: p.PrevJobIds, PrevJobAts: p.PrevJobAts, LeaderPid: p.LeaderPid,
		CheckKeys: checkKeys, Rounded: rounded(p.NextRunAts),
	}
}

// rounded tells, tick by tick, which of a statement's schedules go on a round: those
// whose next instant (nexts; zero for none) at least roundMin of them share.
func rounded(nexts []time.Time) []bool {
	count := make(map[int64]int) // by instant: the same one may come in several zones
	for _, t := range nexts {
		if !t.IsZero() {
			count[t.UnixNano()]++
		}
	}
	on := make([]bool, len(nexts))
	for i, t := range nexts {
		on[i] = !t.IsZero() && count[t.UnixNano()] >= roundMin
	}
	return on
}

// executeUsual runs EnqueueUsualTicks for pt's ticks at their usual pace (laid out as
// its statement's arrays, due at its instant, in its lane) and returns the decisions it
// did not take, for EnqueueDueTicks: those of schedules that did not advance, or all of
// them when the database refused the statement (EnqueueDueTicks deals with each
// refusal). What the ones taken did is added to out like any tick statement's. Only a
// failure of the connection itself is returned.
func (p *primary) executeUsual(ctx context.Context, conn *pgx.Conn, leader int32, pt part, out *[]written) ([]planned, error) {
	batch, all := pt.usual, pt.ticks
	all.LeaderPid = leader
	run := func(check bool) ([]db.EnqueueUsualTicksRow, error) {
		sctx, cancel := context.WithTimeout(ctx, statementTimeout)
		defer cancel()
		params := usualParams(all, check)
		params.WaitUntil = pt.at
		if pt.lane > 0 {
			params.Lane, params.TurnUntil = pt.lane, pt.at.Add(turnLimit)
		}
		began := time.Now()
		rows, err := db.New(customPlan{conn}).EnqueueUsualTicks(sctx, params)
		p.logFanout(leader, began, len(params.TickNames), err)
		return rows, err
	}
	check := time.Now().UnixNano() < p.checkKeysUntil.Load()
	rows, err := run(check)
	var pgErr *pgconn.PgError
	if !check && errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && !conn.IsClosed() {
		// A job key held by another job (or taken meanwhile): look for held keys first,
		// in this statement and those of the next keyCheckFor.
		p.log.Info("a tick's job key is held by another job; ticks at their usual pace look for held keys first for a while",
			"for", keyCheckFor, "err", err)
		p.checkKeysUntil.Store(time.Now().Add(keyCheckFor).UnixNano())
		rows, err = run(true)
	}
	if err != nil {
		if conn.IsClosed() {
			return nil, fmt.Errorf("enqueue ticks at their usual pace: %w", err)
		}
		p.log.Info("ticks at their usual pace go through the general tick statement", "ticks", len(batch), "err", err)
		return batch, nil
	}
	p.Stats.Statements.Add(1)
	w := written{rows: usualOutcomes(rows, all.TickNames)}
	won := make(map[string]bool, len(w.rows))
	for _, r := range w.rows {
		if r.Outcome == "won" {
			won[r.Name] = true
		}
	}
	if err := p.notify(ctx, conn, w.rows); err != nil {
		return nil, err
	}
	// applyRows takes the decisions that went through, and the id of each tick's job
	// from the ticks' names, instants and ids.
	var rest []planned
	for i, b := range batch {
		if !won[b.e.name] {
			rest = append(rest, b)
			continue
		}
		w.batch = append(w.batch, b)
		w.params.TickNames = append(w.params.TickNames, all.TickNames[i])
		w.params.TickAts = append(w.params.TickAts, all.TickAts[i])
		w.params.JobIds = append(w.params.JobIds, all.JobIds[i])
	}
	if len(w.batch) > 0 {
		*out = append(*out, w)
	}
	return rest, nil
}

// usualOutcomes is what EnqueueUsualTicks returned for the schedules named by names
// (one tick each), said as EnqueueDueTicks says it: its 'all_won' row (every schedule
// advanced) becomes a 'won' row for each schedule that has none of its own.
func usualOutcomes(rows []db.EnqueueUsualTicksRow, names []string) []db.EnqueueDueTicksRow {
	out := make([]db.EnqueueDueTicksRow, 0, len(rows))
	var all *db.EnqueueUsualTicksRow
	for i, r := range rows {
		if r.Outcome == "all_won" {
			all = &rows[i]
			continue
		}
		out = append(out, db.EnqueueDueTicksRow(r))
	}
	if all == nil {
		return out
	}
	said := make(map[string]bool, len(out))
	for _, r := range out {
		if r.Outcome == "won" {
			said[r.Name] = true
		}
	}
	out = slices.Grow(out, len(names)-len(said))
	for _, name := range names {
		if !said[name] {
			out = append(out, db.EnqueueDueTicksRow{Outcome: "won", Name: name, StartedAt: all.StartedAt,
				RemainingRuns: -1, LedgerRows: all.LedgerRows, HealthCheckAt: all.HealthCheckAt})
		}
	}
	return out
}

// executeDue runs the tick statement (EnqueueDueTicks) for batch on conn and deals with
// what the database says:
//   - a unique violation (a ledger row someone committed meanwhile): decide again;
//   - a lock wait cut off by lock_timeout: on a row or job key, split the batch until the
//     schedule involved stands alone and set it aside; on a table, set the whole batch
//     aside for a moment (the tables come back, the leadership stays);
//   - any other refusal (a constraint on werk_jobs, say): split until the schedule
//     involved stands alone, and give it last_error.
//
// leader is the backend of the session holding the leader lock when conn is another
// connection (0 when conn is that session): the statement goes through only while that
// session holds the lock. Only a failure of the connection itself is returned.
func (p *primary) executeDue(ctx context.Context, conn *pgx.Conn, leader int32, batch []planned, out *[]written) error {
	w := written{batch: batch, params: tickParams(batch, leader)}
	run := func() error {
		sctx, cancel := context.WithTimeout(ctx, statementTimeout)
		defer cancel()
		began := time.Now()
		rows, err := db.New(customPlan{conn}).EnqueueDueTicks(sctx, w.params)
		p.logFanout(leader, began, len(w.params.TickNames), err)
		if err == nil {
			w.rows = rows
			p.Stats.Statements.Add(1)
		}
		return err
	}
	err := run()
	var pgErr *pgconn.PgError
	for retry := 0; retry < uniqueRetries && errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && !conn.IsClosed(); retry++ {
		p.log.Info("a tick's ledger row was written meanwhile; deciding again", "err", err)
		err = run()
	}
	switch {
	case err == nil:
		*out = append(*out, w)
		return p.notify(ctx, conn, w.rows)
	case conn.IsClosed() || !errors.As(err, &pgErr):
		return fmt.Errorf("enqueue due ticks: %w", err)
	case pgErr.Code == lockNotAvailable && !keyWait(pgErr) && othersLockTables(ctx, conn),
		pgErr.Code == untrustedTrigger:
		w.tableLocked, w.err = true, err
		*out = append(*out, w)
		return nil
	case len(batch) == 1:
		w.err = err
		*out = append(*out, w)
		return nil
	}
	ways := 2
	if pgErr.Code == lockNotAvailable {
		ways = splitWays
	}
	for _, part := range split(batch, ways) {
		if err := p.executeDue(ctx, conn, leader, part, out); err != nil {
			return err
		}
	}
	return nil
}

// logFanout logs, at debug level, a tick statement run on one of the fan-out's
// connections (leader is not 0): when it began, by the host's clock, and how many ticks
// it carried. A statement its leader fence stops ends within a millisecond, too soon to
// be seen reliably from the database's side; the fault suite counts these lines instead.
func (p *primary) logFanout(leader int32, began time.Time, ticks int, err error) {
	if leader != 0 {
		p.log.Debug("tick statement on a fan-out connection", "began", began.UTC().Format(time.RFC3339Nano), "ticks", ticks, "err", err)
	}
}

// notify wakes pgwerk's workers on the queues a tick statement that has committed gave
// jobs to (its rows 'queue'). Only a failure of the connection itself is returned.
func (p *primary) notify(ctx context.Context, conn *pgx.Conn, rows []db.EnqueueDueTicksRow) error {
	var queues []string
	for _, r := range rows {
		if r.Outcome == "queue" {
			queues = append(queues, r.Name)
		}
	}
	return notifyQueues(ctx, conn, p.log, queues)
}

// notifyQueues wakes pgwerk's workers on queues, once the statement that gave them jobs
// has committed (NotifyQueues says why apart from it). A notification that cannot be
// sent costs only the wake-up: it is logged, and the jobs are found at the workers' next
// poll. Only a failure of the connection itself is returned.
func notifyQueues(ctx context.Context, conn *pgx.Conn, log *slog.Logger, queues []string) error {
	if len(queues) == 0 {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := db.New(conn).NotifyQueues(sctx, queues); err != nil {
		if conn.IsClosed() {
			return fmt.Errorf("notify pgwerk's workers: %w", err)
		}
		log.Warn("could not notify pgwerk's workers of new jobs; they find them at their next poll", "queues", queues, "err", err)
	}
	return nil
}

// keyWait reports whether a lock timeout came from waiting on a unique key another
// transaction holds uncommitted ("while inserting index tuple ..."), as opposed to a
// table lock, which carries no such context. The context is translated with the
// server's lc_messages: a timeout it does not recognise is checked with othersLockTables.
func keyWait(err *pgconn.PgError) bool {
	return strings.Contains(err.Where, "index tuple") || strings.Contains(err.Where, "uniqueness")
}

// othersLockTables reports whether another session holds one of the tick's tables locked
// (pg_locks says, in any language); if pg_locks cannot be read, it says so, which sets
// the whole batch aside as before. Otherwise the timeout was a key or a row: the batch
// is split to find the schedules involved.
func othersLockTables(ctx context.Context, conn *pgx.Conn) bool {
	locked, err := db.New(conn).TablesLockedByOthers(ctx)
	return err != nil || locked
}

// split cuts batch into at most ways parts of about equal size.
func split(batch []planned, ways int) [][]planned {
	size := (len(batch) + ways - 1) / ways
	var parts [][]planned
	for len(batch) > 0 {
		n := min(size, len(batch))
		parts = append(parts, batch[:n])
		batch = batch[n:]
	}
	return parts
}

// jobKey is the job key of a schedule's tick, werk_jobs.key: one job per tick.
func jobKey(name string, tick time.Time) string {
	return keyOf(name, tick.UTC().Format(keyTimeLayout))
}

// keyOf is the job key of a schedule's tick written as a job key writes it.
func keyOf(name, tick string) string { return "cron:" + name + ":" + tick }

// keyTimeLayout is how a job key writes its tick.
const keyTimeLayout = "2006-01-02T15:04:05Z"

// keyTimes formats ticks for job keys, once per run of equal ticks: a fan-out's ticks
// share one instant.
type keyTimes struct {
	at   time.Time
	text string
}

func (k *keyTimes) format(at time.Time) string {
	if k.text == "" || !at.Equal(k.at) {
		k.at, k.text = at, at.UTC().Format(keyTimeLayout)
	}
	return k.text
}

// tickParams lays batch out as the tick statement's arrays, one element per tick;
// leader fences a statement run on another connection than the leader's (see execute).
func tickParams(batch []planned, leader int32) db.EnqueueDueTicksParams {
	return tickParamsWith(batch, leader, nil)
}

// tickParamsWith is tickParams with the job ids of its ticks to enqueue, in order (nil:
// made here).
func tickParamsWith(batch []planned, leader int32, ids []uuid.UUID) db.EnqueueDueTicksParams {
	n := 0
	for _, b := range batch {
		n += len(b.d.Missed) + len(b.d.Excluded) + len(b.d.Enqueue)
	}
	p := db.EnqueueDueTicksParams{
		TickNames: make([]string, 0, n), TickKeys: make([]string, 0, n), TickAts: make([]time.Time, 0, n),
		TickKinds: make([]string, 0, n), TickCounts: make([]int32, 0, n), TickHeads: make([]bool, 0, n),
		JobIds: make([]uuid.UUID, 0, n), ScheduleTicks: make([]int32, 0, n),
		PrevTickAts: make([]time.Time, 0, n), SeenDefinedAts: make([]time.Time, 0, n),
		NewestTickAts: make([]time.Time, 0, n), NextRunAts: make([]time.Time, 0, n),
		PrevJobIds: make([]uuid.UUID, 0, n), PrevJobAts: make([]time.Time, 0, n),
		LeaderPid: leader,
	}
	var times keyTimes
	var random io.Reader
	if ids == nil {
		random = idRandom()
	}
	for _, b := range batch {
		scheduleTicks := int32(len(b.d.Missed) + len(b.d.Excluded) + len(b.d.Enqueue))
		newest := b.d.Newest()
		// The head tick (see queries/tick.sql): the newest tick, or with overlap
		// 'skip' or 'buffer_one' the oldest enqueue tick, the only one that can get a job.
		head := newest
		if b.e.overlapOne && len(b.d.Enqueue) > 0 {
			head = b.d.Enqueue[0]
		}
		add := func(at time.Time, kind string, ticks int) {
			p.TickNames = append(p.TickNames, b.e.name)
			p.TickKeys = append(p.TickKeys, keyOf(b.e.name, times.format(at)))
			p.TickAts = append(p.TickAts, at)
			p.TickKinds = append(p.TickKinds, kind)
			p.TickCounts = append(p.TickCounts, int32(ticks))
			p.TickHeads = append(p.TickHeads, at.Equal(head))
			// Time-ordered ids: werk_jobs' primary key grows at its right edge instead of
			// splitting pages all over the index. A missed tick gets no job.
			id := uuid.Nil
			if kind == "enqueue" {
				if random != nil {
					id = uuid.Must(uuid.NewV7FromReader(random))
				} else {
					id, ids = ids[0], ids[1:]
				}
			}
			p.JobIds = append(p.JobIds, id)
			p.ScheduleTicks = append(p.ScheduleTicks, scheduleTicks) // all or none of them go through

			// The schedule's side, repeated on each of its ticks (the statement joins
			// no two of its parts, so each tick carries what its schedule needs).
			p.PrevTickAts = append(p.PrevTickAts, b.e.lastTick) // zero (year 1) stands for NULL
			p.SeenDefinedAts = append(p.SeenDefinedAts, b.e.definedAt)
			p.NewestTickAts = append(p.NewestTickAts, newest)
			p.NextRunAts = append(p.NextRunAts, b.d.Next) // zero (year 1) stands for NULL
			p.PrevJobIds = append(p.PrevJobIds, b.e.lastJobID)
			p.PrevJobAts = append(p.PrevJobAts, b.e.lastJobAt) // zero: none whose row is to be written
		}
		for _, m := range b.d.Missed {
			add(m.At, "missed", m.Ticks)
		}
		for _, x := range b.d.Excluded {
			add(x.At, "excluded", x.Ticks)
		}
		for _, at := range b.d.Enqueue {
			add(at, "enqueue", 1)
		}
	}
	return p
}

// customPlan runs queries through PostgreSQL's unnamed statement, which is planned for
// the arguments at hand, instead of a cached prepared statement, which after five runs
// switches to a generic plan. The generic plan of the tick statement guesses 10 rows per
// array and plans against werk_jobs as it was when it was made: planned while werk_jobs
// was empty, it probed every tick's key with a sequential scan, and the 20 statements of
// a 100,000-schedule tick took 2 s, 4 s, ... 14 s each as the table filled. Planning
// anew costs about a millisecond per statement.
type customPlan struct{ *pgx.Conn }

func (c customPlan) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.Conn.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}
