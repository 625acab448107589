// Package migrate installs and upgrades werkcron's schema: goose migrations for tables
// and data, then the functions, views and triggers, each defined once in a file of its
// own (objects.go).
package migrate

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
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

// baselineSums is the newest migration that the baseline (00001) sums up: an
// installation made by those older migrations must have run all of them.
const baselineSums = 9

// migrateLockID keeps werkcron's migration lock apart from goose's default one, which
// an application's own migrations may hold.
var migrateLockID = int64(crc64.Checksum([]byte("werkcron migrations"), crc64.MakeTable(crc64.ECMA)))

// Up brings the schema of the database at dsn up to date: werk_cron_jobs,
// werk_cron_ticks, their functions, triggers and views, and pgwerk's werk_jobs if it
// is missing. Objects land in the schema of an existing installation that the
// connection's search_path finds, or else in the current schema (the first of
// search_path that exists), and only there: the migrations run with search_path set
// to it alone, so that a schema that appears later ahead of it (one named after the
// role, "$user") cannot receive half of an installation. Several processes may call it
// at once: goose's Postgres session lock lets exactly one migrate while the others wait
// and then find nothing to do, and the object files are applied under a lock of their
// own.
func Up(ctx context.Context, dsn string, log *slog.Logger) error {
	return up(ctx, dsn, werksql.Files, true, log)
}

// up runs the migrations of fsys, then (with objects) its object files.
func up(ctx context.Context, dsn string, fsys fs.FS, objects bool, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("migrate: parse the connection string: %w", err)
	}
	conn, schema, err := connectToSchema(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if log != nil {
		log = log.With("schema", schema)
	}
	sqlDB := stdlib.OpenDB(*conn.Config()) // goose speaks database/sql; this is its only use
	defer sqlDB.Close()
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithTableName(MigrationsTable)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migrated", "migration", r.Source.Path, "took", r.Duration)
		}
	}
	if !objects {
		return nil
	}
	if err := applyObjects(ctx, conn, fsys, schema, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// connectToSchema connects to where werkcron is (or is to be) installed for cfg, with
// search_path naming that schema alone. It refuses an installation that stopped part
// way through the migrations the baseline sums up.
func connectToSchema(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, string, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("migrate: connect: %w", err)
	}
	fail := func(err error) (*pgx.Conn, string, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", err
	}
	q := db.New(conn)
	where, err := q.MigrationSchema(ctx)
	if err != nil {
		return fail(fmt.Errorf("migrate: find the schema to migrate: %w", err))
	}
	if where.Schema == "" {
		return fail(errors.New("migrate: the search_path names no schema that exists: create one, or set search_path in the connection string"))
	}
	if where.Installed {
		v, err := q.NewestMigration(ctx)
		if err != nil {
			return fail(fmt.Errorf("migrate: read %s: %w", MigrationsTable, err))
		}
		if v > 1 && v < baselineSums {
			return fail(fmt.Errorf("migrate: this installation stopped at migration %d of the %d that werkcron's baseline sums up; "+
				"upgrade it first with a werkcron from before the baseline, which runs them all", v, baselineSums))
		}
	}
	conn.Close(ctx)
	cfg = cfg.Copy()
	cfg.RuntimeParams["search_path"] = pgx.Identifier{where.Schema}.Sanitize()
	if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		return nil, "", fmt.Errorf("migrate: connect: %w", err)
	}
	return conn, where.Schema, nil
}

// UpFS is Up with the migrations (and, with objects, the object files) of fsys instead
// of the embedded ones: for tests of upgrades from an installation made by older files.
func UpFS(ctx context.Context, dsn string, fsys fs.FS, objects bool) error {
	return up(ctx, dsn, fsys, objects, nil)
}
