// Package storetest gives each test its own migrated PostgreSQL database, cloned from a template
// that is migrated once per migration set. It needs DATABASE_URL (the project's test command sets
// it); without one the test fails rather than skips.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/migrations"
)

// NewDB creates a fresh database with every migration applied, returns a pool on it and drops it
// when the test ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := store.Open(context.Background(), NewURL(t), 20)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewURL creates a fresh database with every migration applied and returns its URL. The database
// is dropped when the test ends.
func NewURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin := adminConn(t)
	template := ensureTemplate(t, admin)

	name := "recur_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template)); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop database: %v", err)
		}
	})
	return databaseURL(t, name)
}

// adminConn connects to DATABASE_URL for creating and dropping databases.
func adminConn(t testing.TB) *pgx.Conn {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("storetest: DATABASE_URL is not set; run the tests with scripts/test, which provides a database")
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("storetest: connect to DATABASE_URL: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// ensureTemplate returns the name of a template database migrated with the current migration
// files, creating it under an advisory lock if no test process has yet.
func ensureTemplate(t testing.TB, admin *pgx.Conn) string {
	ctx := context.Background()
	name := "recur_template_" + migrationsHash(t)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7478331)"); err != nil {
		t.Fatalf("storetest: lock: %v", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(7478331)") //nolint:errcheck // the session ends soon anyway

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if exists {
		return name
	}
	building := pgx.Identifier{name + "_building"}.Sanitize()
	for _, sql := range []string{"DROP DATABASE IF EXISTS " + building, "CREATE DATABASE " + building} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("storetest: %s: %v", sql, err)
		}
	}
	pool, err := store.Open(ctx, databaseURL(t, name+"_building"), 2)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	m, err := migrations.New(pool, slog.New(slog.DiscardHandler))
	if err == nil {
		_, err = m.Up(ctx)
		m.Close()
	}
	pool.Close()
	if err != nil {
		t.Fatalf("storetest: migrate template: %v", err)
	}
	// Renamed only once complete, so a crash never leaves a half-migrated template behind.
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, pgx.Identifier{name}.Sanitize())); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return name
}

// databaseURL returns DATABASE_URL pointed at another database.
func databaseURL(t testing.TB, name string) string {
	u, err := store.DatabaseURL(os.Getenv("DATABASE_URL"), name)
	if err != nil {
		t.Fatalf("storetest: DATABASE_URL: %v", err)
	}
	return u
}

// migrationsHash names the migration set, so that a changed migration gets a new template.
func migrationsHash(t testing.TB) string {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
