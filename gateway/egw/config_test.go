package egw_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway/egw"
)

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	_, err := egw.New(egw.Config{}, nil)
	require.Error(t, err)
	for _, field := range []string{"BaseURL", "TokenURL", "ClientID", "ClientSecret", "ParticipantID", "ShopAgreementID"} {
		require.ErrorContains(t, err, field)
	}

	valid := egw.Config{
		BaseURL: "https://egw.example", TokenURL: "https://auth.example/token",
		ClientID: "id", ClientSecret: "secret", ParticipantID: "p", ShopAgreementID: "s",
	}
	_, err = egw.New(valid, slog.Default())
	require.NoError(t, err)

	for name, edit := range map[string]func(*egw.Config){
		"relative URL":     func(c *egw.Config) { c.BaseURL = "/egw" },
		"ftp token URL":    func(c *egw.Config) { c.TokenURL = "ftp://auth.example/token" },
		"version path":     func(c *egw.Config) { c.Version = "v1/x" },
		"negative timeout": func(c *egw.Config) { c.Timeout = -1 },
	} {
		cfg := valid
		edit(&cfg)
		_, err := egw.New(cfg, nil)
		require.Error(t, err, name)
	}
}

func TestConfigHidesSecret(t *testing.T) {
	t.Parallel()
	cfg := egw.Config{ClientID: "id", ClientSecret: "s3cr3t-value"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), cfg.String()} {
		require.NotContains(t, s, "s3cr3t-value")
		require.Contains(t, s, "(redacted)")
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", slog.Any("egw", cfg))
	require.NotContains(t, buf.String(), "s3cr3t-value")
	require.Contains(t, buf.String(), `"client_id":"id"`)
}
