-- werkcron's tables: schedules (werk_cron_jobs), the tick ledger (werk_cron_ticks),
-- backfill requests, held-up schedules, outcome counters, and pgwerk's queue table
-- (werk_jobs, created only if pgwerk has not created it yet).
--
-- The migrations in this folder hold tables, indexes and data moves only. Functions,
-- views and triggers are defined once each, as they are now, in sql/functions,
-- sql/views and sql/triggers; `werkcron migrate` applies those after these files (see
-- internal/migrate).
--
-- This baseline sums up the nine migrations that came before it, which no release ever
-- shipped: an installation made by them has version 1 recorded already and goes on
-- with the migrations after it (internal/migrate tests that it ends up identical to a
-- fresh one).
--
-- Every object lands in the current schema (the first schema of search_path), so two
-- schemas in one database run two independent werkcron installations. Constraint names
-- read as sentences: they are what psql prints when a write breaks one.

-- +goose Up

-- pgwerk's job table, column for column and index for index as pgwerk creates it with
-- table prefix "werk", so that pgwerk's workers read these rows unchanged and pgwerk's
-- own CREATE ... IF NOT EXISTS later finds everything in place.
CREATE TABLE IF NOT EXISTS werk_jobs (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key                  text UNIQUE,
    function             text NOT NULL,
    queue                text NOT NULL DEFAULT 'default',
    status               text NOT NULL DEFAULT 'queued',
    priority             smallint NOT NULL DEFAULT 0,
    group_key            text,
    payload              jsonb,
    result               jsonb,
    error                text,
    attempts             integer NOT NULL DEFAULT 0,
    max_attempts         integer NOT NULL DEFAULT 1,
    timeout_secs         integer,
    heartbeat_secs       integer,
    scheduled_at         timestamptz NOT NULL DEFAULT now(),
    enqueued_at          timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    completed_at         timestamptz,
    touched_at           timestamptz,
    expires_at           timestamptz,
    worker_id            uuid,
    meta                 jsonb,
    result_ttl           integer,
    failure_ttl          integer,
    failure_mode         text NOT NULL DEFAULT 'hold',
    ttl                  integer,
    on_success           text,
    on_failure           text,
    on_stopped           text,
    on_success_timeout   integer,
    on_failure_timeout   integer,
    on_stopped_timeout   integer,
    retry_intervals      jsonb,
    repeat_remaining     integer,
    repeat_interval_secs integer,
    repeat_intervals     jsonb,
    cron_name            text
);

CREATE INDEX IF NOT EXISTS werk_jobs_dequeue_idx
    ON werk_jobs (queue, status, priority DESC, scheduled_at);
CREATE INDEX IF NOT EXISTS werk_jobs_dequeue_partial_idx
    ON werk_jobs (queue, priority DESC, scheduled_at) WHERE status IN ('queued', 'scheduled');
CREATE INDEX IF NOT EXISTS werk_jobs_active_recovery_idx
    ON werk_jobs (queue, worker_id, heartbeat_secs, touched_at, started_at) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS werk_jobs_group_key_idx
    ON werk_jobs (queue, status, group_key) WHERE group_key IS NOT NULL;
-- werkcron's own: the overlap check ("is a job of this schedule still queued or running?")
-- reads only unfinished jobs, so the index holds only those and stays small.
CREATE INDEX IF NOT EXISTS werk_jobs_cron_name_unfinished_idx
    ON werk_jobs (cron_name) WHERE cron_name IS NOT NULL AND status IN ('queued', 'scheduled', 'active');

