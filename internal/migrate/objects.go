package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwerk/werkcron/db"
)

// Functions, views and triggers are SQL as current definitions: each is defined once,
// in a file named after it under sql/functions, sql/views or sql/triggers, with CREATE
// OR REPLACE, and applied again whenever its file changes (the way Flyway's repeatable
// migrations work). The versioned migrations in sql/ hold only tables and data.
//
// applyObjects runs after the versioned migrations, in one transaction:
//
//   - every file whose checksum differs from the one recorded in werk_cron_objects is
//     executed, functions first, then views, then triggers (function bodies are not
//     checked against each other while they are created, so their order is free);
//   - a function whose signature changed leaves an older overload behind: it is
//     dropped, and the roles that could execute it may execute the new one;
//   - what CREATE OR REPLACE cannot change (a function's result type, a view's columns)
//     is dropped and created again, with its grants, and the views and triggers that
//     depended on it are applied again;
//   - a function, view or trigger of werkcron's that no file defines any more is dropped;
//   - every werkcron function gets the search_path werkcron's functions run with;
//   - when any file was applied, every ticker role (one holding the ledger's INSERT and
//     DELETE) gets what werk_cron_grant gives a ticker now;
//   - an object a migration dropped (a view over columns that moved, say) is created
//     again whatever its checksum says, with the grants the migration kept for it in
//     werk_cron_objects.grants.
//
// A database where nothing changed costs one read of werk_cron_objects.

// objectKinds are the folders of object files, in the order they are applied.
var objectKinds = []string{"functions", "views", "triggers"}

// objectsLockID serialises applyObjects between processes that migrate at once.
var objectsLockID = int64(crc64.Checksum([]byte("werkcron objects"), crc64.MakeTable(crc64.ECMA)))

// SQLSTATEs of what CREATE OR REPLACE cannot do.
const (
	invalidFunctionDefinition  = "42P13" // cannot change the result type of a function
	invalidTableDefinition     = "42P16" // cannot drop or rename a view's columns
	dependentObjectsStillExist = "2BP01"
)

// objectFile is one file of sql/functions, sql/views or sql/triggers.
type objectFile struct {
	kind, name, path, sql, checksum string
}

// objectFiles reads the object files of fsys, in the order they are applied.
func objectFiles(fsys fs.FS) ([]objectFile, error) {
	var files []objectFile
	for _, kind := range objectKinds {
		names, err := fs.Glob(fsys, kind+"/*.sql")
		if err != nil {
			return nil, err
		}
		slices.Sort(names)
		for _, p := range names {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(b)
			files = append(files, objectFile{
				kind: kind, name: strings.TrimSuffix(path.Base(p), ".sql"), path: p,
				sql: string(b), checksum: hex.EncodeToString(sum[:]),
			})
		}
	}
	return files, nil
}

