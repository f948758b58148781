package main

import (
	"bytes"
	"context"
	"io/fs"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/migrations"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestMigrateCommandDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	getenv := env(map[string]string{"DATABASE_URL": storetest.NewURL(t), "RECUR_LOG_LEVEL": "error"})
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"migrate", "status"}, getenv, &out))
	require.NotRegexp(t, `(?m) pending$`, out.String())

	files, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	last := files[len(files)-1]
	out.Reset()
	require.NoError(t, run(ctx, []string{"migrate", "down"}, getenv, &out))
	require.Equal(t, "rolled back "+last+"\n", out.String())
	out.Reset()
	require.NoError(t, run(ctx, []string{"migrate", "status"}, getenv, &out))
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(last)+` +pending$`, out.String())
	require.Len(t, regexp.MustCompile(`(?m) pending$`).FindAllString(out.String(), -1), 1)

	// The binary refuses to serve or create keys on a schema that is not current.
	err = run(ctx, []string{"apikey", "create"}, getenv, &out)
	require.ErrorContains(t, err, "recur migrate up")

	out.Reset()
	require.NoError(t, run(ctx, []string{"migrate", "up"}, getenv, &out))
	require.Equal(t, "applied 1 migrations\n", out.String())
}

func TestAPIKeyCreatePrintsTheKeyAlone(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{"DATABASE_URL": storetest.NewURL(t), "RECUR_LOG_LEVEL": "error"})
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"apikey", "create", "--name", "ci"}, getenv, &out))
	require.Regexp(t, `^rk_[a-z2-7]{26}\n$`, out.String())
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(env(map[string]string{
		"RECUR_BILLING_INTERVAL": "soon", "RECUR_MAX_WORKERS": "-1", "RECUR_LOG_FORMAT": "xml",
		"RECUR_EGW_BASE_URL": "https://egw.example", "RECUR_EGW_CLIENT_SECRET": "hunter2",
	}))
	require.Error(t, err)
	for _, name := range []string{"RECUR_BILLING_INTERVAL", "RECUR_MAX_WORKERS", "RECUR_LOG_FORMAT"} {
		require.ErrorContains(t, err, name)
	}

	cfg, err := loadConfig(env(map[string]string{"RECUR_EGW_BASE_URL": "https://egw.example"}))
	require.NoError(t, err)
	err = run(context.Background(), []string{"serve"}, env(map[string]string{
		"DATABASE_URL": "postgres://localhost:1/x", "RECUR_EGW_BASE_URL": "https://egw.example", "RECUR_EGW_CLIENT_SECRET": "hunter2",
	}), &bytes.Buffer{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	require.Equal(t, "v1", cfg.EGW.Version)

	// A lease no longer than a gateway call would let a second run take a charge over mid-call.
	_, err = loadConfig(env(map[string]string{"RECUR_CHARGE_LEASE": "15s", "RECUR_EGW_TIMEOUT": "15s"}))
	require.ErrorContains(t, err, "RECUR_CHARGE_LEASE=15s: want more than RECUR_EGW_TIMEOUT=15s")
	_, err = loadConfig(env(map[string]string{"RECUR_CHARGE_LEASE": "16s", "RECUR_EGW_TIMEOUT": "15s"}))
	require.NoError(t, err)
}
