// Package migrations holds Recur's database schema history as goose SQL files, embedded in the
// binary. River's own schema is part of the same history (files named *_river_*.sql, generated from
// River's rivermigrate package and checked by TestRiverMigrationsMatchRiver), so one `migrate up`
// prepares everything and one version number describes the database.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS

// Migrator applies the migrations to one database.
type Migrator struct {
	*goose.Provider
	db *sql.DB
}

// New returns a Migrator for the database behind pool. Several processes may migrate at once: a
// PostgreSQL session lock makes them take turns. Close releases its connection.
func New(pool *pgxpool.Pool, logger *slog.Logger) (*Migrator, error) {
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS,
		goose.WithSessionLocker(locker), goose.WithSlog(logger))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{Provider: p, db: db}, nil
}

// Close releases the Migrator's connection.
func (m *Migrator) Close() error { return m.db.Close() }

// Current reports whether every migration has been applied.
func (m *Migrator) Current(ctx context.Context) (bool, error) {
	pending, err := m.HasPending(ctx)
	return !pending, err
}
