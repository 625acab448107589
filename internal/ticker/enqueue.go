package ticker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
)

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
	// splitWays: a batch that waited too long on a key is split this many ways, so that
	// the schedules not involved commit at once and the blocked one is found in a few
	// rounds (10,000 ticks: four rounds of lockTimeout).
	splitWays = 16
	// failedRetry: a schedule whose enqueue the database refuses is retried after this.
	failedRetry = 30 * time.Second
	// Set-aside backoff for a schedule another session blocks (a row held, a key held
	// uncommitted): from setAsideFirst, doubling to setAsideMax.
	setAsideFirst = 500 * time.Millisecond
	setAsideMax   = 10 * time.Second
	// tableRetry: when one of the tables is locked (DDL, LOCK TABLE), every tick of the
	// statement waits this long and tries again; the ticker keeps its leadership.
	tableRetry = 250 * time.Millisecond
	// holdupAfter: a schedule set aside this long is recorded in werk_cron_holdups,
	// where the status view shows it as an error until it ticks again.
	holdupAfter = 2 * time.Second
)

// planned is one schedule's decision inside a tick statement.
type planned struct {
	e *entry
	d decision
}

// lost is a decision that did not go through (see settleLost).
type lost struct {
	e      *entry
	newest time.Time // the newest tick of the decision
	dbNow  time.Time // the statement's start, by the database's clock
}

// tick decides the due entries and writes the decisions, in statements of at most
// maxTicksPerStatement ticks, split over the primary's connections (writeAll). Decisions
// that did not go through are settled once, after the last statement.
func (t *Ticker) tick(ctx context.Context, due []*entry, now time.Time) error {
	var batch []planned
	var lostOnes []lost
	var stale []*entry
	failures, err := t.failureStreaks(ctx, due)
	if err != nil {
		return err
	}
	for _, e := range due {
		if e.sched == nil {
			// Not plannable (the planner wrote last_error); here only if the row changed
			// under a stale read. Read it again.
			lostOnes = append(lostOnes, lost{e: e})
			continue
		}
		if n := failures[e.name]; e.pauseAfter > 0 && n >= e.pauseAfter && !e.paused {
			// Failed often enough, and not paused yet (its row was held when the failure
			// was recorded, or paused just now by recording it): pause it before it gets
			// another job. Not paused here (its row still held, paused already, or a
			// success came in since it was read): read it again.
			paused, err := t.pauseFailing(ctx, []string{e.name})
			if err != nil {
				t.log.Warn("pause a schedule after failures", "schedule", e.name, "err", err)
			}
			if len(paused) == 0 {
				lostOnes = append(lostOnes, lost{e: e})
			}
			continue
		}
		if why := t.allow.refuses(e.fn, e.queue); why != "" {
			// Planned by a ticker with another allow-list: refused here, and said so.
			e.err, e.next = why, time.Time{}
			stale = append(stale, e)
			t.hz.drop(e.name)
			t.log.Warn("schedule cannot run", "schedule", e.name, "err", why)
			continue
		}
		d := limitRuns(decide(e.sched, e.window(t.opts.MisfireGrace), now), e.remaining)
		if x, ok := e.sched.(*ExcludingSchedule); ok && !d.empty() {
			d.excluded = excludedTicks(e.window(t.opts.MisfireGrace), x, d.newest())
		}
		if d.capped {
			t.log.Warn("schedule was down for very many ticks; missed counts are lower bounds", "schedule", e.name)
		}
		if d.empty() {
			// Nothing pending after all: the row's plan was ahead of its definition (a
			// hand edit of next_run_at, say). Write the right one back.
			if !d.next.Equal(e.next) {
				e.next = d.next
				stale = append(stale, e)
			}
			e.retryAt = time.Time{}
			t.hz.offer(e)
			continue
		}
		batch = append(batch, planned{e, d})
	}
	if len(batch) > 0 {
		if err := t.writeAll(ctx, batch, now, &lostOnes); err != nil {
			return err
		}
	}
	if err := t.saveState(ctx, stale); err != nil {
		return err
	}
	if err := t.settleLost(ctx, lostOnes, now); err != nil {
		return err
	}
	return t.flushHoldups(ctx)
}

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

