package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing/store/storetest"
)

func TestAPIKeyCreateWithRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.NewURL(t)
	getenv := env(map[string]string{"DATABASE_URL": url, "RECUR_LOG_LEVEL": "error"})
	for _, args := range [][]string{{"--role", "finance"}, {"--role", "admin"}, {}} {
		var out bytes.Buffer
		require.NoError(t, run(ctx, append([]string{"apikey", "create", "--name", "role " + strings.Join(args, " ")}, args...), getenv, &out))
		require.Regexp(t, `^rk_[a-z2-7]{26}\n$`, out.String())
	}
	err := run(ctx, []string{"apikey", "create", "--role", "root"}, getenv, &bytes.Buffer{})
	require.ErrorContains(t, err, "--role must be admin, write or finance")

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT name || ': ' || role FROM api_keys ORDER BY created_at, name`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"role --role finance: finance", "role --role admin: admin", "role : write"}, got,
		"keys are write keys unless told")
}
