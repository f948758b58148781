package migrations_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/migrations"
)

// TestDownAndUpAgain takes a migrated database all the way down and back up: every down
// migration must undo its up exactly, River's included.
func TestDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	m, err := migrations.New(db, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer m.Close()

	current, err := m.Current(ctx)
	require.NoError(t, err)
	require.True(t, current)

	down, err := m.DownTo(ctx, 0)
	require.NoError(t, err)
	require.Len(t, down, len(m.ListSources()))
	var tables int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&tables))
	require.Zero(t, tables, "down migrations leave tables behind")

	up, err := m.Up(ctx)
	require.NoError(t, err)
	require.Len(t, up, len(m.ListSources()))
}
