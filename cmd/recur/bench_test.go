package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchSmoke runs a short benchmark end to end: every phase runs and reports, and nothing is
// asserted about its speed.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	url := os.Getenv("DATABASE_URL")
	require.NotEmpty(t, url, "DATABASE_URL is not set; run the tests with scripts/test")
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "--n", "300", "--workers", "20", "--latency", "5ms",
		"--plan-rows", "20000"}, env(map[string]string{"DATABASE_URL": url, "RECUR_LOG_LEVEL": "error", "RECUR_BILLING_INTERVAL": "500ms"}), &out)
	require.NoError(t, err, out.String())
	for _, want := range []string{
		"pipeline, simulator latency 5ms",
		"billing run, due -> enqueued:   300 charges", "end to end, due -> captured:    300 charges",
		"peak RSS", "baseline, River jobs that do no-op: 300 jobs", "baseline, River jobs that do two UPDATEs",
		"pipeline at 5ms:", "ok: an index scan on subscriptions_due",
	} {
		require.Contains(t, out.String(), want)
	}
	require.NotContains(t, out.String(), "did not succeed")
	t.Log(out.String())
}
