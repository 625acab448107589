package pgtest

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
)

// TempDB is NewDB for code without a testing.TB (runnable examples): it creates an
// empty database and returns its URL and a function that drops it.
func TempDB(ctx context.Context) (dsn string, drop func(), err error) {
	admin, err := serverURL()
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("werkexample_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	drop = func() { _ = adminExec(context.Background(), admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }
	return WithDatabase(admin, name), drop, nil
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to test server: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
