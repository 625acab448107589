// Package sql holds werkcron's goose migrations, embedded so that the binary can migrate
// a database by itself (`werkcron migrate`, or `werkcron run` before it starts).
package sql

import "embed"

// Migrations are the goose migration files, NNNNN_name.sql.
//
//go:embed *.sql
var Migrations embed.FS
