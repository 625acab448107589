-- goose's own table, as goose creates it under the name werkcron gives it
-- (MigrationsTable): sqlc reads this file so that queries/migrate.sql may read it. It is
-- not a migration.
CREATE TABLE werk_cron_migrations (
    id         integer PRIMARY KEY,
    version_id bigint NOT NULL,
    is_applied boolean NOT NULL,
    tstamp     timestamp NOT NULL DEFAULT now()
);