-- One row per schedule. People write the definition columns; the ticker writes only
-- next_run_at, planned_at, last_tick_at, last_job_id, last_error and remaining_runs
-- (counted down), and pauses a schedule that failed too often.
CREATE TABLE werk_cron_jobs (
    name                 text PRIMARY KEY,
    func                 text NOT NULL,
    queue                text NOT NULL DEFAULT 'default',
    args                 jsonb NOT NULL DEFAULT '[]',
    kwargs               jsonb NOT NULL DEFAULT '{}',
    cron                 text,
    interval_secs        integer,
    timezone             text NOT NULL DEFAULT 'UTC',
    timeout_secs         integer,
    result_ttl           integer,
    failure_ttl          integer,
    meta                 jsonb,
    priority             smallint NOT NULL DEFAULT 0,
    max_attempts         integer NOT NULL DEFAULT 1,
    paused               boolean NOT NULL DEFAULT false,
    catchup              text NOT NULL DEFAULT 'latest',
    catchup_window_secs  integer,
    overlap              text NOT NULL DEFAULT 'allow',
    starts_at            timestamptz,
    ends_at              timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    changed_at           timestamptz NOT NULL DEFAULT now(),
    next_run_at          timestamptz,
    last_tick_at         timestamptz,
    last_job_id          uuid,
    last_error           text,
    planned_at           timestamptz,
    paused_reason        text,
    jitter_secs          integer,
    remaining_runs       integer,
    pause_after_failures integer,

    CONSTRAINT werk_cron_jobs_name_must_not_be_blank CHECK (btrim(name) <> ''),
    CONSTRAINT werk_cron_jobs_func_must_not_be_blank CHECK (btrim(func) <> ''),
    CONSTRAINT werk_cron_jobs_queue_must_not_be_blank CHECK (btrim(queue) <> ''),
    -- Job keys go into a unique index, and 'werk:' || queue must fit a NOTIFY channel
    -- (63 bytes): a longer value would fail every tick of the schedule.
    CONSTRAINT werk_cron_jobs_name_must_be_at_most_200_bytes CHECK (octet_length(name) <= 200),
    CONSTRAINT werk_cron_jobs_queue_must_be_at_most_58_bytes CHECK (octet_length(queue) <= 58),
    CONSTRAINT werk_cron_jobs_needs_exactly_one_of_cron_or_interval_secs
        CHECK ((cron IS NULL) <> (interval_secs IS NULL)),
    CONSTRAINT werk_cron_jobs_cron_must_not_be_blank CHECK (btrim(cron) <> ''),
    CONSTRAINT werk_cron_jobs_interval_secs_must_be_positive CHECK (interval_secs > 0),
    CONSTRAINT werk_cron_jobs_args_must_be_a_json_array CHECK (jsonb_typeof(args) = 'array'),
    CONSTRAINT werk_cron_jobs_kwargs_must_be_a_json_object CHECK (jsonb_typeof(kwargs) = 'object'),
    CONSTRAINT werk_cron_jobs_meta_must_be_a_json_object CHECK (jsonb_typeof(meta) = 'object'),
    CONSTRAINT werk_cron_jobs_timeout_secs_must_be_positive CHECK (timeout_secs > 0),
    CONSTRAINT werk_cron_jobs_result_ttl_must_not_be_negative CHECK (result_ttl >= 0),
    CONSTRAINT werk_cron_jobs_failure_ttl_must_not_be_negative CHECK (failure_ttl >= 0),
    CONSTRAINT werk_cron_jobs_max_attempts_must_be_positive CHECK (max_attempts > 0),
    CONSTRAINT werk_cron_jobs_catchup_must_be_none_latest_or_all
        CHECK (catchup IN ('none', 'latest', 'all')),
    CONSTRAINT werk_cron_jobs_catchup_window_secs_must_be_positive CHECK (catchup_window_secs > 0),
    CONSTRAINT werk_cron_jobs_ends_at_must_be_after_starts_at CHECK (ends_at > starts_at),
    CONSTRAINT werk_cron_jobs_jitter_secs_must_not_be_negative CHECK (jitter_secs >= 0),
    CONSTRAINT werk_cron_jobs_remaining_runs_must_not_be_negative CHECK (remaining_runs >= 0),
    CONSTRAINT werk_cron_jobs_pause_after_failures_must_be_positive CHECK (pause_after_failures > 0),
    CONSTRAINT werk_cron_jobs_overlap_must_be_allow_skip_buffer_one_buffer_all
        CHECK (overlap IN ('allow', 'skip', 'buffer_one', 'buffer_all')),
    -- An infinite instant has no meaning for a schedule (and one such row once stopped
    -- every schedule).
    CONSTRAINT werk_cron_jobs_starts_at_must_be_finite CHECK (pg_catalog.isfinite(starts_at)),
    CONSTRAINT werk_cron_jobs_ends_at_must_be_finite CHECK (pg_catalog.isfinite(ends_at)),
    CONSTRAINT werk_cron_jobs_last_tick_at_must_be_finite CHECK (pg_catalog.isfinite(last_tick_at)),
    CONSTRAINT werk_cron_jobs_next_run_at_must_be_finite CHECK (pg_catalog.isfinite(next_run_at)),
    -- Sizes every tick can copy into a job (and a worker decode): 64 KB of JSON each,
    -- 1 KB for func and paused_reason, 256 bytes for cron (the parser's limit), 64 for
    -- a zone name.
    CONSTRAINT werk_cron_jobs_args_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(args::text) <= 65536),
    CONSTRAINT werk_cron_jobs_kwargs_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(kwargs::text) <= 65536),
    CONSTRAINT werk_cron_jobs_meta_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(meta::text) <= 65536),
    CONSTRAINT werk_cron_jobs_func_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(func) <= 1024),
    CONSTRAINT werk_cron_jobs_paused_reason_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(paused_reason) <= 1024),
    CONSTRAINT werk_cron_jobs_cron_must_be_at_most_256_bytes CHECK (pg_catalog.octet_length(cron) <= 256),
    CONSTRAINT werk_cron_jobs_timezone_must_be_at_most_64_bytes CHECK (pg_catalog.octet_length(timezone) <= 64)
);

