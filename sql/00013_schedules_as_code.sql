-- Schedules as code: `werkcron apply` keeps the schedules a file lists, for an owner
-- (managed_by), and labels group schedules (a team's, a tenant's) for people and tools.
--
-- Neither column is read or written by the tick: labels are for filtering at a psql
-- prompt or with `werkcron ls --label`, managed_by for `werkcron apply` (which reads a
-- team's schedules once per deploy, by name, and those of its owner by an index). Changing either alone does not plan a schedule afresh: the trigger that does
-- so looks at the columns that shape what is enqueued.

-- +goose Up

ALTER TABLE werk_cron_jobs
    ADD COLUMN labels jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN managed_by text,
    ADD CONSTRAINT werk_cron_jobs_labels_must_be_a_json_object CHECK (pg_catalog.jsonb_typeof(labels) = 'object'),
    -- Labels are for matching (labels @> '{"tenant": "42"}'): a number would not match
    -- the string a person types.
    ADD CONSTRAINT werk_cron_jobs_labels_must_have_string_values
        CHECK (NOT pg_catalog.jsonb_path_exists(labels, '$.* ? (@.type() != "string")')),
    ADD CONSTRAINT werk_cron_jobs_labels_must_be_at_most_64_kb CHECK (pg_catalog.octet_length(labels::text) <= 65536),
    ADD CONSTRAINT werk_cron_jobs_managed_by_must_not_be_blank CHECK (pg_catalog.btrim(managed_by) <> ''),
    ADD CONSTRAINT werk_cron_jobs_managed_by_must_be_at_most_200_bytes CHECK (pg_catalog.octet_length(managed_by) <= 200);

COMMENT ON COLUMN werk_cron_jobs.labels IS
    'a JSON object of strings grouping schedules, e.g. {"team": "billing", "tenant": "42"}: find them with labels @> ''{"team": "billing"}''. Never read by the tick';
COMMENT ON COLUMN werk_cron_jobs.managed_by IS
    'the owner whose file lists this schedule (werkcron apply); NULL: written by hand. A pruning apply removes only its own owner''s schedules';

-- An owner's schedules, for `werkcron apply`: the tick never writes werk_cron_jobs
-- (its state is in werk_cron_state), so the index costs nothing per tick.
CREATE INDEX werk_cron_jobs_managed_by_idx ON werk_cron_jobs (managed_by) WHERE managed_by IS NOT NULL;

-- +goose Down
ALTER TABLE werk_cron_jobs DROP COLUMN labels, DROP COLUMN managed_by;
