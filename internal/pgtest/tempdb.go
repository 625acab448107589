package pgtest

import (
	"context"
	"fmt"
	"os"
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
