-- name: EnqueueDueTicks :many
-- The whole tick in one statement, so that the decision and the jobs commit together or
-- not at all. (Ticks at their usual pace go through EnqueueUsualTicks, below, which
-- leaves to this statement every other decision and any schedule it did not take.) Input: one row per decided tick (tick_*): its job key and the id its job
-- gets (both made by the ticker), whether to enqueue it or record it as missed (or as
-- excluded: its local date is a day of the schedule's exclude_calendar), whether
-- it is its schedule's head (the one tick of a schedule with overlap 'skip' or
-- 'buffer_one' that can get a job), and, repeated on each tick of a schedule, what the
-- ticker's decision was based on (the schedule's last_tick_at, the definition it was
-- planned for (defined_at), its newest enqueued tick whose ledger row is still to be
-- written) and what follows from it (the newest decided tick, the next_run_at after it).
--
-- The schedule's state row is the compare-and-set: it advances only if it still has the
-- last_tick_at and defined_at the ticker saw and a plan (a definition change, a pause
-- or a delete writes that row, so a decision made on the old one cannot go through),
-- and never to a tick in the future by the database's clock. It is not locked first:
-- an UPDATE that meets a row another session holds waits, at most the session's
-- lock_timeout, and the ticker then isolates that schedule. A statement run on another
-- connection of the primary's process (leader_pid, the locked session's backend) goes
-- through only while that session still holds the leader lock.
--
-- The jobs go in with INSERT ... ON CONFLICT (key) DO NOTHING, made from the
-- definition as this statement reads it, for the schedules whose state advanced. A key
-- held by a job werkcron did not make for the tick (the ledger has no row for it) is
-- 'foreign', whatever that job's cron_name and function say: the tick gets no job, that
-- job's outcome never counts as the schedule's, and the ticker reports it on the
-- schedule.
--
-- A tick's job gets pgwerk's expires_at when the schedule has start_deadline_secs, so
-- that pgwerk's workers never start it later.
--
-- The ledger gets the ticks that have no job (missed, excluded, skipped_overlap,
-- foreign), and
-- enqueued ticks but the newest: the newest is the schedule's last_job_id and
-- last_job_at, and its row is written with its outcome (queries/outcomes.sql), so that
-- a tick at its usual pace writes the state row and the job and nothing else. The
-- schedule's previous newest tick, if its row is still to be written when a newer one
-- is enqueued, gets its row now, awaiting its outcome. The ledger and last_tick_at, not
-- the job key, are what make a tick happen once (pgwerk deletes finished jobs).
--
-- Returns one row (outcome 'won', with the schedule's remaining_runs after it, -1 for no
-- limit, and its health_check_at: when the ticker is to look at its health, year 1 for
-- none) per
-- schedule whose decision went through, one row per tick whose outcome is
-- not what the ticker asked for ('duplicate' for a tick decided before,
-- 'skipped_overlap', and 'foreign' for a key held by a job werkcron did not make for it:
-- with job_id NULL when that job committed after this statement's snapshot, in which
-- case the ticker settles the schedule's state), and one row (outcome 'queue', the
-- queue in name) per queue that got a job, for the ticker to notify once the statement
-- has committed (NotifyQueues); the transaction's start (now()) is on every row. A
-- schedule without a 'won' row lost the compare-and-set and must be looked at again.
--
-- Its cost must stay linear in the number of ticks whatever the planner estimates, and
-- its estimates of a CTE are poor (a default selectivity for any filter on one, one row
-- for what an UPDATE or INSERT returns): so no two CTEs are ever joined, where a nested
-- loop would scan one of them once per row of the other. Each tick is read with its
-- definition, job key and ledger rows by joins with tables (t); the compare-and-set joins
-- the state table with the schedules' decisions (s); the ticks of the schedules that
-- advanced, and the jobs that went in, are looked up in advanced and jobs through hashed
-- subplans.
WITH d AS MATERIALIZED (
    SELECT pg_catalog.unnest(@tick_names::text[]) AS name,
           pg_catalog.unnest(@tick_keys::text[]) AS key,
           pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
           pg_catalog.unnest(@tick_kinds::text[]) AS kind,
           pg_catalog.unnest(@tick_counts::int[]) AS ticks,
           pg_catalog.unnest(@tick_heads::bool[]) AS head,
           pg_catalog.unnest(@job_ids::uuid[]) AS job_id,
           pg_catalog.unnest(@schedule_ticks::int[]) AS schedule_ticks,
           pg_catalog.unnest(@prev_tick_ats::timestamptz[]) AS prev_tick_at,
           pg_catalog.unnest(@seen_defined_ats::timestamptz[]) AS seen_defined_at,
           pg_catalog.unnest(@newest_tick_ats::timestamptz[]) AS newest,
           pg_catalog.unnest(@next_run_ats::timestamptz[]) AS next_run_at,
           pg_catalog.unnest(@prev_job_ids::uuid[]) AS prev_job_id,
           pg_catalog.unnest(@prev_job_ats::timestamptz[]) AS prev_job_at
    -- Nothing written runs another role's code (werk_cron_trusted_triggers raises).
    WHERE werk_cron_trusted_triggers()
),
-- Each tick with what decides it, as this statement reads it.
t AS MATERIALIZED (
    SELECT d.*, j.func, j.queue, j.args, j.kwargs, j.priority, j.max_attempts, j.timeout_secs, j.meta,
           j.result_ttl, j.failure_ttl, j.overlap, j.start_deadline_secs, j.jitter_secs,
           (j.start_deadline_secs IS NOT NULL OR j.max_runtime_secs IS NOT NULL) AS watched,
           existing.id AS existing_id,
           prev_row.name IS NOT NULL AS prev_written,
           -- Decided before (a backfill, or a manual run at that very instant): never a
           -- second job, and no second row.
           decided_before.name IS NOT NULL AS decided_before,
           CASE
               WHEN decided_before.name IS NOT NULL THEN 'duplicate'
               WHEN d.kind = 'missed' THEN 'missed'
               WHEN d.kind = 'excluded' THEN 'excluded'
               WHEN existing.id IS NOT NULL THEN 'foreign'
               -- overlap = 'skip': only the head, and only if no job of the schedule is
               -- still waiting or running (its newest enqueued tick's job, or a job whose
               -- ledger row awaits an outcome: an older tick's, a backfilled or a manual
               -- one); 'buffer_one' likewise, but only if none is waiting (one may run:
               -- pgwerk runs them one at a time, by their group_key). A job waiting past its
               -- expires_at (start_deadline_secs) never runs: it is not waiting.
               WHEN j.overlap IN ('skip', 'buffer_one') AND (
                        NOT d.head
                        OR EXISTS (SELECT 1 FROM werk_jobs b
                                   WHERE b.id = d.prev_job_id
                                     AND b.status IN ('queued', 'scheduled', 'active')
                                     AND (j.overlap = 'skip' OR b.status <> 'active')
                                     AND (b.status = 'active' OR b.expires_at IS NULL OR b.expires_at > now()))
                        OR EXISTS (SELECT 1 FROM werk_cron_ledger a
                                   JOIN werk_jobs b ON b.id = a.job_id
                                   WHERE a.name = d.name AND a.job_status IS NULL AND a.job_id IS NOT NULL
                                     AND a.outcome <> 'foreign'
                                     AND b.status IN ('queued', 'scheduled', 'active')
                                     AND (j.overlap = 'skip' OR b.status <> 'active')
                                     AND (b.status = 'active' OR b.expires_at IS NULL OR b.expires_at > now())))
                   THEN 'skipped_overlap'
               ELSE 'enqueue'
           END AS intent
    FROM d
    JOIN werk_cron_jobs j ON j.name = d.name AND NOT j.paused
    LEFT JOIN werk_jobs existing ON existing.key = d.key
    LEFT JOIN werk_cron_ledger decided_before ON decided_before.name = d.name AND decided_before.tick_at = d.tick_at
    -- The schedule's previous newest enqueued tick: its row is written already when its
    -- outcome was recorded, which is how a tick at its usual pace finds it.
    LEFT JOIN werk_cron_ledger prev_row ON prev_row.name = d.name AND prev_row.tick_at = d.prev_job_at
),
-- Each schedule's decision: the job that becomes its last_job_id is its newest enqueue
-- tick's.
s AS MATERIALIZED (
    SELECT t.name, pg_catalog.count(*) AS n, pg_catalog.min(t.schedule_ticks) AS schedule_ticks,
           pg_catalog.count(*) FILTER (WHERE t.intent = 'enqueue') AS enqueues,
           (pg_catalog.array_agg(t.job_id ORDER BY t.tick_at DESC) FILTER (WHERE t.intent = 'enqueue'))[1] AS last_job_id,
           pg_catalog.max(t.tick_at) FILTER (WHERE t.intent = 'enqueue') AS last_job_at,
           pg_catalog.min(t.prev_tick_at) AS prev_tick_at, pg_catalog.min(t.seen_defined_at) AS seen_defined_at,
           -- What the decision was based on, the same on every tick of the schedule.
           (pg_catalog.min(t.prev_tick_at) = pg_catalog.max(t.prev_tick_at)
            AND pg_catalog.min(t.seen_defined_at) = pg_catalog.max(t.seen_defined_at)) AS consistent,
           pg_catalog.max(t.newest) AS newest, pg_catalog.min(t.next_run_at) AS next_run_at,
           (pg_catalog.array_agg(t.prev_job_id))[1] AS prev_job_id, pg_catalog.min(t.prev_job_at) AS prev_job_at,
           pg_catalog.bool_or(t.watched) AS watched,
           pg_catalog.bool_or(t.prev_written) AS prev_written
    FROM t
    GROUP BY t.name
),
-- The compare-and-set: the state table joined with s alone. Its "has a plan" test is a
-- join clause rather than a filter of the table (s.n is never negative): the table's
-- statistics may be older than its plans (analyzed while every row awaited planning),
-- and a filter the planner took to leave one row would make it scan s once per row.
advanced AS (
    UPDATE werk_cron_state st
    SET last_tick_at = s.newest,
        -- remaining_runs counts down by the runs spent; at 0 nothing is planned: ended.
        remaining_runs = CASE WHEN st.remaining_runs IS NOT NULL THEN greatest(st.remaining_runs - s.enqueues, 0) END,
        next_run_at = CASE WHEN st.remaining_runs IS NOT NULL AND st.remaining_runs - s.enqueues <= 0 THEN NULL
                           ELSE nullif(s.next_run_at, '0001-01-01 00:00:00+00'::timestamptz) END,
        -- Found by the plan's index, not on a round (see EnqueueUsualTicks).
        plan_at = CASE WHEN st.remaining_runs IS NOT NULL AND st.remaining_runs - s.enqueues <= 0 THEN NULL
                       ELSE nullif(s.next_run_at, '0001-01-01 00:00:00+00'::timestamptz) END,
        round_at = NULL,
        last_job_id = CASE WHEN s.enqueues > 0 THEN s.last_job_id ELSE st.last_job_id END,
        last_job_at = CASE WHEN s.enqueues > 0 THEN s.last_job_at ELSE st.last_job_at END,
        last_error = NULL,
        -- The schedule's health may change now: an error cleared, the schedule ended, or
        -- a new job to watch (start_deadline_secs, max_runtime_secs). The ticker looks at
        -- it right after (werk_cron_refresh_health); an ordinary tick writes nothing here.
        health_check_at = CASE WHEN st.last_error IS NOT NULL
                                    OR (s.enqueues > 0 AND s.watched)
                                    OR s.next_run_at = '0001-01-01 00:00:00+00'::timestamptz
                                    OR (st.remaining_runs IS NOT NULL AND st.remaining_runs - s.enqueues <= 0)
                               THEN now() ELSE st.health_check_at END
    FROM s
    WHERE st.name = s.name
      AND s.n = s.schedule_ticks AND s.consistent
      AND coalesce(st.last_tick_at, '0001-01-01 00:00:00+00'::timestamptz) = s.prev_tick_at
      AND st.defined_at = s.seen_defined_at
      AND (st.next_run_at IS NOT NULL OR s.n < 0)
      AND s.newest > coalesce(st.last_tick_at, '-infinity'::timestamptz)
      -- now() (the transaction's start, which is also each job's enqueued_at), not
      -- statement_timestamp(): with the extended protocol the statement's clock starts a
      -- little later than the transaction's, and a job must never look enqueued early.
      AND s.newest <= now()
      AND (@leader_pid::integer = 0 OR (SELECT werk_cron_leader_pid()) = @leader_pid::integer)
    RETURNING st.name, st.remaining_runs, st.health_check_at,
              s.enqueues, s.last_job_id, s.prev_job_id, s.prev_job_at, s.prev_written
),
-- The ticks of the schedules whose state advanced: t, with each schedule looked up in
-- advanced through a hashed subplan (IS TRUE keeps the planner from making it a join).
x AS MATERIALIZED (
    SELECT t.* FROM t WHERE (t.name IN (SELECT a.name FROM advanced a)) IS TRUE
),
jobs AS (
    -- Each tick's job as werk_cron_job defines it, due at its tick plus the schedule's
    -- jitter (werk_cron_run_at; the key and the ledger keep the tick), its
    -- start_deadline_secs counted from the tick.
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, group_key, payload, max_attempts,
                           timeout_secs, scheduled_at, expires_at, meta, result_ttl, failure_ttl, cron_name)
    SELECT (w).*
    FROM x, werk_cron_job(x.job_id, x.key, werk_cron_run_at(x.key, x.tick_at, x.jitter_secs), x.tick_at,
                          x.name, x.func, x.queue, x.args, x.kwargs, x.priority, x.max_attempts, x.timeout_secs,
                          x.meta, x.result_ttl, x.failure_ttl, x.overlap, x.start_deadline_secs) w
    WHERE x.intent = 'enqueue'
    ON CONFLICT (key) DO NOTHING
    RETURNING id
),
ledger AS (
    INSERT INTO werk_cron_ledger AS l (name, tick_at, outcome, job_id, ticks)
    SELECT x.name, x.tick_at,
           CASE WHEN x.intent <> 'enqueue' THEN x.intent
                WHEN x.job_id IN (SELECT id FROM jobs) THEN 'enqueued'
                ELSE 'foreign' END, -- a key taken after this statement's snapshot
           CASE WHEN x.intent = 'foreign' THEN x.existing_id
                WHEN x.intent = 'enqueue' AND x.job_id IN (SELECT id FROM jobs) THEN x.job_id END,
           x.ticks
    FROM x
    WHERE NOT x.decided_before
      -- not the schedule's newest enqueued tick (its row is written with its outcome);
      -- a schedule that enqueued nothing has none, and a NULL in the list would make the
      -- IN NULL for every other job
      AND NOT (x.intent = 'enqueue' AND x.job_id IN (SELECT a.last_job_id FROM advanced a WHERE a.last_job_id IS NOT NULL)
               AND x.job_id IN (SELECT id FROM jobs))
    UNION ALL
    -- The previous newest enqueued tick, unless its row is written (with its outcome).
    SELECT a.name, a.prev_job_at, 'enqueued', a.prev_job_id, 1
    FROM advanced a
    WHERE a.enqueues > 0 AND a.prev_job_at <> '0001-01-01 00:00:00+00'::timestamptz AND NOT a.prev_written
    ON CONFLICT (name, tick_at) DO NOTHING
    RETURNING 1
)
SELECT 'won'::text AS outcome, a.name::text AS name, NULL::timestamptz AS tick_at,
       NULL::uuid AS job_id, now()::timestamptz AS started_at,
       coalesce(a.remaining_runs, -1)::integer AS remaining_runs,
       (SELECT pg_catalog.count(*) FROM ledger)::integer AS ledger_rows,
       coalesce(a.health_check_at, '0001-01-01 00:00:00+00')::timestamptz AS health_check_at