// execute runs the tick statement for batch on conn and deals with what the database
// says, without touching the ticker's state (it may run on several connections at once;
// the results are applied afterwards, in order):
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
func (t *Ticker) execute(ctx context.Context, conn *pgx.Conn, leader int32, batch []planned, out *[]written) error {
	w := written{batch: batch, params: tickParams(batch, leader)}
	run := func() error {
		sctx, cancel := context.WithTimeout(ctx, statementTimeout)
		defer cancel()
		rows, err := db.New(customPlan{conn}).EnqueueDueTicks(sctx, w.params)
		if err == nil {
			w.rows = rows
			t.Stats.Statements.Add(1)
		}
		return err
	}
	err := run()
	var pgErr *pgconn.PgError
	for retry := 0; retry < uniqueRetries && errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && !conn.IsClosed(); retry++ {
		t.log.Info("a tick's ledger row was written meanwhile; deciding again", "err", err)
		err = run()
	}
	switch {
	case err == nil:
		*out = append(*out, w)
		return nil
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
		if err := t.execute(ctx, conn, leader, part, out); err != nil {
			return err
		}
	}
	return nil
}

// apply takes in what came of one tick statement.
func (t *Ticker) apply(ctx context.Context, w written, now time.Time, lostOnes *[]lost) error {
	switch {
	case w.tableLocked:
		t.tableLocked(w.batch, now, w.err)
		return nil
	case w.err != nil:
		var pgErr *pgconn.PgError
		errors.As(w.err, &pgErr)
		t.setAsideOne(ctx, w.batch[0], now, pgErr, w.err)
		return nil
	}
	return t.applyRows(ctx, w, lostOnes)
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

// tableLocked sets every schedule of batch aside for tableRetry: one of werkcron's
// tables is locked by another session (DDL, LOCK TABLE), or has a trigger that would
// run another role's code (werk_cron_trusted_triggers), so no schedule could write.
func (t *Ticker) tableLocked(batch []planned, now time.Time, err error) {
	if !t.tablesLocked {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == untrustedTrigger {
			t.log.Error("refusing to write: a trigger on werkcron's tables would run another role's code; ticks wait until it is dropped",
				"err", err, "hint", pgErr.Hint)
		} else {
			t.log.Warn("a table is locked by another session; ticks wait until it is released", "err", err)
		}
		t.tablesLocked = true
	}
	for _, p := range batch {
		p.e.retryAt = now.Add(tableRetry)
		t.hz.put(p.e)
	}
}

// setAsideOne handles a statement of one schedule that failed: blocked on a key another
// transaction holds (set aside with backoff), or refused (last_error, retried after
// failedRetry).
func (t *Ticker) setAsideOne(ctx context.Context, p planned, now time.Time, pgErr *pgconn.PgError, err error) {
	e, d := p.e, p.d
	first := d.newest()
	if len(d.enqueue) > 0 {
		first = d.enqueue[0]
	}
	if pgErr.Code == lockNotAvailable {
		why := "the schedule's row is locked by another session (an uncommitted change of its definition, or a lock on its werk_cron_state row)"
		if keyWait(pgErr) {
			why = fmt.Sprintf("the job key of the tick at %s is held by another session's uncommitted transaction", first.UTC().Format(time.RFC3339))
		}
		t.block(e, now, why)
		return
	}
	e.err = fmt.Sprintf("enqueue of the tick at %s failed (retried in %s): %v", first.UTC().Format(time.RFC3339), failedRetry, err)
	e.retryAt = now.Add(failedRetry)
	t.log.Error("enqueue failed; retrying later", "schedule", e.name, "err", err, "retry_in", failedRetry)
	t.hz.put(e)
	if serr := t.saveState(ctx, []*entry{e}); serr != nil {
		t.log.Warn("record last_error", "schedule", e.name, "err", serr)
	}
}

// block sets e aside because another session holds what its decision needs: it is
// tried again with backoff, and logged once.
func (t *Ticker) block(e *entry, now time.Time, why string) {
	if e.blockedSince.IsZero() {
		e.blockedSince = now
		t.log.Warn("schedule blocked by another session; set aside and retried", "schedule", e.name, "why", why)
	}
	e.blocked = why
	e.backoff = min(max(2*e.backoff, setAsideFirst), setAsideMax)
	e.retryAt = now.Add(e.backoff)
	t.hz.put(e)
	if now.Sub(e.blockedSince) >= holdupAfter && !t.holdups[e.name] {
		t.newHoldups = append(t.newHoldups, e)
	}
}

// flushHoldups records schedules set aside for a while in werk_cron_holdups, and
// forgets those that ticked again. Failing to is logged, not fatal: it is a view.
func (t *Ticker) flushHoldups(ctx context.Context) error {
	var rec db.RecordHoldupsParams
	seen := map[string]bool{}
	for _, e := range t.newHoldups {
		if seen[e.name] {
			continue
		}
		seen[e.name] = true
		rec.Names = append(rec.Names, e.name)
		rec.Sinces = append(rec.Sinces, e.blockedSince)
		rec.Reasons = append(rec.Reasons, cutBytes(e.blocked, maxErrorBytes))
	}
	clear := t.clearedHoldups
	t.newHoldups, t.clearedHoldups = nil, nil
	if len(rec.Names) == 0 && len(clear) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	err := t.q.ClearHoldups(ctx, clear)
	if err == nil && len(rec.Names) > 0 {
		err = t.q.RecordHoldups(ctx, rec)
	}
	if err != nil {
		if t.conn.IsClosed() {
			return fmt.Errorf("record held-up schedules: %w", err)
		}
		t.log.Warn("record held-up schedules", "err", err)
		return nil
	}
	for _, name := range clear {
		delete(t.holdups, name)
	}
	for _, name := range rec.Names {
		t.holdups[name] = true
	}
	// Held up is an error to their health; let go, not any more.
	if err := t.refreshHealth(ctx, t.q, append(rec.Names, clear...), nil); err != nil {
		if t.conn.IsClosed() {
			return err
		}
		t.log.Warn("look at the health of schedules held up or let go", "err", err)
	}
	return nil
}

// failureStreaks reads the failed runs in a row of the due schedules that pause after
// failures (none read when no due schedule has that policy).
func (t *Ticker) failureStreaks(ctx context.Context, due []*entry) (map[string]int, error) {
	var names []string
	var last []lastRun
	for _, e := range due {
		if e.pauseAfter > 0 {
			names = append(names, e.name)
			if !e.lastJobAt.IsZero() {
				last = append(last, lastRun{e.name, e.lastJobAt, e.lastJobID})
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	// Their runs that ended since the last pass count: record them first (their newest
	// ticks', and those awaiting in the ledger; even when the last pass found nothing
	// awaiting: a manual run may have come in since, its notification not read yet).
	err := t.recordLastRuns(ctx, outcomeDueBound, last)
	if err == nil {
		_, err = t.recordOutcomes(ctx, outcomeDueBound, db.RecordOutcomesParams{Names: names, MaxRows: outcomeChunk})
	}
	if err != nil {
		if t.conn.IsClosed() {
			return nil, fmt.Errorf("record job outcomes: %w", err)
		}
		t.log.Warn("record the job outcomes of schedules that pause after failures; deciding on those recorded", "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rows, err := t.q.FailureStreaks(ctx, names)
	if err != nil {
		if t.conn.IsClosed() {
			return nil, fmt.Errorf("read failures in a row: %w", err)
		}
		t.log.Warn("read failures in a row; deciding without them this time", "err", err)
		return nil, nil
	}
	m := make(map[string]int, len(rows))
	for _, r := range rows {
		m[r.Name] = int(r.Failures)
	}
	return m, nil
}

// pauseFailing pauses those of names whose failures in a row reach their
// pause_after_failures (werk_cron_pause_failing, which counts them again and never
// waits for a row another session holds) and returns them.
func (t *Ticker) pauseFailing(ctx context.Context, names []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	paused, err := t.q.PauseFailingSchedules(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("pause schedules after failures: %w", err)
	}
	for _, name := range paused {
		t.log.Warn("paused a schedule after failures in a row", "schedule", name)
		t.hz.drop(name) // unplanned now (its definition changed): the planner takes it
	}
	return paused, nil
}

// jobKey is the job key of a schedule's tick, werk_jobs.key: one job per tick.
func jobKey(name string, tick time.Time) string {
	return "cron:" + name + ":" + tick.UTC().Format("2006-01-02T15:04:05Z")
}

// tickParams lays batch out as the tick statement's arrays, one element per tick;
// leader fences a statement run on another connection than the leader's (see execute).
func tickParams(batch []planned, leader int32) db.EnqueueDueTicksParams {
	n := 0
	for _, b := range batch {
		n += len(b.d.missed) + len(b.d.excluded) + len(b.d.enqueue)
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
	for _, b := range batch {
		scheduleTicks := int32(len(b.d.missed) + len(b.d.excluded) + len(b.d.enqueue))
		newest := b.d.newest()
		// The head tick (see queries/tick.sql): the newest tick, or with overlap
		// 'skip' or 'buffer_one' the oldest enqueue tick, the only one that can get a job.
		head := newest
		if b.e.overlapOne && len(b.d.enqueue) > 0 {
			head = b.d.enqueue[0]
		}
		add := func(at time.Time, kind string, ticks int) {
			p.TickNames = append(p.TickNames, b.e.name)
			p.TickKeys = append(p.TickKeys, jobKey(b.e.name, at))
			p.TickAts = append(p.TickAts, at)
			p.TickKinds = append(p.TickKinds, kind)
			p.TickCounts = append(p.TickCounts, int32(ticks))
			p.TickHeads = append(p.TickHeads, at.Equal(head))
			// Time-ordered ids: werk_jobs' primary key grows at its right edge instead of
			// splitting pages all over the index. A missed tick gets no job.
			id := uuid.Nil
			if kind == "enqueue" {
				id = uuid.Must(uuid.NewV7())
			}
			p.JobIds = append(p.JobIds, id)
			p.ScheduleTicks = append(p.ScheduleTicks, scheduleTicks) // all or none of them go through

			// The schedule's side, repeated on each of its ticks (the statement joins
			// no two of its parts, so each tick carries what its schedule needs).
			p.PrevTickAts = append(p.PrevTickAts, b.e.lastTick) // zero (year 1) stands for NULL
			p.SeenDefinedAts = append(p.SeenDefinedAts, b.e.definedAt)
			p.NewestTickAts = append(p.NewestTickAts, newest)
			p.NextRunAts = append(p.NextRunAts, b.d.next) // zero (year 1) stands for NULL
			p.PrevJobIds = append(p.PrevJobIds, b.e.lastJobID)
			p.PrevJobAts = append(p.PrevJobAts, b.e.lastJobAt) // zero: none whose row is to be written
		}
		for _, m := range b.d.missed {
			add(m.at, "missed", m.ticks)
		}
		for _, x := range b.d.excluded {
			add(x.at, "excluded", x.ticks)
		}
		for _, at := range b.d.enqueue {
			add(at, "enqueue", 1)
		}
	}
	return p
}

// tickRef names one tick of one schedule.
type tickRef struct {
	name string
	at   int64 // Unix nanoseconds
}

// applyRows applies what one tick statement did to the entries of its batch; decisions
// that did not go through are added to lostOnes.
func (t *Ticker) applyRows(ctx context.Context, w written, lostOnes *[]lost) error {
	committed := t.now()
	t.tablesLocked = false
	won := make(map[string]int32, len(w.batch)) // remaining_runs after the decision
	defer func() {
		if len(won) > 0 {
			t.lastWon = time.Now()
		}
		t.Signals.Ticked.Signal(len(won))
	}()
	// Ticks that did not go as asked, by outcome ("raced": a key taken after the
	// statement's snapshot); rare, so the map is usually empty.
	other := map[tickRef]string{}
	var fill db.FillRacedForeignParams
	var settle db.SettleRacedTicksParams
	var foreign []*entry
	var dbNow time.Time
	for _, r := range w.rows {
		dbNow = r.StartedAt
		switch r.Outcome {
		case "won":
			won[r.Name] = r.RemainingRuns
			t.Stats.LedgerRows.Add(int64(r.LedgerRows))
			t.health.noteCheck(r.HealthCheckAt)
		case "duplicate", "skipped_overlap", "foreign":
			outcome := r.Outcome
			if outcome == "foreign" && r.JobID == nil {
				// A key committed after the statement's snapshot: the ledger row needs
				// that job's id, which a later statement can see.
				outcome = "raced"
				fill.Names = append(fill.Names, r.Name)
				fill.TickAts = append(fill.TickAts, *r.TickAt)
				fill.Keys = append(fill.Keys, jobKey(r.Name, *r.TickAt))
			}
			other[tickRef{r.Name, r.TickAt.UnixNano()}] = outcome
		}
	}
	jobs := make(map[tickRef]uuid.UUID, len(w.params.JobIds))
	for i, id := range w.params.JobIds {
		if id != uuid.Nil {
			jobs[tickRef{w.params.TickNames[i], w.params.TickAts[i].UnixNano()}] = id
		}
	}
	for _, b := range w.batch {
		e := b.e
		remaining, ok := won[e.name]
		if !ok {
			*lostOnes = append(*lostOnes, lost{e: e, newest: b.d.newest(), dbNow: dbNow})
			continue
		}
		// Every tick of a schedule that won went through (the statement takes all of a
		// schedule's ticks or none).
		for _, m := range b.d.missed {
			if other[tickRef{e.name, m.at.UnixNano()}] != "" {
				continue // decided before, as this or something else: nothing new
			}
			t.Stats.Missed.Add(1)
		}
		for _, x := range b.d.excluded {
			if other[tickRef{e.name, x.at.UnixNano()}] == "" {
				t.Stats.Excluded.Add(1)
			}
		}
		e.err = ""
		// The statement made the newest tick meant to get a job the schedule's last
		// job (its row to be written with its outcome): the newest that got one, unless
		// its key was taken meanwhile.
		var newestMeant, newestGot time.Time
		raced := int32(0)
		for _, at := range b.d.enqueue {
			ref := tickRef{e.name, at.UnixNano()}
			switch other[ref] {
			case "":
				t.Stats.Enqueued.Add(1)
				t.Stats.Lateness.Observe(committed.Sub(at))
				newestMeant, newestGot = at, at
			case "raced":
				raced++
				newestMeant = at
				t.Stats.Duplicates.Add(1)
				e.err = foreignKeyError(e.name, at)
				t.log.Error("a tick's job key was taken by a job werkcron did not make for it", "schedule", logName(e.name), "tick", at, "key", jobKey(e.name, at))
			case "duplicate":
				t.Stats.Duplicates.Add(1)
				t.log.Warn("tick already decided; not enqueued again", "schedule", logName(e.name), "tick", at)
			case "foreign":
				t.Stats.Duplicates.Add(1)
				e.err = foreignKeyError(e.name, at)
				t.log.Error("a tick's job key is held by a job werkcron did not make for it", "schedule", logName(e.name), "tick", at, "key", jobKey(e.name, at))
			case "skipped_overlap":
				t.Stats.SkippedOverlap.Add(1)
			}
		}
		if !newestMeant.IsZero() {
			if !e.lastJobAt.IsZero() {
				// The schedule's previous newest tick got its ledger row, awaiting its
				// outcome: the pass over the ledger records it.
				t.outcomes.untrack(e.name)
				t.outcomes.expect()
			}
			switch {
			case newestMeant.Equal(newestGot):
				e.lastJobID, e.lastJobAt = jobs[tickRef{e.name, newestGot.UnixNano()}], newestGot
				t.outcomes.track(e.name, newestGot, e.lastJobID)
			default:
				// Its key was taken: the state names the newest job the decision made
				// (whose row the statement wrote), or the one it named before.
				if !newestGot.IsZero() {
					e.lastJobID = jobs[tickRef{e.name, newestGot.UnixNano()}]
				}
				e.lastJobAt = time.Time{}
				settle.Names = append(settle.Names, e.name)
				settle.RacedJobIds = append(settle.RacedJobIds, jobs[tickRef{e.name, newestMeant.UnixNano()}])
				settle.LastJobIds = append(settle.LastJobIds, e.lastJobID)
				settle.Unspent = append(settle.Unspent, raced)
				if remaining >= 0 {
					remaining += raced
				}
				if !newestGot.IsZero() {
					t.outcomes.expect()
				}
			}
		}
		if e.err != "" {
			foreign = append(foreign, e)
		}
		e.lastTick = b.d.newest()
		e.next = b.d.next
		if e.remaining = int(remaining); e.remaining == 0 {
			e.next = time.Time{} // ended: its runs are used up
		}
		e.retryAt, e.backoff, e.blocked, e.blockedSince = time.Time{}, 0, "", time.Time{}
		if t.holdups[e.name] {
			t.clearedHoldups = append(t.clearedHoldups, e.name)
		}
		t.hz.offer(e)
	}
	if len(fill.Names) > 0 {
		if err := t.q.FillRacedForeign(ctx, fill); err != nil {
			return fmt.Errorf("name the jobs that took ticks' keys: %w", err)
		}
	}
	if len(settle.Names) > 0 {
		if err := t.q.SettleRacedTicks(ctx, settle); err != nil {
			return fmt.Errorf("settle the state of schedules whose keys were taken: %w", err)
		}
	}
	return t.saveState(ctx, foreign)
}

// foreignKeyError is the last_error of a schedule whose tick at found its key held by
// a job werkcron did not make for it.
func foreignKeyError(name string, at time.Time) string {
	return fmt.Sprintf("the tick at %s got no job: its key %s is held by a job werkcron did not make for it (another scheduler's, a restored or a forged one)",
		at.UTC().Format(time.RFC3339), jobKey(name, at))
}

// saveState writes next_run_at and last_error of entries decided outside the tick
// statement, in one statement. A row edited meanwhile (or held by another session) is
// left alone: an edit plans it afresh, and a held one is written at its next decision.
func (t *Ticker) saveState(ctx context.Context, es []*entry) error {
	if len(es) == 0 {
		return nil
	}
	var p db.SaveScheduleStateParams
	for _, e := range es {
		p.Names = append(p.Names, e.name)
		p.SeenDefinedAts = append(p.SeenDefinedAts, e.definedAt)
		p.NextRunAts = append(p.NextRunAts, e.next)                         // zero (year 1) stands for NULL
		p.LastErrors = append(p.LastErrors, cutBytes(e.err, maxErrorBytes)) // "" is NULL
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := t.q.SaveScheduleState(ctx, p); err != nil {
		if t.conn.IsClosed() {
			return fmt.Errorf("save next_run_at and last_error: %w", err)
		}
		t.log.Warn("save next_run_at and last_error; left for the next decision", "err", err)
	}
	t.health.poke() // a changed last_error set a health check
	return nil
}

// settleLost looks again at decisions that did not go through:
//   - a tick still in the future by the database's clock (this host's estimate ran a
//     little ahead): the same entry is simply due again at that tick;
//   - otherwise the row changed (edited, paused, deleted) or another session holds it:
//     it is read again; an unchanged row is held, and is set aside with backoff; a
//     changed one is taken as it is now (planned rows due soon join the horizon;
//     unplanned ones are the planner's).
func (t *Ticker) settleLost(ctx context.Context, lostOnes []lost, now time.Time) error {
	var names []string
	old := map[string]*entry{}
	for _, l := range lostOnes {
		if !l.dbNow.IsZero() && l.newest.After(l.dbNow) {
			l.e.retryAt = l.newest.Add(wakeMargin)
			t.hz.put(l.e)
			continue
		}
		names = append(names, l.e.name)
		old[l.e.name] = l.e
	}
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rows, err := t.q.GetSchedulesForTicker(ctx, names)
	if err != nil {
		return fmt.Errorf("read back schedules that changed while deciding: %w", err)
	}
	es := make([]*entry, len(rows))
	for i, r := range rows {
		es[i] = newEntry(row(r))
	}
	if err := t.withCalendars(ctx, t.q, es, false); err != nil {
		return fmt.Errorf("read back schedules that changed while deciding: %w", err)
	}
	for i, r := range rows {
		e, was := es[i], old[r.Name]
		delete(old, r.Name)
		if e.definedAt.Equal(was.definedAt) && e.lastTick.Equal(was.lastTick) && e.paused == was.paused {
			// Unchanged: the decision did not go through for another reason (this
			// ticker's own lock gone, say); tried again with backoff.
			e.backoff, e.blockedSince = was.backoff, was.blockedSince
			t.block(e, now, "the schedule's row is locked by another session")
			continue
		}
		if r.NextRunAt == nil {
			t.plan.pending = true // edited (the planner takes it) or paused/ended
			t.hz.drop(e.name)
			continue
		}
		t.hz.offer(e)
	}
	for name := range old {
		t.hz.drop(name) // deleted
		if t.holdups[name] {
			t.clearedHoldups = append(t.clearedHoldups, name)
		}
	}
	return nil
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
