package migrate

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/pgwerk/werkcron/db"
	werksql "github.com/pgwerk/werkcron/sql"
)

// MigrationsTable is where goose records which of werkcron's migrations ran, in the
// current schema, apart from any goose table of the application's own.
const MigrationsTable = "werk_cron_migrations"

// migrateLockID keeps werkcron's migration lock apart from goose's default one, which
// an application's own migrations may hold.
var migrateLockID = int64(crc64.Checksum([]byte("werkcron migrations"), crc64.MakeTable(crc64.ECMA)))

// Up brings the schema of the database at dsn up to date: werk_cron_jobs,
// werk_cron_ticks, their triggers and views, and pgwerk's werk_jobs if it is missing.
// Objects land in the schema of an existing installation that the connection's
// search_path finds, or else in the current schema (the first of search_path that
// exists), and only there: the migrations run with search_path set to it alone, so
// that a schema that appears later ahead of it (one named after the role, "$user")
// cannot receive half of an installation. Several processes may call it at once:
// goose's Postgres session lock lets exactly one migrate while the others wait and then
// find nothing to do.
func Up(ctx context.Context, dsn string, log *slog.Logger) error {
	return UpTo(ctx, dsn, 0, log)
}

// UpTo is Up, stopping after migration version (0: the last), for tests of upgrades
// from an older installation.
func UpTo(ctx context.Context, dsn string, version int64, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("migrate: parse the connection string: %w", err)
	}
	schema, err := targetSchema(ctx, cfg)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	if log != nil {
		log = log.With("schema", schema)
	}
	sqlDB := stdlib.OpenDB(*cfg) // goose speaks database/sql; this is its only use
	defer sqlDB.Close()
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithTableName(MigrationsTable)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, werksql.Migrations, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var results []*goose.MigrationResult
	if version > 0 {
		results, err = p.UpTo(ctx, version)
	} else {
		results, err = p.Up(ctx)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migrated", "migration", r.Source.Path, "took", r.Duration)
		}
	}
	return nil
}

// targetSchema is where werkcron is (or is to be) installed for this connection.
func targetSchema(ctx context.Context, cfg *pgx.ConnConfig) (string, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schema, err := db.New(conn).MigrationSchema(ctx)
	if err != nil {
		return "", fmt.Errorf("migrate: find the schema to migrate: %w", err)
	}
	if schema == "" {
		return "", errors.New("migrate: the search_path names no schema that exists: create one, or set search_path in the connection string")
	}
	return schema, nil
}