FROM advanced a
UNION ALL
-- Ticks of schedules that won that did not go as asked: decided before ('duplicate'),
-- a key taken ('foreign'; raced: job_id NULL), or skipped for overlap.
SELECT CASE WHEN x.intent = 'enqueue' THEN 'foreign' ELSE x.intent END,
       x.name, x.tick_at, CASE WHEN x.intent = 'foreign' THEN x.existing_id END, now(), -1, 0,
       '0001-01-01 00:00:00+00'
FROM x
WHERE (x.intent = 'enqueue' AND x.job_id NOT IN (SELECT id FROM jobs))
   OR x.intent IN ('duplicate', 'foreign', 'skipped_overlap')
UNION ALL
-- The queues that got a job, for NotifyQueues.
SELECT 'queue', q.queue, NULL, NULL, now(), -1, 0, '0001-01-01 00:00:00+00'
FROM (SELECT DISTINCT x.queue FROM x WHERE x.intent = 'enqueue' AND (x.job_id IN (SELECT id FROM jobs)) IS TRUE) q;

-- name: EnqueueUsualTicks :many
-- EnqueueDueTicks for a tick at its usual pace, the one case a large fan-out is made of:
-- each schedule has one tick, to enqueue, and an overlap policy that lets every tick
-- have its job ('allow' or 'buffer_all'). It does the same writes with none of the
-- general statement's per-tick reading and grouping: the state rows advance joined with
-- the ticks and their definitions, and the jobs go in from what the UPDATE returns.
--
-- A schedule it cannot take as usual does not advance: one whose tick was decided before
-- (a backfill or a manual run at that instant), whose job key is held already (with
-- @check_keys, below), whose overlap policy or definition changed, paused, or that lost
-- the compare-and-set. The ticker gives those to EnqueueDueTicks with the same decision at once, which tells them
-- apart and records each as it does any tick, in one transaction with its state. What
-- this statement returns, and the ledger rows it writes, are EnqueueDueTicks' for the
-- same ticks: 'won' per schedule that advanced, and 'queue' per queue that got a job;
-- but when all of them advanced, 'won' only for those with a run limit or a health check,
-- and one 'all_won' for the rest (the ticker's usualOutcomes spells those out).
--
-- The jobs go in with a plain INSERT, not ON CONFLICT: a speculative insertion logs a
-- confirmation record per job (48 bytes of WAL, 5% of a tick) to guard against a race
-- this statement need not survive. A key held by another job (one werkcron did not make
-- for the tick: the ledger has no row for it) fails the statement with a unique
-- violation, undoing everything. Such keys are rare, and looking for them costs a probe
-- of werk_jobs' key index per tick on top of the insert's own (or a scan of werk_jobs),
-- so the ticker first runs this statement with @check_keys false, which leaves that
-- look out. After a unique violation it runs it again with @check_keys true, which
-- leaves out the keys held when the statement starts, and keeps doing so for a while
-- (another job may hold the keys of the schedule's next ticks too). A violation then
-- means another transaction took a key after this statement's snapshot, and the ticker
-- gives all its ticks to EnqueueDueTicks, which records that tick as 'foreign'.
--
-- d is the ticks with their definitions, and the state table is joined with d alone,
-- for the reason EnqueueDueTicks gives. What d looks up must cost in proportion to the
-- statement's ticks, not to the tables it looks in: each tick's definition and ledger
-- rows are probes of their primary keys (a subquery with OFFSET 0 is planned neither as
-- a join nor as a hashed subplan), and the compare-and-set keeps only the ticks'
-- state rows. Left to the planner, the statement of the last 10,000 of 100,000
-- schedules due read werk_cron_jobs' and the ledger's primary keys from their first
-- name on (merge joins), hashed the whole ledger, and hashed every state row, spilling
-- to disk: 184 ms against 153 ms (bench -explain 10000 -explain-among 100000).
-- What d looks up, it looks up before the first job goes in: the keys already held
-- are read once, by key, into a hashed subplan (NOT IN an uncorrelated subquery), not
-- per tick. Planned while werk_jobs was empty (a drained queue, truncated by vacuum),
-- a per-tick lookup was a scan of werk_jobs per tick amid the inserts, each meeting the
-- jobs inserted so far: 430 ms at 10,000. The ticker plans the statement for its
-- parameters each time (custom plans), so with @check_keys false the look is folded
-- away.
--
-- The ticker sends the statement a little before the ticks' instant, @wait_until, so
-- that by the instant the database has parsed it, taken in its arrays, planned it and
-- read all of d: w counts d's rows, then waits (werk_cron_wait_turn, by the database's
-- clock, at most a second) for the instant, and, in a round sent whole (a fan-out
-- larger than the ticker's connections write at once, all its statements sent ahead),
-- for its turn in its @lane, until @turn_until at most. A state row is locked and
-- written only once joined with w's row, so none is before the instant. waited, the
-- clock read once after that wait, is what the statement's writes go by where the
-- others use now(), the transaction's start: no tick later than it advances, the jobs
-- are enqueued at it (werk_cron_job: a job due by then is 'queued'), and it is
-- started_at. The leader fence (@leader_pid) is looked at after the wait too: NULL when
-- it fails, waited lets no tick advance. What the statement reads it reads with the
-- snapshot it took before the wait, as any statement reads what was committed before it
-- started: a schedule changed meanwhile fails the compare-and-set, which sees the state
-- row as committed.
WITH d AS MATERIALIZED (
    -- prev_written: the schedule's previous newest enqueued tick has its ledger row (its
    -- outcome was recorded); looked up here, before the ledger is written.
    SELECT u.*, EXISTS (SELECT 1 FROM werk_cron_ledger p WHERE p.name = u.name AND p.tick_at = u.prev_job_at OFFSET 0) AS prev_written,
           j.func, j.queue, j.args, j.kwargs, j.priority, j.max_attempts, j.timeout_secs, j.meta, j.result_ttl,
           j.failure_ttl, j.overlap, j.start_deadline_secs, j.jitter_secs,
           (j.start_deadline_secs IS NOT NULL OR j.max_runtime_secs IS NOT NULL) AS watched
    FROM (SELECT pg_catalog.unnest(@tick_names::text[]) AS name,
                 pg_catalog.unnest(@tick_keys::text[]) AS key,
                 pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
                 pg_catalog.unnest(@job_ids::uuid[]) AS job_id,
                 pg_catalog.unnest(@prev_tick_ats::timestamptz[]) AS prev_tick_at,
                 pg_catalog.unnest(@seen_defined_ats::timestamptz[]) AS seen_defined_at,
                 pg_catalog.unnest(@next_run_ats::timestamptz[]) AS next_run_at,
                 pg_catalog.unnest(@prev_job_ids::uuid[]) AS prev_job_id,
                 pg_catalog.unnest(@prev_job_ats::timestamptz[]) AS prev_job_at,
                 pg_catalog.unnest(@rounded::boolean[]) AS rounded) u
    CROSS JOIN LATERAL (SELECT j.func, j.queue, j.args, j.kwargs, j.priority, j.max_attempts, j.timeout_secs, j.meta,
                               j.result_ttl, j.failure_ttl, j.overlap, j.start_deadline_secs, j.jitter_secs,
                               j.max_runtime_secs
                        FROM werk_cron_jobs j
                        WHERE j.name = u.name AND NOT j.paused AND j.overlap IN ('allow', 'buffer_all') OFFSET 0) j
    WHERE werk_cron_trusted_triggers()
      -- Decided before, or (with @check_keys) its key held: EnqueueDueTicks' to tell apart.
      AND NOT EXISTS (SELECT 1 FROM werk_cron_ledger l WHERE l.name = u.name AND l.tick_at = u.tick_at OFFSET 0)
      AND (NOT @check_keys::boolean OR u.key NOT IN (SELECT k.key FROM werk_jobs k WHERE k.key = ANY (@tick_keys::text[])))
),
-- The instant (and the lane's turn), once all of d is read (see above); NULL when the
-- leader fence fails. The wait takes d's count as its argument, so that it cannot come
-- first, and the fence is looked at once it is over.
w AS MATERIALIZED (
    SELECT CASE WHEN @leader_pid::integer = 0 OR werk_cron_leader_pid() = @leader_pid::integer
                THEN s.waited END AS waited
    FROM (SELECT pg_catalog.count(*) AS ticks FROM d) c,
         LATERAL (SELECT werk_cron_wait_turn(c.ticks, @wait_until::timestamptz, @lane::integer, @turn_until::timestamptz)
                  AS waited OFFSET 0) s
),
-- The compare-and-set of EnqueueDueTicks, for one tick that gets its job. "Has a plan"
-- is again a join clause (d.job_id is never NULL), for the reason given there.
advanced AS (
    UPDATE werk_cron_state st
    SET last_tick_at = d.tick_at,
        remaining_runs = CASE WHEN st.remaining_runs IS NOT NULL THEN greatest(st.remaining_runs - 1, 0) END,
        next_run_at = CASE WHEN st.remaining_runs IS NOT NULL AND st.remaining_runs - 1 <= 0 THEN NULL
                           ELSE nullif(d.next_run_at, '0001-01-01 00:00:00+00'::timestamptz) END,
        -- A schedule whose next instant many of the statement's ticks share (@rounded,
        -- the ticker's roundMin) goes on that instant's round (written below), and its
        -- plan_at stays NULL: on a round already, it changes no indexed column, and
        -- PostgreSQL rewrites the row in place (HOT), with no index entry. Any other is
        -- found by plan_at.
        plan_at = CASE WHEN d.rounded THEN NULL
                       WHEN st.remaining_runs IS NOT NULL AND st.remaining_runs - 1 <= 0 THEN NULL
                       ELSE nullif(d.next_run_at, '0001-01-01 00:00:00+00'::timestamptz) END,
        round_at = CASE WHEN NOT d.rounded THEN NULL
                        WHEN st.remaining_runs IS NOT NULL AND st.remaining_runs - 1 <= 0 THEN NULL
                        ELSE nullif(d.next_run_at, '0001-01-01 00:00:00+00'::timestamptz) END,
        last_job_id = d.job_id,
        last_job_at = d.tick_at,
        last_error = NULL,
        health_check_at = CASE WHEN st.last_error IS NOT NULL
                                    OR d.watched
                                    OR d.next_run_at = '0001-01-01 00:00:00+00'::timestamptz
                                    OR (st.remaining_runs IS NOT NULL AND st.remaining_runs - 1 <= 0)
                               THEN w.waited ELSE st.health_check_at END
    FROM d, w
    WHERE st.name = d.name
      -- Only the ticks' state rows go on (found by the primary key, or kept by a hashed
      -- filter of one pass over the table). The array is hashed because the statement is
      -- planned for its parameters (the ticker's sessions force custom plans).
      AND st.name = ANY (@tick_names::text[])
      AND coalesce(st.last_tick_at, '0001-01-01 00:00:00+00'::timestamptz) = d.prev_tick_at
      AND st.defined_at = d.seen_defined_at
      AND (st.next_run_at IS NOT NULL OR d.job_id IS NULL)
      AND d.tick_at > coalesce(st.last_tick_at, '-infinity'::timestamptz)
      AND d.tick_at <= w.waited
    RETURNING st.name, st.remaining_runs, st.health_check_at, st.round_at, w.waited, d.key, d.tick_at, d.job_id, d.prev_job_id,
              d.prev_job_at, d.prev_written, d.func, d.queue, d.args, d.kwargs, d.priority, d.max_attempts,
              d.timeout_secs, d.meta, d.result_ttl, d.failure_ttl, d.overlap, d.start_deadline_secs, d.jitter_secs
),
jobs AS (
    INSERT INTO werk_jobs (id, key, function, queue, status, priority, group_key, payload, max_attempts,
                           timeout_secs, scheduled_at, expires_at, meta, result_ttl, failure_ttl, cron_name,
                           enqueued_at)
    SELECT (job).*, a.waited
    FROM advanced a, werk_cron_job(a.job_id, a.key, werk_cron_run_at(a.key, a.tick_at, a.jitter_secs), a.tick_at,
                                   a.name, a.func, a.queue, a.args, a.kwargs, a.priority, a.max_attempts,
                                   a.timeout_secs, a.meta, a.result_ttl, a.failure_ttl, a.overlap,
                                   a.start_deadline_secs, a.waited) job
    RETURNING queue, enqueued_at
),
-- A round per next instant the schedules put on one share (see advanced), naming them.
rounds AS (
    INSERT INTO werk_cron_rounds (due_at, names)
    SELECT a.round_at, pg_catalog.array_agg(a.name)
    FROM advanced a
    WHERE a.round_at IS NOT NULL
    GROUP BY a.round_at
    RETURNING 1
),
ledger AS (
    -- The previous newest enqueued tick, unless its row is written (with its outcome,
    -- which the outcome recorder may commit meanwhile: hence ON CONFLICT).
    INSERT INTO werk_cron_ledger AS l (name, tick_at, outcome, job_id, ticks)
    SELECT a.name, a.prev_job_at, 'enqueued', a.prev_job_id, 1
    FROM advanced a
    WHERE a.prev_job_at <> '0001-01-01 00:00:00+00'::timestamptz AND NOT a.prev_written
    ON CONFLICT (name, tick_at) DO NOTHING
    RETURNING 1
)
SELECT 'won'::text AS outcome, a.name::text AS name, NULL::timestamptz AS tick_at,
       NULL::uuid AS job_id, a.waited::timestamptz AS started_at,
       coalesce(a.remaining_runs, -1)::integer AS remaining_runs,
       (SELECT pg_catalog.count(*) FROM ledger)::integer AS ledger_rows,
       coalesce(a.health_check_at, '0001-01-01 00:00:00+00')::timestamptz AS health_check_at
FROM advanced a
-- When every schedule advanced (a fan-out, as a rule), 'all_won' below says so in one
-- row, and only the schedules with more to say (a run limit, a health check) get one:
-- 10,000 rows the ticker would decode on the tick's critical path, beside the
-- fan-out's other statement, say nothing more than that.
WHERE a.remaining_runs IS NOT NULL OR a.health_check_at IS NOT NULL
   OR (SELECT pg_catalog.count(*) FROM advanced) < pg_catalog.cardinality(@tick_names::text[])
UNION ALL
-- Every schedule of the statement advanced: 'won' for each without a row of its own,
-- with no run limit (-1) and no health check.
SELECT 'all_won', '', NULL, NULL, pg_catalog.min(a.waited), -1, (SELECT pg_catalog.count(*) FROM ledger)::integer,
       '0001-01-01 00:00:00+00'
FROM advanced a
HAVING pg_catalog.count(*) = pg_catalog.cardinality(@tick_names::text[]) AND pg_catalog.count(*) > 0
UNION ALL
-- The queues that got a job, for NotifyQueues.
SELECT 'queue', q.queue, NULL, NULL, q.enqueued_at, -1, 0, '0001-01-01 00:00:00+00'
FROM (SELECT DISTINCT jobs.queue, jobs.enqueued_at FROM jobs) q;

-- name: NotifyQueues :exec
-- pgwerk's workers listen on werk:<queue>: one notification per queue that got jobs,
-- sent once the tick statement has committed, in a transaction of its own. A notifying
-- transaction takes a lock at commit that every other notifying transaction of the
-- cluster waits for until its own commit is flushed (or, with a synchronous standby,
-- confirmed): sent from the tick statement, a notification let any session whose
-- notifying commit stalls hold up every tick, each cut off by lock_timeout and written
-- again. Sent apart, a stall costs only the notification, and pgwerk's workers find
-- the jobs at their next poll.
SELECT pg_catalog.count(pg_catalog.pg_notify('werk:' || q, ''))
FROM pg_catalog.unnest(@queues::text[]) q;

-- name: SettleRacedTicks :exec
-- Schedules whose newest enqueue tick's key another transaction took after the tick
-- statement's snapshot (that tick got no job): their state named a job that does not
-- exist. It names @last_job_ids instead (the newest of the decision's ticks that got a
-- job, or the job it named before), whose row the tick statement wrote already, and the
-- runs those ticks did not spend are given back.
UPDATE werk_cron_state s
SET last_job_id = nullif(r.last_job_id, '00000000-0000-0000-0000-000000000000'::uuid),
    last_job_at = NULL,
    remaining_runs = s.remaining_runs + r.unspent
FROM (SELECT pg_catalog.unnest(@names::text[]) AS name, pg_catalog.unnest(@raced_job_ids::uuid[]) AS raced_job_id,
             pg_catalog.unnest(@last_job_ids::uuid[]) AS last_job_id, pg_catalog.unnest(@unspent::int[]) AS unspent) r
WHERE s.name = r.name AND s.last_job_id = r.raced_job_id;

-- name: FillRacedForeign :exec
-- A tick whose key another transaction took after the tick statement's snapshot was
-- recorded 'foreign' without that job's id, which this (later) statement can see.
UPDATE werk_cron_ledger t
SET job_id = j.id
FROM (SELECT pg_catalog.unnest(@names::text[]) AS name, pg_catalog.unnest(@tick_ats::timestamptz[]) AS tick_at,
             pg_catalog.unnest(@keys::text[]) AS key) r
JOIN werk_jobs j ON j.key = r.key
WHERE t.name = r.name AND t.tick_at = r.tick_at AND t.job_id IS NULL AND t.outcome = 'foreign';

-- name: TablesLockedByOthers :one
-- Whether another session holds, or waits for, a lock on one of the tables a tick writes
-- that keeps the tick out (DDL, LOCK TABLE, CREATE INDEX): what a lock timeout of the
-- tick statement waited on, when its message does not say (it is translated with
-- lc_messages). A DDL still waiting (behind a worker's open transaction, say) counts:
-- the tick queued behind it. A prepared transaction's locks have no pid. Reads only
-- pg_locks, so it waits on nothing.
SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks
    WHERE locktype = 'relation' AND pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
      -- pg_locks spans the cluster, and a database made from the same template has
      -- the same table OIDs: only this database's locks count.
      AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
      AND relation IN ('werk_jobs'::regclass, 'werk_cron_jobs'::regclass, 'werk_cron_state'::regclass,
                       'werk_cron_ledger'::regclass, 'werk_cron_rounds'::regclass)
      AND mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
) AS locked;
