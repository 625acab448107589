-- Functions, views and triggers are no longer restated by migrations: each is defined
-- once, as it is now, in sql/functions, sql/views or sql/triggers, and `werkcron
-- migrate` applies a file again whenever it changes (internal/migrate). This table
-- records what was applied, by path and checksum.

-- +goose Up

CREATE TABLE werk_cron_objects (
    path       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE werk_cron_objects IS
    'the function, view and trigger files of werkcron applied here, by path and checksum (written by werkcron migrate)';

-- An installation from before the baseline added this check NOT VALID (it only widened
-- an older one, so the ledger was not scanned); every row passes it.
ALTER TABLE werk_cron_ticks VALIDATE CONSTRAINT werk_cron_ticks_job_status_is_final;

-- +goose Down
DROP TABLE werk_cron_objects;