// applyObjects brings werkcron's functions, views and triggers in schema to what the
// object files of fsys say (see the top of this file). conn's search_path names schema
// alone, so that what the files create lands there.
func applyObjects(ctx context.Context, conn *pgx.Conn, fsys fs.FS, schema string, log *slog.Logger) error {
	files, err := objectFiles(fsys)
	if err != nil {
		return fmt.Errorf("read the object files: %w", err)
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := q.LockObjects(ctx, objectsLockID); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if err := q.DeferFunctionChecks(ctx); err != nil {
			return err
		}
		rows, err := q.AppliedObjects(ctx)
		if err != nil {
			return fmt.Errorf("read werk_cron_objects: %w", err)
		}
		applied := make(map[string]string, len(rows))
		kept := map[string][]string{}
		for _, r := range rows {
			applied[r.Path] = r.Checksum
			kept[r.Path] = r.Grants
		}
		there, err := q.ObjectsThere(ctx, schema)
		if err != nil {
			return fmt.Errorf("list werkcron's objects: %w", err)
		}
		for _, f := range files {
			if !slices.Contains(there, f.name) {
				delete(applied, f.path) // dropped by a migration: create it again
			}
		}
		a := applier{tx: tx, q: q, schema: schema, log: log, redo: map[string]bool{}}
		for _, f := range files {
			if applied[f.path] == f.checksum && !a.redo[f.kind] {
				continue
			}
			if err := a.apply(ctx, f); err != nil {
				return fmt.Errorf("apply %s: %w", f.path, err)
			}
			for _, g := range kept[f.path] {
				if err := a.exec(ctx, g); err != nil {
					return fmt.Errorf("give %s its grants back: %w", f.path, err)
				}
			}
			if err := q.RecordObject(ctx, db.RecordObjectParams{Path: f.path, Checksum: f.checksum}); err != nil {
				return fmt.Errorf("record %s: %w", f.path, err)
			}
			a.changed++
		}
		if len(a.redo) > 0 {
			// A drop that took dependents along may have come after some of them were
			// applied: apply the views and triggers once more.
			for _, f := range files {
				if a.redo[f.kind] {
					if err := a.exec(ctx, f.sql); err != nil {
						return fmt.Errorf("apply %s again: %w", f.path, err)
					}
				}
			}
		}
		if err := a.dropObsolete(ctx, files); err != nil {
			return err
		}
		if err := a.pin(ctx); err != nil {
			return err
		}
		if a.changed > 0 {
			// A new function, or new rights, for tickers granted before: werk_cron_grant is
			// the one list of what a ticker gets.
			if err := q.RegrantTickers(ctx); err != nil {
				return fmt.Errorf("give ticker roles what werk_cron_grant gives now: %w", err)
			}
		}
		if a.changed > 0 && log != nil {
			log.Info("applied functions, views and triggers", "files", a.changed)
		}
		return nil
	})
}

type applier struct {
	tx      pgx.Tx
	q       *db.Queries
	schema  string
	log     *slog.Logger
	changed int
	// redo names kinds whose files are applied again whatever their checksum: views
	// and triggers after an object they depended on was dropped.
	redo map[string]bool
}

// apply executes one object file. Its statements run inside a savepoint, so that what
// CREATE OR REPLACE refuses can be dropped and done again.
func (a *applier) apply(ctx context.Context, f objectFile) error {
	var before []string
	if f.kind == "functions" {
		var err error
		if before, err = a.q.FunctionsNamed(ctx, db.FunctionsNamedParams{Schema: a.schema, Name: f.name}); err != nil {
			return err
		}
	}
	err := a.exec(ctx, f.sql)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pgErr) && pgErr.Code == invalidFunctionDefinition && f.kind == "functions":
		// A new result type: drop the function (and, with it, what depends on it) and
		// create it again with its grants.
		if err := a.recreateFunctions(ctx, f, before); err != nil {
			return err
		}
		before = nil
	case errors.As(err, &pgErr) && pgErr.Code == invalidTableDefinition && f.kind == "views":
		if err := a.recreateView(ctx, f); err != nil {
			return err
		}
	default:
		return err
	}
	if f.kind != "functions" {
		return nil
	}
	// One file, one function: a new signature leaves the old overloads behind.
	after, err := a.q.FunctionsNamed(ctx, db.FunctionsNamedParams{Schema: a.schema, Name: f.name})
	if err != nil {
		return err
	}
	var added []string
	for _, sig := range after {
		if !slices.Contains(before, sig) {
			added = append(added, sig)
		}
	}
	if len(added) != 1 {
		return nil // replaced in place (or created anew, or recreated above)
	}
	for _, old := range after {
		if old == added[0] {
			continue
		}
		if err := a.copyFunctionGrants(ctx, old, added[0]); err != nil {
			return err
		}
		if err := a.drop(ctx, "DROP FUNCTION "+old); err != nil {
			return fmt.Errorf("drop the old %s: %w", old, err)
		}
	}
	return nil
}