COMMENT ON TABLE werk_cron_jobs IS
    'werkcron schedules: insert a row with func and either cron or interval_secs; the ticker enqueues into werk_jobs';
COMMENT ON COLUMN werk_cron_jobs.changed_at IS
    'set on insert, on a change of cron, interval_secs, timezone or starts_at, on resume, and when a schedule past its ends_at gets a later one; no tick before it is ever enqueued';
COMMENT ON COLUMN werk_cron_jobs.planned_at IS
    'when the ticker last planned this row (wrote next_run_at and last_error); NULL: awaiting planning. Set it to NULL to make the ticker look at a row again';
COMMENT ON COLUMN werk_cron_jobs.next_run_at IS
    'the plan of record, written by the ticker: when it next looks at this schedule (its next tick, or a retry); NULL while awaiting planning, and for paused, ended or failing schedules';
COMMENT ON COLUMN werk_cron_jobs.paused_reason IS
    'why the schedule is paused: an operator''s reason (werk_cron_pause), or the failures that paused it; cleared on resume';
COMMENT ON COLUMN werk_cron_jobs.jitter_secs IS
    'each job''s scheduled_at is its tick plus a fixed offset in [0, jitter_secs) derived from the name and the tick; the key and the ledger keep the tick';
COMMENT ON COLUMN werk_cron_jobs.remaining_runs IS
    'counted down by each enqueued tick; at 0 the schedule has ended. NULL: unlimited';
COMMENT ON COLUMN werk_cron_jobs.pause_after_failures IS
    'after this many consecutive failed runs the ticker pauses the schedule. NULL: never';
COMMENT ON COLUMN werk_cron_jobs.overlap IS
    'allow; skip: no new job while one is queued or running; buffer_one: at most one running and one waiting; buffer_all: every tick, one at a time';

-- The table is the plan. What the primary reads at every wake-up: the rows due within
-- its horizon, soonest first. Rows with nothing planned are not in it.
CREATE INDEX werk_cron_jobs_next_run_at_idx ON werk_cron_jobs (next_run_at)
    WHERE next_run_at IS NOT NULL;
-- What the planner reads: rows awaiting planning, newest change first, so that a
-- schedule added during a bulk load of a million is planned at once, not after them.
-- The planner walks it with a cursor (updated_at, name), so that it never reads again
-- the entries of rows it has just planned (dead until vacuumed).
CREATE INDEX werk_cron_jobs_unplanned_idx ON werk_cron_jobs (updated_at DESC, name DESC)
    WHERE planned_at IS NULL;
-- A new primary looks again at the schedules in error (a newer ticker may know a zone
-- the last one did not, or have another allow-list), a batch at a time, between ticks.
CREATE INDEX werk_cron_jobs_in_error_idx ON werk_cron_jobs (name) WHERE last_error IS NOT NULL;

