// Package sql holds werkcron's schema, embedded so that the binary can migrate a
// database by itself (`werkcron migrate`, or `werkcron run` before it starts): goose
// migrations for tables and data (NNNNN_name.sql), and each function, view and trigger
// defined once, as it is now, in a file named after it under functions/, views/ and
// triggers/ (applied after the migrations; see internal/migrate).
package sql

import "embed"

// Files are the migrations at the top and the object files in their folders.
//
//go:embed *.sql functions/*.sql views/*.sql triggers/*.sql
var Files embed.FS