// drop runs a DROP statement; when other objects depend on what it drops, it drops them
// too, and applies every view and trigger file again afterwards.
func (a *applier) drop(ctx context.Context, stmt string) error {
	err := a.exec(ctx, stmt)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != dependentObjectsStillExist {
		return err
	}
	a.redo["views"], a.redo["triggers"] = true, true
	return a.exec(ctx, stmt+" CASCADE")
}

// recreateFunctions drops the functions named like f (old, their signatures) and runs
// f again, giving the new function the grants the old ones had.
func (a *applier) recreateFunctions(ctx context.Context, f objectFile, old []string) error {
	var grantees []string
	for _, sig := range old {
		rows, err := a.q.FunctionGrants(ctx, sig)
		if err != nil {
			return err
		}
		grantees = append(grantees, rows...)
		if err := a.drop(ctx, "DROP FUNCTION "+sig); err != nil {
			return fmt.Errorf("drop %s: %w", sig, err)
		}
	}
	if err := a.exec(ctx, f.sql); err != nil {
		return err
	}
	now, err := a.q.FunctionsNamed(ctx, db.FunctionsNamedParams{Schema: a.schema, Name: f.name})
	if err != nil {
		return err
	}
	for _, sig := range now {
		for _, g := range grantees {
			if err := a.exec(ctx, "GRANT EXECUTE ON FUNCTION "+sig+g); err != nil {
				return fmt.Errorf("grant on %s again: %w", sig, err)
			}
		}
	}
	return nil
}

// recreateView drops the view f defines and runs f again, with the view's grants.
func (a *applier) recreateView(ctx context.Context, f objectFile) error {
	grants, err := a.q.ViewGrants(ctx, db.ViewGrantsParams{Schema: a.schema, Name: f.name})
	if err != nil {
		return err
	}
	if err := a.drop(ctx, "DROP VIEW "+pgx.Identifier{a.schema, f.name}.Sanitize()); err != nil {
		return fmt.Errorf("drop %s: %w", f.name, err)
	}
	if err := a.exec(ctx, f.sql); err != nil {
		return err
	}
	for _, g := range grants {
		if err := a.exec(ctx, g); err != nil {
			return fmt.Errorf("grant on %s again: %w", f.name, err)
		}
	}
	return nil
}

func (a *applier) copyFunctionGrants(ctx context.Context, from, to string) error {
	grantees, err := a.q.FunctionGrants(ctx, from)
	if err != nil {
		return err
	}
	for _, g := range grantees {
		if err := a.exec(ctx, "GRANT EXECUTE ON FUNCTION "+to+g); err != nil {
			return fmt.Errorf("grant on %s: %w", to, err)
		}
	}
	return nil
}

// dropObsolete drops werkcron's functions, views and triggers that no file defines.
func (a *applier) dropObsolete(ctx context.Context, files []objectFile) error {
	p := db.ObsoleteObjectsParams{Schema: a.schema, Functions: []string{}, Views: []string{}, Triggers: []string{}}
	for _, f := range files {
		switch f.kind {
		case "functions":
			p.Functions = append(p.Functions, f.name)
		case "views":
			p.Views = append(p.Views, f.name)
		case "triggers":
			p.Triggers = append(p.Triggers, f.name)
		}
	}
	stmts, err := a.q.ObsoleteObjects(ctx, p)
	if err != nil {
		return fmt.Errorf("look for objects no file defines: %w", err)
	}
	for _, s := range stmts {
		if err := a.exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if a.log != nil {
			a.log.Info("dropped what no file defines any more", "statement", s)
		}
	}
	return nil
}

// pin gives every werkcron function the search_path werkcron's functions run with.
func (a *applier) pin(ctx context.Context) error {
	stmts, err := a.q.UnpinnedFunctions(ctx, a.schema)
	if err != nil {
		return fmt.Errorf("look for functions to pin: %w", err)
	}
	for _, s := range stmts {
		if err := a.exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// exec runs sql inside a savepoint of the transaction: a statement the server refuses
// leaves the transaction usable.
func (a *applier) exec(ctx context.Context, sql string) error {
	sp, err := a.tx.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := sp.Exec(ctx, sql); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}