-- What happened at each decided tick. With the forward-only last_tick_at, this ledger (not
-- the job row's key, which pgwerk deletes after result_ttl) is what makes a tick happen
-- once; for an enqueued tick it also keeps how its job ended.
CREATE TABLE werk_cron_ticks (
    name            text NOT NULL,
    tick_at         timestamptz NOT NULL,
    outcome         text NOT NULL,
    job_id          uuid,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    -- How many ticks the row stands for: 1, except on the oldest 'missed' row of a long
    -- outage, which also stands for the older missed ticks that got no row of their own.
    ticks           integer NOT NULL DEFAULT 1,
    job_status      text,
    job_started_at  timestamptz,
    job_finished_at timestamptz,
    job_attempts    integer,
    job_error       text,
    PRIMARY KEY (name, tick_at),
    CONSTRAINT werk_cron_ticks_outcome_is_known
        CHECK (outcome IN ('enqueued', 'duplicate', 'foreign', 'skipped_overlap', 'missed', 'triggered', 'backfilled')),
    CONSTRAINT werk_cron_ticks_ticks_must_be_positive CHECK (ticks > 0),
    CONSTRAINT werk_cron_ticks_job_status_is_final
        CHECK (job_status IN ('complete', 'failed', 'aborted', 'unknown'))
);
COMMENT ON COLUMN werk_cron_ticks.job_status IS
    'the outcome of the tick''s job: complete, failed or aborted (recorded by the primary ticker, about a second after the job ends when few jobs are in flight, or when pgwerk deletes the job), unknown if the job''s row vanished unrecorded; NULL while it waits or runs, before it is recorded, or for ticks without a job';
COMMENT ON COLUMN werk_cron_ticks.job_error IS
    'the job''s error, its first 2,000 characters';

CREATE INDEX werk_cron_ticks_tick_at_idx ON werk_cron_ticks (tick_at);
-- A job finds its ledger row by its id. Only rows with a job are indexed.
CREATE INDEX werk_cron_ticks_job_id_idx ON werk_cron_ticks (job_id) WHERE job_id IS NOT NULL;
-- The ledger rows whose job's outcome is still to be recorded, in the order the ticker
-- goes through them (and finds one schedule's). An outcome write moves a row out of it.
CREATE INDEX werk_cron_ticks_awaiting_idx ON werk_cron_ticks (name, tick_at)
    WHERE job_status IS NULL AND job_id IS NOT NULL AND outcome <> 'foreign';

-- Job outcomes recorded so far, for werkcron_job_outcomes_total: sequences, because
-- nextval holds no lock until commit. A rolled-back outcome still counts: a metric.
CREATE SEQUENCE werk_cron_outcomes_complete;
CREATE SEQUENCE werk_cron_outcomes_failed;
CREATE SEQUENCE werk_cron_outcomes_aborted;

-- Schedules the ticker has had to set aside for a while because another session holds
-- what their tick needs (the schedule's row, or a job key held by an uncommitted
-- transaction). The row itself may be the locked thing, so the ticker cannot write
-- last_error there: it writes here, and the status view shows it. Unlogged: it is the
-- ticker's current view, rebuilt by each new primary, not history.
CREATE UNLOGGED TABLE werk_cron_holdups (
    name   text PRIMARY KEY,
    since  timestamptz NOT NULL,
    reason text NOT NULL
);
COMMENT ON TABLE werk_cron_holdups IS
    'schedules the ticker has set aside because another session holds their row or a job key; written by the ticker, shown by werk_cron_status';

-- Backfill requests (werk_cron_backfill): the primary carries them out a chunk at a
-- time between its ticks, and keeps its progress here, so that a new primary takes over
-- a long backfill where the last one stopped.
CREATE TABLE werk_cron_backfills (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    from_at      timestamptz NOT NULL,
    to_at        timestamptz NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    requested_by text NOT NULL DEFAULT current_user,
    through_at   timestamptz,
    enqueued     integer NOT NULL DEFAULT 0,
    already      integer NOT NULL DEFAULT 0,
    done_at      timestamptz,
    error        text,
    CONSTRAINT werk_cron_backfills_from_at_must_not_be_after_to_at CHECK (from_at <= to_at),
    CONSTRAINT werk_cron_backfills_instants_must_be_finite CHECK (pg_catalog.isfinite(from_at) AND pg_catalog.isfinite(to_at))
);
COMMENT ON TABLE werk_cron_backfills IS
    'backfill requests (werk_cron_backfill); the primary ticker carries them out, oldest first, fills in done_at, enqueued, already or error, and deletes them with the ledger rows of their age';
-- What the primary looks at: the requests not done yet.
CREATE INDEX werk_cron_backfills_pending_idx ON werk_cron_backfills (id) WHERE done_at IS NULL;

-- +goose Down
-- Not reversible in place: restore a backup taken before werkcron was installed.
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'werkcron''s baseline cannot be undone; restore a backup'; END $$;
-- +goose StatementEnd
