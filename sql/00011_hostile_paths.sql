-- Every text column of werkcron's tables is bounded in bytes, and a backfill request
-- can only say what to backfill: its progress is the ticker's, and stays inside the
-- range it was asked for. Before this, one request row with a 300 MB name made every new
-- primary allocate gigabytes, and a progress mark written by hand before the range
-- (or an hour before the ledger's retention) enqueued hundreds of thousands of jobs.

-- +goose Up

-- Rows written before the bounds: requests that cannot be carried out any more are
-- closed saying why; marks outside their range start the request over (each chunk is
-- idempotent: ticks that have a job are counted, not enqueued again).
UPDATE werk_cron_backfills
SET name = pg_catalog.left(name, 50), done_at = coalesce(done_at, pg_catalog.clock_timestamp()),
    error = 'refused: the schedule name is longer than 200 bytes, which no schedule has'
WHERE pg_catalog.octet_length(name) > 200;
UPDATE werk_cron_backfills SET through_at = NULL
WHERE through_at NOT BETWEEN from_at AND to_at AND done_at IS NULL;
UPDATE werk_cron_backfills SET through_at = to_at
WHERE through_at NOT BETWEEN from_at AND to_at;
UPDATE werk_cron_backfills SET requested_by = pg_catalog.left(requested_by, 16)
WHERE pg_catalog.octet_length(requested_by) > 64;
UPDATE werk_cron_backfills SET error = pg_catalog.left(error, 250)
WHERE pg_catalog.octet_length(error) > 1024;
UPDATE werk_cron_ticks SET job_error = pg_catalog.left(job_error, 500)
WHERE pg_catalog.octet_length(job_error) > 2048;
UPDATE werk_cron_jobs SET last_error = pg_catalog.left(last_error, 250)
WHERE pg_catalog.octet_length(last_error) > 1024;

ALTER TABLE werk_cron_backfills
    ADD CONSTRAINT werk_cron_backfills_name_must_be_at_most_200_bytes CHECK (pg_catalog.octet_length(name) <= 200),
    ADD CONSTRAINT werk_cron_backfills_requested_by_must_be_at_most_64_bytes CHECK (pg_catalog.octet_length(requested_by) <= 64),
    ADD CONSTRAINT werk_cron_backfills_error_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(error) <= 1024),
    ADD CONSTRAINT werk_cron_backfills_through_at_must_be_within_from_at_and_to_at
        CHECK (through_at BETWEEN from_at AND to_at);
ALTER TABLE werk_cron_ticks
    ADD CONSTRAINT werk_cron_ticks_name_must_be_at_most_200_bytes CHECK (pg_catalog.octet_length(name) <= 200),
    ADD CONSTRAINT werk_cron_ticks_job_error_must_be_at_most_2_kb CHECK (pg_catalog.octet_length(job_error) <= 2048);
ALTER TABLE werk_cron_holdups
    ADD CONSTRAINT werk_cron_holdups_name_must_be_at_most_200_bytes CHECK (pg_catalog.octet_length(name) <= 200),
    ADD CONSTRAINT werk_cron_holdups_reason_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(reason) <= 1024);
ALTER TABLE werk_cron_jobs
    ADD CONSTRAINT werk_cron_jobs_last_error_must_be_at_most_1_kb CHECK (pg_catalog.octet_length(last_error) <= 1024);

COMMENT ON COLUMN werk_cron_ticks.job_error IS
    'the job''s error, cut to at most 2,048 bytes at a character boundary';
COMMENT ON COLUMN werk_cron_backfills.requested_by IS
    'the role that logged in to ask (session_user), whatever the request row says';

-- +goose Down
ALTER TABLE werk_cron_jobs DROP CONSTRAINT werk_cron_jobs_last_error_must_be_at_most_1_kb;
ALTER TABLE werk_cron_holdups
    DROP CONSTRAINT werk_cron_holdups_name_must_be_at_most_200_bytes,
    DROP CONSTRAINT werk_cron_holdups_reason_must_be_at_most_1_kb;
ALTER TABLE werk_cron_ticks
    DROP CONSTRAINT werk_cron_ticks_name_must_be_at_most_200_bytes,
    DROP CONSTRAINT werk_cron_ticks_job_error_must_be_at_most_2_kb;
ALTER TABLE werk_cron_backfills
    DROP CONSTRAINT werk_cron_backfills_name_must_be_at_most_200_bytes,
    DROP CONSTRAINT werk_cron_backfills_requested_by_must_be_at_most_64_bytes,
    DROP CONSTRAINT werk_cron_backfills_error_must_be_at_most_1_kb,
    DROP CONSTRAINT werk_cron_backfills_through_at_must_be_within_from_at_and_to_at;
